"""Everything Slack needs at run time, built once from settings: for `serve` and for `worker`."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import aiohttp
from slack_bolt.async_app import AsyncApp
from sqlalchemy.engine import make_url

from handoff_bot.config import Settings
from handoff_bot.i18n.catalogue import Catalogue
from handoff_bot.platforms.slack import app as slack_app
from handoff_bot.platforms.slack.client import ChannelPacer, SlackClient
from handoff_bot.platforms.slack.delivery import SlackDelivery
from handoff_bot.platforms.slack.deps import SlackDeps
from handoff_bot.platforms.slack.people import SlackPeople
from handoff_bot.services.ports import Clock
from handoff_bot.services.reminders import ReminderPolicy
from handoff_bot.storage.chat_messages import ChatMessages
from handoff_bot.storage.dedupe import EventLedger
from handoff_bot.storage.uow import SqlUnitOfWorkFactory

log = logging.getLogger(__name__)


@dataclass
class SlackRuntime:
    bolt: AsyncApp
    delivery: SlackDelivery


@asynccontextmanager
async def slack_runtime(
    settings: Settings,
    uow: SqlUnitOfWorkFactory,
    clock: Clock,
    reminders: ReminderPolicy,
    *,
    socket_mode: bool,
) -> AsyncIterator[SlackRuntime]:
    """Listeners (bolt) and delivery (outbox handler) over one Web API session; Socket Mode if asked."""
    assert settings.slack_bot_token is not None and settings.slack_contacts_channel is not None
    catalogue = Catalogue(settings.language)
    platforms = tuple(name for name, why_not in settings.platform_status().items() if why_not is None)
    # One HTTP session for every Web API call (slack_sdk would otherwise open one per request).
    async with aiohttp.ClientSession() as http:
        web = slack_app.web_client(
            settings.slack_bot_token.get_secret_value(),
            settings.slack_api_url,
            http,
            timeout=settings.slack_timeout_seconds,
        )
        client = SlackClient(web, ChannelPacer(settings.slack_post_rate, settings.slack_post_burst))
        messages = ChatMessages(uow.sessions)
        deps = SlackDeps(
            uow=uow,
            clock=clock,
            catalogue=catalogue,
            tz=settings.tz,
            client=client,
            people=SlackPeople(client, uow),
            messages=messages,
            channel=settings.slack_contacts_channel,
            region=settings.phone_region,
            reminders=reminders,
            minimal=settings.card_detail == "minimal",
            platforms=platforms,
            group_notes=make_url(settings.database_url).get_backend_name() == "sqlite",
        )
        secret = settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else None
        bolt = slack_app.build_bolt(
            deps, web=web, signing_secret=secret, ledger=EventLedger(uow.sessions), sessions=uow.sessions
        )
        delivery = SlackDelivery(
            client,
            uow,
            messages,
            catalogue,
            settings.tz,
            settings.slack_contacts_channel,
            hours=reminders.hours,
            onduty=settings.slack_onduty_mention,
            minimal=settings.card_detail == "minimal",
            platforms=platforms,
        )
        socket = None
        if socket_mode and settings.slack_app_token is not None:
            from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

            socket = AsyncSocketModeHandler(bolt, settings.slack_app_token.get_secret_value())
            await socket.connect_async()  # type: ignore[no-untyped-call]
            log.info("slack: connected in Socket Mode")
        try:
            yield SlackRuntime(bolt, delivery)
        finally:
            if socket is not None:
                await socket.close_async()  # type: ignore[no-untyped-call]
