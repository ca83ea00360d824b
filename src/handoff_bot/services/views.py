"""Read models: what the API, the CLI and the cards show about a contact."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import datetime

from handoff_bot.domain.contacts import Contact, ContactStatus
from handoff_bot.domain.context import CustomerContext, build_context
from handoff_bot.domain.customers import Customer
from handoff_bot.domain.events import EventKind, TimelineEvent
from handoff_bot.domain.people import Person
from handoff_bot.domain.questions import Question
from handoff_bot.services.ports import UnitOfWork, UnitOfWorkFactory

HISTORY_SHOWN = 5


@dataclass(frozen=True)
class ContactDetails:
    contact: Contact
    customer: Customer
    questions: tuple[Question, ...]
    timeline: tuple[TimelineEvent, ...]
    context: CustomerContext
    earlier_count: int
    people: dict[int, Person]  # everyone the above refers to, by id

    def person(self, person_id: int | None) -> Person | None:
        return self.people.get(person_id) if person_id is not None else None


@dataclass(frozen=True)
class ContactPage:
    items: tuple[Contact, ...]
    next_before_id: int | None


async def load_details(tx: UnitOfWork, contact_id: int) -> ContactDetails:
    """Everything about one contact, inside an open unit of work (for handlers that also write)."""
    contact = await tx.contacts.get(contact_id)
    assert contact.id is not None
    customer = await tx.customers.get(contact.customer_id)
    questions = tuple(await tx.questions.for_contact(contact.id))
    timeline = tuple(await tx.timeline.for_contact(contact.id))
    earlier = await tx.contacts.earlier_for_customer(contact.customer_id, contact.id, HISTORY_SHOWN)
    count = await tx.contacts.count_for_customer(contact.customer_id, contact.id)
    context = build_context(contact.customer_id, customer.owner_id, earlier)
    ids = {contact.claimed_by, contact.resolved_by, context.owner_id}
    ids |= {e.handled_by for e in earlier} | {e.actor_id for e in timeline}
    ids |= {q.asker_id for q in questions} | {q.colleague_id for q in questions}
    ids |= {q.answered_by for q in questions}
    ids |= {e.data.get("to") for e in timeline if isinstance(e.data.get("to"), int)}
    people = await tx.people.get_many(sorted(i for i in ids if isinstance(i, int)))
    return ContactDetails(contact, customer, questions, timeline, context, count, people)


async def contact_details(contact_id: int, *, uow: UnitOfWorkFactory) -> ContactDetails:
    async with uow() as tx:
        return await load_details(tx, contact_id)


async def list_contacts(
    *, uow: UnitOfWorkFactory, status: ContactStatus | None, limit: int, before_id: int | None = None
) -> ContactPage:
    """Newest first; `next_before_id` continues the listing where this page stopped."""
    async with uow() as tx:
        items = await tx.contacts.page(status, limit + 1, before_id)
    more = len(items) > limit
    items = items[:limit]
    return ContactPage(tuple(items), items[-1].id if more and items else None)


@dataclass(frozen=True)
class DaySummary:
    unresolved: tuple[Contact, ...]
    open_questions: tuple[Question, ...]
    claims: int
    median_claim_seconds: float | None
    people: dict[int, Person]


async def day_summary(
    since: datetime, until: datetime, *, uow: UnitOfWorkFactory, limit: int = 30
) -> DaySummary:
    """End of day: what is still open, which questions wait, and how quickly contacts were claimed today."""
    async with uow() as tx:
        unresolved = tuple(await tx.contacts.unresolved(limit))
        questions = tuple(await tx.questions.open_questions(limit))
        claims = await tx.timeline.between(EventKind.CLAIMED, since, until)
        ids = (
            {c.claimed_by for c in unresolved}
            | {q.colleague_id for q in questions}
            | {q.asker_id for q in questions}
        )
        people = await tx.people.get_many(sorted(i for i in ids if i is not None))
    waits = [
        float(e.data["waited_seconds"])
        for e in claims
        if isinstance(e.data.get("waited_seconds"), int | float)
    ]
    return DaySummary(unresolved, questions, len(claims), statistics.median(waits) if waits else None, people)
