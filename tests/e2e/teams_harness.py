"""The whole app over HTTP with Teams against the fake Bot Connector, the outbox drained on demand.

Incoming activities carry real Bot Framework JWTs from the local issuer (validated by botbuilder
against its OpenID metadata), or none in anonymous mode. The bot's own outbound token is a fixed one
by default (`token_source`), or really acquired with msal when the test passes `login_url`.
"""

from __future__ import annotations

import copy
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import ClientResponse, web
from aiohttp.test_utils import TestClient, TestServer

from handoff_bot import keys
from handoff_bot.app import TEAMS_TOKEN_SOURCE, build_app
from handoff_bot.clock import SystemClock
from handoff_bot.config import load_settings
from handoff_bot.outbox.timers import register_timers
from handoff_bot.outbox.worker import OutboxWorker
from handoff_bot.platforms.teams.tokens import StaticTokenSource, TokenSource
from handoff_bot.services.ports import Clock
from handoff_bot.storage.chat_messages import ChatMessages, MessageRef
from handoff_bot.storage.outbox import OutboxStore
from tests.fakes.adaptive_cards import invalid_cards
from tests.fakes.bot_connector import FakeConnector, Message, bot_id
from tests.fakes.bot_tokens import BotTokenIssuer, shared_issuer

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "teams"
TOKEN = "crm-token-0123456789abcdef"
APP_ID = "5c4e0c1e-7f5e-4d5b-9a55-0b7e1e3b0a11"
APP_PASSWORD = "bot-client-secret-for-tests"
TENANT = "50612dbb-0237-4969-b378-8d42590f9c00"
TEAM = "19:66P469zibfbsGI-_a0aN_toLTZpyzS6u7CT3TsXdgPw1@thread.tacv2"
CHANNEL = "19:6848757105754c8981c67612732d9aa7@thread.tacv2"
BOT_TOKEN = "fake-bot-token"
# Colleagues in Teams: (Teams user id, Entra object id, name, email).
MARIEKE = ("29:1marieke", "b15a9416-0ad3-4172-9210-7beb711d3f70", "Marieke", "marieke@example.org")
PIET = ("29:1piet", "c5e99701-2a32-49c1-a660-4629ceeb8c61", "Piet", "piet@example.org")


def fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text())
    return data


@dataclass
class TeamsHarness:
    connector: FakeConnector
    client: TestClient[Any, Any]
    worker: OutboxWorker
    issuer: BotTokenIssuer | None  # None: anonymous mode
    app_id: str

    # ------------------------------------------------------------ the API side

    async def post_contact(self, **body: Any) -> dict[str, Any]:
        body.setdefault("channel", "phone")
        body.setdefault(
            "customer", {"name": "Anna Jansen", "phone": "06-12345678", "company": "Bakkerij Jansen"}
        )
        response = await self.client.post(
            "/api/contacts", json=body, headers={"Authorization": f"Bearer {TOKEN}"}
        )
        assert response.status in (200, 201), await response.text()
        data: dict[str, Any] = await response.json()
        return data

    async def deliver(self) -> int:
        return await self.worker.drain()

    # ------------------------------------------------------------ the Teams side

    def auth(self, **kwargs: Any) -> str:
        """A valid channel token for this bot (kwargs: expired, forged, audience, issuer)."""
        assert self.issuer is not None, "anonymous mode has no tokens"
        return self.issuer.header(self.app_id, self.connector.url, **kwargs)

    async def send(self, activity: dict[str, Any], *, authorization: str | None = "valid") -> ClientResponse:
        """POST an activity to /api/messages; `authorization` "valid" mints a token, None sends none."""
        if authorization == "valid":
            authorization = self.auth() if self.issuer is not None else None
        headers = {"Content-Type": "application/json"}
        if authorization is not None:
            headers["Authorization"] = authorization
        response = await self.client.post("/api/messages", data=json.dumps(activity), headers=headers)
        if response.content_type == "application/json":
            # Cards returned to an invoke (Action.Execute, dialogs) are cards we send, too.
            returned = await response.json()
            self.connector.invalid_cards += [f"invoke: {p}" for p in invalid_cards(returned)]
        return response

    def assert_cards_valid(self) -> None:
        """Every Adaptive Card this test made the bot send or return matched the 1.5 schema."""
        assert self.connector.invalid_cards == [], "\n".join(self.connector.invalid_cards)

    def activity(self, fixture_name: str, /, **overrides: Any) -> dict[str, Any]:
        """A real payload from tests/fixtures/teams, pointed at this bot, tenant and fake connector."""
        activity = copy.deepcopy(fixture(fixture_name))
        activity["serviceUrl"] = self.connector.url
        activity["channelId"] = "msteams"
        activity["recipient"] = {"id": bot_id(self.app_id), "name": "Handoff"}
        data = activity.setdefault("channelData", {})
        data["tenant"] = {"id": TENANT}
        activity.get("conversation", {}).pop("tenantId", None)
        activity.update(overrides)
        return activity

    def installation(self, *, channel: str = CHANNEL, team: str = TEAM) -> dict[str, Any]:
        activity = self.activity("installationUpdate_add_team_docs")
        activity["conversation"] = {"isGroup": True, "conversationType": "channel", "id": team}
        activity["from"] = {"id": MARIEKE[0], "aadObjectId": MARIEKE[1]}
        activity["channelData"].update(
            {"channel": {"id": team}, "team": {"id": team}, "settings": {"selectedChannel": {"id": channel}}}
        )
        return activity

    async def install(self) -> None:
        response = await self.send(self.installation())
        assert response.status in (200, 201), await response.text()

    def channel_message(
        self, text: str, *, user: tuple[str, str, str, str] = MARIEKE, root: str = "1759881511856"
    ) -> dict[str, Any]:
        activity = self.activity("teams_channel_message_thread_reply_real")
        activity["conversation"]["id"] = f"{CHANNEL};messageid={root}"
        activity["channelData"].update(
            {"teamsChannelId": CHANNEL, "teamsTeamId": TEAM, "channel": {"id": CHANNEL}, "team": {"id": TEAM}}
        )
        activity["from"] = {"id": user[0], "name": user[2], "aadObjectId": user[1]}
        mention = f"<at>Handoff</at> {text}"
        activity["text"] = mention
        activity["entities"][0] = {
            "mentioned": {"id": bot_id(self.app_id), "name": "Handoff"},
            "text": "<at>Handoff</at>",
            "type": "mention",
        }
        activity.pop("attachments", None)
        return activity

    # ------------------------------------------------------------ reading what Teams got

    async def card_ref(self, contact_id: int) -> MessageRef:
        ref = await ChatMessages(self.client.app[keys.UOW].sessions).card("teams", contact_id)
        assert ref is not None, f"no Teams card recorded for contact {contact_id}"
        return ref

    async def card(self, contact_id: int) -> Message:
        ref = await self.card_ref(contact_id)
        root = self.connector.messages.get(ref.channel_id, [])
        assert root and root[0].id == ref.message_id, self.connector.dump()
        return root[0]

    async def card_text(self, contact_id: int) -> str:
        return json.dumps((await self.card(contact_id)).activity, ensure_ascii=False)

    async def thread_texts(self, contact_id: int) -> list[str]:
        ref = await self.card_ref(contact_id)
        return [m.text for m in self.connector.thread(ref.channel_id)]


def no_graph(app: web.Application) -> None:
    """Graph off (as without permissions) unless a test points it at a fake: never the real cloud."""
    deps = app[keys.TEAMS].deps
    deps.presence = deps.owners = deps.directory = None


@asynccontextmanager
async def teams_app(
    database_url: str,
    *,
    anonymous: bool = False,
    connector: FakeConnector | None = None,
    token_source: TokenSource | None = None,
    clock: Clock | None = None,
    engine_options: dict[str, Any] | None = None,
    **settings: Any,
) -> AsyncIterator[TeamsHarness]:
    """The app with Teams against a fake connector (started here unless given)."""
    fake = connector or FakeConnector(token=None if anonymous else BOT_TOKEN, tenant=TENANT)
    if connector is not None:
        async with _app(fake, database_url, anonymous, token_source, clock, engine_options, settings) as h:
            yield h
        return
    async with (
        fake.running(),
        _app(fake, database_url, anonymous, token_source, clock, engine_options, settings) as h,
    ):
        yield h


@asynccontextmanager
async def _app(
    connector: FakeConnector,
    database_url: str,
    anonymous: bool,
    token_source: TokenSource | None,
    clock: Clock | None,
    engine_options: dict[str, Any] | None,
    settings: dict[str, Any],
) -> AsyncIterator[TeamsHarness]:
    for user in (MARIEKE, PIET):
        if user[0] not in connector.users:
            connector.add_user(*user)
    issuer = None if anonymous else shared_issuer()
    teams: dict[str, Any] = {"microsoft_app_id": ""}
    if issuer is not None:
        teams = {
            "microsoft_app_id": APP_ID,
            "microsoft_app_password": APP_PASSWORD,
            "microsoft_app_tenant_id": TENANT,
            "microsoft_openid_metadata_url": issuer.metadata_url,
        }
    config = load_settings(
        database_url=database_url,
        intake_tokens=f"crm={TOKEN}",
        **{"teams_contacts_channel": CHANNEL, **teams, **settings},
    )
    app = build_app(config, clock=clock, run_worker=False, engine_options=engine_options)
    if not anonymous and "microsoft_login_url" not in settings:
        app[TEAMS_TOKEN_SOURCE] = token_source or StaticTokenSource(BOT_TOKEN)
    async with TestClient(TestServer(app)) as client:
        if "microsoft_graph_url" not in settings:
            no_graph(app)
        handlers = app[keys.HANDLERS]
        worker_clock = clock or SystemClock()
        register_timers(
            handlers,
            uow=app[keys.UOW],
            clock=worker_clock,
            policy=app[keys.REMINDERS],
            retention_days=config.retention_days,
        )
        store = OutboxStore(app[keys.UOW].sessions, worker_clock)
        harness = TeamsHarness(
            connector,
            client,
            OutboxWorker(store, handlers, worker_clock, poll_seconds=0.05),
            issuer,
            config.microsoft_app_id or "",
        )
        yield harness
        harness.assert_cards_valid()
