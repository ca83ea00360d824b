"""Email intake use case: a mail becomes a contact, or a line in the thread of the contact it answers."""

from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from handoff_bot.domain.contacts import Channel, Contact, ContactStatus
from handoff_bot.domain.customers import Customer, Identity, normalise_email
from handoff_bot.domain.errors import InvalidIdentity, NotFound
from handoff_bot.domain.events import EventKind, TimelineEvent
from handoff_bot.domain.mail import Direction, MailMessage
from handoff_bot.domain.text import clean_text
from handoff_bot.services.effects import record
from handoff_bot.services.ports import Clock, UnitOfWork, UnitOfWorkFactory
from handoff_bot.services.reminders import ReminderPolicy, timers_for_contact
from handoff_bot.services.retry import on_conflict

SOURCE = "email"
SUBJECT_MAX = 300
ORIGINAL_MAX = 1_000_000  # the whole body as text; generated mail beyond this is not worth keeping
LINE_MAX = 2000  # of a reply's text, for the line in the card's thread
FILES_MAX = 50
ID_MAX = 300


class MailOutcome(enum.StrEnum):
    CREATED = "created"  # a new contact
    FOLLOW_UP = "follow_up"  # added to the thread of the contact it answers
    REOPENED = "reopened"  # ... which had been resolved recently and is open again
    DUPLICATE = "duplicate"  # stored before (a poller crashed before flagging it, or two raced)


@dataclass(frozen=True)
class ReceiveEmail:
    """A parsed mail, as intake hands it over: texts already decoded and cleaned of quotes."""

    message_id: str
    subject: str
    text: str
    from_address: str | None = None
    from_name: str | None = None
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    original: str = ""
    attachments: tuple[tuple[str, int], ...] = ()
    contact_tag: int | None = None  # the 42 of "[#42]" in the subject


@dataclass(frozen=True)
class EmailReceived:
    contact_id: int
    outcome: MailOutcome


async def receive_email(
    cmd: ReceiveEmail,
    *,
    uow: UnitOfWorkFactory,
    clock: Clock,
    reopen_days: int = 14,
    reminders: ReminderPolicy | None = None,
) -> EmailReceived:
    """Store a mail exactly once: a new contact, or a follow-up (reopening) of the contact it answers.

    Raises InvalidIdentity when the mail names no sender at all (nobody to answer).
    """
    # Ids are compared, never shown; a control character in one must not break the database (NUL).
    cmd = replace(
        cmd,
        message_id=_clean_id(cmd.message_id),
        in_reply_to=_clean_id(cmd.in_reply_to) if cmd.in_reply_to else None,
        references=tuple(_clean_id(r) for r in cmd.references),
    )
    identity = _sender(cmd.from_address)
    name = clean_text(cmd.from_name, single_line=True) or None if cmd.from_name else None
    if identity is None and name is None:
        raise InvalidIdentity(field="from", value="")
    subject = clean_text(cmd.subject, single_line=True)[:SUBJECT_MAX]
    text = clean_text(cmd.text)
    files = [(clean_text(n, single_line=True)[:255], max(0, s)) for n, s in cmd.attachments[:FILES_MAX]]
    files_data: list[list[str | int]] = [[n, s] for n, s in files]  # JSON in the timeline

    async def attempt() -> EmailReceived:
        async with uow() as tx:
            known = await tx.mail.get(cmd.message_id)
            if known is not None:
                return EmailReceived(known.contact_id, MailOutcome.DUPLICATE)
            now = clock.now()
            contact = await _thread_contact(tx, cmd, identity)
            outcome = MailOutcome.CREATED
            if contact is not None and contact.status is ContactStatus.RESOLVED:
                recent = contact.resolved_at is not None and contact.resolved_at > now - timedelta(
                    days=reopen_days
                )
                if recent:
                    event = contact.reopen(None, now)
                    await tx.contacts.save(contact)
                    await record(tx, event)
                    outcome = MailOutcome.REOPENED
                else:
                    contact = None  # an old case: the reply starts a new one
            elif contact is not None:
                outcome = MailOutcome.FOLLOW_UP
            if contact is None:
                contact = await _new_contact(tx, identity, name, subject, text, files_data, now, reminders)
            else:
                assert contact.id is not None
                data = {"subject": subject, "text": text[:LINE_MAX], "files": files_data}
                await record(tx, TimelineEvent(contact.id, EventKind.FOLLOW_UP, now, None, data))
            assert contact.id is not None
            await tx.mail.add(
                MailMessage(
                    message_id=cmd.message_id,
                    contact_id=contact.id,
                    direction=Direction.IN,
                    at=now,
                    address=identity.value if identity else None,
                    subject=subject,
                    references=_thread_ids(cmd),
                    original=clean_text(cmd.original)[:ORIGINAL_MAX],
                    attachments=tuple(files),
                )
            )
            await tx.commit()
            return EmailReceived(contact.id, outcome)

    # A racing poller that stored the same message id first makes our insert fail; the retry
    # then finds its row and answers DUPLICATE.
    return await on_conflict(attempt)


def _clean_id(message_id: str) -> str:
    cleaned = clean_text(message_id, single_line=True)
    if cleaned == message_id and 0 < len(cleaned) <= ID_MAX:
        return cleaned
    return hashlib.sha256(message_id.encode("utf-8", "surrogatepass")).hexdigest()


def _sender(address: str | None) -> Identity | None:
    if not address:
        return None
    try:
        return normalise_email(address)
    except InvalidIdentity:
        return None


def _thread_ids(cmd: ReceiveEmail) -> tuple[str, ...]:
    ids = list(cmd.references)
    if cmd.in_reply_to and cmd.in_reply_to not in ids:
        ids.append(cmd.in_reply_to)
    return tuple(ids)


async def _thread_contact(tx: UnitOfWork, cmd: ReceiveEmail, sender: Identity | None) -> Contact | None:
    """The contact this mail answers: by its headers, else by a `[#id]` tag from that same customer."""
    contact_id = await tx.mail.contact_for([*([cmd.in_reply_to] if cmd.in_reply_to else []), *cmd.references])
    contact = await _usable(tx, contact_id)
    if contact is not None or cmd.contact_tag is None or sender is None:
        return contact
    # A tag is easy to type: only the customer the contact belongs to may add to its thread with it.
    contact = await _usable(tx, cmd.contact_tag)
    if contact is None or contact.channel is not Channel.EMAIL:
        return None
    customer = await tx.customers.get(contact.customer_id)
    return contact if sender in customer.identities else None


async def _usable(tx: UnitOfWork, contact_id: int | None) -> Contact | None:
    if contact_id is None:
        return None
    try:
        contact = await tx.contacts.get(contact_id)
    except NotFound:
        return None
    return contact if contact.redacted_at is None else None  # erased: a reply starts afresh


async def _new_contact(
    tx: UnitOfWork,
    identity: Identity | None,
    name: str | None,
    subject: str,
    text: str,
    files: list[list[str | int]],
    now: datetime,
    reminders: ReminderPolicy | None,
) -> Contact:
    customer: Customer | None = None
    if identity is not None:
        found = await tx.customers.find_by_identities([identity])
        customer = found[0] if found else None
    if customer is None:
        customer = await tx.customers.add(Customer(None, name, None, None, {identity} if identity else set()))
    else:
        customer.learn(name, None, set())
        await tx.customers.save(customer)
    assert customer.id is not None
    contact = await tx.contacts.add(
        Contact(
            id=None,
            customer_id=customer.id,
            channel=Channel.EMAIL,
            subject=subject,
            body=text,
            received_at=now,
            source=SOURCE,
        )
    )
    received = contact.received()
    await record(tx, replace(received, data={**received.data, "files": files}))
    for timer in timers_for_contact(contact, reminders) if reminders else ():
        await tx.outbox.enqueue(timer)
    return contact
