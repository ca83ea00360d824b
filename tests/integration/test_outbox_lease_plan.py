"""The lease's query stays linear in the pending rows, with or without planner statistics.

A burst arrives on a table the planner knows nothing about (a new install, or mostly done rows from
a quiet spell). The earlier NOT EXISTS form was planned by PostgreSQL as a nested-loop anti-join over
every pending row there: at 1,000 rows it compared 970,200 pairs per lease and the burst drained at
14-17 posts/s instead of Slack's 20. These tests count the rows the database touches (EXPLAIN ANALYZE,
not a stopwatch) and check which index SQLite picks.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import insert, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from handoff_bot.clock import ManualClock
from handoff_bot.storage.models import OutboxRow
from handoff_bot.storage.outbox import URGENT, leasable

PENDING_ROWS = 1000


async def _burst(engine: AsyncEngine, clock: ManualClock) -> None:
    now = clock.now()
    rows = [
        {
            "kind": "card.post",
            "platform": "slack",
            "payload": {"contact_id": n},
            "key": f"slack:contact:{n}",
            "status": "pending",
            "due_at": now,
            "attempts": 0,
            "created_at": now,
        }
        for n in range(PENDING_ROWS)
    ]
    # Every tenth contact has a second row waiting behind its first: those must not be leasable.
    rows += [{**rows[n], "kind": "card.refresh"} for n in range(0, PENDING_ROWS, 10)]
    async with engine.begin() as conn:
        await conn.execute(insert(OutboxRow), rows)


def _touched(node: dict[str, Any]) -> float:
    """Rows read by this plan node and its children: rows out plus rows filtered away, per loop."""
    removed = sum(float(v) for k, v in node.items() if k.startswith("Rows Removed by"))
    own = (float(node.get("Actual Rows", 0)) + removed) * float(node.get("Actual Loops", 1))
    return own + sum(_touched(child) for child in node.get("Plans", []))


async def _explained_lease(
    engine: AsyncEngine, clock: ManualClock, explain: str
) -> tuple[list[Any], list[int]]:
    """After a burst: the database's plan for a lease of 10 (`explain` + the query), and its ids."""
    await _burst(engine, clock)
    query = leasable(clock.now() + timedelta(seconds=1), 10)
    compiled = query.compile(engine.sync_engine, compile_kwargs={"literal_binds": True})
    async with engine.connect() as conn:
        plan = list((await conn.execute(text(f"{explain} {compiled}"))).all())
        ids = list((await conn.execute(query)).scalars().all())
    return plan, ids


@pytest.mark.parametrize("database", ["postgres"], indirect=True)
async def test_postgres_lease_reads_each_pending_row_a_bounded_number_of_times(
    engine: AsyncEngine, clock: ManualClock
) -> None:
    # No ANALYZE: the planner sees the table as new, which is when the old form went quadratic.
    plan, ids = await _explained_lease(engine, clock, "EXPLAIN (ANALYZE, FORMAT JSON)")
    touched = _touched(plan[0][0][0]["Plan"])
    assert len(ids) == 10
    assert touched < 10 * PENDING_ROWS, f"the lease read {touched:.0f} rows for {PENDING_ROWS} pending"


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
async def test_sqlite_lease_looks_up_a_keys_first_row_through_the_partial_index(
    engine: AsyncEngine, clock: ManualClock
) -> None:
    rows, ids = await _explained_lease(engine, clock, "EXPLAIN QUERY PLAN")
    plan = [row[-1] for row in rows]
    assert any("ix_outbox_pending_key" in step for step in plan), plan
    assert len(ids) == 10


@pytest.mark.parametrize("database", ["sqlite", "postgres"], indirect=True)
async def test_rows_behind_a_pending_row_of_their_key_are_not_leasable(
    engine: AsyncEngine, clock: ManualClock
) -> None:
    await _burst(engine, clock)
    async with engine.connect() as conn:
        ids = set((await conn.execute(leasable(clock.now(), 2 * PENDING_ROWS))).scalars().all())
    assert len(ids) == PENDING_ROWS  # the 100 second rows wait behind their firsts
    assert max(ids) <= PENDING_ROWS  # the firsts were inserted first, so they hold ids 1..1000


@pytest.mark.parametrize("database", ["sqlite", "postgres"], indirect=True)
async def test_urgent_rows_are_leased_before_a_burst_that_was_due_earlier(
    engine: AsyncEngine, clock: ManualClock
) -> None:
    """A click's answer during a burst of new cards: it goes out next, not after the 1,000 cards."""
    await _burst(engine, clock)
    clock.advance(seconds=30)
    async with engine.begin() as conn:
        await conn.execute(
            insert(OutboxRow),
            [
                {
                    "kind": "notice",
                    "platform": "slack",
                    "payload": {"channel": "C1", "user": f"U{n}", "text": "Already claimed"},
                    "key": None,
                    "status": "pending",
                    "due_at": clock.now(),
                    "lane": URGENT,
                    "attempts": 0,
                    "created_at": clock.now(),
                }
                for n in range(3)
            ],
        )
    query = leasable(clock.now(), 10)
    async with engine.connect() as conn:
        ids = (await conn.execute(query)).scalars().all()
        kinds = [
            (await conn.execute(select(OutboxRow.kind).where(OutboxRow.id == row_id))).scalar_one()
            for row_id in ids
        ]
    assert kinds[:3] == ["notice"] * 3 and kinds[3:] == ["card.post"] * 7
    assert ids[3:] == sorted(ids[3:])  # then the burst, oldest first
