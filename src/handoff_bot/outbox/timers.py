"""Outbox handlers for timers: each calls its use case, which re-checks the state before acting."""

from __future__ import annotations

import logging
from collections.abc import Awaitable

from handoff_bot.domain.errors import NotFound
from handoff_bot.outbox.worker import Handlers
from handoff_bot.services import privacy, reminders
from handoff_bot.services.ports import Clock, OutboxMessage, UnitOfWorkFactory
from handoff_bot.storage.outbox import Completion

log = logging.getLogger(__name__)


def register_timers(
    handlers: Handlers,
    *,
    uow: UnitOfWorkFactory,
    clock: Clock,
    policy: reminders.ReminderPolicy,
    retention_days: int = 365,
) -> None:
    async def claim(message: OutboxMessage) -> Completion | None:
        p = message.payload
        await _gone_is_done(
            reminders.fire_claim_reminder(
                int(p["contact_id"]), int(p["step"]), uow=uow, clock=clock, policy=policy
            )
        )
        return None

    async def question(message: OutboxMessage) -> Completion | None:
        p = message.payload
        await _gone_is_done(
            reminders.fire_question_reminder(
                int(p["question_id"]), int(p["step"]), uow=uow, clock=clock, policy=policy
            )
        )
        return None

    async def callback(message: OutboxMessage) -> Completion | None:
        p = message.payload
        await _gone_is_done(
            reminders.fire_callback(
                int(p["contact_id"]), str(p["promise"]), str(p["which"]), uow=uow, clock=clock
            )
        )
        return None

    async def digest(message: OutboxMessage) -> Completion | None:
        await reminders.fire_digest(str(message.payload["opening"]), uow=uow, policy=policy)
        return None

    async def summary(message: OutboxMessage) -> Completion | None:
        await reminders.fire_summary(str(message.payload["closing"]), uow=uow, clock=clock, policy=policy)
        return None

    async def retention(message: OutboxMessage) -> Completion | None:
        count = await privacy.run_retention(retention_days, uow=uow, clock=clock, tz=policy.hours.tz)
        log.info("retention: personal data removed from %s contact(s)", count)
        return None

    handlers.add_kind(privacy.TIMER_RETENTION, retention)
    handlers.add_kind(reminders.TIMER_CLAIM, claim)
    handlers.add_kind(reminders.TIMER_QUESTION, question)
    handlers.add_kind(reminders.TIMER_CALLBACK, callback)
    handlers.add_kind(reminders.TIMER_DIGEST, digest)
    handlers.add_kind(reminders.TIMER_SUMMARY, summary)


async def _gone_is_done(work: Awaitable[bool]) -> None:
    """A contact or question that no longer exists (erased) needs no reminder."""
    try:
        await work
    except NotFound as exc:
        log.info("timer for %s %s skipped: it no longer exists", exc.entity, exc.key)
