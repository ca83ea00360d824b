"""Bringing a database to the current schema."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from handoff_bot.storage.models import Base


async def upgrade_database(engine: AsyncEngine) -> None:
    """Apply every migration up to head. (Placeholder until the alembic migrations land.)"""
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
