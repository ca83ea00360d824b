"""Migrations: an empty database upgraded to head is exactly the models, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from handoff_bot.clock import ManualClock
from handoff_bot.domain.contacts import Channel
from handoff_bot.services.commands import AskQuestion, CustomerDetails, EnsurePerson, ReceiveContact
from handoff_bot.services.contacts import receive_contact
from handoff_bot.services.people import ensure_person
from handoff_bot.services.questions import ask_question
from handoff_bot.storage.db import create_engine, session_factory
from handoff_bot.storage.migrate import (
    MIGRATIONS,
    MigrationError,
    alembic_config,
    database_revision,
    head_revision,
    upgrade,
    upgrade_database,
)
from handoff_bot.storage.models import Base
from handoff_bot.storage.uow import SqlUnitOfWorkFactory
from tests.conftest import Database


@pytest.fixture
async def reference(database: Database, tmp_path: Path) -> AsyncIterator[Database]:
    """A second empty database of the same kind, to build with create_all."""
    if database.schema is None:
        yield Database("sqlite", f"sqlite+aiosqlite:///{tmp_path / 'reference.db'}")
        return
    schema = f"{database.schema}_ref"
    admin = create_engine(database.url)
    async with admin.begin() as conn:
        await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield Database("postgres", database.url, schema)
    finally:
        async with admin.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        await admin.dispose()


def _schema(conn: Connection) -> dict[str, dict[str, Any]]:
    """Everything reflection sees, names of constraints and indexes included, in a comparable form."""
    insp = inspect(conn)
    tables: dict[str, dict[str, Any]] = {}
    for table in sorted(set(insp.get_table_names()) - {"alembic_version"}):
        tables[table] = {
            # Sorted: a column added by a later migration comes last, which is no difference that matters.
            "columns": sorted(
                (c["name"], str(c["type"]), c["nullable"], c.get("default")) for c in insp.get_columns(table)
            ),
            "pk": insp.get_pk_constraint(table),
            "fks": sorted(
                (
                    fk["name"],
                    tuple(fk["constrained_columns"]),
                    fk["referred_table"],
                    tuple(fk["referred_columns"]),
                    fk["options"].get("ondelete"),
                )
                for fk in insp.get_foreign_keys(table)
            ),
            "indexes": sorted(
                (i["name"], tuple(i["column_names"]), i["unique"]) for i in insp.get_indexes(table)
            ),
            "uniques": sorted(
                (u["name"], tuple(u["column_names"])) for u in insp.get_unique_constraints(table)
            ),
        }
    return tables


async def _reflect(engine: AsyncEngine) -> dict[str, dict[str, Any]]:
    async with engine.connect() as conn:
        return await conn.run_sync(_schema)


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
    finally:
        await engine.dispose()


async def test_migrated_schema_is_the_create_all_schema_down_to_constraint_names(
    database: Database, reference: Database
) -> None:
    migrated, created = database.engine(), reference.engine()
    try:
        await upgrade_database(migrated)
        async with created.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
        ours, theirs = await _reflect(migrated), await _reflect(created)
        assert ours == theirs
        if database.kind == "postgres":  # SQLite reflects no names for primary keys
            assert all(t["pk"]["name"] == f"pk_{name}" for name, t in ours.items())
        assert ("uq_customer_identities_kind_value", ("kind", "value")) in ours["customer_identities"][
            "uniques"
        ]
    finally:
        await migrated.dispose()
        await created.dispose()


async def test_upgrading_twice_changes_nothing(database: Database) -> None:
    engine = database.engine()
    try:
        await upgrade_database(engine)
        before = await _reflect(engine)
        await upgrade_database(engine)
        assert await _reflect(engine) == before
        assert await database_revision(engine) == head_revision()
        async with engine.connect() as conn:
            versions = (await conn.execute(text("SELECT version_num FROM alembic_version"))).all()
        assert versions == [(head_revision(),)]
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


async def test_the_version_table_lives_in_the_configured_postgres_schema(
    postgres_database: Database,
) -> None:
    engine = postgres_database.engine()
    try:
        await upgrade_database(engine)
        async with engine.connect() as conn:
            schemas = (
                await conn.execute(
                    text(
                        "SELECT table_schema FROM information_schema.tables"
                        " WHERE table_name IN ('alembic_version', 'contacts')"
                        " AND table_schema = :schema"
                    ),
                    {"schema": postgres_database.schema},
                )
            ).all()
        assert len(schemas) == 2
    finally:
        await engine.dispose()


def _with_extra_migration(tmp_path: Path, name: str, upgrade_body: str) -> Path:
    """The shipped migrations plus one more on top of head, as the next release might add."""
    scripts = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS, scripts, ignore=shutil.ignore_patterns("__pycache__"))
    (scripts / "versions" / f"{name}.py").write_text(
        f'"""{name}"""\n'
        "import sqlalchemy as sa\n"
        "from alembic import op\n\n"
        f"revision = {name!r}\n"
        f"down_revision = {head_revision()!r}\n"
        "branch_labels = None\n"
        "depends_on = None\n\n\n"
        "def upgrade() -> None:\n"
        f"    {upgrade_body}\n\n\n"
        "def downgrade() -> None:\n"
        "    pass\n"
    )
    return scripts


async def _contact_with_history(engine: AsyncEngine, clock: ManualClock) -> tuple[SqlUnitOfWorkFactory, int]:
    uow = SqlUnitOfWorkFactory(session_factory(engine), platforms=("fake",), clock=clock)
    received = await receive_contact(
        ReceiveContact(Channel.PHONE, "api", CustomerDetails(name="Jansen", phone="0612345678")),
        uow=uow,
        clock=clock,
    )
    asker = await ensure_person(EnsurePerson("Anna", "anna@example.org"), uow=uow)
    colleague = await ensure_person(EnsurePerson("Bert", "bert@example.org"), uow=uow)
    assert received.contact.id is not None and asker.id is not None and colleague.id is not None
    await ask_question(AskQuestion(received.contact.id, asker.id, colleague.id, "?"), uow=uow, clock=clock)
    return uow, received.contact.id


async def _run(engine: AsyncEngine, scripts: Path) -> None:
    async with engine.connect() as conn:
        await conn.run_sync(upgrade, alembic_config(script_location=scripts))


async def test_a_sqlite_table_rebuild_keeps_the_rows_that_point_at_it(
    sqlite_database: Database, clock: ManualClock, tmp_path: Path
) -> None:
    engine = sqlite_database.engine()
    try:
        await upgrade_database(engine)
        uow, contact_id = await _contact_with_history(engine, clock)
        scripts = _with_extra_migration(
            tmp_path,
            "rebuild_contacts",
            'with op.batch_alter_table("contacts", recreate="always") as batch:\n'
            '        batch.alter_column("subject", existing_type=sa.String(300), type_=sa.String(400))',
        )
        await _run(engine, scripts)
        async with uow() as tx:
            assert [e.kind.value for e in await tx.timeline.for_contact(contact_id)] == ["received", "asked"]
            assert len(await tx.questions.for_contact(contact_id)) == 1
        async with engine.connect() as conn:
            assert (await conn.execute(text("PRAGMA foreign_keys"))).scalar() == 1
            assert (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar() == (
                "rebuild_contacts"
            )
    finally:
        await engine.dispose()


async def test_a_sqlite_migration_that_breaks_references_is_rolled_back(
    sqlite_database: Database, clock: ManualClock, tmp_path: Path
) -> None:
    engine = sqlite_database.engine()
    try:
        await upgrade_database(engine)
        uow, contact_id = await _contact_with_history(engine, clock)
        scripts = _with_extra_migration(tmp_path, "orphan_contacts", 'op.execute("DELETE FROM customers")')
        with pytest.raises(MigrationError):
            await _run(engine, scripts)
        async with uow() as tx:
            contact = await tx.contacts.get(contact_id)
            assert (await tx.customers.get(contact.customer_id)).name == "Jansen"
        assert await database_revision(engine) == head_revision()
        async with engine.connect() as conn:
            assert (await conn.execute(text("PRAGMA foreign_keys"))).scalar() == 1
    finally:
        await engine.dispose()
