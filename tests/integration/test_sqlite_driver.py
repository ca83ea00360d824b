"""The SQLite driver runs statements on the event loop: a lock held elsewhere must never block the loop."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from handoff_bot.storage.db import create_engine
from handoff_bot.storage.models import Base


async def _table(path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    await engine.dispose()


async def test_a_write_waits_for_another_processs_lock_without_blocking_the_loop(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    await _table(path)
    other = sqlite3.connect(path, isolation_level=None)  # stands in for the `worker` process
    other.execute("BEGIN IMMEDIATE")
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.005)

    async def write() -> None:
        async with engine.begin() as conn:
            await conn.execute(text("INSERT INTO processed_events (key, at) VALUES ('k', '2026-01-01')"))

    tick = asyncio.create_task(ticker())
    writing = asyncio.create_task(write())
    await asyncio.sleep(0.3)
    assert not writing.done(), "the write must wait while the other connection holds the lock"
    assert ticks >= 10, "the event loop kept running while the write waited"
    other.execute("COMMIT")
    await asyncio.wait_for(writing, 10)
    tick.cancel()
    assert other.execute("SELECT key FROM processed_events").fetchall() == [("k",)]
    other.close()
    await engine.dispose()


async def test_a_lock_held_past_the_timeout_is_an_operational_error(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    await _table(path)
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    engine = create_engine(f"sqlite+aiosqlite:///{path}", connect_args={"timeout": 0.2})
    try:
        with pytest.raises(OperationalError, match="locked"):
            async with asyncio.timeout(10), engine.begin() as conn:
                await conn.execute(text("SELECT 1"))
    finally:
        other.execute("ROLLBACK")
        other.close()
        await engine.dispose()


async def test_rows_types_and_counts_come_back_as_with_aiosqlite(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    await _table(path)
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    async with engine.begin() as conn:
        inserted = await conn.execute(
            text("INSERT INTO processed_events (key, at) VALUES (:k, '2026-01-01')"),
            [{"k": f"k{i}"} for i in range(5)],
        )
        assert inserted.rowcount == 5
        result = await conn.execute(text("SELECT key FROM processed_events ORDER BY key"))
        assert result.fetchone() == ("k0",)
        assert result.fetchmany(2) == [("k1",), ("k2",)]
        assert result.fetchall() == [("k3",), ("k4",)]
        deleted = await conn.execute(text("DELETE FROM processed_events WHERE key IN ('k0', 'k1')"))
        assert deleted.rowcount == 2
    await engine.dispose()
