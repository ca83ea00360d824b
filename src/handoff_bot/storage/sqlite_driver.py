"""An aiosqlite stand-in for SQLAlchemy's aiosqlite dialect that runs SQLite on the event loop.

SQLite is a library, not a server: an insert or an indexed read takes microseconds. aiosqlite runs each
call on a thread of its own, and every cursor call (create, execute, fetch, close) is a round trip through
the event loop; while the loop serves requests each of those waits for the GIL and the scheduler, and
with the one connection every request shares, those waits were most of a transaction's time (~0.3 ms per
hop, 36 hops per intake, on a busy two-core machine). Here a statement runs, fetches its rows and closes its
cursor in one direct call.

What could block the loop is handled without blocking it: SQLite's own busy handler (which sleeps) is off,
and a statement that finds the database locked by another process is retried after an `asyncio.sleep`,
for as long as the connection's `timeout` allows. Our transactions begin with BEGIN IMMEDIATE, so the lock
is met at BEGIN, where retrying is always safe. Commits in WAL mode with synchronous=NORMAL do not fsync;
only the periodic checkpoint does (a few milliseconds every thousand pages).
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable, Sequence
from types import SimpleNamespace
from typing import Any

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import AsyncAdapt_aiosqlite_dbapi

Row = tuple[Any, ...]
FIRST_WAIT, LONGEST_WAIT = 0.001, 0.05  # seconds between tries while another process holds the lock


def _locked(error: sqlite3.OperationalError) -> bool:
    return getattr(error, "sqlite_errorcode", None) in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED) or (
        "database is locked" in str(error)
    )


class Cursor:
    """The subset of aiosqlite's cursor SQLAlchemy's adapter uses; rows are fetched with the statement."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._rows: list[Row] = []
        self._at = 0
        self.description: Sequence[Any] | None = None
        self.rowcount, self.arraysize = -1, 1
        self.lastrowid: int | None = None

    async def __aenter__(self) -> Cursor:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        return None

    async def execute(self, sql: str, parameters: Any = None) -> Cursor:
        await self._conn._run(lambda c: self._take(c, c.execute(sql, parameters or ())))
        return self

    async def executemany(self, sql: str, parameters: Any) -> Cursor:
        await self._conn._run(lambda c: self._take(c, c.executemany(sql, parameters)))
        return self

    def _take(self, cursor: sqlite3.Cursor, _same: sqlite3.Cursor) -> None:
        self.description = cursor.description
        self._rows, self._at = (cursor.fetchall() if cursor.description else []), 0
        self.rowcount, self.lastrowid = cursor.rowcount, cursor.lastrowid

    def _next(self, size: int | None) -> list[Row]:
        end = len(self._rows) if size is None else self._at + size
        taken, self._at = self._rows[self._at : end], min(end, len(self._rows))
        return taken

    async def fetchone(self) -> Row | None:
        taken = self._next(1)
        return taken[0] if taken else None

    async def fetchmany(self, size: int | None = None) -> list[Row]:
        return self._next(size or self.arraysize)

    async def fetchall(self) -> list[Row]:
        return self._next(None)

    async def close(self) -> None:
        self._rows = []


class _Immediate:
    """SQLAlchemy's adapter queues a few calls (isolation level) on aiosqlite's `_tx`; run them now."""

    def put_nowait(self, item: tuple[asyncio.Future[Any] | None, Callable[[], Any]]) -> None:
        future, function = item
        try:
            result = function()
        except BaseException as exc:  # handed to the awaiting caller, as aiosqlite does
            if future is not None:
                future.set_exception(exc)
            return
        if future is not None:
            future.set_result(result)


class Connection:
    """The part of aiosqlite.Connection that SQLAlchemy's adapter uses, without the thread."""

    def __init__(self, database: str, timeout: float, kwargs: dict[str, Any]) -> None:
        self._database, self._timeout, self._kwargs = database, timeout, kwargs
        self._connection: sqlite3.Connection | None = None
        self._tx = _Immediate()
        self._thread = SimpleNamespace(daemon=True)  # the adapter marks aiosqlite's thread a daemon

    def __await__(self) -> Any:
        return self._connect().__await__()

    async def _connect(self) -> Connection:
        # check_same_thread: the pool may close a connection from the thread that collects garbage.
        # timeout=0 switches SQLite's sleeping busy handler off; _run waits without blocking instead.
        self._connection = await self._locked_retry(
            lambda: sqlite3.connect(self._database, timeout=0, check_same_thread=False, **self._kwargs)
        )
        return self

    @property
    def _conn(self) -> sqlite3.Connection:
        if self._connection is None:
            raise ValueError("no active connection")
        return self._connection

    async def _locked_retry(self, call: Callable[[], Any]) -> Any:
        deadline, wait = time.monotonic() + self._timeout, FIRST_WAIT
        while True:
            try:
                return call()
            except sqlite3.OperationalError as error:
                if not _locked(error) or time.monotonic() + wait > deadline:
                    raise
            await asyncio.sleep(wait)
            wait = min(wait * 2, LONGEST_WAIT)

    async def _run(self, step: Callable[[sqlite3.Cursor], None]) -> None:
        def attempt() -> None:
            cursor = self._conn.cursor()
            try:
                step(cursor)
            finally:
                cursor.close()

        await self._locked_retry(attempt)

    @property
    def sqlite(self) -> sqlite3.Connection:
        """The sqlite3 connection itself, for the set-wise inserts of sqlite_bulk.py."""
        return self._conn

    @property
    def isolation_level(self) -> str | None:
        return self._conn.isolation_level

    def cursor(self) -> Cursor:
        return Cursor(self)

    async def commit(self) -> None:
        await self._locked_retry(self._conn.commit)

    async def rollback(self) -> None:
        self._conn.rollback()

    async def create_function(self, *args: Any, **kwargs: Any) -> None:
        self._conn.create_function(*args, **kwargs)

    async def close(self) -> None:
        self.stop()

    def stop(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def connect(database: str | bytes, *, timeout: float = 5.0, **kwargs: Any) -> Connection:
    location = database.decode() if isinstance(database, bytes) else str(database)
    kwargs.pop("check_same_thread", None)
    return Connection(location, timeout, kwargs)


def dbapi() -> AsyncAdapt_aiosqlite_dbapi:
    """The DBAPI module to pass as `module=` to create_async_engine for sqlite+aiosqlite URLs."""
    driver = SimpleNamespace(**{k: getattr(aiosqlite, k) for k in dir(aiosqlite) if not k.startswith("__")})
    driver.__version__ = aiosqlite.__version__
    driver.connect = connect
    driver.Connection = Connection
    return AsyncAdapt_aiosqlite_dbapi(driver, sqlite3)  # type: ignore[arg-type]
