"""The Slack side of the composition root: bolt app, /slack/events route, Socket Mode, delivery."""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.web.async_client import AsyncWebClient

from handoff_bot import keys
from handoff_bot.domain.errors import DomainError
from handoff_bot.platforms.slack import shapes
from handoff_bot.platforms.slack.deps import SlackDeps
from handoff_bot.platforms.slack.listeners import cards, commands, mentions, questions
from handoff_bot.storage.dedupe import EventLedger

log = logging.getLogger(__name__)
DEFAULT_API_URL = "https://slack.com/api/"


def web_client(
    token: str, api_url: str | None, session: aiohttp.ClientSession, *, timeout: int = 10
) -> AsyncWebClient:
    return AsyncWebClient(token=token, base_url=api_url or DEFAULT_API_URL, timeout=timeout, session=session)


def build_bolt(
    deps: SlackDeps, *, web: AsyncWebClient, signing_secret: str | None, ledger: EventLedger, sessions: Any
) -> AsyncApp:
    app = AsyncApp(
        client=web,
        signing_secret=signing_secret,
        # Hold the HTTP answer until the listener has finished: nothing runs fire-and-forget after the
        # ack, so a crash can never lose a click (Slack retries events we did not answer).
        process_before_response=True,
        # Socket Mode requests are not signed; the websocket itself is authenticated.
        request_verification_enabled=signing_secret is not None,
        raise_error_for_unhandled_request=False,
    )

    async def dedupe_events(body: dict[str, Any], next: Callable[[], Awaitable[None]]) -> BoltResponse | None:
        # Bolt runs listeners after every global middleware has returned, so a failure is seen
        # by on_error below, which releases the event id again for Slack's retry.
        key = _event_key(body)
        if key is not None and not await ledger.claim(key):
            log.info("slack %s already handled; ignoring the retry", key)
            return BoltResponse(status=200, body="")
        await next()
        return None

    async def on_error(error: Exception, body: dict[str, Any]) -> BoltResponse:
        if isinstance(error, DomainError):
            log.info("slack request refused: %s", error)
            return BoltResponse(status=200, body="")
        key = _event_key(body)
        if key is not None:
            await ledger.release(key)
        incident = uuid.uuid4().hex[:12]
        log.error("slack listener failed [incident %s]", incident, exc_info=error)
        user = (
            (body.get("user") or {}).get("id") or body.get("user_id") or (body.get("event") or {}).get("user")
        )
        channel = (
            (body.get("channel") or {}).get("id")
            or body.get("channel_id")
            or (body.get("event") or {}).get("channel")
        )
        await deps.ephemeral(channel, user, deps.catalogue.t("error.incident", incident=incident))
        # A 500 makes Slack retry events; the dedupe middleware released the event id for that.
        return BoltResponse(status=500, body="")

    app.use(dedupe_events)
    app.error(on_error)
    cards.register(app, deps)
    questions.register(app, deps)
    mentions.register(app, deps)
    commands.register(app, deps, sessions)
    return app


def _event_key(body: dict[str, Any]) -> str | None:
    event_id = body.get("event_id") if body.get("type") == "event_callback" else None
    return f"slack:{event_id}" if isinstance(event_id, str) and event_id else None


def events_route(get_bolt: Callable[[], AsyncApp]) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handle_slack_request(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        parsed = shapes.parse(body, request.content_type)
        where = shapes.problem(parsed) if parsed is not None else "$"
        if where is not None:
            # Bolt would crash reading it; only a request signed with our secret learns why.
            if not _signed(request, body):
                return web.Response(status=401)
            log.info("slack: refused a signed request that is not shaped like Slack's (%s)", where)
            return web.json_response({"error": "malformed request", "at": where}, status=400)
        bolt_request: AsyncBoltRequest = await to_bolt_request(request)
        response = await get_bolt().async_dispatch(bolt_request)
        if response.status == 404:
            # A verified request nobody listens to (an old button, an event we did not subscribe to):
            # bolt answers 404, which makes Slack retry it three times for nothing.
            return web.Response(status=200)
        return await to_aiohttp_response(response)

    return handle_slack_request


def _signed(request: web.Request, body: bytes) -> bool:
    """Slack's v0 signature over the raw bytes (slack_sdk's verifier fails on bytes that are not UTF-8)."""
    secret = request.app[keys.SETTINGS].slack_signing_secret
    if secret is None:
        return True  # Socket Mode: requests are not signed
    timestamp = request.headers.get("X-Slack-Request-Timestamp", "")
    if not timestamp.isascii() or not timestamp.isdigit() or abs(time.time() - int(timestamp)) > 300:
        return False
    digest = hmac.new(
        secret.get_secret_value().encode(), b"v0:" + timestamp.encode() + b":" + body, hashlib.sha256
    ).hexdigest()
    return hmac.compare_digest(f"v0={digest}".encode(), request.headers.get("X-Slack-Signature", "").encode())
