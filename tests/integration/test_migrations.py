"""Migrations: an empty database upgraded to head is exactly the models, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from handoff_bot.storage.migrate import database_revision, head_revision, upgrade_database
from handoff_bot.storage.models import Base
from tests.conftest import Database


async def test_upgrade_to_head_matches_the_models(database: Database) -> None:
    engine = database.engine()
    try:
        assert await database_revision(engine) is None
        await upgrade_database(engine)
        async with engine.connect() as conn:
            diff = await conn.run_sync(
                lambda c: compare_metadata(MigrationContext.configure(c), Base.metadata)
            )
            tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
        assert diff == []
        assert tables == set(Base.metadata.tables) | {"alembic_version"}
        assert await database_revision(engine) == head_revision()
        await upgrade_database(engine)  # running again changes nothing
        assert await database_revision(engine) == head_revision()
    finally:
        await engine.dispose()


async def test_instances_starting_at_once_migrate_once(database: Database) -> None:
    engines = [database.engine() for _ in range(3)]
    try:
        await asyncio.gather(*(upgrade_database(e) for e in engines))
        assert await database_revision(engines[0]) == head_revision()
    finally:
        for engine in engines:
            await engine.dispose()
