"""Use cases on one contact: receive, claim, release, transfer, resolve, reopen."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace

from handoff_bot.domain.contacts import Contact
from handoff_bot.domain.customers import (
    Customer,
    Identity,
    IdentityKind,
    normalise_email,
    normalise_handle,
    normalise_phone,
)
from handoff_bot.domain.errors import InvalidIdentity
from handoff_bot.domain.events import TimelineEvent
from handoff_bot.domain.text import clean_text
from handoff_bot.services.commands import (
    ClaimContact,
    CustomerDetails,
    ReceiveContact,
    ReleaseContact,
    ReopenContact,
    ResolveContact,
    TransferContact,
)
from handoff_bot.services.effects import record
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
    subject = clean_text(cmd.subject, single_line=True)[:SUBJECT_MAX]
    body = clean_text(cmd.body)
    received_at = cmd.received_at or clock.now()
    external_id = clean_text(cmd.external_id, single_line=True) or None if cmd.external_id else None

    async def attempt() -> Received:
        async with uow() as tx:
            if external_id:
                existing = await tx.contacts.by_external_id(cmd.source, external_id)
                if existing is not None:
                    return Received(existing, created=False)
            candidates = await tx.customers.find_by_identities(sorted(identities, key=str))
            customer = _choose(candidates, identities)
            if customer is None:
                customer = await tx.customers.add(Customer(None, name, company, None, set(identities)))
            else:
                # An identity another customer already owns stays with them.
                taken = {i for c in candidates if c.id != customer.id for i in c.identities}
                customer.learn(name, company, identities - taken)
                await tx.customers.save(customer)
            assert customer.id is not None
            contact = await tx.contacts.add(
                Contact(
                    id=None,
                    customer_id=customer.id,
                    channel=cmd.channel,
                    subject=subject,
                    body=body,
                    received_at=received_at,
                    source=cmd.source,
                    external_id=external_id,
                    callback_before=cmd.callback_before,
                )
            )
            await record(tx, contact.received())
            for timer in timers_for_contact(contact, reminders) if reminders else ():
                await tx.outbox.enqueue(timer)
            await tx.commit()
            return Received(contact, created=True)

    return await on_conflict(attempt)


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
            for person_id in person_ids:
                await tx.people.get(person_id)  # NotFound before any rule is applied
            if check is not None:
                await check(tx)
            contact = await tx.contacts.get(contact_id)
            event = change(contact)
            await tx.contacts.save(contact)
            await record(tx, event)
            await tx.commit()
            return contact

    return await on_conflict(attempt)
