"""Rules that matter under concurrency, raced for real on SQLite and PostgreSQL.

Every call opens its own unit of work (its own session and connection), so on PostgreSQL the
transactions really overlap; on SQLite BEGIN IMMEDIATE serialises them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handoff_bot.clock import ManualClock
from handoff_bot.domain.contacts import Channel, Contact, ContactStatus
from handoff_bot.domain.errors import AlreadyClaimed, NotClaimant, NotClaimed, QuestionClosed
from handoff_bot.domain.events import EventKind
from handoff_bot.services.commands import (
    AnswerQuestion,
    AskQuestion,
    ClaimContact,
    CustomerDetails,
    EnsurePerson,
    ReceiveContact,
    ReleaseContact,
    TransferContact,
)
from handoff_bot.services.contacts import claim_contact, receive_contact, release_contact, transfer_contact
from handoff_bot.services.effects import DM_TRANSFER
from handoff_bot.services.people import ensure_person
from handoff_bot.services.questions import answer_question, ask_question
from handoff_bot.storage.models import ContactRow, CustomerRow, OutboxRow
from handoff_bot.storage.uow import SqlUnitOfWorkFactory


async def _people(uow: SqlUnitOfWorkFactory, prefix: str, n: int) -> list[int]:
    ids = []
    for i in range(n):
        person = await ensure_person(EnsurePerson(f"{prefix}{i}", f"{prefix}{i}@example.org"), uow=uow)
        assert person.id is not None
        ids.append(person.id)
    return ids


async def _contact(uow: SqlUnitOfWorkFactory, clock: ManualClock, name: str) -> int:
    cmd = ReceiveContact(Channel.PHONE, "api", CustomerDetails(name=name))
    contact_id = (await receive_contact(cmd, uow=uow, clock=clock)).contact.id
    assert contact_id is not None
    return contact_id


async def _kinds(uow: SqlUnitOfWorkFactory, contact_id: int) -> list[EventKind]:
    async with uow() as tx:
        return [e.kind for e in await tx.timeline.for_contact(contact_id)]


async def test_twenty_claimers_exactly_one_wins(uow, clock) -> None:
    contact_id = await _contact(uow, clock, "Jansen")
    people = await _people(uow, "P", 20)
    results = await asyncio.gather(
        *(claim_contact(ClaimContact(contact_id, p), uow=uow, clock=clock) for p in people),
        return_exceptions=True,
    )
    winners = [r for r in results if isinstance(r, Contact)]
    losers = [r for r in results if isinstance(r, AlreadyClaimed)]
    assert len(winners) == 1
    assert len(losers) == 19
    winner = winners[0].claimed_by
    assert {loser.by for loser in losers} == {winner}
    async with uow() as tx:
        stored = await tx.contacts.get(contact_id)
    assert (stored.status, stored.claimed_by) == (ContactStatus.CLAIMED, winner)
    assert await _kinds(uow, contact_id) == [EventKind.RECEIVED, EventKind.CLAIMED]


async def test_twenty_concurrent_intakes_of_one_external_id_store_one_contact(
    uow, clock, sessions: async_sessionmaker[AsyncSession]
) -> None:
    cmd = ReceiveContact(
        Channel.EMAIL, "mail", CustomerDetails(email="Anna@Example.org"), external_id="msg-1"
    )
    results = await asyncio.gather(*(receive_contact(cmd, uow=uow, clock=clock) for _ in range(20)))
    contact_id = results[0].contact.id
    assert {r.contact.id for r in results} == {contact_id}
    assert sum(r.created for r in results) == 1
    async with sessions() as s:
        assert len((await s.scalars(select(ContactRow.id))).all()) == 1
        assert len((await s.scalars(select(CustomerRow.id))).all()) == 1
    assert contact_id is not None
    assert await _kinds(uow, contact_id) == [EventKind.RECEIVED]


@pytest.mark.parametrize(
    "details",
    [
        pytest.param({"email": "New.Customer@Example.org"}, id="email"),
        pytest.param({"phone": "0612345678"}, id="phone"),
    ],
)
async def test_a_new_customer_arriving_twenty_times_at_once_is_one_customer(
    uow, clock, sessions: async_sessionmaker[AsyncSession], details: dict[str, str]
) -> None:
    commands = [
        ReceiveContact(Channel.PHONE, "api", CustomerDetails(name=f"Caller {i}", **details))
        for i in range(20)
    ]
    results = await asyncio.gather(*(receive_contact(c, uow=uow, clock=clock) for c in commands))
    assert len({r.contact.id for r in results}) == 20
    assert {r.contact.customer_id for r in results} == {results[0].contact.customer_id}
    async with sessions() as s:
        assert len((await s.scalars(select(CustomerRow.id))).all()) == 1
    async with uow() as tx:
        customer = await tx.customers.get(results[0].contact.customer_id)
    assert len(customer.identities) == 1
    assert customer.name in {f"Caller {i}" for i in range(20)}


async def test_ten_concurrent_answers_one_is_recorded(uow, clock) -> None:
    contact_id = await _contact(uow, clock, "B")
    asker, *colleagues = await _people(uow, "Q", 11)
    question = await ask_question(AskQuestion(contact_id, asker, colleagues[0], "?"), uow=uow, clock=clock)
    assert question.id is not None
    answers = [AnswerQuestion(question.id, p, f"answer {i}") for i, p in enumerate(colleagues)]
    results = await asyncio.gather(
        *(answer_question(a, uow=uow, clock=clock) for a in answers), return_exceptions=True
    )
    winners = [r for r in results if not isinstance(r, BaseException)]
    losers = [r for r in results if isinstance(r, QuestionClosed)]
    assert len(winners) == 1 and len(losers) == 9
    assert {loser.answered_by for loser in losers} == {winners[0].answered_by}
    async with uow() as tx:
        stored = await tx.questions.get(question.id)
    assert (stored.answer, stored.answered_by) == (winners[0].answer, winners[0].answered_by)
    assert (await _kinds(uow, contact_id)).count(EventKind.ANSWERED) == 1


async def test_transfer_and_release_at_once_leave_one_consistent_story(
    uow, clock, sessions: async_sessionmaker[AsyncSession]
) -> None:
    anna, bert = await _people(uow, "T", 2)
    contact_ids = [await _contact(uow, clock, f"Caller {i}") for i in range(10)]
    for contact_id in contact_ids:
        await claim_contact(ClaimContact(contact_id, anna), uow=uow, clock=clock)

    # Anna hands each contact to Bert and, at the same moment, lets go of it. Which call starts first
    # alternates, so that SQLite, which runs them one after the other, also sees both endings.
    calls: list[Coroutine[Any, Any, Contact]] = []
    for i, contact_id in enumerate(contact_ids):
        pair = [
            transfer_contact(TransferContact(contact_id, anna, bert, "yours"), uow=uow, clock=clock),
            release_contact(ReleaseContact(contact_id, anna), uow=uow, clock=clock),
        ]
        calls.extend(pair if i % 2 == 0 else reversed(pair))
    results = await asyncio.gather(*calls, return_exceptions=True)
    endings = [
        (results[2 * i], results[2 * i + 1]) if i % 2 == 0 else (results[2 * i + 1], results[2 * i])
        for i in range(len(contact_ids))
    ]

    async with sessions() as s:
        transfer_dms = [
            row.payload["contact_id"]
            for row in (await s.scalars(select(OutboxRow).where(OutboxRow.kind == DM_TRANSFER))).all()
        ]
    for contact_id, (transferred, released) in zip(contact_ids, endings, strict=True):
        async with uow() as tx:
            final = await tx.contacts.get(contact_id)
        kinds = await _kinds(uow, contact_id)
        if isinstance(transferred, Contact):
            assert isinstance(released, NotClaimant) and released.claimant == bert
            assert (final.status, final.claimed_by) == (ContactStatus.CLAIMED, bert)
            assert kinds == [EventKind.RECEIVED, EventKind.CLAIMED, EventKind.TRANSFERRED]
            assert transfer_dms.count(contact_id) == 1
        else:
            assert isinstance(transferred, NotClaimed), transferred
            assert isinstance(released, Contact)
            assert (final.status, final.claimed_by) == (ContactStatus.OPEN, None)
            assert kinds == [EventKind.RECEIVED, EventKind.CLAIMED, EventKind.RELEASED]
            assert transfer_dms.count(contact_id) == 0
        assert final.version == 3
