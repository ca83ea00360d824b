"""What the Teams listeners and delivery need, passed in explicitly by the composition root."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import tzinfo
from typing import Any

from handoff_bot.domain.errors import DomainError
from handoff_bot.i18n.catalogue import Catalogue
from handoff_bot.platforms.cards import CardBuilder
from handoff_bot.platforms.outcomes import explain
from handoff_bot.platforms.teams.client import TeamsClient
from handoff_bot.services.ports import Clock, UnitOfWorkFactory
from handoff_bot.services.reminders import ReminderPolicy
from handoff_bot.storage.chat_messages import ChatMessages
from handoff_bot.storage.teams_refs import CONTACTS_CHANNEL, TeamsConversations


@dataclass
class TeamsDeps:
    uow: UnitOfWorkFactory
    clock: Clock
    catalogue: Catalogue
    tz: tzinfo
    client: TeamsClient
    conversations: TeamsConversations
    messages: ChatMessages
    app_id: str
    configured_channel: str | None  # TEAMS_CONTACTS_CHANNEL
    region: str = "NL"
    reminders: ReminderPolicy | None = None
    minimal: bool = False
    # teams-flows: the configured chat platforms (who can be asked) and the Graph ports of the flows.
    platforms: tuple[str, ...] = ("teams",)
    presence: Any = None  # listeners.flow.PresenceSource
    owners: Any = None  # listeners.flow.TeamOwners
    directory: Any = None  # people.Directory (Graph users by id)

    @property
    def builder(self) -> CardBuilder:
        return CardBuilder(self.catalogue, self.tz, minimal=self.minimal)

    async def contacts_channel(self) -> str | None:
        """TEAMS_CONTACTS_CHANNEL, else the channel picked with `@Handoff use this channel`."""
        return self.configured_channel or await self.conversations.setting(CONTACTS_CHANNEL)

    async def use_channel(self, channel_id: str) -> None:
        await self.conversations.set_setting(CONTACTS_CHANNEL, channel_id)

    async def explain(self, error: DomainError) -> str:
        return await explain(error, catalogue=self.catalogue, uow=self.uow)
