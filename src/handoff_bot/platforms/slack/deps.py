"""What the Slack listeners need, passed in explicitly by the composition root."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import tzinfo
from typing import Any

from handoff_bot.domain.errors import DomainError
from handoff_bot.i18n.catalogue import Catalogue
from handoff_bot.outbox.errors import PermanentFailure, RetryLater
from handoff_bot.platforms.cards import CardBuilder
from handoff_bot.platforms.outcomes import explain
from handoff_bot.platforms.slack.client import SlackClient
from handoff_bot.platforms.slack.people import SlackPeople
from handoff_bot.services.ports import Clock, UnitOfWorkFactory
from handoff_bot.services.reminders import ReminderPolicy
from handoff_bot.storage.chat_messages import ChatMessages

log = logging.getLogger(__name__)


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

    @property
    def builder(self) -> CardBuilder:
        return CardBuilder(self.catalogue, self.tz, minimal=self.minimal)

    async def ephemeral(
        self, channel: str | None, user: str | None, text: str, blocks: list[dict[str, Any]] | None = None
    ) -> None:
        """Tell only the clicker. Best effort: the click itself already succeeded or failed."""
        if not channel or not user:
            return
        extra = {"blocks": blocks} if blocks else {}
        try:
            await self.client.call("chat.postEphemeral", channel=channel, user=user, text=text, **extra)
        except (RetryLater, PermanentFailure) as exc:
            log.warning("could not show an ephemeral message in %s: %s", channel, exc)

    async def explain(self, error: DomainError) -> str:
        return await explain(error, catalogue=self.catalogue, uow=self.uow, known=self.people.known)
