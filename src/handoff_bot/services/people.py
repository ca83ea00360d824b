"""Finding and creating the employees behind platform users, and naming customers' owners."""

from __future__ import annotations

from handoff_bot.domain.customers import normalise_email
from handoff_bot.domain.people import Person
from handoff_bot.domain.text import clean_text
from handoff_bot.services.commands import EnsurePerson, SetCustomerOwner
from handoff_bot.services.ports import UnitOfWork, UnitOfWorkFactory
from handoff_bot.services.retry import on_conflict

NAME_MAX = 200  # people.display_name and .location


async def _find(tx: UnitOfWork, cmd: EnsurePerson, email: str | None) -> Person | None:
    for platform, user_id in cmd.identities:
        found = await tx.people.by_identity(platform, user_id)
        if found is not None:
            return found
    return await tx.people.by_email(email) if email else None


async def ensure_person(cmd: EnsurePerson, *, uow: UnitOfWorkFactory) -> Person:
    """Join by platform identity, else by email (which links Slack and Teams), else create."""
    email = normalise_email(cmd.email).value if cmd.email else None
    # people.display_name holds 200; an Entra display name may have 256 characters.
    name = clean_text(cmd.display_name, single_line=True)[:NAME_MAX] or (email or "?")
    location = clean_text(cmd.location, single_line=True)[:NAME_MAX] if cmd.location else None

    async def attempt() -> Person:
        async with uow() as tx:
            person = await _find(tx, cmd, email)
            if person is None:
                person = await tx.people.add(Person(None, name, email, location, dict(cmd.identities)))
            else:
                if email and person.email is None and await tx.people.by_email(email) is None:
                    # An email someone else already has stays theirs (the unique key would refuse it).
                    person.email = email
                person.location = location or person.location
                person.identities.update(dict(cmd.identities))
                await tx.people.save(person)
            await tx.commit()
            return person

    return await on_conflict(attempt)


async def set_customer_owner(cmd: SetCustomerOwner, *, uow: UnitOfWorkFactory) -> None:
    async with uow() as tx:
        if cmd.owner_id is not None:
            await tx.people.get(cmd.owner_id)
        customer = await tx.customers.get(cmd.customer_id)
        customer.owner_id = cmd.owner_id
        await tx.customers.save(customer)
        await tx.commit()
