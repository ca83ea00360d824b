"""Alembic environment: runs on the connection handed over by handoff_bot.storage.migrate."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from handoff_bot.storage.models import Base

target_metadata = Base.metadata


def run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite needs batch mode for ALTER
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `handoff-bot db upgrade`, which provides the connection")
run(connection)
