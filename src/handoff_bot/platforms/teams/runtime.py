"""Everything Teams needs at run time, built once from settings: for `serve` and for `worker`."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from handoff_bot.config import Settings
from handoff_bot.i18n.catalogue import Catalogue
from handoff_bot.platforms.teams import listeners
from handoff_bot.platforms.teams.adapter import HandoffAdapter
from handoff_bot.platforms.teams.auth import CachedCredentialsFactory, build_authentication
from handoff_bot.platforms.teams.bot import HandoffBot, TeamsRouter
from handoff_bot.platforms.teams.client import Pacer, TeamsClient
from handoff_bot.platforms.teams.delivery import TeamsDelivery
from handoff_bot.platforms.teams.deps import TeamsDeps
from handoff_bot.platforms.teams.graph import graph_from_settings
from handoff_bot.platforms.teams.tokens import TokenSource
from handoff_bot.services.ports import Clock
from handoff_bot.services.reminders import ReminderPolicy
from handoff_bot.storage.chat_messages import ChatMessages
from handoff_bot.storage.teams_refs import TeamsConversations
from handoff_bot.storage.uow import SqlUnitOfWorkFactory

log = logging.getLogger(__name__)


@dataclass
class TeamsRuntime:
    adapter: HandoffAdapter
    bot: HandoffBot
    client: TeamsClient
    deps: TeamsDeps
    credentials: CachedCredentialsFactory
    delivery: TeamsDelivery  # the outbox handler for platform "teams"


@asynccontextmanager
async def teams_runtime(
    settings: Settings,
    uow: SqlUnitOfWorkFactory,
    clock: Clock,
    reminders: ReminderPolicy | None = None,
    *,
    token_source: TokenSource | None = None,
) -> AsyncIterator[TeamsRuntime]:
    """Adapter, bot (listeners) and client over stored conversation references."""
    assert settings.microsoft_app_id is not None
    catalogue = Catalogue(settings.language)
    authentication, credentials = build_authentication(settings, token_source)
    adapter = HandoffAdapter(authentication)
    conversations = TeamsConversations(uow.sessions)
    app_id = settings.microsoft_app_id.strip()
    # Pacing runs on the app's clock, like the outbox's Retry-After, so both agree on when "later" is.
    home = settings.microsoft_app_tenant_id if settings.microsoft_app_type != "MultiTenant" else None
    client = TeamsClient(
        adapter,
        app_id,
        conversations,
        pacer=Pacer(clock=lambda: clock.now().timestamp()),
        tenant_id=home,
    )
    deps = TeamsDeps(
        uow=uow,
        clock=clock,
        catalogue=catalogue,
        tz=settings.tz,
        client=client,
        conversations=conversations,
        messages=ChatMessages(uow.sessions),
        app_id=app_id,
        configured_channel=settings.teams_contacts_channel,
        region=settings.phone_region,
        reminders=reminders,
        minimal=settings.card_detail == "minimal",
        platforms=tuple(name for name, why_not in settings.platform_status().items() if why_not is None),
    )
    router = TeamsRouter()
    listeners.register_all(router, deps)
    bot = HandoffBot(router, conversations, catalogue)
    adapter.on_turn_error = bot.on_error
    if not deps.configured_channel and not await conversations.setting("contacts_channel"):
        log.warning(
            "teams: no contacts channel yet: set TEAMS_CONTACTS_CHANNEL or write "
            "'@Handoff use this channel' in the channel"
        )
    delivery = TeamsDelivery(
        client,
        uow,
        deps.messages,
        conversations,
        catalogue,
        settings.tz,
        settings.teams_contacts_channel,
        hours=reminders.hours if reminders is not None else None,
        minimal=deps.minimal,
        platforms=deps.platforms,
    )
    # teams-flows: Graph (presence in the ask dialog, team owners for "use this channel"), when allowed.
    async with graph_from_settings(settings) as graph:
        deps.presence = deps.owners = deps.directory = graph
        yield TeamsRuntime(adapter, bot, client, deps, credentials, delivery)
