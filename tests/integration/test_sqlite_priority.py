"""The SQLite connection goes to a waiting request before waiting background work, which still gets a turn."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import text

from handoff_bot.storage import priority
from handoff_bot.storage.db import create_engine


async def _wait_until(condition: object, limit: float = 10) -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    while not condition():  # type: ignore[operator]
        assert loop.time() - started < limit, "timed out"
        await asyncio.sleep(0.001)


async def test_a_request_queued_after_background_work_gets_the_connection_first(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'p.db'}")
    pool = engine.sync_engine.pool
    order: list[str] = []

    async def use(name: str) -> None:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
            order.append(name)

    async with engine.connect() as held:
        await held.execute(text("SELECT 1"))
        background = asyncio.create_task(use("worker"), context=priority.background_context())
        queue = pool._pool  # type: ignore[attr-defined]
        await _wait_until(lambda: len(queue._back) == 1)
        request = asyncio.create_task(use("request"))
        await _wait_until(lambda: len(queue._front) == 1)
    await asyncio.wait_for(asyncio.gather(background, request), 10)
    assert order == ["request", "worker"]
    await engine.dispose()


async def test_background_work_waiting_longer_than_the_promotion_delay_is_not_starved(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(priority, "PROMOTE_AFTER", 0.0)
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'p.db'}")
    queue = engine.sync_engine.pool._pool  # type: ignore[attr-defined]
    order: list[str] = []

    async def use(name: str) -> None:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
            order.append(name)

    async with engine.connect() as held:
        await held.execute(text("SELECT 1"))
        background = asyncio.create_task(use("worker"), context=priority.background_context())
        await _wait_until(lambda: len(queue._back) == 1)
        request = asyncio.create_task(use("request"))
        await _wait_until(lambda: len(queue._front) == 1)
        await asyncio.sleep(0.01)
    await asyncio.wait_for(asyncio.gather(background, request), 10)
    assert order == ["worker", "request"]
    await engine.dispose()


async def test_a_cancelled_waiter_does_not_lose_the_connection(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'p.db'}", pool_timeout=5)
    queue = engine.sync_engine.pool._pool  # type: ignore[attr-defined]

    async def use() -> int:
        async with engine.connect() as conn:
            return int((await conn.execute(text("SELECT 1"))).scalar_one())

    async with engine.connect() as held:
        await held.execute(text("SELECT 1"))
        doomed = asyncio.create_task(use())
        await _wait_until(lambda: len(queue._front) == 1)
        doomed.cancel()
        with pytest.raises(asyncio.CancelledError):
            await doomed
    assert await asyncio.wait_for(use(), 10) == 1
    await engine.dispose()
