"""SQLite's set-wise inserts bypass SQLAlchemy: they must store exactly what SQLAlchemy's insert would."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, insert, text
from sqlalchemy.dialects.sqlite import dialect as sqlite_dialect
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from handoff_bot.storage import sqlite_bulk
from handoff_bot.storage.db import session_factory
from handoff_bot.storage.models import Base
from tests.conftest import Database

_OUTBOX = Base.metadata.tables["outbox"]
_TIMELINE = Base.metadata.tables["timeline_events"]


def _outbox_rows(start: int) -> list[dict[str, Any]]:
    moments = [
        datetime(2026, 12, 3, 13, 0, tzinfo=UTC),  # no microseconds: SQLAlchemy still writes .000000
        datetime(2026, 12, 3, 14, 0, 0, 123456, tzinfo=timezone(timedelta(hours=1))),  # stored as UTC
        datetime(1970, 1, 1, tzinfo=UTC),
    ]
    return [
        {
            "id": start + n,
            "kind": "card.post",
            "platform": "slack",
            "payload": {"contact_id": n, "text": '<!channel> \u00e9\u20ac "quoted"', "nested": [1, None]},
            "key": f"contact:{n}",
            "status": "pending",
            "due_at": moment,
            "dedupe_key": None,
            "created_at": moment,
        }
        for n, moment in enumerate(moments)
    ]


async def _stored(engine: AsyncEngine, table: str, ids: range) -> list[dict[str, Any]]:
    """The rows as SQLite holds them (text, not SQLAlchemy's types), without their ids."""
    async with engine.connect() as conn:
        rows = await conn.execute(
            text(f"SELECT * FROM {table} WHERE id BETWEEN :a AND :b ORDER BY id"), {"a": ids[0], "b": ids[-1]}
        )
        return [{k: v for k, v in r._mapping.items() if k != "id"} for r in rows]


@pytest.fixture
async def engine(sqlite_database: Database) -> AsyncIterator[AsyncEngine]:
    eng = sqlite_database.engine()
    async with eng.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
        await conn.execute(text("INSERT INTO customers (id, name, created_at) VALUES (1, 'K', '2026-12-03')"))
        await conn.execute(
            text(
                "INSERT INTO contacts (id, customer_id, channel, subject, body, received_at, source, status,"
                " version, created_at) VALUES (7, 1, 'email', 's', 'b', '2026-12-03', 'api', 'open', 1,"
                " '2026-12-03')"
            )
        )
    yield eng
    await eng.dispose()


async def test_rows_written_in_bulk_are_byte_for_byte_what_sqlalchemy_writes(engine: AsyncEngine) -> None:
    sessions = session_factory(engine)
    async with sessions() as session, session.begin():
        await session.execute(insert(_OUTBOX), _outbox_rows(1))  # lane and attempts from their defaults
        db = await sqlite_bulk.connection(session)
        assert db is not None
        sqlite_bulk.insert(db, session.get_bind().dialect, _OUTBOX, _outbox_rows(101))
    by_sqlalchemy = await _stored(engine, "outbox", range(1, 4))
    in_bulk = await _stored(engine, "outbox", range(101, 104))
    assert len(by_sqlalchemy) == 3
    assert in_bulk == by_sqlalchemy
    assert by_sqlalchemy[0]["due_at"] == "2026-12-03 13:00:00.000000"  # the format readers expect


async def test_a_bulk_insert_that_breaks_a_unique_key_raises_integrity_error_and_stores_none(
    engine: AsyncEngine,
) -> None:
    sessions = session_factory(engine)
    rows = _outbox_rows(1)
    rows[2]["id"] = 1  # the third row repeats the first one's primary key
    async with sessions() as session, session.begin():
        db = await sqlite_bulk.connection(session)
        assert db is not None
        with pytest.raises(IntegrityError):
            sqlite_bulk.insert(db, session.get_bind().dialect, _OUTBOX, rows)
        await session.rollback()
    assert await _stored(engine, "outbox", range(1, 4)) == []


async def test_on_conflict_do_nothing_skips_a_repeated_dedupe_key(engine: AsyncEngine) -> None:
    sessions = session_factory(engine)
    rows = _outbox_rows(1)
    for row in rows:
        row["dedupe_key"] = "slack:once"
    async with sessions() as session, session.begin():
        db = await sqlite_bulk.connection(session)
        assert db is not None
        sqlite_bulk.insert(db, session.get_bind().dialect, _OUTBOX, rows, on_conflict_do_nothing="dedupe_key")
        assert sqlite_bulk.highest_id(db, _OUTBOX) == 1
    assert len(await _stored(engine, "outbox", range(1, 4))) == 1


async def test_a_column_with_a_default_only_sqlalchemy_can_compute_is_refused(engine: AsyncEngine) -> None:
    table = Table(
        "stamped",
        MetaData(),
        Column("id", Integer, primary_key=True),
        Column("v", String, default=lambda: "x"),
    )
    sessions = session_factory(engine)
    async with sessions() as session, session.begin():
        db = await sqlite_bulk.connection(session)
        assert db is not None
        with pytest.raises(ValueError, match=r"stamped\.v has a default"):
            sqlite_bulk.insert(db, session.get_bind().dialect, table, [{"id": 1}])


async def test_timeline_json_and_times_match_too(engine: AsyncEngine) -> None:
    sessions = session_factory(engine)
    at = datetime(2026, 12, 3, 12, 30, 1, 5, tzinfo=UTC)
    row = {"contact_id": 7, "kind": "received", "actor_id": None, "at": at, "data": {"channel": "email"}}
    async with sessions() as session, session.begin():
        await session.execute(insert(_TIMELINE), [{**row, "id": 1}])
        db = await sqlite_bulk.connection(session)
        assert db is not None
        sqlite_bulk.insert(db, session.get_bind().dialect, _TIMELINE, [{**row, "id": 2}])
    first, second = await _stored(engine, "timeline_events", range(1, 3))
    assert first == second


@pytest.mark.parametrize(
    "moment",
    [
        datetime(2026, 12, 3, 13, 0, tzinfo=UTC),
        datetime(2026, 3, 29, 1, 59, 59, 999999, tzinfo=UTC),
        datetime(2026, 10, 25, 2, 30, 0, 1, tzinfo=timezone(timedelta(hours=2))),
        datetime(1970, 1, 1, tzinfo=UTC),
        datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC),
        datetime(999, 1, 2, 3, 4, 5, 6, tzinfo=UTC),
        None,
    ],
)
def test_the_fast_time_conversion_equals_sqlalchemys(moment: datetime | None) -> None:
    dialect = sqlite_dialect()
    column_type = _OUTBOX.c.due_at.type
    general = column_type.dialect_impl(dialect).bind_processor(dialect)
    assert general is not None
    assert sqlite_bulk._sqlite_time(moment) == general(moment)


async def test_a_database_error_in_bulk_is_sqlalchemys_operational_error(engine: AsyncEngine) -> None:
    """The intake and the API's 503 tell an unavailable database by SQLAlchemy's classes."""
    table = Table("missing", MetaData(), Column("id", Integer, primary_key=True))
    sessions = session_factory(engine)
    async with sessions() as session, session.begin():
        db = await sqlite_bulk.connection(session)
        assert db is not None
        with pytest.raises(OperationalError, match="no such table"):
            sqlite_bulk.insert(db, session.get_bind().dialect, table, [{"id": 1}])
