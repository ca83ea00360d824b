"""Engine construction: SQLite tuned for one writer at a time, PostgreSQL for several instances."""

from __future__ import annotations

import contextlib
import sqlite3
import time
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
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
    # Requests before the outbox worker here too, and room for both: with 10 + 10 connections a
    # click storm's clicks queued behind the worker's deliveries (click p99 158 -> 113-123 ms).
    kwargs.setdefault("poolclass", priority.PriorityPool)
    engine = create_async_engine(url, pool_size=20, max_overflow=10, **kwargs)
    _ping_when_idle(engine)
    return engine


PING_AFTER_IDLE = 5.0  # seconds a pooled connection may sit unused before it is tested on checkout


def _ping_when_idle(engine: AsyncEngine) -> None:
    """pool_pre_ping, but only for connections that sat idle: pinging every checkout was one more
    round trip on every click (p99 of the click benchmark 159 -> 131 ms without it). A connection
    used a moment ago is alive; one that sat through a database restart is tested and replaced,
    so the first request after an outage does not fail on a dead connection."""

    @event.listens_for(engine.sync_engine.pool, "checkin")
    def on_checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info["used_at"] = time.monotonic()

    @event.listens_for(engine.sync_engine.pool, "checkout")
    def on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        if time.monotonic() - record.info.get("used_at", 0.0) < PING_AFTER_IDLE:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:
            # The pool discards this connection and checks out (or opens) another one.
            raise DisconnectionError(f"idle connection failed its ping: {type(exc).__name__}") from exc


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
