"""The whole app with Slack AND Teams configured: the fake Slack Web API and the fake Bot Connector.

Slack requests are signed with the real scheme, Teams activities carry real Bot Framework JWTs; one
outbox worker delivers to both platforms, as `handoff-bot serve` does.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from handoff_bot import keys
from handoff_bot.app import TEAMS_TOKEN_SOURCE, build_app
from handoff_bot.clock import SystemClock
from handoff_bot.config import load_settings
from handoff_bot.outbox.worker import OutboxWorker
from handoff_bot.platforms.teams.tokens import StaticTokenSource
from handoff_bot.storage.outbox import OutboxStore
from tests.e2e import slack_harness as sh
from tests.e2e import teams_harness as th
from tests.fakes.bot_connector import FakeConnector
from tests.fakes.bot_tokens import shared_issuer
from tests.fakes.slack_server import FakeSlack

# Sanne is only on Teams; Marieke is on both (one person, joined by email); Piet only on Slack.
SANNE = ("29:1sanne", "7d1f4a52-93c4-4a3b-8f0e-2c6d9b1e5a70", "Sanne", "sanne@example.org")


@dataclass
class Both:
    """A Slack harness and a Teams harness over the same app, database and worker."""

    slack: sh.Harness
    teams: th.TeamsHarness

    async def deliver(self) -> int:
        return await self.slack.worker.drain()


@asynccontextmanager
async def both_app(database_url: str, *, engine_options: dict[str, Any] | None = None) -> AsyncIterator[Both]:
    issuer = shared_issuer()
    async with (
        FakeSlack() as slack,
        FakeConnector(token=th.BOT_TOKEN, tenant=th.TENANT).running() as connector,
    ):
        slack.add_channel(sh.CHANNEL)
        slack.add_user(sh.MARIEKE, "Marieke", "marieke@example.org")
        slack.add_user(sh.PIET, "Piet", "piet@example.org")
        for user in (th.MARIEKE, SANNE):
            connector.add_user(*user)
        config = load_settings(
            database_url=database_url,
            intake_tokens=f"crm={sh.TOKEN}",
            slack_bot_token=slack.token,
            slack_signing_secret=sh.SECRET,
            slack_contacts_channel=sh.CHANNEL,
            slack_api_url=slack.url,
            microsoft_app_id=th.APP_ID,
            microsoft_app_password=th.APP_PASSWORD,
            microsoft_app_tenant_id=th.TENANT,
            microsoft_openid_metadata_url=issuer.metadata_url,
            teams_contacts_channel=th.CHANNEL,
        )
        app = build_app(config, run_worker=False, engine_options=engine_options)
        app[TEAMS_TOKEN_SOURCE] = StaticTokenSource(th.BOT_TOKEN)
        async with TestClient(TestServer(app)) as client:
            th.no_graph(app)
            clock = SystemClock()
            store = OutboxStore(app[keys.UOW].sessions, clock)
            worker = OutboxWorker(store, app[keys.HANDLERS], clock, poll_seconds=0.05)
            both = Both(
                sh.Harness(slack, client, worker),
                th.TeamsHarness(connector, client, worker, issuer, th.APP_ID),
            )
            yield both
            both.teams.assert_cards_valid()
