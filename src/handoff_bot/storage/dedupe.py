"""Claiming platform event ids, so a retried event never has a second effect."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handoff_bot.storage.models import ProcessedEventRow


class EventLedger:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions

    async def claim(self, key: str) -> bool:
        """True the first time a key is seen (across all instances sharing the database)."""
        try:
            async with self.sessions() as s, s.begin():
                s.add(ProcessedEventRow(key=key[:200], at=datetime.now(UTC)))
        except IntegrityError:
            return False
        return True

    async def release(self, key: str) -> None:
        """Handling failed: let the platform's retry through."""
        async with self.sessions() as s, s.begin():
            await s.execute(delete(ProcessedEventRow).where(ProcessedEventRow.key == key[:200]))
