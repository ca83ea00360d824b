"""A recording chat platform used as an outbox handler: delivers by remembering, fails on request."""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from handoff_bot.outbox.errors import PermanentFailure, RetryLater
from handoff_bot.services.ports import OutboxMessage
from handoff_bot.storage.chat_messages import CARD, ChatMessages, MessageRef
from handoff_bot.storage.outbox import Completion


@dataclass
class RecordingPlatform:
    name: str = "fake"
    delivered: list[OutboxMessage] = field(default_factory=list)
    attempts: list[OutboxMessage] = field(default_factory=list)
    failures: deque[BaseException] = field(default_factory=deque)
    gate: asyncio.Event | None = None  # when set, deliveries wait for it (a worker "hanging")
    started: asyncio.Event = field(default_factory=asyncio.Event)
    delay: float = 0.0
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    def fail_next(self, *errors: BaseException) -> None:
        self.failures.extend(errors)

    def rate_limited(self, retry_after: float) -> RetryLater:
        return RetryLater("rate limited", retry_after=retry_after, counts=False)

    async def __call__(self, message: OutboxMessage) -> Completion | None:
        self.attempts.append(message)
        self.started.set()
        if self.gate is not None:
            await self.gate.wait()
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.failures:
            raise self.failures.popleft()
        self.delivered.append(message)
        async with self.changed:
            self.changed.notify_all()
        contact_id = message.payload.get("contact_id")
        if message.kind != "card.post" or not isinstance(contact_id, int):
            return None
        ref = MessageRef(self.name, CARD, "C-FAKE", f"m{message.id}", None, contact_id)

        async def completion(session: AsyncSession) -> None:
            await ChatMessages.record(session, ref)

        return completion

    async def wait_for(self, count: int) -> None:
        async with self.changed:
            await self.changed.wait_for(lambda: len(self.delivered) >= count)

    def kinds(self) -> list[str]:
        return [m.kind for m in self.delivered]


__all__ = ["PermanentFailure", "RecordingPlatform", "RetryLater"]
