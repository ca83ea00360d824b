"""When the database is away: readiness says so, intake answers 503 with a clear problem, nothing hangs,
and service comes back by itself once the database does."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.engine import make_url

from handoff_bot.app import build_app
from handoff_bot.config import load_settings
from handoff_bot.intake import health, problems
from handoff_bot.storage import db
from tests.conftest import Database
from tests.e2e.tcp_proxy import TcpProxy

TOKEN = "crm-token-0123456789abcdef"


@asynccontextmanager
async def intake(database_url: str, **engine_options: Any) -> AsyncIterator[TestClient[Any, Any]]:
    settings = load_settings(database_url=database_url, intake_tokens=f"crm={TOKEN}")
    app = build_app(settings, run_worker=False, engine_options=engine_options)
    async with TestClient(TestServer(app)) as client:
        yield client


async def post(client: TestClient[Any, Any], n: int) -> tuple[int, dict[str, Any], dict[str, str]]:
    response = await client.post(
        "/api/contacts",
        json={"channel": "phone", "customer": {"name": f"Beller {n}"}, "external_id": f"db-{n}"},
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    return response.status, await response.json(content_type=None), dict(response.headers)


def assert_unavailable(status: int, body: dict[str, Any], headers: dict[str, str]) -> None:
    assert status == 503, body
    assert headers["Content-Type"].startswith("application/problem+json")
    assert headers["Retry-After"] == "5"
    assert body["status"] == 503 and "database is unavailable" in body["detail"]


class ProxiedDatabase(TcpProxy):
    """A proxy in front of the test's PostgreSQL schema, to cut and restore its connections."""

    def __init__(self, database: Database) -> None:
        self.database_url = make_url(database.url)
        super().__init__(self.database_url.host or "127.0.0.1", self.database_url.port or 5432)
        self.options = {"connect_args": {"server_settings": {"search_path": database.schema}}}

    @property
    def url(self) -> str:
        return self.database_url.set(port=self.port).render_as_string(hide_password=False)


async def test_unreachable_database_gives_503_not_500() -> None:
    # Nothing listens on port 9 (discard): connections are refused at once.
    settings = load_settings(
        database_url="postgresql+asyncpg://postgres@127.0.0.1:9/test",
        auto_migrate=False,
        intake_tokens=f"crm={TOKEN}",
    )
    app = build_app(settings, run_worker=False)
    async with TestClient(TestServer(app)) as client, asyncio.timeout(30):
        assert (await client.get("/healthz")).status == 200
        ready = await client.get("/readyz")
        assert ready.status == 503 and (await ready.json())["database"] == "unreachable"
        assert_unavailable(*await post(client, 1))


async def test_postgres_going_away_and_coming_back(
    postgres_database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(problems, "DEADLINE", 1.0)
    monkeypatch.setattr(health, "READY_DEADLINE", 1.0)
    proxy = ProxiedDatabase(postgres_database)
    await proxy.start()
    try:
        async with intake(proxy.url, **proxy.options) as client, asyncio.timeout(60):
            assert (await post(client, 1))[0] == 201

            await proxy.stop()  # refused, and every pooled connection cut
            assert_unavailable(*await post(client, 2))
            assert (await client.get("/readyz")).status == 503

            await proxy.start()  # back on the same port: no restart, no operator
            assert (await post(client, 3))[0] == 201
            assert (await client.get("/readyz")).status == 200

            proxy.blackhole = True  # a partition: connections open, nothing ever answers
            await proxy.stop()
            await proxy.start()
            began = time.monotonic()
            assert_unavailable(*await post(client, 4))
            assert (await client.get("/readyz")).status == 503
            assert time.monotonic() - began < 10, "answered within the deadlines, not the driver's minute"

            proxy.blackhole = False
            await proxy.stop()
            await proxy.start()
            statuses = [(await post(client, n))[0] for n in (2, 4, 5)]
            assert statuses == [201, 201, 201]  # the refused ones were not half-stored
            listing = await client.get("/api/contacts", headers={"Authorization": f"Bearer {TOKEN}"})
            assert len((await listing.json())["items"]) == 5
    finally:
        await proxy.stop()


@pytest.mark.parametrize("idle_limit", [0.0, 3600.0])
async def test_postgres_connections_cut_while_idle(
    postgres_database: Database, monkeypatch: pytest.MonkeyPatch, idle_limit: float
) -> None:
    """Pooled connections are pinged only after sitting idle (storage/db.py). Once idle that long,
    a connection the database dropped meanwhile is replaced unseen; a connection used a moment ago
    is trusted, and if it was cut after all, that one request gets the 503 and the next one works."""
    monkeypatch.setattr(db, "PING_AFTER_IDLE", idle_limit)
    proxy = ProxiedDatabase(postgres_database)
    await proxy.start()
    try:
        async with intake(proxy.url, **proxy.options) as client, asyncio.timeout(60):
            assert (await post(client, 1))[0] == 201
            await proxy.stop()  # every pooled connection cut while nobody uses them
            await proxy.start()
            if idle_limit == 0.0:
                assert (await post(client, 2))[0] == 201
            else:
                assert_unavailable(*await post(client, 2))
                assert (await post(client, 2))[0] == 201  # the pool replaced its connections
    finally:
        await proxy.stop()


async def test_sqlite_locked_for_a_moment_by_another_process_waits_and_succeeds(tmp_path: Path) -> None:
    # Held longer (SQLite's busy timeout, 30 s), the request gets the 503 problem like the others.
    path = tmp_path / "locked.db"
    async with intake(f"sqlite+aiosqlite:///{path}") as client, asyncio.timeout(60):
        assert (await post(client, 1))[0] == 201
        other = sqlite3.connect(path, isolation_level=None)
        try:
            # A backup or a maintenance transaction holds the write lock for a moment: intake waits.
            other.execute("BEGIN IMMEDIATE")
            waiting = asyncio.ensure_future(post(client, 2))
            await asyncio.sleep(1.0)
            assert not waiting.done()
            other.execute("COMMIT")
            assert (await waiting)[0] == 201
            assert (await post(client, 3))[0] == 201
        finally:
            other.close()
