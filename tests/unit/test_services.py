"""Use cases against the in-memory unit of work: what they store, and which chat effects follow."""

from __future__ import annotations

from datetime import timedelta

import pytest

from handoff_bot.clock import ManualClock
from handoff_bot.domain.contacts import Channel, Contact, ContactStatus
from handoff_bot.domain.customers import Customer, Identity, IdentityKind
from handoff_bot.domain.errors import (
    AlreadyClaimed,
    AskSelf,
    ConcurrentUpdate,
    InvalidIdentity,
    NotFound,
    QuestionClosed,
    TransferToSelf,
)
from handoff_bot.domain.events import EventKind
from handoff_bot.domain.questions import QuestionStatus
from handoff_bot.services.commands import (
    AnswerQuestion,
    AskQuestion,
    CancelQuestion,
    ClaimContact,
    CustomerDetails,
    EnsurePerson,
    ReceiveContact,
    ReleaseContact,
    ReopenContact,
    ResolveContact,
    SetCustomerOwner,
    TransferContact,
)
from handoff_bot.services.contacts import (
    SUBJECT_MAX,
    claim_contact,
    receive_contact,
    release_contact,
    reopen_contact,
    resolve_contact,
    transfer_contact,
)
from handoff_bot.services.effects import (
    CARD_POST,
    CARD_REFRESH,
    DM_QUESTION,
    DM_QUESTION_CLOSED,
    DM_TRANSFER,
    THREAD_NOTE,
    THREAD_OWNER,
)
from handoff_bot.services.people import ensure_person, set_customer_owner
from handoff_bot.services.ports import Effect, UnitOfWorkFactory
from handoff_bot.services.questions import answer_question, ask_question, cancel_question
from handoff_bot.services.retry import MAX_ATTEMPTS
from handoff_bot.services.views import contact_details, list_contacts
from tests.fakes.memory import CommitRecord, FakeUnitOfWorkFactory, OutboxRow

PLATFORMS = ("slack", "teams")
EMAIL, PHONE, SOCIAL = IdentityKind.EMAIL, IdentityKind.PHONE, IdentityKind.SOCIAL


@pytest.fixture
def uow(clock: ManualClock) -> FakeUnitOfWorkFactory:
    return FakeUnitOfWorkFactory(clock=clock, platforms=PLATFORMS)


async def person(uow: UnitOfWorkFactory, name: str, slack: str | None = None) -> int:
    ids = (("slack", slack),) if slack else ()
    created = await ensure_person(
        EnsurePerson(name, email=f"{name.lower()}@example.nl", identities=ids), uow=uow
    )
    assert created.id is not None
    return created.id


async def receive(
    uow: UnitOfWorkFactory,
    clock: ManualClock,
    external_id: str | None = None,
    source: str = "api",
    **customer: str,
) -> Contact:
    details = CustomerDetails(**customer) if customer else CustomerDetails(name="Jan Jansen")
    cmd = ReceiveContact(Channel.PHONE, source, details, "Invoice", "Called twice", external_id)
    received = await receive_contact(cmd, uow=uow, clock=clock)
    assert received.contact.id is not None
    return received.contact


def shape(commit: CommitRecord) -> list[tuple[str, str | None]]:
    return [(row.kind, row.platform) for row in commit.rows]


def per_platform(*kinds: str) -> list[tuple[str, str | None]]:
    return [(kind, platform) for kind in kinds for platform in PLATFORMS]


async def stored_contact(uow: FakeUnitOfWorkFactory, contact_id: int) -> Contact:
    async with uow() as tx:
        return await tx.contacts.get(contact_id)


def test_the_fake_is_a_unit_of_work_factory(uow: FakeUnitOfWorkFactory) -> None:
    factory: UnitOfWorkFactory = uow  # mypy checks the fake against the ports

    assert factory is uow


# --- receive_contact -------------------------------------------------------------------------------


async def test_receive_stores_customer_contact_and_one_card_per_platform(
    uow: FakeUnitOfWorkFactory, clock: ManualClock
) -> None:
    received = await receive_contact(
        ReceiveContact(
            Channel.EMAIL,
            "mailbox",
            CustomerDetails(name=" Jan\tJansen ", company="Acme", email="Jan@Jansen.NL"),
            subject="Invoice\r\nquestion",
            body="Hello\x00 there\r\n",
        ),
        uow=uow,
        clock=clock,
    )

    contact = received.contact
    assert received.created is True
    assert (contact.channel, contact.subject, contact.body) == (
        Channel.EMAIL,
        "Invoice question",
        "Hello there",
    )
    assert (contact.status, contact.received_at, contact.source) == (
        ContactStatus.OPEN,
        clock.now(),
        "mailbox",
    )
    customer = uow.state.customers[contact.customer_id]
    assert (customer.name, customer.company) == ("Jan Jansen", "Acme")
    assert customer.identities == {Identity(EMAIL, "jan@jansen.nl")}
    [commit] = uow.commits
    assert [(e.kind, e.actor_id, e.data) for e in commit.events] == [
        (EventKind.RECEIVED, None, {"channel": "email", "source": "mailbox"})
    ]
    key = f"contact:{contact.id}"
    assert [r for r in commit.rows if r.kind == CARD_POST] == [
        OutboxRow(CARD_POST, "slack", {"contact_id": contact.id}, f"slack:{key}", clock.now()),
        OutboxRow(CARD_POST, "teams", {"contact_id": contact.id}, f"teams:{key}", clock.now()),
    ]
    assert shape(commit) == per_platform(CARD_POST, THREAD_OWNER)


async def test_receive_keeps_the_given_received_time_and_cuts_a_long_subject(
    uow: FakeUnitOfWorkFactory, clock: ManualClock
) -> None:
    at = clock.now() - timedelta(minutes=20)
    cmd = ReceiveContact(Channel.WEB, "form", CustomerDetails(name="Jan"), "x" * 500, received_at=at)

    contact = (await receive_contact(cmd, uow=uow, clock=clock)).contact

    assert contact.received_at == at
    assert contact.subject == "x" * SUBJECT_MAX


async def test_receive_matches_a_customer_by_any_identity_and_learns_the_new_ones(
    uow: FakeUnitOfWorkFactory, clock: ManualClock
) -> None:
    first = await receive(uow, clock, name="Jan Jansen", email="jan@jansen.nl")

    second = await receive(
        uow, clock, name="J. J.", company="Acme", phone="06-12345678", email="JAN@jansen.nl"
    )
    third = await receive(uow, clock, phone="+31 6 1234 5678", handle="@Jansen", network="instagram")

    assert first.customer_id == second.customer_id == third.customer_id
    assert len(uow.state.customers) == 1
    customer = uow.state.customers[first.customer_id]
    assert (customer.name, customer.company) == ("Jan Jansen", "Acme")
    assert customer.identities == {
        Identity(EMAIL, "jan@jansen.nl"),
        Identity(PHONE, "+31612345678"),
        Identity(SOCIAL, "instagram:jansen"),
    }


async def test_an_identity_owned_by_another_customer_stays_with_them(
    uow: FakeUnitOfWorkFactory, clock: ManualClock
) -> None:
    by_email = await receive(uow, clock, name="Jan", email="jan@jansen.nl")
    by_phone = await receive(uow, clock, name="Piet", phone="0612345678")

    both = await receive(uow, clock, email="jan@jansen.nl", phone="0612345678")

    # Email is the stronger key, so the contact is Jan's; the phone remains Piet's.
    assert both.customer_id == by_email.customer_id != by_phone.customer_id
    assert uow.state.customers[by_email.customer_id].identities == {Identity(EMAIL, "jan@jansen.nl")}
    assert uow.state.customers[by_phone.customer_id].identities == {Identity(PHONE, "+31612345678")}


async def test_receive_is_idempotent_on_source_and_external_id(
    uow: FakeUnitOfWorkFactory, clock: ManualClock
) -> None:
    first = await receive(uow, clock, external_id="msg-1", name="Jan")
    clock.advance(minutes=5)

    again = await receive_contact(
        ReceiveContact(Channel.PHONE, "api", CustomerDetails(name="Other"), "Different", external_id="msg-1"),
        uow=uow,
        clock=clock,
    )
    other_source = await receive(uow, clock, external_id="msg-1", source="mailbox", name="Jan")

    assert (again.created, again.contact) == (False, first)
    assert other_source.id != first.id
    assert len(uow.state.contacts) == 2
    assert len(uow.commits) == 2  # the repeat wrote nothing: no event, no card


@pytest.mark.parametrize("details", [CustomerDetails(), CustomerDetails(company="Acme")])
async def test_receive_needs_a_name_or_an_identity(
    uow: FakeUnitOfWorkFactory, clock: ManualClock, details: CustomerDetails
) -> None:
    with pytest.raises(InvalidIdentity) as raised:
        await receive_contact(ReceiveContact(Channel.PHONE, "api", details), uow=uow, clock=clock)

    assert raised.value.field == "customer"
    assert (uow.state.contacts, uow.commits) == ({}, [])


@pytest.mark.parametrize(
    ("details", "field"),
    [
        (CustomerDetails(name="Jan", email="jan@"), "email"),
        (CustomerDetails(name="Jan", phone="call me"), "phone"),
        (CustomerDetails(name="Jan", handle="@", network="instagram"), "handle"),
    ],
)
async def test_an_invalid_identity_is_refused_and_stores_nothing(
    uow: FakeUnitOfWorkFactory, clock: ManualClock, details: CustomerDetails, field: str
) -> None:
    with pytest.raises(InvalidIdentity) as raised:
        await receive_contact(ReceiveContact(Channel.PHONE, "api", details), uow=uow, clock=clock)

    assert raised.value.field == field
    assert (uow.state.customers, uow.commits) == ({}, [])


# --- contact transitions ---------------------------------------------------------------------------


async def test_claim_refreshes_the_card_and_notes_it_in_the_thread(
    uow: FakeUnitOfWorkFactory, clock: ManualClock
) -> None:
    anna = await person(uow, "Anna")
    contact = await receive(uow, clock)
    clock.advance(minutes=2)

    claimed = await claim_contact(ClaimContact(contact.id or 0, anna), uow=uow, clock=clock)

    assert (claimed.status, claimed.claimed_by, claimed.claimed_at) == (
        ContactStatus.CLAIMED,
        anna,
        clock.now(),
    )
    assert await stored_contact(uow, claimed.id or 0) == claimed
    commit = uow.commits[-1]
    [event] = commit.events
    assert (event.kind, event.actor_id, event.data) == (
        EventKind.CLAIMED,
        anna,
        {"waited_seconds": 120.0, "channel": "phone"},
    )
    assert shape(commit) == per_platform(CARD_REFRESH, THREAD_NOTE)
    key = f"contact:{contact.id}"
    assert commit.rows[2] == OutboxRow(
        THREAD_NOTE, "slack", {"contact_id": contact.id, "event_id": event.id}, f"slack:{key}", clock.now()
    )


async def test_transfer_also_tells_the_colleague(uow: FakeUnitOfWorkFactory, clock: ManualClock) -> None:
    anna, bob = await person(uow, "Anna"), await person(uow, "Bob")
    contact = await receive(uow, clock)
    await claim_contact(ClaimContact(contact.id or 0, anna), uow=uow, clock=clock)

    moved = await transfer_contact(
        TransferContact(contact.id or 0, anna, bob, " Knows the\x00 contract\r\n"), uow=uow, clock=clock
    )

    assert (moved.status, moved.claimed_by) == (ContactStatus.CLAIMED, bob)
    commit = uow.commits[-1]
    [event] = commit.events
    assert (event.kind, event.actor_id, event.data) == (
        EventKind.TRANSFERRED,
        anna,
        {"to": bob, "note": "Knows the contract"},
    )
    assert shape(commit) == per_platform(CARD_REFRESH, THREAD_NOTE, DM_TRANSFER)


async def test_release_resolve_and_reopen_each_refresh_the_card(
    uow: FakeUnitOfWorkFactory, clock: ManualClock
) -> None:
    anna = await person(uow, "Anna")
    cid = (await receive(uow, clock)).id or 0
    await claim_contact(ClaimContact(cid, anna), uow=uow, clock=clock)

    released = await release_contact(ReleaseContact(cid, anna), uow=uow, clock=clock)
    resolved = await resolve_contact(ResolveContact(cid, anna, " Refund\x00 sent "), uow=uow, clock=clock)
    reopened = await reopen_contact(ReopenContact(cid, None), uow=uow, clock=clock)

    assert (released.status, released.claimed_by) == (ContactStatus.OPEN, None)
    assert (resolved.status, resolved.resolved_by, resolved.outcome) == (
        ContactStatus.RESOLVED,
        anna,
        "Refund sent",
    )
    assert (reopened.status, reopened.resolved_by, reopened.outcome) == (ContactStatus.OPEN, None, None)
    kinds = [(c.events[0].kind, c.events[0].actor_id) for c in uow.commits[-3:]]
    assert kinds == [(EventKind.RELEASED, anna), (EventKind.RESOLVED, anna), (EventKind.REOPENED, None)]
    assert [shape(c) for c in uow.commits[-3:]] == [per_platform(CARD_REFRESH, THREAD_NOTE)] * 3
    assert (await stored_contact(uow, cid)).version == 5


async def test_a_broken_rule_writes_nothing(uow: FakeUnitOfWorkFactory, clock: ManualClock) -> None:
    anna, bob = await person(uow, "Anna"), await person(uow, "Bob")
    cid = (await receive(uow, clock)).id or 0
    await claim_contact(ClaimContact(cid, anna), uow=uow, clock=clock)
    before = (len(uow.commits), len(uow.timeline), len(uow.outbox), await stored_contact(uow, cid))

    with pytest.raises(AlreadyClaimed) as raised:
        await claim_contact(ClaimContact(cid, bob), uow=uow, clock=clock)
    with pytest.raises(TransferToSelf):
        await transfer_contact(TransferContact(cid, anna, anna), uow=uow, clock=clock)

    assert raised.value.by == anna
    assert (len(uow.commits), len(uow.timeline), len(uow.outbox), await stored_contact(uow, cid)) == before


async def test_unknown_people_and_contacts_are_not_found(
    uow: FakeUnitOfWorkFactory, clock: ManualClock
) -> None:
    anna = await person(uow, "Anna")
    cid = (await receive(uow, clock)).id or 0
    await claim_contact(ClaimContact(cid, anna), uow=uow, clock=clock)
    commits = len(uow.commits)

    with pytest.raises(NotFound) as no_person:
        await claim_contact(ClaimContact(cid, 999), uow=uow, clock=clock)
    with pytest.raises(NotFound) as no_colleague:
        await transfer_contact(TransferContact(cid, anna, 998), uow=uow, clock=clock)
    with pytest.raises(NotFound) as no_contact:
        await resolve_contact(ResolveContact(997, anna), uow=uow, clock=clock)

    assert (no_person.value.entity, no_person.value.key) == ("person", 999)
    assert (no_colleague.value.entity, no_colleague.value.key) == ("person", 998)
    assert (no_contact.value.entity, no_contact.value.key) == ("contact", 997)
    assert len(uow.commits) == commits


# --- questions -------------------------------------------------------------------------------------


async def test_ask_and_answer_tell_the_colleague_and_the_asker(
    uow: FakeUnitOfWorkFactory, clock: ManualClock
) -> None:
    anna, bob, carol = await person(uow, "Anna"), await person(uow, "Bob"), await person(uow, "Carol")
    cid = (await receive(uow, clock)).id or 0

    asked = await ask_question(AskQuestion(cid, anna, bob, " Which\x00 plan? "), uow=uow, clock=clock)
    ask_commit = uow.commits[-1]
    clock.advance(minutes=3)
    answered = await answer_question(AnswerQuestion(asked.id or 0, bob, "Business"), uow=uow, clock=clock)
    answer_commit = uow.commits[-1]

    assert (asked.text, asked.status) == ("Which plan?", QuestionStatus.OPEN)
    assert (answered.status, answered.answer, answered.answered_by, answered.answered_at) == (
        QuestionStatus.ANSWERED,
        "Business",
        bob,
        clock.now(),
    )
    [ask_event], [answer_event] = ask_commit.events, answer_commit.events
    assert ask_event.data == {"question_id": asked.id, "colleague": bob}
    assert shape(ask_commit) == per_platform(CARD_REFRESH, THREAD_NOTE, DM_QUESTION)
    assert ask_commit.rows[-1].payload == {
        "contact_id": cid,
        "event_id": ask_event.id,
        "question_id": asked.id,
    }
    assert answer_event.data == {"question_id": asked.id, "asker": anna}
    assert shape(answer_commit) == per_platform(CARD_REFRESH, THREAD_NOTE, DM_QUESTION_CLOSED)

    with pytest.raises(QuestionClosed) as raised:
        await answer_question(AnswerQuestion(asked.id or 0, carol, "Basic"), uow=uow, clock=clock)
    assert (raised.value.status, raised.value.answered_by) == ("answered", bob)
    assert uow.commits[-1] is answer_commit


async def test_only_the_asker_cancels_a_question(uow: FakeUnitOfWorkFactory, clock: ManualClock) -> None:
    anna, bob = await person(uow, "Anna"), await person(uow, "Bob")
    cid = (await receive(uow, clock)).id or 0
    qid = (await ask_question(AskQuestion(cid, anna, bob, "?"), uow=uow, clock=clock)).id or 0

    with pytest.raises(NotFound):
        await cancel_question(CancelQuestion(qid, bob), uow=uow, clock=clock)
    cancelled = await cancel_question(CancelQuestion(qid, anna), uow=uow, clock=clock)

    assert cancelled.status is QuestionStatus.CANCELLED
    [event] = uow.commits[-1].events
    assert (event.kind, event.actor_id) == (EventKind.QUESTION_CANCELLED, anna)
    assert shape(uow.commits[-1]) == per_platform(CARD_REFRESH, THREAD_NOTE, DM_QUESTION_CLOSED)


async def test_questions_about_unknown_things_or_yourself_are_refused(
    uow: FakeUnitOfWorkFactory, clock: ManualClock
) -> None:
    anna = await person(uow, "Anna")
    cid = (await receive(uow, clock)).id or 0
    commits = len(uow.commits)

    with pytest.raises(AskSelf):
        await ask_question(AskQuestion(cid, anna, anna, "?"), uow=uow, clock=clock)
    with pytest.raises(NotFound) as no_colleague:
        await ask_question(AskQuestion(cid, anna, 999, "?"), uow=uow, clock=clock)
    with pytest.raises(NotFound) as no_contact:
        await ask_question(AskQuestion(998, anna, anna, "?"), uow=uow, clock=clock)
    with pytest.raises(NotFound) as no_question:
        await answer_question(AnswerQuestion(997, anna, "!"), uow=uow, clock=clock)

    assert (no_colleague.value.entity, no_colleague.value.key) == ("person", 999)
    assert (no_contact.value.entity, no_contact.value.key) == ("contact", 998)
    assert (no_question.value.entity, no_question.value.key) == ("question", 997)
    assert (len(uow.commits), uow.state.questions) == (commits, {})


# --- people and owners -----------------------------------------------------------------------------


async def test_ensure_person_creates_then_joins_by_identity_then_by_email(uow: FakeUnitOfWorkFactory) -> None:
    created = await ensure_person(
        EnsurePerson(" Anna\nde Vries ", email="Anna@Example.NL", identities=(("slack", "U1"),)), uow=uow
    )
    by_identity = await ensure_person(
        EnsurePerson("Anna dV", location=" Utrecht ", identities=(("slack", "U1"),)), uow=uow
    )
    by_email = await ensure_person(
        EnsurePerson("Anna (Teams)", email="anna@example.nl", identities=(("teams", "aad-1"),)), uow=uow
    )

    assert (created.display_name, created.email, created.location) == (
        "Anna de Vries",
        "anna@example.nl",
        None,
    )
    assert by_identity.id == by_email.id == created.id
    assert len(uow.state.people) == 1
    stored = uow.state.people[created.id or 0]
    # Joining keeps the name the person was created with and learns everything else.
    assert (stored.display_name, stored.email, stored.location) == (
        "Anna de Vries",
        "anna@example.nl",
        "Utrecht",
    )
    assert stored.identities == {"slack": "U1", "teams": "aad-1"}


async def test_ensure_person_updates_a_changed_platform_id_and_names_the_nameless(
    uow: FakeUnitOfWorkFactory,
) -> None:
    anna = await ensure_person(
        EnsurePerson("", email="anna@example.nl", identities=(("slack", "U1"),)), uow=uow
    )
    moved = await ensure_person(
        EnsurePerson("Anna", email="anna@example.nl", identities=(("slack", "U9"),)), uow=uow
    )
    other = await ensure_person(EnsurePerson("Bob", identities=(("slack", "U2"),)), uow=uow)

    assert anna.display_name == "anna@example.nl"
    assert moved.id == anna.id
    assert uow.state.people[anna.id or 0].identities == {"slack": "U9"}
    assert (other.id != anna.id, other.email) == (True, None)


async def test_set_customer_owner_names_and_clears_the_owner(
    uow: FakeUnitOfWorkFactory, clock: ManualClock
) -> None:
    anna = await person(uow, "Anna")
    contact = await receive(uow, clock)

    await set_customer_owner(SetCustomerOwner(contact.customer_id, anna), uow=uow)
    owned = await contact_details(contact.id or 0, uow=uow)
    await set_customer_owner(SetCustomerOwner(contact.customer_id, None), uow=uow)

    assert (owned.context.owner_id, owned.context.owner_is_explicit, owned.person(anna)) == (
        anna,
        True,
        uow.state.people[anna],
    )
    assert uow.state.customers[contact.customer_id].owner_id is None
    with pytest.raises(NotFound) as no_person:
        await set_customer_owner(SetCustomerOwner(contact.customer_id, 999), uow=uow)
    with pytest.raises(NotFound) as no_customer:
        await set_customer_owner(SetCustomerOwner(998, anna), uow=uow)
    assert (no_person.value.entity, no_customer.value.entity) == ("person", "customer")


# --- read models -----------------------------------------------------------------------------------


async def test_contact_details_brings_everyone_the_story_mentions(
    uow: FakeUnitOfWorkFactory, clock: ManualClock
) -> None:
    anna, bob, carol, dirk, erik = [await person(uow, n) for n in ("Anna", "Bob", "Carol", "Dirk", "Erik")]
    await person(uow, "Unrelated")
    old = (await receive(uow, clock, email="jan@jansen.nl")).id or 0
    await resolve_contact(ResolveContact(old, dirk, "fixed"), uow=uow, clock=clock)
    clock.advance(days=1)
    cid = (await receive(uow, clock, email="jan@jansen.nl")).id or 0
    await claim_contact(ClaimContact(cid, anna), uow=uow, clock=clock)
    await transfer_contact(TransferContact(cid, anna, bob, "yours"), uow=uow, clock=clock)
    qid = (await ask_question(AskQuestion(cid, bob, carol, "?"), uow=uow, clock=clock)).id or 0
    await answer_question(AnswerQuestion(qid, erik, "covering for Carol"), uow=uow, clock=clock)

    details = await contact_details(cid, uow=uow)

    assert sorted(details.people) == sorted([anna, bob, carol, dirk, erik])
    assert details.person(None) is None
    assert details.person(bob) == uow.state.people[bob]
    assert (details.contact.claimed_by, details.customer.identities) == (
        bob,
        {Identity(EMAIL, "jan@jansen.nl")},
    )
    assert [e.kind for e in details.timeline] == [
        EventKind.RECEIVED,
        EventKind.CLAIMED,
        EventKind.TRANSFERRED,
        EventKind.ASKED,
        EventKind.ANSWERED,
    ]
    assert [q.id for q in details.questions] == [qid]
    assert (details.earlier_count, [e.contact_id for e in details.context.earlier]) == (1, [old])
    assert (details.context.owner_id, details.context.owner_is_explicit) == (dirk, False)


async def test_contact_details_of_an_unknown_contact_is_not_found(uow: FakeUnitOfWorkFactory) -> None:
    with pytest.raises(NotFound) as raised:
        await contact_details(5, uow=uow)

    assert (raised.value.entity, raised.value.key) == ("contact", 5)


async def test_list_contacts_pages_newest_first(uow: FakeUnitOfWorkFactory, clock: ManualClock) -> None:
    anna = await person(uow, "Anna")
    ids = [(await receive(uow, clock)).id or 0 for _ in range(5)]
    await claim_contact(ClaimContact(ids[3], anna), uow=uow, clock=clock)

    first = await list_contacts(uow=uow, status=None, limit=2)
    second = await list_contacts(uow=uow, status=None, limit=2, before_id=first.next_before_id)
    last = await list_contacts(uow=uow, status=None, limit=2, before_id=second.next_before_id)
    open_ = await list_contacts(uow=uow, status=ContactStatus.OPEN, limit=10)

    assert ([c.id for c in first.items], first.next_before_id) == ([ids[4], ids[3]], ids[3])
    assert ([c.id for c in second.items], second.next_before_id) == ([ids[2], ids[1]], ids[1])
    assert ([c.id for c in last.items], last.next_before_id) == ([ids[0]], None)
    assert [c.id for c in open_.items] == [ids[4], ids[2], ids[1], ids[0]]


# --- lost races ------------------------------------------------------------------------------------


async def test_a_conflicting_commit_is_retried_once_and_applied_once(
    uow: FakeUnitOfWorkFactory, clock: ManualClock
) -> None:
    anna = await person(uow, "Anna")
    cid = (await receive(uow, clock)).id or 0
    commits, entered = len(uow.commits), uow.entered
    uow.conflicts = 1

    claimed = await claim_contact(ClaimContact(cid, anna), uow=uow, clock=clock)

    assert uow.entered - entered == 2
    assert claimed.claimed_by == anna
    assert len(uow.commits) == commits + 1
    assert [e.kind for e in uow.timeline].count(EventKind.CLAIMED) == 1
    assert [r.kind for r in uow.outbox].count(CARD_REFRESH) == len(PLATFORMS)


@pytest.mark.parametrize(("conflicts", "succeeds"), [(MAX_ATTEMPTS - 1, True), (MAX_ATTEMPTS, False)])
async def test_retries_give_up_after_max_attempts(
    uow: FakeUnitOfWorkFactory, clock: ManualClock, conflicts: int, succeeds: bool
) -> None:
    anna = await person(uow, "Anna")
    cid = (await receive(uow, clock)).id or 0
    commits, entered = len(uow.commits), uow.entered
    uow.conflicts = conflicts

    if succeeds:
        await resolve_contact(ResolveContact(cid, anna), uow=uow, clock=clock)
    else:
        with pytest.raises(ConcurrentUpdate):
            await resolve_contact(ResolveContact(cid, anna), uow=uow, clock=clock)

    assert uow.entered - entered == MAX_ATTEMPTS
    assert len(uow.commits) == commits + succeeds
    assert (await stored_contact(uow, cid)).status is (
        ContactStatus.RESOLVED if succeeds else ContactStatus.OPEN
    )


async def test_a_claim_that_loses_the_race_rereads_and_names_the_winner(
    uow: FakeUnitOfWorkFactory, clock: ManualClock
) -> None:
    anna, bob = await person(uow, "Anna"), await person(uow, "Bob")
    cid = (await receive(uow, clock)).id or 0

    async def bob_claims_first() -> None:
        await claim_contact(ClaimContact(cid, bob), uow=uow, clock=clock)

    uow.before_next_commit(bob_claims_first)
    with pytest.raises(AlreadyClaimed) as raised:
        await claim_contact(ClaimContact(cid, anna), uow=uow, clock=clock)

    assert raised.value.by == bob
    assert (await stored_contact(uow, cid)).claimed_by == bob
    assert [(e.kind, e.actor_id) for e in uow.timeline if e.kind is EventKind.CLAIMED] == [
        (EventKind.CLAIMED, bob)
    ]


async def test_a_customer_created_concurrently_is_matched_on_retry(
    uow: FakeUnitOfWorkFactory, clock: ManualClock
) -> None:
    async def same_customer_arrives_elsewhere() -> None:
        await receive(uow, clock, name="Jan (chat)", email="jan@jansen.nl")

    uow.before_next_commit(same_customer_arrives_elsewhere)
    contact = await receive(uow, clock, name="Jan (phone)", email="jan@jansen.nl")

    [customer] = uow.state.customers.values()
    assert (contact.customer_id, customer.name) == (customer.id, "Jan (chat)")
    assert len(uow.state.contacts) == 2


# --- the fake keeps the SQL store's promises --------------------------------------------------------


async def test_changes_are_visible_only_after_commit(uow: FakeUnitOfWorkFactory) -> None:
    async with uow() as writer:
        customer = await writer.customers.add(Customer(None, "Jan"))
        async with uow() as reader:
            with pytest.raises(NotFound):
                await reader.customers.get(customer.id or 0)
        await writer.commit()

    async with uow() as reader:
        assert (await reader.customers.get(customer.id or 0)).name == "Jan"


async def test_leaving_without_commit_discards_everything(
    uow: FakeUnitOfWorkFactory, clock: ManualClock
) -> None:
    contact = await receive(uow, clock)
    async with uow() as tx:
        stored = await tx.contacts.get(contact.id or 0)
        stored.subject = "changed"
        await tx.contacts.save(stored)
        stored.body = "changed without save"

    assert uow.rollbacks == 1
    assert (await stored_contact(uow, contact.id or 0)) == contact


async def test_a_stale_version_and_a_duplicate_key_are_concurrent_updates(
    uow: FakeUnitOfWorkFactory, clock: ManualClock
) -> None:
    contact = await receive(uow, clock, external_id="m1", email="jan@jansen.nl")
    stale = await stored_contact(uow, contact.id or 0)
    async with uow() as tx:
        fresh = await tx.contacts.get(contact.id or 0)
        await tx.contacts.save(fresh)
        await tx.commit()

    async with uow() as tx:
        with pytest.raises(ConcurrentUpdate):
            await tx.contacts.save(stale)
        with pytest.raises(ConcurrentUpdate):
            await tx.contacts.add(Contact(None, 1, Channel.CHAT, "", "", clock.now(), "api", "m1"))
        with pytest.raises(ConcurrentUpdate):
            await tx.customers.add(Customer(None, identities={Identity(EMAIL, "jan@jansen.nl")}))


async def test_effects_without_fan_out_are_one_row(uow: FakeUnitOfWorkFactory, clock: ManualClock) -> None:
    due = clock.now() + timedelta(hours=1)
    async with uow() as tx:
        await tx.outbox.enqueue(Effect("timer.remind", {"contact_id": 1}, "contact:1", due, fan_out=False))
        await tx.commit()

    assert uow.outbox == [OutboxRow("timer.remind", None, {"contact_id": 1}, "contact:1", due)]
