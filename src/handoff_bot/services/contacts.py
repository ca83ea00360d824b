"""Use cases on one contact: receive, claim, release, transfer, resolve, reopen."""

from __future__ import annotations

import weakref
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from weakref import WeakKeyDictionary

from handoff_bot.domain.contacts import Channel, Contact
from handoff_bot.domain.customers import (
    Customer,
    Identity,
    IdentityKind,
    normalise_email,
    normalise_handle,
    normalise_phone,
)
from handoff_bot.domain.errors import ConcurrentUpdate, InvalidIdentity
from handoff_bot.domain.events import TimelineEvent
from handoff_bot.domain.text import clean_text
from handoff_bot.services.batching import GroupCommit
from handoff_bot.services.commands import (
    ClaimContact,
    CustomerDetails,
    ReceiveContact,
    ReleaseContact,
    ReopenContact,
    ResolveContact,
    TransferContact,
)
from handoff_bot.services.effects import effects_of, record
from handoff_bot.services.ports import Clock, UnitOfWork, UnitOfWorkFactory
from handoff_bot.services.reach import require_reachable
from handoff_bot.services.reminders import ReminderPolicy, timers_for_contact
from handoff_bot.services.retry import on_conflict

SUBJECT_MAX = 300
NAME_MAX = 200  # customers.name and .company: a forged Teams dialog is not held to the form's maxLength
Transition = Callable[[Contact], TimelineEvent]


@dataclass(frozen=True)
class Received:
    contact: Contact
    created: bool


def identities_of(details: CustomerDetails, region: str) -> set[Identity]:
    """Normalise every identity given; raises InvalidIdentity naming the bad field."""
    found: set[Identity] = set()
    if details.email:
        found.add(normalise_email(details.email))
    if details.phone:
        found.add(normalise_phone(details.phone, region))
    if details.handle:
        found.add(normalise_handle(details.handle, details.network))
    return found


def _choose(candidates: list[Customer], identities: set[Identity]) -> Customer | None:
    """Several customers can match (an email of one, a phone of another): prefer the strongest key."""
    for kind in (IdentityKind.EMAIL, IdentityKind.PHONE, IdentityKind.SOCIAL):
        wanted = {i for i in identities if i.kind is kind}
        for customer in sorted(candidates, key=lambda c: c.id or 0):
            if customer.identities & wanted:
                return customer
    return None


@dataclass(frozen=True)
class _Arrival:
    """A contact to store, validated and normalised: what one intake writes."""

    channel: Channel
    source: str
    external_id: str | None
    subject: str
    body: str
    received_at: datetime
    callback_before: datetime | None
    name: str | None
    company: str | None
    identities: frozenset[Identity]
    reminders: ReminderPolicy | None

    def contact(self, customer_id: int) -> Contact:
        return Contact(
            id=None,
            customer_id=customer_id,
            channel=self.channel,
            subject=self.subject,
            body=self.body,
            received_at=self.received_at,
            source=self.source,
            external_id=self.external_id,
            callback_before=self.callback_before,
        )


async def receive_contact(
    cmd: ReceiveContact,
    *,
    uow: UnitOfWorkFactory,
    clock: Clock,
    region: str = "NL",
    reminders: ReminderPolicy | None = None,
) -> Received:
    """Store a new contact (or return the one already stored for its source + external id)."""
    if not cmd.customer.has_identity_or_name():
        raise InvalidIdentity(field="customer", value="")
    identities = identities_of(cmd.customer, region)
    name = clean_text(cmd.customer.name, single_line=True)[:NAME_MAX] if cmd.customer.name else None
    company = clean_text(cmd.customer.company, single_line=True)[:NAME_MAX] if cmd.customer.company else None
    if not identities and not name:  # a name of only spaces or control characters is no name
        raise InvalidIdentity(field="customer", value="")
    arrival = _Arrival(
        channel=cmd.channel,
        source=cmd.source,
        external_id=clean_text(cmd.external_id, single_line=True) or None if cmd.external_id else None,
        subject=clean_text(cmd.subject, single_line=True)[:SUBJECT_MAX],
        body=clean_text(cmd.body),
        received_at=cmd.received_at or clock.now(),
        callback_before=cmd.callback_before,
        name=name,
        company=company,
        identities=frozenset(identities),
        reminders=reminders,
    )
    if not getattr(uow, "group_commit", False):
        return await _receive_one(uow, arrival)
    line = _lines.get(uow)
    if line is None:
        factory = weakref.ref(uow)  # the line must not keep its factory (and engine) alive

        async def write(batch: Sequence[_Arrival]) -> list[Received | Exception]:
            alive = factory()
            assert alive is not None, "a unit-of-work factory in use is alive"
            return await _receive_many(alive, batch)

        writers = getattr(uow, "group_writers", 1)
        line = _lines[uow] = GroupCommit(write, limit=GROUP_LIMIT, writers=writers)
    return await line.submit(arrival)


# One line of waiting intakes per unit-of-work factory (that is, per database).
_lines: WeakKeyDictionary[UnitOfWorkFactory, GroupCommit[_Arrival, Received]] = WeakKeyDictionary()
GROUP_LIMIT = 64


async def _receive_one(uow: UnitOfWorkFactory, arrival: _Arrival) -> Received:
    """One contact in its own transaction, retried when a concurrent writer got in first."""
    tries = 0

    async def attempt() -> Received:
        nonlocal tries
        tries += 1
        async with uow() as tx:
            # The unique key (source, external_id) is the guard: a repeat fails the insert below and the
            # retry finds the stored contact. So the first try skips the look-up (repeats are rare).
            if arrival.external_id and tries > 1:
                existing = await tx.contacts.by_external_id(arrival.source, arrival.external_id)
                if existing is not None:
                    return Received(existing, created=False)
            identities = set(arrival.identities)
            candidates = await tx.customers.find_by_identities(sorted(identities, key=str))
            customer = _choose(candidates, identities)
            if customer is None:
                customer = await tx.customers.add(
                    Customer(None, arrival.name, arrival.company, None, identities)
                )
            else:
                # An identity another customer already owns stays with them.
                taken = {i for c in candidates if c.id != customer.id for i in c.identities}
                customer.learn(arrival.name, arrival.company, identities - taken)
                await tx.customers.save(customer)
            assert customer.id is not None
            contact = await tx.contacts.add(arrival.contact(customer.id))
            await record(tx, contact.received())
            await _enqueue_timers(tx, contact, arrival.reminders)
            await tx.commit()
            return Received(contact, created=True)

    return await on_conflict(attempt)


async def _enqueue_timers(tx: UnitOfWork, contact: Contact, reminders: ReminderPolicy | None) -> None:
    for timer in timers_for_contact(contact, reminders) if reminders else ():
        await tx.outbox.enqueue(timer)


async def _receive_many(uow: UnitOfWorkFactory, batch: Sequence[_Arrival]) -> list[Received | Exception]:
    """Contacts that arrived together, in one transaction with set-wise writes.

    The outcome is the one storing them one after the other would have had. When anything fails (a
    repeated external id, a concurrent writer, the database), each is stored on its own instead, so
    every caller gets its own truthful answer.
    """
    seen: set[tuple[str, str]] = set()
    together: list[_Arrival] = []
    later: list[_Arrival] = []  # a repeat within the batch: stored after the first, it finds it
    for arrival in batch:
        key = (arrival.source, arrival.external_id) if arrival.external_id else None
        (later if key in seen else together).append(arrival)
        if key is not None:
            seen.add(key)
    stored: dict[int, Received] = {}
    if len(together) > 1:
        try:
            received = await _store_together(uow, together)
        except _CommitFailed as failed:
            # The group may be stored (a connection lost during COMMIT): storing it again one by one
            # could store every contact twice. Each caller gets the error, and may retry.
            return [failed.error] * len(batch)
        except Exception:
            received = []
        stored = {id(a): r for a, r in zip(together, received, strict=False)}
    results: list[Received | Exception] = []
    for arrival in batch:
        if id(arrival) in stored:
            results.append(stored[id(arrival)])
            continue
        try:
            results.append(await _receive_one(uow, arrival))
        except Exception as exc:
            results.append(exc)
    return results


async def _store_together(uow: UnitOfWorkFactory, batch: Sequence[_Arrival]) -> list[Received]:
    async with uow() as tx:
        wanted = sorted({i for a in batch for i in a.identities}, key=str)
        found = await tx.customers.find_by_identities(wanted)
        owner: dict[Identity, Customer] = {i: c for c in found for i in c.identities}
        order = {id(c): (c.id or 0, 0) for c in found}  # new customers sort after stored ones
        new: list[Customer] = []
        changed: dict[int, Customer] = {}
        chosen: list[Customer] = []
        for arrival in batch:
            identities = set(arrival.identities)
            candidates = sorted(
                {id(owner[i]): owner[i] for i in identities if i in owner}.values(),
                key=lambda c: order[id(c)],
            )
            customer = _choose(candidates, identities)
            if customer is None:
                customer = Customer(None, arrival.name, arrival.company, None, identities)
                order[id(customer)] = (2**62, len(new))
                new.append(customer)
            else:
                taken = {i for c in candidates if c is not customer for i in c.identities}
                customer.learn(arrival.name, arrival.company, identities - taken)
                if customer.id is not None:
                    changed[customer.id] = customer
            for identity in customer.identities:
                owner.setdefault(identity, customer)
            chosen.append(customer)
        await tx.customers.add_many(new)
        for customer in changed.values():
            await tx.customers.save(customer)
        contacts = await tx.contacts.add_many(
            [a.contact(c.id or 0) for a, c in zip(batch, chosen, strict=True)]
        )
        events = await tx.timeline.append_many([c.received() for c in contacts])
        for contact, event, arrival in zip(contacts, events, batch, strict=True):
            for effect in effects_of(event):
                await tx.outbox.enqueue(effect)
            await _enqueue_timers(tx, contact, arrival.reminders)
        try:
            await tx.commit()
        except ConcurrentUpdate:
            raise  # a unique key refused the write: nothing was stored, each is stored on its own
        except Exception as exc:
            raise _CommitFailed(exc) from exc
    return [Received(c, created=True) for c in contacts]


class _CommitFailed(Exception):
    """A group's COMMIT failed: unlike a statement before it, it may have taken effect."""

    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))
        self.error = error


async def claim_contact(cmd: ClaimContact, *, uow: UnitOfWorkFactory, clock: Clock) -> Contact:
    """Exactly one of several concurrent claimers wins; the others get AlreadyClaimed(by=winner)."""
    return await _transition(
        uow, cmd.contact_id, [cmd.person_id], lambda c: c.claim(cmd.person_id, clock.now())
    )


async def release_contact(cmd: ReleaseContact, *, uow: UnitOfWorkFactory, clock: Clock) -> Contact:
    return await _transition(
        uow, cmd.contact_id, [cmd.person_id], lambda c: c.release(cmd.person_id, clock.now())
    )


async def transfer_contact(
    cmd: TransferContact, *, uow: UnitOfWorkFactory, clock: Clock, platforms: Sequence[str] | None = None
) -> Contact:
    """With `platforms` (the configured chat platforms), a colleague on none of them is Unreachable."""
    note = clean_text(cmd.note)

    def change(contact: Contact) -> TimelineEvent:
        event = contact.transfer(cmd.person_id, cmd.to_person_id, note, clock.now())
        return replace(event, data={**event.data, "via": cmd.via}) if cmd.via else event

    async def check(tx: UnitOfWork) -> None:
        if platforms is not None and cmd.to_person_id != cmd.person_id:
            require_reachable(await tx.people.get(cmd.to_person_id), platforms)

    return await _transition(uow, cmd.contact_id, [cmd.person_id, cmd.to_person_id], change, check)


async def resolve_contact(cmd: ResolveContact, *, uow: UnitOfWorkFactory, clock: Clock) -> Contact:
    outcome = clean_text(cmd.outcome) if cmd.outcome else None
    return await _transition(
        uow, cmd.contact_id, [cmd.person_id], lambda c: c.resolve(cmd.person_id, outcome, clock.now())
    )


async def reopen_contact(cmd: ReopenContact, *, uow: UnitOfWorkFactory, clock: Clock) -> Contact:
    people = [cmd.person_id] if cmd.person_id is not None else []
    return await _transition(uow, cmd.contact_id, people, lambda c: c.reopen(cmd.person_id, clock.now()))


async def _transition(
    uow: UnitOfWorkFactory,
    contact_id: int,
    person_ids: list[int],
    change: Transition,
    check: Callable[[UnitOfWork], Awaitable[None]] | None = None,
) -> Contact:
    """Read, apply the domain rule, write guarded by the row version; retry on a lost race."""

    async def attempt() -> Contact:
        async with uow() as tx:
            # NotFound before any rule is applied; one person and no other check (a click) is one read.
            if len(person_ids) == 1 and check is None:
                contact = await tx.contacts.get_for(contact_id, person_ids[0])
            else:
                for person_id in person_ids:
                    await tx.people.get(person_id)
                if check is not None:
                    await check(tx)
                contact = await tx.contacts.get(contact_id)
            event = change(contact)
            await tx.contacts.save(contact)
            await record(tx, event)
            await tx.commit()
            return contact

    return await on_conflict(attempt)
