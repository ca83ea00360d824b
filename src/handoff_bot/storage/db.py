"""Engine construction: SQLite tuned for one writer at a time, PostgreSQL for several instances."""

from __future__ import annotations

import contextlib
import sqlite3
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from handoff_bot.storage import priority, sqlite_driver


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    # Statement parameters are customer data: keep them out of error messages and so out of logs.
    kwargs.setdefault("hide_parameters", True)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        # One connection, handed out in turn: SQLite has one writer anyway, and queueing here is FIFO and
        # instant, where SQLite's own busy handler sleeps and retries (seconds of tail latency under load).
        kwargs.setdefault("pool_size", 1)
        # Requests before the outbox worker in that queue (storage/priority.py).
        kwargs.setdefault("poolclass", priority.PriorityPool)
        kwargs.setdefault("max_overflow", 0)
        kwargs.setdefault("pool_timeout", 60)
        kwargs.setdefault("module", sqlite_driver.dbapi())
        connect_args = {"timeout": 30, **kwargs.pop("connect_args", {})}
        engine = create_async_engine(url, connect_args=connect_args, **kwargs)
        _tune_sqlite(engine)
        return engine
    return create_async_engine(url, pool_size=10, max_overflow=10, pool_pre_ping=True, **kwargs)


def _tune_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        raw: sqlite3.Connection = dbapi_connection._connection._conn
        # Let us issue BEGIN ourselves (below); the driver's implicit BEGIN is DEFERRED.
        raw.isolation_level = None
        if raw.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
            # Only a new database file gets here. Two processes switching it at once can deadlock
            # (each waits for the other's lock), so try briefly: if another connection is switching
            # it, the file ends up in WAL mode anyway.
            raw.execute("PRAGMA busy_timeout=1000")
            with contextlib.suppress(sqlite3.OperationalError):
                raw.execute("PRAGMA journal_mode=WAL")
        # SQLite's own busy handler sleeps, blocking the event loop: the driver waits for locks instead.
        raw.execute("PRAGMA busy_timeout=0")
        raw.execute("PRAGMA foreign_keys=ON")
        raw.execute("PRAGMA synchronous=NORMAL")

    @event.listens_for(engine.sync_engine, "begin")
    def on_begin(conn: Any) -> None:
        # IMMEDIATE takes the write lock up front: a DEFERRED transaction that reads and then writes
        # fails with "database is locked" instead of waiting when another writer got in between.
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)
