"""Re-run a unit of work when the database says someone else changed the same rows first."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from handoff_bot.domain.errors import ConcurrentUpdate

MAX_ATTEMPTS = 8
T = TypeVar("T")


async def on_conflict(work: Callable[[], Awaitable[T]], attempts: int = MAX_ATTEMPTS) -> T:
    """Each attempt re-reads the current state, so the domain rule decides against fresh data."""
    for _ in range(attempts - 1):
        try:
            return await work()
        except ConcurrentUpdate:
            continue
    return await work()
