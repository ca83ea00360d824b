"""Questions to colleagues, and the customer context shown before picking up."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from handoff_bot.domain.contacts import Channel, ContactStatus
from handoff_bot.domain.context import EarlierContact, build_context
from handoff_bot.domain.errors import AskSelf, QuestionClosed
from handoff_bot.domain.events import EventKind, TimelineEvent
from handoff_bot.domain.questions import Question, QuestionStatus

ASKED = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
LATER = ASKED + timedelta(minutes=3)
ANNA, BOB, CAROL = 1, 2, 3


def question() -> Question:
    return Question(id=5, contact_id=42, asker_id=ANNA, colleague_id=BOB, text="Which plan?", asked_at=ASKED)


def test_asked_event_names_the_question_and_the_colleague() -> None:
    assert question().asked() == TimelineEvent(
        42, EventKind.ASKED, ASKED, ANNA, {"question_id": 5, "colleague": BOB}
    )


def test_asking_yourself_is_refused() -> None:
    with pytest.raises(AskSelf) as raised:
        Question(id=None, contact_id=42, asker_id=ANNA, colleague_id=ANNA, text="?", asked_at=ASKED)

    assert raised.value.person_id == ANNA


def test_the_first_answer_is_recorded_with_who_answered() -> None:
    q = question()

    event = q.answer_with(BOB, "Business plan", LATER)

    assert (q.status, q.answer, q.answered_by, q.answered_at) == (
        QuestionStatus.ANSWERED,
        "Business plan",
        BOB,
        LATER,
    )
    assert event == TimelineEvent(42, EventKind.ANSWERED, LATER, BOB, {"question_id": 5, "asker": ANNA})


def test_a_second_answer_is_refused_and_names_who_answered_first() -> None:
    q = question()
    q.answer_with(BOB, "Business plan", LATER)

    with pytest.raises(QuestionClosed) as raised:
        q.answer_with(CAROL, "Basic plan", LATER)

    assert vars(raised.value) == {"question_id": 5, "status": "answered", "answered_by": BOB}
    assert (q.answer, q.answered_by) == ("Business plan", BOB)


def test_cancel_closes_an_open_question() -> None:
    q = question()

    event = q.cancel(ANNA, LATER)

    assert q.status is QuestionStatus.CANCELLED
    assert event == TimelineEvent(42, EventKind.QUESTION_CANCELLED, LATER, ANNA, {"question_id": 5})


def test_a_cancelled_question_cannot_be_answered_or_cancelled_again() -> None:
    q = question()
    q.cancel(ANNA, LATER)

    with pytest.raises(QuestionClosed) as answered:
        q.answer_with(BOB, "too late", LATER)
    with pytest.raises(QuestionClosed) as cancelled:
        q.cancel(ANNA, LATER)

    assert vars(answered.value) == {"question_id": 5, "status": "cancelled", "answered_by": None}
    assert vars(cancelled.value) == vars(answered.value)
    assert q.answer is None


def earlier(
    contact_id: int,
    days_ago: int,
    status: ContactStatus,
    handled_by: int | None,
    resolved_days_ago: int | None = None,
) -> EarlierContact:
    now = datetime(2026, 11, 23, tzinfo=UTC)
    return EarlierContact(
        contact_id=contact_id,
        received_at=now - timedelta(days=days_ago),
        channel=Channel.EMAIL,
        subject=f"contact {contact_id}",
        status=status,
        handled_by=handled_by,
        resolved_at=now - timedelta(days=resolved_days_ago) if resolved_days_ago is not None else None,
        outcome="done" if status is ContactStatus.RESOLVED else None,
    )


HISTORY = [
    earlier(1, 30, ContactStatus.RESOLVED, ANNA, resolved_days_ago=29),
    earlier(3, 2, ContactStatus.CLAIMED, CAROL),
    earlier(2, 10, ContactStatus.RESOLVED, BOB, resolved_days_ago=9),
]


def test_an_explicit_owner_wins_over_the_last_resolver() -> None:
    context = build_context(7, CAROL, HISTORY)

    assert (context.customer_id, context.owner_id, context.owner_is_explicit) == (7, CAROL, True)


def test_without_an_explicit_owner_the_most_recent_resolver_owns_the_customer() -> None:
    context = build_context(7, None, HISTORY)

    # Carol's claim is newer, but only resolving a contact makes someone the owner.
    assert (context.owner_id, context.owner_is_explicit) == (BOB, False)


def test_the_owner_is_who_resolved_last_not_who_received_last() -> None:
    history = [
        earlier(1, 30, ContactStatus.RESOLVED, ANNA, resolved_days_ago=1),
        earlier(2, 10, ContactStatus.RESOLVED, BOB, resolved_days_ago=9),
    ]

    assert build_context(7, None, history).owner_id == ANNA


def test_no_resolved_contacts_means_no_owner() -> None:
    context = build_context(7, None, [earlier(1, 3, ContactStatus.OPEN, None), HISTORY[1]])

    assert (context.owner_id, context.owner_is_explicit) == (None, False)


def test_earlier_contacts_are_ordered_newest_first() -> None:
    context = build_context(7, None, HISTORY)

    assert [c.contact_id for c in context.earlier] == [3, 2, 1]
    assert context.last == HISTORY[1]


def test_a_new_customer_has_no_history() -> None:
    context = build_context(7, None, [])

    assert (context.earlier, context.last, context.owner_id) == ((), None, None)
