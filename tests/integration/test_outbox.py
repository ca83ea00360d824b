"""The outbox: written with the change, delivered once, retried with backoff, dead-lettered, leased safely."""

from __future__ import annotations

import asyncio
import logging
import random
from datetime import timedelta

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handoff_bot.clock import ManualClock
from handoff_bot.domain.contacts import Channel
from handoff_bot.domain.errors import AlreadyClaimed
from handoff_bot.outbox.worker import Backoff, Handlers, OutboxWorker
from handoff_bot.services.commands import ClaimContact, CustomerDetails, EnsurePerson, ReceiveContact
from handoff_bot.services.contacts import claim_contact, receive_contact
from handoff_bot.services.people import ensure_person
from handoff_bot.services.ports import Effect, OutboxMessage
from handoff_bot.storage.db import session_factory
from handoff_bot.storage.models import Base, ChatMessageRow, OutboxRow
from handoff_bot.storage.outbox import OutboxStore
from handoff_bot.storage.uow import SqlUnitOfWorkFactory
from tests.conftest import Database
from tests.fakes.recording_platform import PermanentFailure, RecordingPlatform, RetryLater


def worker_for(
    sessions: async_sessionmaker[AsyncSession],
    clock: ManualClock,
    platform: RecordingPlatform,
    **options: object,
) -> OutboxWorker:
    handlers = Handlers()
    handlers.add_platform(platform.name, platform)
    return OutboxWorker(OutboxStore(sessions, clock), handlers, clock, rng=random.Random(7), **options)  # type: ignore[arg-type]


async def receive(uow: SqlUnitOfWorkFactory, clock: ManualClock, external_id: str | None = None) -> int:
    received = await receive_contact(
        ReceiveContact(Channel.PHONE, "api", CustomerDetails(name="Anna"), external_id=external_id),
        uow=uow,
        clock=clock,
    )
    assert received.contact.id is not None
    return received.contact.id


async def rows(sessions: async_sessionmaker[AsyncSession]) -> list[OutboxRow]:
    async with sessions() as s:
        return list((await s.scalars(select(OutboxRow).order_by(OutboxRow.id))).all())


async def test_rows_are_written_with_the_change_and_delivered_once(uow, sessions, clock) -> None:
    platform = RecordingPlatform()
    worker = worker_for(sessions, clock, platform)
    cid = await receive(uow, clock)
    assert [(r.kind, r.platform, r.key) for r in await rows(sessions)] == [
        ("card.post", "fake", f"fake:contact:{cid}"),
        ("thread.owner", "fake", f"fake:contact:{cid}"),
    ]
    assert await worker.drain() == 2
    assert platform.kinds() == ["card.post", "thread.owner"]
    assert {r.status for r in await rows(sessions)} == {"done"}
    async with sessions() as s:  # the completion committed together with "done"
        assert await s.scalar(select(func.count()).select_from(ChatMessageRow)) == 1
    assert await worker.drain() == 0 and len(platform.delivered) == 2


async def test_a_failed_change_leaves_no_outbox_row(uow, sessions, clock) -> None:
    cid = await receive(uow, clock)
    people = [await ensure_person(EnsurePerson(n, f"{n}@example.org"), uow=uow) for n in ("a", "b")]
    await claim_contact(ClaimContact(cid, people[0].id or 0), uow=uow, clock=clock)
    before = len(await rows(sessions))
    with pytest.raises(AlreadyClaimed):
        await claim_contact(ClaimContact(cid, people[1].id or 0), uow=uow, clock=clock)
    async with uow() as tx:  # and a unit of work left without commit writes nothing either
        await tx.outbox.enqueue(Effect("card.refresh", {"contact_id": cid}))
    assert len(await rows(sessions)) == before


async def test_retry_waits_an_exponential_jittered_backoff_and_keeps_the_error(uow, sessions, clock) -> None:
    platform = RecordingPlatform()
    worker = worker_for(sessions, clock, platform, backoff=Backoff(base=2, cap=900))
    platform.fail_next(RetryLater("HTTP 503"), RetryLater("HTTP 503"), RetryLater("HTTP 503"))
    await receive(uow, clock)
    for attempt in (1, 2, 3):
        started = clock.now()
        assert await worker.run_once() == 1
        row = (await rows(sessions))[0]
        ceiling = 2 * 2 ** (attempt - 1)
        wait = (row.due_at - started).total_seconds()
        assert ceiling / 2 <= wait <= ceiling, (attempt, wait)
        assert row.attempts == attempt and row.last_error == "HTTP 503" and row.status == "pending"
        assert await worker.run_once() == 0  # not due yet; the row behind it waits too
        clock.advance(seconds=wait)
    await worker.drain()
    assert platform.kinds() == ["card.post", "thread.owner"]


async def test_retry_after_is_honoured_and_rate_limits_never_dead_letter(uow, sessions, clock) -> None:
    platform = RecordingPlatform()
    worker = worker_for(sessions, clock, platform, max_attempts=3)
    platform.fail_next(RetryLater("429", retry_after=30))
    await receive(uow, clock)
    start = clock.now()
    await worker.run_once()
    due = (await rows(sessions))[0].due_at
    assert 30 <= (due - start).total_seconds() <= 31
    clock.advance(seconds=29)
    assert await worker.run_once() == 0
    platform.fail_next(*(platform.rate_limited(1) for _ in range(50)))
    for _ in range(50):
        clock.advance(seconds=2)
        await worker.run_once()
    row = (await rows(sessions))[0]
    assert row.status == "pending" and row.attempts == 1  # the 429s were not counted
    clock.advance(seconds=2)
    await worker.drain()
    assert platform.kinds() == ["card.post", "thread.owner"]


async def test_dead_letter_after_max_attempts_and_requeue(uow, sessions, clock) -> None:
    platform = RecordingPlatform()
    worker = worker_for(sessions, clock, platform, max_attempts=3)
    platform.fail_next(*(RetryLater("HTTP 502") for _ in range(3)))
    await receive(uow, clock)
    for _ in range(3):
        await worker.run_once()
        clock.advance(hours=1)
    store = OutboxStore(sessions, clock)
    dead = await store.entries(dead=True)
    assert [(e.kind, e.attempts, e.last_error) for e in dead] == [
        ("card.post", 3, "gave up after 3 attempts: HTTP 502")
    ]
    assert await store.counts() == {"pending": 1, "dead": 1}
    await worker.drain()  # the thread line behind the dead card is no longer held back
    assert platform.kinds() == ["thread.owner"]
    assert await store.requeue(dead[0].id)
    await worker.drain()
    assert platform.kinds() == ["thread.owner", "card.post"]
    assert await store.counts() == {"pending": 0, "dead": 0}
    assert not await store.requeue(dead[0].id)  # done rows are not requeued


async def test_permanent_failures_and_missing_handlers_dead_letter_at_once(uow, sessions, clock) -> None:
    platform = RecordingPlatform()
    worker = worker_for(sessions, clock, platform)
    platform.fail_next(PermanentFailure("channel_not_found: check SLACK_CONTACTS_CHANNEL"))
    await receive(uow, clock)
    async with uow() as tx:
        await tx.outbox.enqueue(Effect("timer.unknown", {"x": 1}, fan_out=False))
        await tx.commit()
    await worker.drain()
    dead = {e.kind: e for e in await OutboxStore(sessions, clock).entries(dead=True)}
    assert dead["card.post"].last_error == "channel_not_found: check SLACK_CONTACTS_CHANNEL"
    assert dead["card.post"].attempts == 1
    assert (
        dead["timer.unknown"].last_error
        == "no handler for kind timer.unknown; is it configured in this process?"
    )


async def test_an_unexpected_error_is_logged_with_an_incident_and_retried(
    uow, sessions, clock, caplog
) -> None:
    platform = RecordingPlatform()
    worker = worker_for(sessions, clock, platform)
    platform.fail_next(ZeroDivisionError("bug"))
    first = await receive(uow, clock, "a")
    await receive(uow, clock, "b")
    with caplog.at_level(logging.ERROR):
        await worker.run_once()
    incident = next(r for r in caplog.records if "incident" in r.getMessage())
    assert "ZeroDivisionError" in (incident.exc_text or "")
    assert [m.payload["contact_id"] for m in platform.delivered] != []  # the other contact went ahead
    clock.advance(minutes=1)
    await worker.drain()
    assert sorted(m.payload["contact_id"] for m in platform.delivered if m.kind == "card.post") == [
        first,
        first + 1,
    ]


async def test_rows_with_one_key_go_in_order_others_in_parallel(uow, sessions, clock) -> None:
    platform = RecordingPlatform()
    worker = worker_for(sessions, clock, platform)
    ids = [await receive(uow, clock, str(i)) for i in range(3)]
    assert await worker.run_once() == 3  # one row per contact: the three card posts
    assert platform.kinds() == ["card.post"] * 3
    assert await worker.run_once() == 3
    assert platform.kinds()[3:] == ["thread.owner"] * 3
    assert [m.payload["contact_id"] for m in platform.delivered[:3]] == ids


async def test_a_row_leased_by_a_dead_worker_is_delivered_after_the_lease(uow, sessions, clock) -> None:
    hung = RecordingPlatform(gate=asyncio.Event())
    dying = worker_for(sessions, clock, hung, lease_seconds=60, batch=1)
    await receive(uow, clock)
    task = asyncio.create_task(dying.run_once())
    await hung.started.wait()
    task.cancel()  # the worker dies holding the lease
    healthy = RecordingPlatform()
    other = worker_for(sessions, clock, healthy, lease_seconds=60)
    assert await other.run_once() == 0  # still leased
    clock.advance(seconds=61)
    await other.drain()
    assert healthy.kinds() == ["card.post", "thread.owner"]


async def test_two_workers_never_deliver_the_same_row_twice(database: Database, clock: ManualClock) -> None:

    engines = [database.engine(), database.engine()]
    try:
        async with engines[0].begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
        uow = SqlUnitOfWorkFactory(session_factory(engines[0]), platforms=("fake",), clock=clock)
        for i in range(100):
            await receive(uow, clock, f"c{i}")
        shared = RecordingPlatform(delay=0.001)
        workers = [
            worker_for(session_factory(e), clock, shared, worker_id=f"w{i}", batch=7)
            for i, e in enumerate(engines)
        ]
        await asyncio.gather(*(w.drain() for w in workers))
        delivered = [m.id for m in shared.delivered]
        assert len(delivered) == 200 and len(set(delivered)) == 200
        assert {m.lease.split(":")[0] for m in shared.delivered} == {"w0", "w1"}
        assert await OutboxStore(session_factory(engines[0]), clock).counts() == {"pending": 0, "dead": 0}
    finally:
        for engine in engines:
            await engine.dispose()


async def test_run_loop_wakes_on_new_rows_and_stops(uow, sessions, clock) -> None:
    platform = RecordingPlatform()
    worker = worker_for(sessions, clock, platform, poll_seconds=30)
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    await receive(uow, clock)
    worker.wake()
    async with asyncio.timeout(10):
        await platform.wait_for(2)
    stop.set()
    async with asyncio.timeout(10):
        await task


async def test_run_loop_survives_a_database_error(sessions, clock, caplog) -> None:
    third_try = asyncio.Event()

    class Broken(OutboxStore):
        calls = 0

        async def lease(self, worker: str, limit: int, lease_for: timedelta) -> list[OutboxMessage]:
            Broken.calls += 1
            if Broken.calls >= 3:
                third_try.set()
            if Broken.calls == 1:
                raise ConnectionRefusedError("database restarting")
            return await super().lease(worker, limit, lease_for)

    worker = OutboxWorker(Broken(sessions, clock), Handlers(), clock, poll_seconds=0.01)
    stop = asyncio.Event()
    with caplog.at_level(logging.ERROR):
        task = asyncio.create_task(worker.run(stop))
        async with asyncio.timeout(10):
            await third_try.wait()
        stop.set()
        await task
    assert any("could not lease" in r.getMessage() for r in caplog.records)


async def test_plain_completions_that_finish_together_share_one_transaction(uow, sessions, clock) -> None:
    """Rows without bookkeeping are marked done together; one another worker settled first stays its."""
    for i in range(6):
        await receive(uow, clock, f"p{i}")
    store = OutboxStore(sessions, clock)
    leased = await store.lease("w", 6, timedelta(seconds=60))
    assert len(leased) == 6
    await store.dead(leased[0], "settled elsewhere")  # as if another worker gave up on it meanwhile
    before = await store.counts()
    commits: list[int] = []
    engine = sessions.kw["bind"].sync_engine

    def count(_conn: object) -> None:
        commits.append(1)

    event.listen(engine, "commit", count)
    try:
        settled = await asyncio.gather(*(store.complete(m) for m in leased))
    finally:
        event.remove(engine, "commit", count)
    assert settled == [False, True, True, True, True, True]
    assert len(commits) <= 2  # the first caller writes at once, everyone who queued meanwhile next
    assert await store.counts() == {"pending": before["pending"] - 5, "dead": 1}
