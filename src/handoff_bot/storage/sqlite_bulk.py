"""Set-wise inserts on SQLite straight through the sqlite3 connection, for intakes written together.

Why: in the intake benchmark about two fifths of the server's time went to SQLAlchemy building each
statement's execution context and running its bind processors row by row (construct_params), against a
fifth in SQLite itself. A group of intakes is written with a handful of INSERTs of many rows; here they
are one `executemany` each on the connection the transaction already holds, with the values converted
by the same bind processors SQLAlchemy would use (UTC datetimes, JSON), so the stored bytes are the same.

Only for plain INSERTs of known columns inside a transaction begun with BEGIN IMMEDIATE (db.py): the write
lock is ours until commit, so nothing here meets a busy database. Reads and everything else stay on
SQLAlchemy.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Table
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import TypeEngine

from handoff_bot.storage import sqlite_driver
from handoff_bot.storage.types import UTCDateTime


class _Insert:
    """One table's INSERT for one set of columns: its SQL and each column's bind processor."""

    def __init__(self, table: Table, columns: Sequence[str], dialect: Dialect, suffix: str) -> None:
        self.columns = tuple(columns)
        self.defaults: dict[str, Any] = {}
        for column in table.columns:
            default = column.default
            if column.name in self.columns or default is None:
                continue
            if not getattr(default, "is_scalar", False):
                # A callable or SQL default runs in SQLAlchemy's execution context, which we skip.
                raise ValueError(f"{table.name}.{column.name} has a default this path cannot apply")
            self.defaults[column.name] = default.arg  # type: ignore[attr-defined]
        names = (*self.columns, *self.defaults)
        processors = [_processor(table.c[n].type, dialect) for n in names]
        # Only the columns that need converting (times, JSON) are touched per row.
        self.converted = [(i, p) for i, p in enumerate(processors) if p is not None]
        quote = dialect.identifier_preparer.quote
        columns = ", ".join(quote(n) for n in names)
        marks = ", ".join("?" for _ in names)
        # Names from our own table metadata, never from input; the values are bound parameters.
        self.sql = f"INSERT INTO {quote(table.name)} ({columns}) VALUES ({marks}){suffix}"  # noqa: S608

    def parameters(self, rows: Sequence[dict[str, Any]]) -> list[list[Any]]:
        extra = list(self.defaults.values())
        out = []
        for row in rows:
            values = [row[c] for c in self.columns] + extra
            for i, process in self.converted:
                values[i] = process(values[i])  # SQLAlchemy's processors pass None through
            out.append(values)
        return out


def _sqlite_time(value: datetime | None) -> str | None:
    """UTCDateTime's bind value on SQLite: naive UTC in SQLAlchemy's storage format, always with
    microseconds ("2026-12-03 13:00:00.000000"). A third of the bulk path's time went to the general
    processors (a dict and a %-format per value); the test of this module compares the two."""
    if value is None:
        return None
    if value.tzinfo is UTC:  # what the clock gives: only the "+00:00" to cut off
        return value.isoformat(" ", "microseconds")[:26]
    if value.tzinfo is None:
        raise ValueError("naive datetime given to the database; use an aware UTC time")
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


def _processor(kind: TypeEngine[Any], dialect: Dialect) -> Callable[[Any], Any] | None:
    if isinstance(kind, UTCDateTime):
        return _sqlite_time
    return kind.dialect_impl(dialect).bind_processor(dialect)


# Keyed by table, columns and suffix: every SQLite engine here has the same dialect settings.
_statements: dict[tuple[str, tuple[str, ...], str], _Insert] = {}


_CONNECTION = "handoff_bot.sqlite_bulk.connection"  # its key in session.info


async def connection(session: AsyncSession) -> sqlite3.Connection | None:
    """The sqlite3 connection under the session's transaction; None on PostgreSQL, or on SQLite through
    another driver than ours (then the caller writes through SQLAlchemy)."""
    if session.get_bind().dialect.name != "sqlite":
        return None
    # Asked several times per transaction: remembered for the transaction it was found in.
    transaction = session.sync_session.get_transaction()
    known = session.info.get(_CONNECTION)
    if known is not None and transaction is not None and known[0] is transaction:
        found: sqlite3.Connection | None = known[1]
        return found
    conn = await session.connection()
    raw = await conn.get_raw_connection()
    driver = raw.driver_connection
    found = driver.sqlite if isinstance(driver, sqlite_driver.Connection) else None
    session.info[_CONNECTION] = (session.sync_session.get_transaction(), found)
    return found


def insert(
    db: sqlite3.Connection,
    dialect: Dialect,
    table: Table,
    rows: Sequence[dict[str, Any]],
    *,
    on_conflict_do_nothing: str | None = None,
) -> None:
    """Insert `rows` (all with the same keys) in one executemany; errors wrapped as SQLAlchemy wraps them."""
    if not rows:
        return
    suffix = f" ON CONFLICT ({on_conflict_do_nothing}) DO NOTHING" if on_conflict_do_nothing else ""
    columns = tuple(rows[0])
    key = (table.name, columns, suffix)
    statement = _statements.get(key)
    if statement is None:
        statement = _statements[key] = _Insert(table, columns, dialect, suffix)
    parameters = statement.parameters(rows)
    try:
        db.executemany(statement.sql, parameters)
    except sqlite3.Error as exc:
        # As SQLAlchemy wraps them (IntegrityError, OperationalError, ...): callers tell a lost race
        # or an unavailable database by those classes, whichever path wrote.
        raise DBAPIError.instance(statement.sql, None, exc, sqlite3.Error, hide_parameters=True) from exc


def highest_id(db: sqlite3.Connection, table: Table) -> int:
    row = db.execute(f"SELECT max(id) FROM {table.name}").fetchone()  # noqa: S608 (our own table name)
    return int(row[0] or 0)
