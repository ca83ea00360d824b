"""Rules that matter under concurrency, raced for real on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio

from handoff_bot.domain.contacts import Channel, ContactStatus
from handoff_bot.domain.errors import AlreadyClaimed, QuestionClosed
from handoff_bot.services.commands import (
    AnswerQuestion,
    AskQuestion,
    ClaimContact,
    CustomerDetails,
    EnsurePerson,
    ReceiveContact,
)
from handoff_bot.services.contacts import claim_contact, receive_contact
from handoff_bot.services.people import ensure_person
from handoff_bot.services.questions import answer_question, ask_question


async def test_twenty_claimers_exactly_one_wins(uow, clock) -> None:
    cmd = ReceiveContact(Channel.PHONE, "api", CustomerDetails(name="Jansen", phone="06-12345678"))
    received = await receive_contact(cmd, uow=uow, clock=clock)
    contact_id = received.contact.id
    assert contact_id is not None
    people = [await ensure_person(EnsurePerson(f"P{i}", f"p{i}@example.org"), uow=uow) for i in range(20)]
    claims = [ClaimContact(contact_id, p.id) for p in people if p.id is not None]
    results = await asyncio.gather(
        *(claim_contact(c, uow=uow, clock=clock) for c in claims), return_exceptions=True
    )
    winners = [r for r in results if not isinstance(r, BaseException)]
    losers = [r for r in results if isinstance(r, AlreadyClaimed)]
    assert len(winners) == 1
    assert len(losers) == 19
    assert {loser.by for loser in losers} == {winners[0].claimed_by}
    assert winners[0].status is ContactStatus.CLAIMED


async def test_twenty_concurrent_intakes_of_one_external_id_store_one_contact(uow, clock) -> None:
    cmd = ReceiveContact(
        Channel.EMAIL, "mail", CustomerDetails(email="Anna@Example.org"), external_id="msg-1"
    )
    results = await asyncio.gather(*(receive_contact(cmd, uow=uow, clock=clock) for _ in range(20)))
    assert {r.contact.id for r in results} == {results[0].contact.id}
    assert sum(r.created for r in results) == 1


async def test_a_new_customer_arriving_twenty_times_at_once_is_one_customer(uow, clock) -> None:
    commands = [
        ReceiveContact(Channel.PHONE, "api", CustomerDetails(name=f"Caller {i}", phone="0612345678"))
        for i in range(20)
    ]
    results = await asyncio.gather(*(receive_contact(c, uow=uow, clock=clock) for c in commands))
    assert len({r.contact.id for r in results}) == 20
    assert {r.contact.customer_id for r in results} == {results[0].contact.customer_id}


async def test_ten_concurrent_answers_one_is_recorded(uow, clock) -> None:
    received = await receive_contact(
        ReceiveContact(Channel.CHAT, "api", CustomerDetails(name="B")), uow=uow, clock=clock
    )
    people = [await ensure_person(EnsurePerson(f"Q{i}", f"q{i}@example.org"), uow=uow) for i in range(11)]
    assert received.contact.id is not None and all(p.id is not None for p in people)
    question = await ask_question(
        AskQuestion(received.contact.id, people[0].id or 0, people[1].id or 0, "?"), uow=uow, clock=clock
    )
    assert question.id is not None
    answers = [AnswerQuestion(question.id, p.id or 0, f"answer {i}") for i, p in enumerate(people[1:])]
    results = await asyncio.gather(
        *(answer_question(a, uow=uow, clock=clock) for a in answers), return_exceptions=True
    )
    winners = [r for r in results if not isinstance(r, BaseException)]
    losers = [r for r in results if isinstance(r, QuestionClosed)]
    assert len(winners) == 1 and len(losers) == 9
    assert {loser.answered_by for loser in losers} == {winners[0].answered_by}
    async with uow() as tx:
        stored = await tx.questions.get(question.id)
        timeline = await tx.timeline.for_contact(received.contact.id)
    assert stored.answer == winners[0].answer
    assert [e.kind.value for e in timeline].count("answered") == 1
