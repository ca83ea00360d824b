"""What the Slack listeners need, passed in explicitly by the composition root."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import tzinfo

from sqlalchemy.exc import SQLAlchemyError

from handoff_bot.domain.errors import DomainError
from handoff_bot.i18n.catalogue import Catalogue
from handoff_bot.outbox.errors import PermanentFailure, RetryLater
from handoff_bot.platforms.cards import CardBuilder
from handoff_bot.platforms.outcomes import explain
from handoff_bot.platforms.slack.client import SlackClient
from handoff_bot.platforms.slack.people import SlackPeople
from handoff_bot.services import effects
from handoff_bot.services.batching import GroupCommit
from handoff_bot.services.ports import Clock, Effect, UnitOfWorkFactory
from handoff_bot.services.reminders import ReminderPolicy
from handoff_bot.storage.chat_messages import ChatMessages

log = logging.getLogger(__name__)
PLATFORM = "slack"


@dataclass
class SlackDeps:
    uow: UnitOfWorkFactory
    clock: Clock
    catalogue: Catalogue
    tz: tzinfo
    client: SlackClient
    people: SlackPeople
    messages: ChatMessages
    channel: str
    region: str
    reminders: ReminderPolicy | None = None
    minimal: bool = False
    platforms: tuple[str, ...] = ("slack",)  # the configured chat platforms (who can be asked)
    # SQLite (one writer, driver on the event loop): notes written at the same moment share one
    # transaction; server CPU of the click benchmark 14.0 -> 10.6-10.9 s. Not on PostgreSQL, where
    # the clicks queued behind each other's batch and p99 rose (125-136 -> 163-193 ms).
    group_notes: bool = False
    _notes: GroupCommit[Effect, None] | None = field(default=None, init=False, repr=False)

    @property
    def builder(self) -> CardBuilder:
        return CardBuilder(self.catalogue, self.tz, minimal=self.minimal)

    async def ephemeral(self, channel: str | None, user: str | None, text: str) -> None:
        """Tell only the clicker, through the outbox: the HTTP answer to Slack does not wait for a
        Slack API call (100 ms and more from here to Slack), and the note survives a crash."""
        if not channel or not user:
            return
        try:
            await self._enqueue(effects.notice(PLATFORM, {"channel": channel, "user": user}, text))
        except (SQLAlchemyError, OSError) as exc:
            # The database is away (this is often the incident being reported): say it directly,
            # best effort, rather than leave the person without an answer.
            log.warning("outbox unavailable (%s); telling %s directly", type(exc).__name__, user)
            try:
                await self.client.call("chat.postEphemeral", channel=channel, user=user, text=text)
            except (RetryLater, PermanentFailure) as failure:
                log.warning("could not show an ephemeral message in %s: %s", channel, failure)

    async def show_details(self, channel: str | None, user: str | None, contact_id: int) -> None:
        """Minimal cards: whoever claims sees phone, email, body and history, and only they do."""
        if channel and user:
            await self._enqueue(
                effects.private_details(PLATFORM, {"channel": channel, "user": user}, contact_id)
            )

    async def _enqueue(self, effect: Effect) -> None:
        if not self.group_notes:
            await self._enqueue_many([effect], raise_=True)
            return
        if self._notes is None:
            self._notes = GroupCommit(self._enqueue_many)
        await self._notes.submit(effect)

    async def _enqueue_many(self, notes: Sequence[Effect], *, raise_: bool = False) -> list[Exception | None]:
        try:
            async with self.uow() as tx:
                for note in notes:
                    await tx.outbox.enqueue(note)
                await tx.commit()
        except Exception as exc:  # each caller gets it, and falls back to telling directly
            if raise_:
                raise
            return [exc] * len(notes)
        return [None] * len(notes)

    async def explain(self, error: DomainError) -> str:
        return await explain(error, catalogue=self.catalogue, uow=self.uow, known=self.people.known)
