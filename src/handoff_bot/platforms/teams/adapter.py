"""The CloudAdapter with botbuilder 4.17.1's HTTP defects fixed.

Defect 1: `process()` serialises invoke bodies that are already dicts a second time, so every invoke
answer with a body (Action.Execute, task/fetch, task/submit) became a 500. Only msrest models are
serialised here. Defect 2: a forged or expired token (jwt errors), an unknown signing key or a missing
Authorization header escaped as 500; every authentication failure is a 401 here, and nothing runs.
"""

from __future__ import annotations

import json
import logging
from http import HTTPStatus
from typing import Any

import jwt
import requests
from aiohttp import web
from botbuilder.core import Bot, InvokeResponse, TurnContext, serializer_helper
from botbuilder.integration.aiohttp import CloudAdapter
from botbuilder.schema import Activity, ActivityTypes
from msrest.serialization import Model

from handoff_bot.platforms.teams.auth import AuthError, HandoffAuthentication

log = logging.getLogger(__name__)
MAX_ACTIVITY_BYTES = 256 * 1024
SENDER_ID_MAX = 200  # person_identities.user_id


class HandoffAdapter(CloudAdapter):  # type: ignore[misc]
    def __init__(self, authentication: HandoffAuthentication) -> None:
        super().__init__(authentication)
        self.authentication = authentication

    async def process(
        self, request: web.Request, bot: Bot, ws_response: web.WebSocketResponse | None = None
    ) -> web.StreamResponse:
        if request.method != "POST":
            raise web.HTTPMethodNotAllowed(request.method, ["POST"])
        if "application/json" not in request.headers.get("Content-Type", ""):
            return _problem(415, "expected application/json")
        raw = await _read_at_most(request, MAX_ACTIVITY_BYTES)
        if raw is None:
            return _problem(413, "activity too large")
        try:
            body = json.loads(raw)
            activity = Activity().deserialize(body) if isinstance(body, dict) else None
        # msrest raises a ValueError subclass; JSON nested a thousand deep raises RecursionError.
        except (ValueError, TypeError, AttributeError, RecursionError):
            activity = None
        if activity is None or not activity.type or not _has_sender(activity):
            return _problem(400, "the body is not a Bot Framework activity")

        header = request.headers.get("Authorization")
        if self.authentication.anonymous:
            header = None
        elif not header:
            log.info("teams: activity without Authorization header refused")
            return _problem(401, "missing Authorization header")
        try:
            result = await self.authentication.authenticate_request(activity, header)
        except requests.RequestException as exc:
            # The signing keys could not be fetched: nothing can be verified, so nothing runs.
            log.warning("teams: cannot fetch the OpenID metadata: %s", type(exc).__name__)
            return _problem(503, "the bot cannot check tokens right now")
        except (PermissionError, jwt.PyJWTError, LookupError, ValueError) as exc:
            log.info("teams: activity refused: %s", type(exc).__name__)
            return _problem(401, "the token is not valid for this bot")
        except Exception as exc:
            # The SDK raises bare Exception for some bad tokens (e.g. endorsements); still not ours.
            if type(exc) is not Exception:
                raise
            log.info("teams: activity refused: %s", exc)
            return _problem(401, "the token is not valid for this bot")

        try:
            invoke_response = await self.process_activity(result, activity, bot.on_turn)
        except AuthError as exc:
            # The turn needs the bot's own token to answer; Teams may deliver the activity again.
            log.warning("teams: cannot act on an activity: %s", exc)
            return _problem(503, "the bot cannot get its own token right now")
        return _respond(invoke_response)


async def _read_at_most(request: web.Request, limit: int) -> bytes | None:
    """The body, or None past `limit` bytes. Read from the stream: the app-wide `client_max_size`
    (sized for the intake API) would refuse activities this adapter accepts, with a plain-text 413."""
    if request.content_length is not None and request.content_length > limit:
        return None
    chunks, size = [], 0
    async for chunk in request.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _has_sender(activity: Activity) -> bool:
    """Messages and invokes act for the user in `from`, in `conversation`: the protocol requires
    both, and the listeners need them to know who acted and where to answer."""
    if activity.type not in (ActivityTypes.message, ActivityTypes.invoke):
        return True
    sender, conversation = activity.from_property, activity.conversation
    if sender is None or not sender.id or conversation is None or not conversation.id:
        return False
    # Teams ids are far shorter; a longer one could not be stored as the person's identity anyway.
    return all(len(str(i)) <= SENDER_ID_MAX for i in (sender.id, sender.aad_object_id or ""))


def _respond(invoke_response: InvokeResponse | None) -> web.StreamResponse:
    if not invoke_response:
        return web.Response(status=201)
    body: Any = invoke_response.body
    if isinstance(body, Model):
        body = serializer_helper(body)
    if body is None:
        return web.Response(status=invoke_response.status)
    return web.json_response(body, status=invoke_response.status)


def _problem(status: int, detail: str) -> web.Response:
    return web.json_response(
        {"title": HTTPStatus(status).phrase, "status": status, "detail": detail},
        status=status,
        content_type="application/problem+json",
    )


def invoke_response(body: object = None, status: int = 200) -> InvokeResponse:
    """An invoke answer; `body` may be a dict (cards) or an msrest model (TaskModuleResponse…)."""
    return InvokeResponse(status=status, body=serializer_helper(body) if isinstance(body, Model) else body)


async def send_invoke_response(turn: TurnContext, body: object = None, status: int = 200) -> None:
    """Answer an invoke from inside a turn (what ActivityHandler does with its return value)."""
    await turn.send_activity(Activity(type="invokeResponse", value=invoke_response(body, status)))
