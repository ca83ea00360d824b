"""Privacy by design: erase a customer on request, remove old personal data, export what we hold.

Redaction keeps what statistics need (times, channel, who handled it) and removes what a person wrote
or is: subject, body, outcome, notes, question and answer texts, the customer's name and identifiers.
Every chat copy is edited through the outbox, so a crash halfway is resumed, not forgotten.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from handoff_bot.domain.contacts import Contact
from handoff_bot.domain.events import EventKind, TimelineEvent
from handoff_bot.services.effects import contact_key, record
from handoff_bot.services.ports import Clock, Effect, UnitOfWork, UnitOfWorkFactory
from handoff_bot.services.retry import on_conflict

CHAT_REDACT = "chat.redact"
TIMER_RETENTION = "timer.retention"
ERASED, RETENTION = "erased", "retention"
FREE_TEXT_KEYS = ("note", "outcome", "promise", "subject", "text", "files")
RETENTION_BATCH = 200


@dataclass(frozen=True)
class Erasure:
    customer_id: int
    contacts: int
    already_erased: bool


async def _redact(tx: UnitOfWork, contact: Contact, at: datetime, reason: str, by: str | None) -> None:
    assert contact.id is not None
    first_time = contact.redacted_at is None
    contact.subject, contact.body, contact.outcome = "", "", None
    contact.redacted_at = contact.redacted_at or at
    await tx.contacts.save(contact)
    for question in await tx.questions.for_contact(contact.id):
        if question.text or question.answer:
            question.text, question.answer = "", ("" if question.answer is not None else None)
            await tx.questions.save(question)
    await tx.timeline.scrub(contact.id, FREE_TEXT_KEYS)
    await tx.mail.forget(contact.id)
    if first_time:
        data: dict[str, Any] = {"reason": reason, **({"by": by} if by else {})}
        # The REDACTED event says when and why (and who asked), never what was removed.
        await record(tx, TimelineEvent(contact.id, EventKind.REDACTED, at, None, data))
    # Edit every chat copy; repeated on every run, so an erase can be re-run to retry stragglers.
    await tx.outbox.enqueue(
        Effect(CHAT_REDACT, {"contact_id": contact.id, "reason": reason}, contact_key(contact.id))
    )


async def erase_customer(customer_id: int, *, by: str, uow: UnitOfWorkFactory, clock: Clock) -> Erasure:
    """Remove a customer's personal data everywhere at once. Idempotent: running it again is safe."""

    async def attempt() -> Erasure:
        async with uow() as tx:
            customer = await tx.customers.get(customer_id)
            already = customer.erased_at is not None
            now = clock.now()
            customer.name = customer.company = None
            customer.identities = set()
            customer.erased_at = customer.erased_at or now
            await tx.customers.save(customer)
            await tx.customers.forget(customer_id)
            contacts = await tx.contacts.for_customer(customer_id)
            for contact in contacts:
                await _redact(tx, contact, now, ERASED, by)
            await tx.commit()
            return Erasure(customer_id, len(contacts), already)

    return await on_conflict(attempt)


async def apply_retention(days: int, *, uow: UnitOfWorkFactory, clock: Clock) -> int:
    """Redact contacts resolved more than `days` ago; forget customers with nothing newer. Returns a count."""
    cutoff = clock.now() - timedelta(days=days)
    done = 0
    while True:
        async with uow() as tx:
            batch = await tx.contacts.resolved_before(cutoff, RETENTION_BATCH)
            for contact in batch:
                await _redact(tx, contact, clock.now(), RETENTION, None)
                newest = await tx.contacts.newest_for_customer(contact.customer_id)
                if (newest is not None and newest.id == contact.id) or (
                    newest is not None and newest.redacted_at is not None
                ):
                    customer = await tx.customers.get(contact.customer_id)
                    customer.name = customer.company = None
                    customer.identities = set()
                    await tx.customers.save(customer)
                    await tx.customers.forget(contact.customer_id)
            await tx.commit()
        done += len(batch)
        if len(batch) < RETENTION_BATCH:
            return done


def retention_timer(now: datetime, tz: Any) -> Effect:
    """Once a night at 03:00 local time; one row per night however many processes ask."""
    local = now.astimezone(tz)
    run = local.replace(hour=3, minute=0, second=0, microsecond=0)
    if run <= local:
        run += timedelta(days=1)
    return Effect(
        TIMER_RETENTION,
        {"at": run.isoformat()},
        due_at=run,
        fan_out=False,
        dedupe=f"retention:{run.date().isoformat()}",
    )


async def schedule_retention(*, uow: UnitOfWorkFactory, clock: Clock, tz: Any) -> None:
    async with uow() as tx:
        await tx.outbox.enqueue(retention_timer(clock.now(), tz))
        await tx.commit()


async def run_retention(days: int, *, uow: UnitOfWorkFactory, clock: Clock, tz: Any) -> int:
    """The nightly job: redact, then schedule tomorrow night's run."""
    count = await apply_retention(days, uow=uow, clock=clock)
    await schedule_retention(uow=uow, clock=clock, tz=tz)
    return count


async def export_customer(customer_id: int, *, uow: UnitOfWorkFactory) -> dict[str, Any]:
    """Everything held about a customer (GDPR art. 15), as plain JSON-ready data."""
    async with uow() as tx:
        customer = await tx.customers.get(customer_id)
        contacts = await tx.contacts.for_customer(customer_id)
        out_contacts = []
        for contact in contacts:
            assert contact.id is not None
            questions = await tx.questions.for_contact(contact.id)
            timeline = await tx.timeline.for_contact(contact.id)
            emails = await tx.mail.for_contact(contact.id)
            out_contacts.append(
                {
                    "id": contact.id,
                    "channel": contact.channel.value,
                    "subject": contact.subject,
                    "body": contact.body,
                    "received_at": _iso(contact.received_at),
                    "source": contact.source,
                    "external_id": contact.external_id,
                    "status": contact.status.value,
                    "claimed_by": contact.claimed_by,
                    "resolved_by": contact.resolved_by,
                    "resolved_at": _iso(contact.resolved_at),
                    "outcome": contact.outcome,
                    "callback_before": _iso(contact.callback_before),
                    "redacted_at": _iso(contact.redacted_at),
                    "questions": [
                        {
                            "id": q.id,
                            "asker": q.asker_id,
                            "colleague": q.colleague_id,
                            "text": q.text,
                            "status": q.status.value,
                            "answer": q.answer,
                            "answered_by": q.answered_by,
                            "asked_at": _iso(q.asked_at),
                            "answered_at": _iso(q.answered_at),
                        }
                        for q in questions
                    ],
                    "timeline": [
                        {"kind": e.kind.value, "at": _iso(e.at), "actor": e.actor_id, "data": e.data}
                        for e in timeline
                    ],
                    "emails": [
                        {
                            "message_id": m.message_id,
                            "direction": m.direction.value,
                            "at": _iso(m.at),
                            "address": m.address,
                            "subject": m.subject,
                            "text": m.original,
                            "attachments": [{"name": n, "bytes": b} for n, b in m.attachments],
                        }
                        for m in emails
                    ],
                }
            )
    return {
        "customer": {
            "id": customer.id,
            "name": customer.name,
            "company": customer.company,
            "identities": [{"kind": i.kind.value, "value": i.value} for i in customer.sorted_identities()],
            "erased_at": _iso(customer.erased_at),
        },
        "contacts": out_contacts,
    }


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None
