"""Shared fixtures: a database per test (SQLite file, or a fresh PostgreSQL schema), clocks, units of work."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from handoff_bot.clock import ManualClock
from handoff_bot.storage.db import create_engine, session_factory
from handoff_bot.storage.models import Base
from handoff_bot.storage.uow import SqlUnitOfWorkFactory

POSTGRES_URL = os.environ.get("HANDOFF_TEST_POSTGRES_URL")
NO_POSTGRES = "PostgreSQL tests need HANDOFF_TEST_POSTGRES_URL (set by .ci/run when 127.0.0.1:5432 answers)"


@dataclass
class Database:
    """One isolated database: its URL (usable by a separate process too) and how to connect to it."""

    kind: str
    url: str
    schema: str | None = None

    def engine(self) -> AsyncEngine:
        if self.schema is None:
            return create_engine(self.url)
        return create_engine(self.url, connect_args={"server_settings": {"search_path": self.schema}})


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if "database" in getattr(item, "fixturenames", ()) and "[postgres" in item.nodeid:
            item.add_marker(pytest.mark.postgres)


@pytest.fixture
def sqlite_database(tmp_path: Path) -> Database:
    return Database("sqlite", f"sqlite+aiosqlite:///{tmp_path / 'handoff.db'}")


@pytest.fixture
async def postgres_database() -> AsyncIterator[Database]:
    if not POSTGRES_URL:
        pytest.skip(NO_POSTGRES)
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL)
    async with admin.begin() as conn:
        await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield Database("postgres", POSTGRES_URL, schema)
    finally:
        async with admin.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        await admin.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def database(request: pytest.FixtureRequest) -> Database:
    """An empty database of each kind the machine has (PostgreSQL skipped, with a reason, if absent)."""
    db: Database = request.getfixturevalue(f"{request.param}_database")
    return db


@pytest.fixture
async def engine(database: Database) -> AsyncIterator[AsyncEngine]:
    eng = database.engine()
    async with eng.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    yield eng
    await eng.dispose()


@pytest.fixture
def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return session_factory(engine)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 11, 23, 9, 0, tzinfo=UTC))  # a Monday, 10:00 in Amsterdam


@pytest.fixture
def uow(sessions: async_sessionmaker[AsyncSession], clock: ManualClock) -> SqlUnitOfWorkFactory:
    return SqlUnitOfWorkFactory(sessions, platforms=("fake",), clock=clock)


@pytest.fixture(autouse=True)
def _no_stray_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Tests build their settings explicitly; a developer's .env or shell must not leak in."""
    for name in list(os.environ):
        if (
            name.startswith(("HANDOFF_", "SLACK_", "MICROSOFT_", "TEAMS_"))
            and name != "HANDOFF_TEST_POSTGRES_URL"
        ):
            monkeypatch.delenv(name)
    yield
