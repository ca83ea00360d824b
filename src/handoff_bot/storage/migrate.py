"""Bringing a database to the current schema with the alembic migrations shipped in the package."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

# Inside the package, so an installed wheel migrates without an alembic.ini or a checkout.
MIGRATIONS = Path(__file__).with_name("migrations")
# Any constant works; it only has to be the same for every handoff-bot process.
ADVISORY_LOCK = 0x68616E646F6666  # "handoff"


class MigrationError(RuntimeError):
    """A migration left the database inconsistent; it was rolled back."""


def alembic_config(connection: Connection | None = None, script_location: Path = MIGRATIONS) -> Config:
    """A programmatic config: env.py takes the connection from its attributes."""
    config = Config()
    config.set_main_option("script_location", str(script_location))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "the package ships at least one migration"
    return head


def current_revision(connection: Connection) -> str | None:
    """The revision the database is at (None: never migrated)."""
    return MigrationContext.configure(connection).get_current_revision()


def upgrade(connection: Connection, config: Config, revision: str = "head") -> None:
    """Migrate in one transaction on a connection that has none open yet."""
    config.attributes["connection"] = connection
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        # Batch mode rebuilds a table by copy, drop and rename. With foreign keys on, dropping
        # `contacts` would cascade to questions and timelines, so they are off while migrating.
        _sqlite_foreign_keys(connection, on=False)
    try:
        with connection.begin():
            if connection.dialect.name == "postgresql":
                # Several instances starting at once: one migrates, the others wait and then find
                # nothing to do. The lock is released with the transaction.
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK})
            command.upgrade(config, revision)
            if sqlite and connection.exec_driver_sql("PRAGMA foreign_key_check").first() is not None:
                raise MigrationError("a migration left rows pointing at missing rows")
    finally:
        if sqlite:
            _sqlite_foreign_keys(connection, on=True)


def _sqlite_foreign_keys(connection: Connection, *, on: bool) -> None:
    # Straight to the driver: through SQLAlchemy the statement would open a transaction first
    # (BEGIN IMMEDIATE, see db.py), and SQLite ignores this pragma inside one.
    dbapi = connection.connection.dbapi_connection
    assert dbapi is not None
    cursor = dbapi.cursor()
    try:
        cursor.execute(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")
    finally:
        cursor.close()


async def upgrade_database(engine: AsyncEngine) -> None:
    """Apply every migration up to head (a no-op when the database is current)."""
    async with engine.connect() as conn:
        await conn.run_sync(upgrade, alembic_config())


async def database_revision(engine: AsyncEngine) -> str | None:
    async with engine.connect() as conn:
        return await conn.run_sync(current_revision)
