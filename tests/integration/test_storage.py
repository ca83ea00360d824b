"""The SQL repositories on SQLite and PostgreSQL: matching customers, round trips, orderings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event
from sqlalchemy.exc import StatementError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handoff_bot.clock import ManualClock
from handoff_bot.domain.contacts import Channel, Contact, ContactStatus
from handoff_bot.domain.customers import Customer, Identity, IdentityKind
from handoff_bot.domain.errors import AlreadyClaimed, ConcurrentUpdate, NotFound
from handoff_bot.domain.events import EventKind, TimelineEvent
from handoff_bot.domain.people import Person
from handoff_bot.domain.questions import Question, QuestionStatus
from handoff_bot.services.commands import (
    ClaimContact,
    CustomerDetails,
    EnsurePerson,
    ReceiveContact,
    ResolveContact,
)
from handoff_bot.services.contacts import claim_contact, receive_contact, resolve_contact
from handoff_bot.services.people import ensure_person
from handoff_bot.storage.chat_messages import CARD, DM, THREAD_LINE, ChatMessages, MessageRef
from handoff_bot.storage.uow import SqlUnitOfWorkFactory

AMSTERDAM = ZoneInfo("Europe/Amsterdam")


async def _receive(
    uow: SqlUnitOfWorkFactory, clock: ManualClock, subject: str = "", **details: str
) -> Contact:
    cmd = ReceiveContact(Channel.PHONE, "api", CustomerDetails(**details), subject=subject)
    return (await receive_contact(cmd, uow=uow, clock=clock)).contact


async def _person(uow: SqlUnitOfWorkFactory, name: str) -> int:
    person = await ensure_person(EnsurePerson(name, f"{name.lower()}@example.org"), uow=uow)
    assert person.id is not None
    return person.id


async def _customer(uow: SqlUnitOfWorkFactory, customer_id: int) -> Customer:
    async with uow() as tx:
        return await tx.customers.get(customer_id)


async def test_a_customer_is_recognised_by_any_of_their_identities(uow, clock) -> None:
    first = await _receive(
        uow,
        clock,
        name="Anna Jansen",
        email="Anna.Jansen@Example.org",
        phone="06-12345678",
        handle="@AnnaJ",
        network="instagram",
    )
    again = [
        await _receive(uow, clock, email="anna.jansen@EXAMPLE.ORG"),
        await _receive(uow, clock, phone="+31 6 1234 5678"),
        await _receive(uow, clock, phone="0031612345678"),
        await _receive(uow, clock, handle="instagram:annaj"),
    ]
    stranger = await _receive(uow, clock, email="someone.else@example.org")

    assert {c.customer_id for c in again} == {first.customer_id}
    assert stranger.customer_id != first.customer_id
    customer = await _customer(uow, first.customer_id)
    assert customer.name == "Anna Jansen"
    assert customer.sorted_identities() == [
        Identity(IdentityKind.EMAIL, "anna.jansen@example.org"),
        Identity(IdentityKind.PHONE, "+31612345678"),
        Identity(IdentityKind.SOCIAL, "instagram:annaj"),
    ]


async def test_an_identity_owned_by_another_customer_stays_with_them(uow, clock) -> None:
    anna = await _receive(uow, clock, name="Anna", email="anna@example.org")
    bert = await _receive(uow, clock, name="Bert", phone="0612345678")

    # Anna writes from Bert's phone: the email is the stronger key, the phone stays Bert's.
    both = await _receive(uow, clock, email="anna@example.org", phone="06 1234 5678")
    by_phone = await _receive(uow, clock, phone="+31612345678")

    assert both.customer_id == anna.customer_id
    assert by_phone.customer_id == bert.customer_id
    assert (await _customer(uow, anna.customer_id)).identities == {
        Identity(IdentityKind.EMAIL, "anna@example.org")
    }
    assert (await _customer(uow, bert.customer_id)).identities == {
        Identity(IdentityKind.PHONE, "+31612345678")
    }


async def test_a_contact_round_trips_and_its_times_come_back_in_utc(uow, clock) -> None:
    received_at = datetime(2026, 11, 23, 10, 30, 15, 123456, tzinfo=AMSTERDAM)
    callback = datetime(2026, 11, 23, 14, 0, tzinfo=ZoneInfo("America/New_York"))
    async with uow() as tx:
        customer = await tx.customers.add(Customer(None, "Jansen", "Jansen BV"))
        assert customer.id is not None
        stored = await tx.contacts.add(
            Contact(
                id=None,
                customer_id=customer.id,
                channel=Channel.WALK_IN,
                subject="Parcel",
                body="Line one\nLine two — ünïcode",
                received_at=received_at,
                source="desk",
                external_id="visit-7",
                callback_before=callback,
            )
        )
        await tx.commit()
    assert stored.id is not None

    async with uow() as tx:
        loaded = await tx.contacts.get(stored.id)
        by_external = await tx.contacts.by_external_id("desk", "visit-7")
        missing = await tx.contacts.by_external_id("api", "visit-7")

    assert loaded == stored
    assert by_external == stored
    assert missing is None
    assert loaded.received_at == datetime(2026, 11, 23, 9, 30, 15, 123456, tzinfo=UTC)
    assert loaded.received_at.utcoffset() == timedelta(0)
    assert loaded.callback_before is not None and loaded.callback_before.utcoffset() == timedelta(0)
    assert loaded.callback_before == datetime(2026, 11, 23, 19, 0, tzinfo=UTC)


async def test_a_time_without_a_timezone_is_refused_rather_than_guessed(uow) -> None:
    async with uow() as tx:
        customer = await tx.customers.add(Customer(None, "Jansen"))
        assert customer.id is not None
        with pytest.raises(StatementError, match="naive datetime"):
            await tx.contacts.add(
                Contact(None, customer.id, Channel.PHONE, "", "", datetime(2026, 11, 23, 10, 0), "api")
            )


async def test_a_stale_contact_is_not_written_over_a_newer_one(uow, clock) -> None:
    contact = await _receive(uow, clock, name="Jansen")
    assert contact.id is not None
    anna = await _person(uow, "Anna")
    await claim_contact(ClaimContact(contact.id, anna), uow=uow, clock=clock)
    async with uow() as tx:
        contact.resolve(anna, "done", clock.now())  # decided on the version read before the claim
        with pytest.raises(ConcurrentUpdate):
            await tx.contacts.save(contact)
    async with uow() as tx:
        current = await tx.contacts.get(contact.id)
    assert (current.status, current.claimed_by, current.version) == (ContactStatus.CLAIMED, anna, 2)


async def test_contact_pages_are_newest_first_and_continue_before_an_id(uow, clock) -> None:
    ids = []
    for i in range(5):
        contact = await _receive(uow, clock, name=f"Caller {i}")
        assert contact.id is not None
        ids.append(contact.id)
    anna = await _person(uow, "Anna")
    for contact_id in (ids[1], ids[3]):
        await claim_contact(ClaimContact(contact_id, anna), uow=uow, clock=clock)

    async with uow() as tx:
        first = await tx.contacts.page(None, 2, None)
        second = await tx.contacts.page(None, 2, first[-1].id)
        last = await tx.contacts.page(None, 2, ids[1])
        claimed = await tx.contacts.page(ContactStatus.CLAIMED, 10, None)
        open_before = await tx.contacts.page(ContactStatus.OPEN, 10, ids[4])

    assert [c.id for c in first] == [ids[4], ids[3]]
    assert [c.id for c in second] == [ids[2], ids[1]]
    assert [c.id for c in last] == [ids[0]]
    assert [c.id for c in claimed] == [ids[3], ids[1]]
    assert [c.id for c in open_before] == [ids[2], ids[0]]


async def test_a_question_round_trips_and_its_answer_is_kept(uow, clock) -> None:
    contact = await _receive(uow, clock, name="Jansen")
    asker, colleague = await _person(uow, "Anna"), await _person(uow, "Bert")
    assert contact.id is not None
    async with uow() as tx:
        asked = await tx.questions.add(
            Question(None, contact.id, asker, colleague, "Did the parcel arrive?", clock.now())
        )
        await tx.commit()
    assert asked.id is not None

    answered_at = clock.advance(minutes=5)
    async with uow() as tx:
        question = await tx.questions.get(asked.id)
        assert question == asked
        question.answer_with(colleague, "Yes, on Friday", answered_at)
        await tx.questions.save(question)
        await tx.commit()

    async with uow() as tx:
        loaded = await tx.questions.get(asked.id)
        for_contact = await tx.questions.for_contact(contact.id)
        still_open = await tx.questions.open_questions(10)
        with pytest.raises(NotFound):
            await tx.questions.get(asked.id + 1000)
    assert (loaded.status, loaded.answer, loaded.answered_by) == (
        QuestionStatus.ANSWERED,
        "Yes, on Friday",
        colleague,
    )
    assert loaded.answered_at == answered_at and loaded.asked_at == asked.asked_at
    assert loaded.version == 2
    assert for_contact == [loaded]
    assert still_open == []


async def test_the_timeline_reads_in_the_order_things_happened(uow, clock) -> None:
    contact = await _receive(uow, clock, name="Jansen")
    anna = await _person(uow, "Anna")
    assert contact.id is not None
    start = clock.now()
    # Stored out of order: an event carries the time it happened, not the time it was written.
    written: list[tuple[datetime, int | None, dict[str, Any]]] = [
        (start + timedelta(minutes=2), anna, {"text": "last"}),
        (start + timedelta(minutes=1), anna, {"text": "first of two at once"}),
        (start + timedelta(minutes=1), None, {"text": "second of two at once", "n": [1, 2]}),
    ]
    async with uow() as tx:
        for at, actor, data in written:
            await tx.timeline.append(TimelineEvent(contact.id, EventKind.NOTE, at, actor, data))
        await tx.commit()

    async with uow() as tx:
        events = await tx.timeline.for_contact(contact.id)
    assert [e.kind for e in events] == [EventKind.RECEIVED, EventKind.NOTE, EventKind.NOTE, EventKind.NOTE]
    assert [e.data for e in events[1:]] == [
        {"text": "first of two at once"},
        {"text": "second of two at once", "n": [1, 2]},
        {"text": "last"},
    ]
    assert [e.actor_id for e in events[1:]] == [anna, None, anna]
    assert all(e.at.utcoffset() == timedelta(0) for e in events)


async def test_people_are_found_by_email_and_by_platform_identity(uow) -> None:
    async with uow() as tx:
        anna = await tx.people.add(
            Person(None, "Anna", "anna@example.org", "Amsterdam", {"slack": "U1", "teams": "aad-1"})
        )
        bert = await tx.people.add(Person(None, "Bert", None, None, {"slack": "U2"}))
        await tx.commit()
    assert anna.id is not None and bert.id is not None

    async with uow() as tx:
        assert await tx.people.by_email("Anna@Example.ORG") == anna
        assert await tx.people.by_email("nobody@example.org") is None
        assert await tx.people.by_identity("slack", "U1") == anna
        assert await tx.people.by_identity("teams", "aad-1") == anna
        assert await tx.people.by_identity("teams", "U1") is None
        assert await tx.people.get_many([anna.id, bert.id, bert.id + 1000]) == {anna.id: anna, bert.id: bert}
        assert [p.display_name for p in await tx.people.all()] == ["Anna", "Bert"]

    async with uow() as tx:
        # One Slack user is one person: a second person claiming U1 is refused.
        with pytest.raises(ConcurrentUpdate):
            await tx.people.add(Person(None, "Impostor", None, None, {"slack": "U1"}))


async def test_references_to_posted_chat_messages_are_kept(
    uow, clock, sessions: async_sessionmaker[AsyncSession]
) -> None:
    contact = await _receive(uow, clock, name="Jansen")
    anna = await _person(uow, "Anna")
    assert contact.id is not None
    card = MessageRef("fake", CARD, "C1", "1700000000.000100", None, contact.id)
    line = MessageRef("fake", THREAD_LINE, "C1", "1700000000.000200", "1700000000.000100", contact.id)
    dm = MessageRef("fake", DM, "D9", "1700000000.000300", None, contact.id, None, anna)
    async with uow() as tx:
        for ref in (card, line, dm):
            await ChatMessages.record(tx.session, ref)
        await tx.commit()

    messages = ChatMessages(sessions)
    assert await messages.card("fake", contact.id) == card
    assert await messages.card("slack", contact.id) is None
    assert await messages.for_contact(contact.id) == [card, line, dm]
    assert await messages.contact_for_card("fake", "C1", card.message_id) == contact.id
    assert await messages.contact_for_card("fake", "C1", line.message_id) is None


async def test_earlier_contacts_of_a_customer_newest_first_with_who_handled_them(uow, clock) -> None:
    anna = await _person(uow, "Anna")
    contacts = []
    for day in range(4):
        clock.set(datetime(2026, 11, 16 + day, 9, 0, tzinfo=UTC))
        contacts.append(await _receive(uow, clock, subject=f"day {day}", email="jansen@example.org"))
    other = await _receive(uow, clock, email="someone.else@example.org")
    ids = [c.id for c in contacts]
    assert None not in ids and other.id is not None
    await claim_contact(ClaimContact(ids[1] or 0, anna), uow=uow, clock=clock)
    await resolve_contact(ResolveContact(ids[1] or 0, anna, "Sent a new invoice"), uow=uow, clock=clock)
    await claim_contact(ClaimContact(ids[2] or 0, anna), uow=uow, clock=clock)

    customer_id = contacts[0].customer_id
    async with uow() as tx:
        earlier = await tx.contacts.earlier_for_customer(customer_id, ids[3] or 0, limit=2)
        count = await tx.contacts.count_for_customer(customer_id, ids[3] or 0)
        none_before_first = await tx.contacts.count_for_customer(customer_id, ids[0] or 0)
        others = await tx.contacts.earlier_for_customer(other.customer_id, other.id, limit=10)

    assert [e.contact_id for e in earlier] == [ids[2], ids[1]]
    assert [e.subject for e in earlier] == ["day 2", "day 1"]
    assert [(e.status, e.handled_by) for e in earlier] == [
        (ContactStatus.CLAIMED, anna),
        (ContactStatus.RESOLVED, anna),
    ]
    assert earlier[1].outcome == "Sent a new invoice" and earlier[1].resolved_at == clock.now()
    assert earlier[0].received_at == datetime(2026, 11, 18, 9, 0, tzinfo=UTC)
    assert count == 3
    assert none_before_first == 0
    assert others == []


async def test_a_contact_read_for_a_person_names_whichever_is_missing_person_first(uow, clock) -> None:
    """A click reads the contact and checks the clicker in one statement (ContactRepository.get_for);
    the errors are those of reading the person, then the contact."""
    anna = await _person(uow, "Anna")
    contact = await _receive(uow, clock, subject="terugbellen", name="Piet")
    assert contact.id is not None
    async with uow() as tx:
        assert await tx.contacts.get_for(contact.id, anna) == await tx.contacts.get(contact.id)
        with pytest.raises(NotFound) as no_person:
            await tx.contacts.get_for(contact.id, anna + 1000)
        with pytest.raises(NotFound) as neither:
            await tx.contacts.get_for(contact.id + 1000, anna + 1000)
        with pytest.raises(NotFound) as no_contact:
            await tx.contacts.get_for(contact.id + 1000, anna)
    assert (no_person.value.entity, no_person.value.key) == ("person", anna + 1000)
    assert (neither.value.entity, neither.value.key) == ("person", anna + 1000)
    assert (no_contact.value.entity, no_contact.value.key) == ("contact", contact.id + 1000)


async def test_a_refused_claim_reads_once(uow, clock, engine) -> None:
    """Nineteen of twenty clicks on a new card are refusals: each is one read, no write."""
    anna, bob = await _person(uow, "Anna"), await _person(uow, "Bob")
    contact = await _receive(uow, clock, name="Piet")
    assert contact.id is not None
    await claim_contact(ClaimContact(contact.id, anna), uow=uow, clock=clock)
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement.split(None, 1)[0].upper())

    event.listen(engine.sync_engine, "before_cursor_execute", seen)
    try:
        with pytest.raises(AlreadyClaimed):
            await claim_contact(ClaimContact(contact.id, bob), uow=uow, clock=clock)
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", seen)
    assert [s for s in statements if s != "BEGIN"] == ["SELECT"]
