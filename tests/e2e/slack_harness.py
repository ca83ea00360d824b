"""The whole app over HTTP against the fake Slack Web API, with the outbox drained on demand."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient, TestServer

from handoff_bot import keys
from handoff_bot.app import build_app
from handoff_bot.clock import SystemClock
from handoff_bot.config import load_settings
from handoff_bot.outbox.timers import register_timers
from handoff_bot.outbox.worker import OutboxWorker
from handoff_bot.services.ports import Clock
from handoff_bot.storage.outbox import OutboxStore
from tests.fakes import slack_signing as ss
from tests.fakes.slack_server import FakeSlack, Message

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
TOKEN = "crm-token-0123456789abcdef"
CHANNEL = "C0CONTACTS"
MARIEKE, PIET, JOOP = "U0MARIEKE", "U0PIET", "U0JOOP"
BOT = ss.BOT_USER_ID


def form(payload: dict[str, Any]) -> tuple[bytes, str]:
    """An interaction (click, submission, shortcut) as Slack posts it: `payload=<json>` form-encoded."""
    return ss.interaction_body(payload), ss.FORM


def event(inner: dict[str, Any], *, event_id: str | None = None) -> tuple[bytes, str]:
    """An Events API delivery of one inner event."""
    return ss.event_body(inner, event_id=event_id), ss.JSON_TYPE


def command(text: str, *, user: str, channel: str = "C0CONTACTS") -> tuple[bytes, str]:
    """`/handoff <text>` typed by `user`."""
    return ss.slash_command_body("/handoff", text, user_id=user, channel_id=channel), ss.FORM


def click(action_id: str, value: str, *, user: str, channel: str, message_ts: str) -> dict[str, Any]:
    """A button click on a message, carrying `value` (whatever the message's blocks say)."""
    return ss.block_actions(action_id, user=user, channel=channel, message_ts=message_ts, value=value)


@dataclass
class Harness:
    slack: FakeSlack
    client: TestClient[Any, Any]
    worker: OutboxWorker

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

    async def send(
        self,
        body: bytes,
        content_type: str,
        *,
        secret: str = SECRET,
        headers: dict[str, str] | None = None,
        timestamp: int | None = None,
    ) -> ClientResponse:
        signed = ss.sign(secret, body, timestamp)
        return await self.client.post(
            "/slack/events", data=body, headers={"Content-Type": content_type, **signed, **(headers or {})}
        )

    async def interact(self, payload: dict[str, Any]) -> ClientResponse:
        return await self.send(*form(payload))

    def card(self, contact_id: int) -> Message:
        cards = [
            m
            for m in self.slack.messages_in(CHANNEL)
            if (m.metadata or {}).get("event_payload", {}).get("contact_id") == contact_id
        ]
        assert len(cards) == 1, f"expected one card for contact {contact_id}, found {len(cards)}"
        return cards[0]

    def card_text(self, contact_id: int) -> str:
        return json.dumps(self.card(contact_id).blocks, ensure_ascii=False)

    def thread_texts(self, contact_id: int) -> list[str]:
        return [m.text for m in self.slack.thread(CHANNEL, self.card(contact_id).ts)]

    async def click(self, action: str, contact_id: int, user: str) -> ClientResponse:
        card = self.card(contact_id)
        return await self.interact(
            click(action, f"v1:c:{contact_id}", user=user, channel=CHANNEL, message_ts=card.ts)
        )

    async def ask(self, contact_id: int, asker: str, colleague: str, question: str) -> None:
        """Ask a colleague through the card's button and the modal, then deliver what follows."""
        await self.click("contact.ask", contact_id, asker)
        values = {"colleague": ss.users_select(colleague), "question": ss.plain_text_input(question)}
        response = await self.interact(ss.view_submission(self.last_view(), values, user=asker))
        assert response.status == 200, await response.text()
        await self.deliver()

    def last_view(self) -> dict[str, Any]:
        return self.slack.last_view()

    def ephemerals_for(self, user: str) -> list[str]:
        return [e.text for e in self.slack.ephemerals_for(user)]


@asynccontextmanager
async def slack_app(
    database_url: str,
    *,
    clock: Clock | None = None,
    slack: FakeSlack | None = None,
    engine_options: dict[str, Any] | None = None,
    **settings: Any,
) -> AsyncIterator[Harness]:
    """The app with Slack against a fake; with `clock`, timers run on that clock through the worker."""
    if slack is not None:
        async with _app(slack, database_url, clock, engine_options, settings) as harness:
            yield harness
        return
    async with (
        FakeSlack() as fake,
        _app(fake, database_url, clock, engine_options, settings) as harness,
    ):
        yield harness


@asynccontextmanager
async def _app(
    slack: FakeSlack,
    database_url: str,
    clock: Clock | None,
    engine_options: dict[str, Any] | None,
    settings: dict[str, Any],
) -> AsyncIterator[Harness]:
    if CHANNEL not in slack.channels:  # a restarted app keeps what the workspace already holds
        slack.add_channel(CHANNEL, "klantcontact")
    slack.add_user(MARIEKE, "Marieke", "marieke@example.org")
    slack.add_user(PIET, "Piet", "piet@example.org")
    slack.add_user(JOOP, "Joop", "joop@example.org")
    config = load_settings(
        database_url=database_url,
        intake_tokens=f"crm={TOKEN}",
        slack_bot_token=slack.token,
        slack_signing_secret=SECRET,
        slack_contacts_channel=CHANNEL,
        slack_api_url=slack.url,
        **settings,
    )
    app = build_app(config, clock=clock, run_worker=False, engine_options=engine_options)
    async with TestClient(TestServer(app)) as client:
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
        yield Harness(slack, client, OutboxWorker(store, handlers, worker_clock, poll_seconds=0.05))
