"""Intakes that arrive together share one transaction (group commit), on SQLite and PostgreSQL.

Each caller must still get exactly the answer storing them one after the other would have given,
and the database's unique keys must still decide races between separate instances.
"""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handoff_bot.clock import ManualClock
from handoff_bot.domain.contacts import Channel
from handoff_bot.domain.customers import Identity, IdentityKind
from handoff_bot.domain.events import EventKind
from handoff_bot.services.commands import CustomerDetails, ReceiveContact
from handoff_bot.services.contacts import Received, receive_contact
from handoff_bot.services.ports import Committed
from handoff_bot.services.reminders import TIMER_CLAIM
from handoff_bot.storage.db import session_factory
from handoff_bot.storage.models import ContactRow, CustomerRow, OutboxRow
from handoff_bot.storage.uow import SqlUnitOfWorkFactory
from tests.conftest import Database


def _cmd(subject: str, external_id: str | None = None, **customer: str) -> ReceiveContact:
    return ReceiveContact(
        Channel.EMAIL, "api", CustomerDetails(**customer), subject=subject, external_id=external_id
    )


async def _all(uow: SqlUnitOfWorkFactory, clock: ManualClock, cmds: list[ReceiveContact]) -> list[Received]:
    policy = _policy()
    return list(
        await asyncio.gather(*(receive_contact(c, uow=uow, clock=clock, reminders=policy) for c in cmds))
    )


def _policy() -> Any:
    from handoff_bot.config import load_settings

    return load_settings(database_url="sqlite+aiosqlite://").reminder_policy()


async def _count(sessions: async_sessionmaker[AsyncSession], column: Any) -> int:
    async with sessions() as s:
        return int(await s.scalar(select(func.count(column))) or 0)


async def test_intakes_arriving_together_share_a_transaction_and_each_get_their_own_contact(
    uow: SqlUnitOfWorkFactory, clock: ManualClock, sessions: async_sessionmaker[AsyncSession]
) -> None:
    commits: list[Committed] = []
    uow.listeners.append(commits.append)
    results = await _all(uow, clock, [_cmd(f"vraag {n}", email=f"k{n}@example.org") for n in range(12)])
    assert [r.contact.subject for r in results] == [f"vraag {n}" for n in range(12)]
    assert all(r.created for r in results)
    assert len({r.contact.id for r in results}) == 12
    assert len(commits) == 1, "contacts that arrived together were committed together"
    assert sum(1 for c in commits for e in c.events if e.kind is EventKind.RECEIVED) == 12
    async with uow() as tx:
        for r in results:
            assert r.contact.id is not None
            stored = await tx.contacts.get(r.contact.id)
            assert (stored.subject, stored.customer_id) == (r.contact.subject, r.contact.customer_id)
            customer = await tx.customers.get(stored.customer_id)
            n = r.contact.subject.split()[-1]
            assert customer.identities == {Identity(IdentityKind.EMAIL, f"k{n}@example.org")}
            assert [e.kind for e in await tx.timeline.for_contact(r.contact.id)] == [EventKind.RECEIVED]
    async with sessions() as s:
        rows = (await s.execute(select(OutboxRow.kind, OutboxRow.payload))).all()
    for r in results:
        mine = sorted(kind for kind, payload in rows if payload.get("contact_id") == r.contact.id)
        assert mine == sorted(["card.post", "thread.owner", TIMER_CLAIM])


async def test_a_batch_matches_customers_as_storing_them_one_by_one_would(
    uow: SqlUnitOfWorkFactory, clock: ManualClock, sessions: async_sessionmaker[AsyncSession]
) -> None:
    (anna,) = await _all(uow, clock, [_cmd("eerste", name="Anna", email="anna@example.org")])
    (piet,) = await _all(uow, clock, [_cmd("eerste", name="Piet", phone="0612345678")])
    commits: list[Committed] = []
    uow.listeners.append(commits.append)
    results = await _all(
        uow,
        clock,
        [
            _cmd("nieuw 1", name="Nieuw", email="nieuw@example.org"),
            _cmd("nieuw 2", email="nieuw@example.org", phone="0687654321"),
            _cmd("anna leert", email="anna@example.org", handle="instagram:@anna"),
            # Anna's email and Piet's phone: the email decides, and Piet keeps his phone.
            _cmd("beide", email="anna@example.org", phone="0612345678"),
            _cmd("via nieuw telefoon", phone="06-87654321"),
        ],
    )
    assert len(commits) == 1, "stored together, not one by one after a failure"
    new1, new2, learns, both, by_phone = results
    assert new1.contact.customer_id == new2.contact.customer_id == by_phone.contact.customer_id
    assert learns.contact.customer_id == both.contact.customer_id == anna.contact.customer_id
    async with uow() as tx:
        nieuw = await tx.customers.get(new1.contact.customer_id)
        anna_now = await tx.customers.get(anna.contact.customer_id)
        piet_now = await tx.customers.get(piet.contact.customer_id)
    assert nieuw.name == "Nieuw"
    assert nieuw.identities == {
        Identity(IdentityKind.EMAIL, "nieuw@example.org"),
        Identity(IdentityKind.PHONE, "+31687654321"),
    }
    assert Identity(IdentityKind.SOCIAL, "instagram:anna") in anna_now.identities
    assert Identity(IdentityKind.PHONE, "+31612345678") not in anna_now.identities
    assert piet_now.identities == {Identity(IdentityKind.PHONE, "+31612345678")}
    assert await _count(sessions, CustomerRow.id) == 3


async def test_repeats_in_a_batch_and_of_stored_contacts_are_answered_and_stored_once(
    uow: SqlUnitOfWorkFactory, clock: ManualClock, sessions: async_sessionmaker[AsyncSession]
) -> None:
    (stored,) = await _all(uow, clock, [_cmd("al binnen", "e1", email="a@example.org")])
    results = await _all(
        uow,
        clock,
        [
            _cmd("herhaling", "e1", email="a@example.org"),
            _cmd("twee", "e2", email="b@example.org"),
            _cmd("twee nog eens", "e2", email="b@example.org"),
            _cmd("drie", "e3", email="c@example.org"),
        ],
    )
    again, two, two_again, three = results
    assert (again.created, again.contact.id) == (False, stored.contact.id)
    assert again.contact.subject == "al binnen"
    assert two.created and not two_again.created and two_again.contact.id == two.contact.id
    assert three.created
    assert await _count(sessions, ContactRow.id) == 3


async def test_two_instances_racing_on_one_new_customer_and_one_external_id_store_each_once(
    database: Database, uow: SqlUnitOfWorkFactory, clock: ManualClock
) -> None:
    # A second engine and factory: another `serve` process on the same database, with its own line.
    other_engine = database.engine()
    other = SqlUnitOfWorkFactory(session_factory(other_engine), platforms=("fake",), clock=clock)
    sessions = uow.sessions
    try:
        same_customer = [_cmd(f"c{n}", email="samen@example.org") for n in range(10)]
        same_id = [_cmd("dubbel", "x-1", email="x@example.org") for _ in range(10)]
        policy = _policy()
        results = await asyncio.gather(
            *(
                receive_contact(c, uow=uow if n % 2 else other, clock=clock, reminders=policy)
                for n, c in enumerate(same_customer + same_id)
            )
        )
        customer_ids = {r.contact.customer_id for r in results[:10]}
        assert len(customer_ids) == 1
        assert len({r.contact.id for r in results[10:]}) == 1
        assert sum(r.created for r in results[10:]) == 1
        assert await _count(sessions, ContactRow.id) == 11
        assert await _count(sessions, CustomerRow.id) == 2
    finally:
        await other_engine.dispose()


class _Counting(SqlUnitOfWorkFactory):
    """Counts the units of work open at once: proof that two groups were on the wire together."""

    open = peak = 0

    def __call__(self) -> Any:
        tx, factory = super().__call__(), self

        class Tracked:
            async def __aenter__(self) -> Any:
                factory.open += 1
                factory.peak = max(factory.peak, factory.open)
                return await tx.__aenter__()

            async def __aexit__(self, *exc: Any) -> None:
                factory.open -= 1
                await tx.__aexit__(*exc)

        return Tracked()


async def test_groups_written_at_once_on_one_instance_store_each_customer_and_external_id_once(
    database: Database, uow: SqlUnitOfWorkFactory, clock: ManualClock
) -> None:
    """PostgreSQL writes two groups at once: arrivals for one customer land in both and race."""
    counting = _Counting(uow.sessions, platforms=("fake",), clock=clock)
    assert counting.group_writers == (1 if database.kind == "sqlite" else 2)
    policy = _policy()
    cmds: list[ReceiveContact] = []
    tasks = []
    for wave in range(6):  # each wave arrives while the one before is being written
        wave_cmds = [_cmd(f"w{wave}-{n}", email="golf@example.org") for n in range(6)]
        wave_cmds += [_cmd("zelfde", "g-1", phone="+31612340000") for _ in range(3)]
        cmds += wave_cmds
        tasks += [
            asyncio.create_task(receive_contact(c, uow=counting, clock=clock, reminders=policy))
            for c in wave_cmds
        ]
        await asyncio.sleep(0.002)
    results = await asyncio.gather(*tasks)
    by_email = [r for r, c in zip(results, cmds, strict=True) if c.customer.email]
    by_id = [r for r, c in zip(results, cmds, strict=True) if c.external_id]
    assert len({r.contact.customer_id for r in by_email}) == 1
    assert len({r.contact.id for r in by_email}) == 36
    assert len({r.contact.id for r in by_id}) == 1 and sum(r.created for r in by_id) == 1
    assert await _count(uow.sessions, ContactRow.id) == 37
    assert await _count(uow.sessions, CustomerRow.id) == 2
    if database.kind == "postgres":
        assert counting.peak >= 2, "no two groups were written at once"


async def test_a_group_whose_commit_failed_is_not_stored_again_one_by_one(
    uow: SqlUnitOfWorkFactory, clock: ManualClock, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """A COMMIT that fails may still have taken effect (a connection lost as it went): the fallback
    of storing each contact on its own, right for a statement refused before it, would store them twice."""
    failed = False

    def lost_after_commit(_committed: Committed) -> None:
        nonlocal failed
        if not failed:  # the rows are committed; the caller only learns that something went wrong
            failed = True
            raise ConnectionResetError("connection lost while committing")

    uow.listeners.append(lost_after_commit)
    results = await asyncio.gather(
        *(
            receive_contact(_cmd(f"vraag {n}", email=f"k{n}@example.org"), uow=uow, clock=clock)
            for n in range(6)
        ),
        return_exceptions=True,
    )
    assert failed
    assert all(isinstance(r, ConnectionResetError) for r in results), results
    assert await _count(sessions, ContactRow.id) == 6  # once, not twelve
