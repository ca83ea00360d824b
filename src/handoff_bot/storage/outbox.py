"""The outbox table: written inside use-case transactions, leased and settled by workers."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Select, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handoff_bot.services.batching import GroupCommit
from handoff_bot.services.ports import Clock, Effect, OutboxMessage
from handoff_bot.storage import sqlite_bulk
from handoff_bot.storage.models import Base, OutboxRow

PENDING, DONE, DEAD = "pending", "done", "dead"
URGENT, NORMAL = 0, 1  # lanes: leased in this order
ERROR_MAX = 2000


_OUTBOX = Base.metadata.tables["outbox"]
_ADD = insert(_OUTBOX)
# ON CONFLICT DO NOTHING: a duplicate must not abort the caller's transaction.
_DEDUPE = "dedupe_key"
_ADD_ONCE = {
    "postgresql": pg_insert(_OUTBOX).on_conflict_do_nothing(index_elements=[_DEDUPE]),
    "sqlite": sqlite_insert(_OUTBOX).on_conflict_do_nothing(index_elements=[_DEDUPE]),
}


class SqlOutboxWriter:
    """The use cases' side: one row per configured platform for fan-out effects.

    Rows are kept until `flush` (called by the unit of work's commit) and written in as few statements
    as their order allows: one for plain rows, one for rows with a dedupe key, alternating as enqueued.
    """

    def __init__(self, session: AsyncSession, platforms: Sequence[str], clock: Clock) -> None:
        self.s, self.platforms, self.clock = session, tuple(platforms), clock
        self.added = 0
        self.due = 0
        self._rows: list[tuple[bool, dict[str, object]]] = []  # (has a dedupe key, values)
        self._dedupes: set[str] = set()

    async def flush(self) -> None:
        rows, self._rows = self._rows, []
        if not rows:
            return
        dialect = self.s.get_bind().dialect
        db = await sqlite_bulk.connection(self.s)
        start = 0
        for end in range(1, len(rows) + 1):
            if end == len(rows) or rows[end][0] != rows[start][0]:
                once, values = rows[start][0], [v for _, v in rows[start:end]]
                if db is not None:
                    conflict = _DEDUPE if once else None
                    sqlite_bulk.insert(db, dialect, _OUTBOX, values, on_conflict_do_nothing=conflict)
                else:
                    await self.s.execute(_ADD_ONCE[dialect.name] if once else _ADD, values)
                start = end

    async def enqueue(self, effect: Effect) -> None:
        now = self.clock.now()
        targets: Sequence[str | None]
        if not effect.fan_out:
            targets = (None,)
        elif effect.platform is not None:
            targets = (effect.platform,) if effect.platform in self.platforms else ()
        else:
            targets = self.platforms
        for platform in targets:
            key = f"{platform}:{effect.key}" if platform and effect.key else effect.key
            values = {
                "kind": effect.kind,
                "platform": platform,
                "payload": effect.payload,
                "key": key,
                "status": PENDING,
                "due_at": effect.due_at or now,
                "lane": URGENT if effect.urgent else NORMAL,
                "attempts": 0,
                "created_at": now,
            }
            if effect.dedupe is None:
                self._rows.append((False, {**values, "dedupe_key": None}))
            else:
                dedupe = f"{platform}:{effect.dedupe}" if platform else effect.dedupe
                # ON CONFLICT DO NOTHING keeps one row per key in the table; this, one per transaction.
                if dedupe not in self._dedupes:
                    self._dedupes.add(dedupe)
                    self._rows.append((True, {**values, "dedupe_key": dedupe}))
            self.added += 1
            if effect.due_at is None or effect.due_at <= now:
                self.due += 1


@dataclass(frozen=True)
class OutboxEntry:
    """A row as the CLI lists it."""

    id: int
    kind: str
    platform: str | None
    status: str
    attempts: int
    due_at: datetime
    last_error: str | None
    payload: dict[str, object]


Completion = Callable[[AsyncSession], Awaitable[None]]
# Core statements on the table, not the ORM entity: the worker runs them for every row it delivers, and
# the ORM's bulk-update and entity-loading layers were a visible share of a click storm's CPU.
_LEASED = tuple(
    _OUTBOX.c[n]
    for n in ("id", "kind", "platform", "payload", "key", "attempts", "due_at", "lane", "created_at")
)


def leasable(now: datetime, limit: int) -> Select[int]:
    """The ids of up to `limit` rows a worker may take now, locked (PostgreSQL) and skipping locked ones.

    A row waits while an earlier row with its key is pending, written as "this is its key's first
    pending row": a scalar subquery run per candidate as one probe of ix_outbox_pending_key.
    The NOT EXISTS form it replaced let PostgreSQL plan an anti-join over every pending row while the
    table had no statistics (a new install, a burst after a quiet spell): O(n²), 150 ms a lease at 1,000.
    """
    earlier = _OUTBOX.alias()
    first_of_key = (
        select(func.min(earlier.c.id))
        .where(earlier.c.key == _OUTBOX.c.key, earlier.c.status == PENDING)
        .scalar_subquery()
    )
    return (
        select(_OUTBOX.c.id)
        .where(
            _OUTBOX.c.status == PENDING,
            _OUTBOX.c.due_at <= now,
            (_OUTBOX.c.lease_until.is_(None)) | (_OUTBOX.c.lease_until < now),
            _OUTBOX.c.key.is_(None) | (_OUTBOX.c.id == first_of_key),
        )
        .order_by(_OUTBOX.c.lane, _OUTBOX.c.due_at, _OUTBOX.c.id)
        .limit(limit)
        # Several workers on PostgreSQL: each skips rows another is leasing right now.
        .with_for_update(skip_locked=True, of=_OUTBOX)
    )


class OutboxStore:
    """The workers' side. Each method is its own short transaction."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], clock: Clock) -> None:
        self.sessions, self.clock = sessions, clock
        # Rows settled with no bookkeeping of their own (notes, card edits) that finish together are
        # marked done in one transaction: under a click storm that is most rows.
        self._plain_done: GroupCommit[OutboxMessage, bool] = GroupCommit(self._complete_plain, limit=100)

    async def lease(self, worker: str, limit: int, lease_for: timedelta) -> list[OutboxMessage]:
        """Take up to `limit` due rows. A row waits while an earlier row with its key is pending."""
        now = self.clock.now()
        token = f"{worker}:{uuid.uuid4().hex[:12]}"
        query = leasable(now, limit)
        async with self.sessions() as s, s.begin():
            ids = list((await s.scalars(query)).all())
            if not ids:
                return []
            rows = (
                await s.execute(
                    update(_OUTBOX)
                    .where(_OUTBOX.c.id.in_(ids))
                    .values(leased_by=token, lease_until=now + lease_for, attempts=_OUTBOX.c.attempts + 1)
                    .returning(*_LEASED)
                )
            ).all()
            rows = sorted(rows, key=lambda r: (r.lane, r.due_at, r.id))  # RETURNING keeps no order
            return [
                OutboxMessage(
                    r.id,
                    r.kind,
                    r.platform,
                    dict(r.payload),
                    r.key,
                    r.attempts,
                    r.due_at,
                    token,
                    r.created_at,
                )
                for r in rows
            ]

    async def complete(self, message: OutboxMessage, completion: Completion | None = None) -> bool:
        """Mark done and apply the handler's bookkeeping in one transaction. False if already settled."""
        if completion is None:
            return await self._plain_done.submit(message)
        async with self.sessions() as s, s.begin():
            result = await s.execute(
                update(_OUTBOX)
                .where(_OUTBOX.c.id == message.id, _OUTBOX.c.status == PENDING)
                .values(**self._done())
            )
            if result.rowcount != 1:  # type: ignore[attr-defined]
                await s.rollback()
                return False
            if completion is not None:
                await completion(s)
            return True

    def _done(self) -> dict[str, object]:
        return {
            "status": DONE,
            "finished_at": self.clock.now(),
            "leased_by": None,
            "lease_until": None,
            "last_error": None,
        }

    async def _complete_plain(self, messages: Sequence[OutboxMessage]) -> list[bool | Exception]:
        async with self.sessions() as s, s.begin():
            done = set(
                (
                    await s.scalars(
                        update(_OUTBOX)
                        .where(_OUTBOX.c.id.in_([m.id for m in messages]), _OUTBOX.c.status == PENDING)
                        .values(**self._done())
                        .returning(_OUTBOX.c.id)
                    )
                ).all()
            )
        return [m.id in done for m in messages]

    async def retry(
        self, message: OutboxMessage, due_at: datetime, error: str, *, refund: bool = False
    ) -> None:
        """Try again at `due_at`. `refund`: this try does not count towards dead-lettering (rate limits)."""
        attempts = _OUTBOX.c.attempts - 1 if refund else _OUTBOX.c.attempts
        async with self.sessions() as s, s.begin():
            await s.execute(
                update(_OUTBOX)
                .where(_OUTBOX.c.id == message.id, _OUTBOX.c.leased_by == message.lease)
                .values(
                    due_at=due_at,
                    last_error=error[:ERROR_MAX],
                    leased_by=None,
                    lease_until=None,
                    attempts=attempts,
                )
            )

    async def dead(self, message: OutboxMessage, error: str) -> None:
        async with self.sessions() as s, s.begin():
            await s.execute(
                update(_OUTBOX)
                .where(_OUTBOX.c.id == message.id, _OUTBOX.c.leased_by == message.lease)
                .values(
                    status=DEAD,
                    last_error=error[:ERROR_MAX],
                    finished_at=self.clock.now(),
                    leased_by=None,
                    lease_until=None,
                )
            )

    async def requeue(self, row_id: int) -> bool:
        """Give a dead (or waiting) row a fresh set of attempts, due now."""
        async with self.sessions() as s, s.begin():
            result = await s.execute(
                update(OutboxRow)
                .where(OutboxRow.id == row_id, OutboxRow.status.in_([DEAD, PENDING]))
                .values(
                    status=PENDING,
                    attempts=0,
                    due_at=self.clock.now(),
                    finished_at=None,
                    leased_by=None,
                    lease_until=None,
                )
            )
            return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    async def entries(self, *, dead: bool, limit: int = 100) -> list[OutboxEntry]:
        status = [DEAD] if dead else [PENDING, DEAD]
        async with self.sessions() as s:
            rows = (
                await s.scalars(
                    select(OutboxRow).where(OutboxRow.status.in_(status)).order_by(OutboxRow.id).limit(limit)
                )
            ).all()
        return [
            OutboxEntry(
                r.id, r.kind, r.platform, r.status, r.attempts, r.due_at, r.last_error, dict(r.payload)
            )
            for r in rows
        ]

    async def counts(self) -> dict[str, int]:
        # Two counts rather than one GROUP BY: each is answered from its partial index.
        pending = select(func.count()).where(_OUTBOX.c.status == PENDING).scalar_subquery()
        dead = select(func.count()).where(_OUTBOX.c.status == DEAD).scalar_subquery()
        async with self.sessions() as s:
            found = (await s.execute(select(pending, dead))).one()
        return {PENDING: int(found[0]), DEAD: int(found[1])}

    async def next_due(self) -> datetime | None:
        async with self.sessions() as s:
            due: datetime | None = await s.scalar(
                select(func.min(_OUTBOX.c.due_at)).where(_OUTBOX.c.status == PENDING)
            )
            return due
