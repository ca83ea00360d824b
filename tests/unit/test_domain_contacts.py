"""Who may do what with a contact, and what each change leaves in the timeline."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from handoff_bot.domain.contacts import Channel, Contact, ContactStatus
from handoff_bot.domain.errors import (
    AlreadyClaimed,
    AlreadyResolved,
    DomainError,
    NotClaimant,
    NotClaimed,
    NotResolved,
    TransferToSelf,
)
from handoff_bot.domain.events import EventKind, TimelineEvent

RECEIVED = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
LATER = RECEIVED + timedelta(minutes=4, seconds=30)
ANNA, BOB, CAROL = 1, 2, 3


def open_contact() -> Contact:
    return Contact(
        id=42,
        customer_id=7,
        channel=Channel.PHONE,
        subject="Invoice question",
        body="Called about invoice 2026-118",
        received_at=RECEIVED,
        source="api",
    )


def claimed_by(person: int) -> Contact:
    contact = open_contact()
    contact.claim(person, RECEIVED + timedelta(minutes=1))
    return contact


def resolved_by(person: int) -> Contact:
    contact = open_contact()
    contact.resolve(person, "refund sent", RECEIVED + timedelta(minutes=2))
    return contact


def test_received_event_names_channel_and_source() -> None:
    assert open_contact().received() == TimelineEvent(
        contact_id=42,
        kind=EventKind.RECEIVED,
        at=RECEIVED,
        actor_id=None,
        data={"channel": "phone", "source": "api"},
    )


def test_claim_an_open_contact_records_how_long_the_customer_waited() -> None:
    contact = open_contact()

    event = contact.claim(ANNA, LATER)

    assert (contact.status, contact.claimed_by, contact.claimed_at) == (ContactStatus.CLAIMED, ANNA, LATER)
    assert event == TimelineEvent(
        42, EventKind.CLAIMED, LATER, ANNA, {"waited_seconds": 270.0, "channel": "phone"}
    )


def test_claim_with_a_clock_behind_the_received_time_waits_zero_seconds() -> None:
    event = open_contact().claim(ANNA, RECEIVED - timedelta(seconds=5))

    assert event.data == {"waited_seconds": 0.0, "channel": "phone"}


def test_release_by_the_claimant_reopens_the_contact_for_everyone() -> None:
    contact = claimed_by(ANNA)

    event = contact.release(ANNA, LATER)

    assert (contact.status, contact.claimed_by, contact.claimed_at) == (ContactStatus.OPEN, None, None)
    assert event == TimelineEvent(42, EventKind.RELEASED, LATER, ANNA, {})
    assert contact.claim(BOB, LATER).actor_id == BOB


def test_transfer_hands_the_claim_and_a_note_to_the_colleague() -> None:
    contact = claimed_by(ANNA)

    event = contact.transfer(ANNA, BOB, "Knows the contract", LATER)

    assert (contact.status, contact.claimed_by, contact.claimed_at) == (ContactStatus.CLAIMED, BOB, LATER)
    assert event == TimelineEvent(
        42, EventKind.TRANSFERRED, LATER, ANNA, {"to": BOB, "note": "Knows the contract"}
    )


def test_resolve_an_open_contact_by_anyone() -> None:
    contact = open_contact()

    event = contact.resolve(CAROL, "answered by phone", LATER)

    assert (contact.status, contact.resolved_by, contact.resolved_at, contact.outcome) == (
        ContactStatus.RESOLVED,
        CAROL,
        LATER,
        "answered by phone",
    )
    assert event == TimelineEvent(42, EventKind.RESOLVED, LATER, CAROL, {"outcome": "answered by phone"})


def test_resolve_a_claimed_contact_by_its_claimant() -> None:
    contact = claimed_by(ANNA)

    event = contact.resolve(ANNA, None, LATER)

    assert (contact.status, contact.resolved_by, contact.outcome) == (ContactStatus.RESOLVED, ANNA, None)
    assert event.data == {"outcome": None}


def test_an_empty_outcome_is_stored_as_no_outcome() -> None:
    contact = open_contact()

    event = contact.resolve(ANNA, "", LATER)

    assert contact.outcome is None
    assert event.data == {"outcome": None}


def test_reopen_clears_claim_and_resolution() -> None:
    contact = claimed_by(ANNA)
    contact.resolve(ANNA, "done", LATER)

    event = contact.reopen(BOB, LATER + timedelta(days=1))

    assert contact.status is ContactStatus.OPEN
    assert (contact.claimed_by, contact.claimed_at) == (None, None)
    assert (contact.resolved_by, contact.resolved_at, contact.outcome) == (None, None, None)
    assert event == TimelineEvent(42, EventKind.REOPENED, LATER + timedelta(days=1), BOB, {})


def test_reopen_by_the_system_has_no_actor() -> None:
    assert resolved_by(ANNA).reopen(None, LATER).actor_id is None


Change = Callable[[Contact], object]
INVALID: list[tuple[str, Callable[[], Contact], Change, DomainError]] = [
    ("claim claimed", lambda: claimed_by(ANNA), lambda c: c.claim(BOB, LATER), AlreadyClaimed(42, ANNA)),
    ("claim own claim", lambda: claimed_by(ANNA), lambda c: c.claim(ANNA, LATER), AlreadyClaimed(42, ANNA)),
    ("claim resolved", lambda: resolved_by(ANNA), lambda c: c.claim(BOB, LATER), AlreadyResolved(42, ANNA)),
    ("release open", open_contact, lambda c: c.release(ANNA, LATER), NotClaimed(42)),
    ("release other's", lambda: claimed_by(ANNA), lambda c: c.release(BOB, LATER), NotClaimant(42, ANNA)),
    (
        "release resolved",
        lambda: resolved_by(ANNA),
        lambda c: c.release(ANNA, LATER),
        AlreadyResolved(42, ANNA),
    ),
    ("transfer open", open_contact, lambda c: c.transfer(ANNA, BOB, "", LATER), NotClaimed(42)),
    (
        "transfer other's",
        lambda: claimed_by(ANNA),
        lambda c: c.transfer(BOB, CAROL, "", LATER),
        NotClaimant(42, ANNA),
    ),
    (
        "transfer resolved",
        lambda: resolved_by(ANNA),
        lambda c: c.transfer(ANNA, BOB, "", LATER),
        AlreadyResolved(42, ANNA),
    ),
    (
        "transfer to self",
        lambda: claimed_by(ANNA),
        lambda c: c.transfer(ANNA, ANNA, "", LATER),
        TransferToSelf(42),
    ),
    (
        "resolve other's",
        lambda: claimed_by(ANNA),
        lambda c: c.resolve(BOB, None, LATER),
        NotClaimant(42, ANNA),
    ),
    (
        "resolve resolved",
        lambda: resolved_by(ANNA),
        lambda c: c.resolve(ANNA, None, LATER),
        AlreadyResolved(42, ANNA),
    ),
    ("reopen open", open_contact, lambda c: c.reopen(ANNA, LATER), NotResolved(42)),
    ("reopen claimed", lambda: claimed_by(ANNA), lambda c: c.reopen(ANNA, LATER), NotResolved(42)),
]


@pytest.mark.parametrize(
    ("start", "change", "expected"), [c[1:] for c in INVALID], ids=[c[0] for c in INVALID]
)
def test_an_invalid_transition_raises_a_typed_error_and_changes_nothing(
    start: Callable[[], Contact], change: Change, expected: DomainError
) -> None:
    contact = start()
    before = vars(contact).copy()

    with pytest.raises(type(expected)) as raised:
        change(contact)

    assert vars(raised.value) == vars(expected)
    assert raised.value.code == expected.code
    assert vars(contact) == before


def test_errors_carry_their_data_in_a_readable_form() -> None:
    assert str(AlreadyClaimed(contact_id=42, by=ANNA)) == "AlreadyClaimed(contact_id=42, by=1)"
    assert NotClaimant(contact_id=42, claimant=BOB).claimant == BOB
    assert AlreadyClaimed(42, ANNA).code == "already_claimed"
