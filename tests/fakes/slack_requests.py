"""Requests as Slack sends them to /slack/events: exact wire bodies, signed with the real scheme."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
from typing import Any
from urllib.parse import urlencode

_ids = itertools.count(1)


def sign(secret: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    """X-Slack-Signature: v0= + hex HMAC-SHA256 of `v0:{timestamp}:{body}` with the signing secret."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), b"v0:" + ts.encode() + b":" + body, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}"}


def form(payload: dict[str, Any]) -> tuple[bytes, str]:
    """Interactivity: `payload=<json>` form-encoded."""
    return urlencode({"payload": json.dumps(payload)}).encode(), "application/x-www-form-urlencoded"


def event(inner: dict[str, Any], *, event_id: str | None = None) -> tuple[bytes, str]:
    envelope = {
        "token": "legacy-verification-token",
        "team_id": "T1",
        "api_app_id": "A1",
        "event": inner,
        "type": "event_callback",
        "event_id": event_id or f"Ev{next(_ids):08d}",
        "event_time": int(time.time()),
        "authorizations": [{"team_id": "T1", "user_id": "UBOT", "is_bot": True}],
    }
    return json.dumps(envelope).encode(), "application/json"


def command(text: str, *, user: str, channel: str = "C0CONTACTS") -> tuple[bytes, str]:
    body = {
        "token": "legacy",
        "team_id": "T1",
        "team_domain": "bakkerij",
        "channel_id": channel,
        "channel_name": "klantcontact",
        "user_id": user,
        "user_name": user.lower(),
        "command": "/handoff",
        "text": text,
        "api_app_id": "A1",
        "response_url": "https://hooks.slack.invalid/commands/1",
        "trigger_id": f"{next(_ids)}.1.abc",
    }
    return urlencode(body).encode(), "application/x-www-form-urlencoded"


def _user(user: str) -> dict[str, str]:
    return {"id": user, "username": user.lower(), "name": user.lower(), "team_id": "T1"}


def click(
    action_id: str, value: str, *, user: str, channel: str, message_ts: str, block_id: str = "b"
) -> dict[str, Any]:
    """A button click in a message (block_actions), shaped like Slack's documented payload."""
    return {
        "type": "block_actions",
        "team": {"id": "T1", "domain": "bakkerij"},
        "user": _user(user),
        "api_app_id": "A1",
        "token": "legacy",
        "container": {
            "type": "message",
            "message_ts": message_ts,
            "channel_id": channel,
            "is_ephemeral": False,
        },
        "trigger_id": f"{next(_ids)}.1.abc",
        "channel": {"id": channel, "name": "klantcontact"},
        "message": {"type": "message", "ts": message_ts, "user": "UBOT", "text": ""},
        "response_url": "https://hooks.slack.invalid/actions/1",
        "actions": [
            {
                "action_id": action_id,
                "block_id": block_id,
                "value": value,
                "type": "button",
                "action_ts": f"{time.time():.6f}",
            }
        ],
    }


def submit(view: dict[str, Any], values: dict[str, dict[str, Any]], *, user: str) -> dict[str, Any]:
    """A view_submission of one of our modals with `values` as {block_id: element state}."""
    state = {block: {block: element} for block, element in values.items()}
    return {
        "type": "view_submission",
        "team": {"id": "T1", "domain": "bakkerij"},
        "user": _user(user),
        "api_app_id": "A1",
        "token": "legacy",
        "trigger_id": f"{next(_ids)}.1.abc",
        "view": {
            **view,
            "id": f"V{next(_ids)}",
            "team_id": "T1",
            "state": {"values": state},
            "hash": "1.abc",
            "app_id": "A1",
            "bot_id": "BBOT",
        },
    }


def text_input(value: str) -> dict[str, Any]:
    return {"type": "plain_text_input", "value": value}


def user_select(user: str) -> dict[str, Any]:
    return {"type": "users_select", "selected_user": user}
