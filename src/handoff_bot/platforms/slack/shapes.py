"""What a request from Slack must look like before bolt and the listeners index into it.

Slack documents a type for every field it sends; a validly signed body whose fields have other types
(a proxy mangling it, a replayed test payload, a bug at Slack) would otherwise crash bolt's context
extraction or a listener. Only the fields something reads are checked; unknown fields pass.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

Spec = type | tuple[type, ...] | dict[str, Any] | list[Any]

_USER = {"id": str, "name": str, "username": str, "team_id": str}
_MESSAGE = {
    "ts": str,
    "thread_ts": str,
    "text": str,
    "user": str,
    "bot_id": str,
    "blocks": list,
    "metadata": dict,
}
_VIEW = {
    "id": str,
    "type": str,
    "callback_id": str,
    "private_metadata": str,
    "hash": str,
    "root_view_id": str,
    "external_id": str,
    "team_id": str,
    "blocks": list,
    "state": {"values": {"*": {"*": dict}}},
}
_EVENT = {
    "type": str,
    "subtype": str,
    "user": str,
    "channel": str,
    "channel_type": str,
    "text": str,
    "ts": str,
    "thread_ts": str,
    "event_ts": str,
    "bot_id": str,
    "tab": str,
    "team": str,
    "blocks": list,
    "message": _MESSAGE,
    "previous_message": _MESSAGE,
}
SPEC: dict[str, Any] = {
    "type": str,
    "token": str,
    "team_id": str,
    "api_app_id": str,
    "trigger_id": str,
    "response_url": str,
    "callback_id": str,
    "event_id": str,
    "user_id": str,
    "channel_id": str,
    "command": str,
    "text": str,
    "enterprise_id": str,
    "is_enterprise_install": (bool, str),  # a string in form-encoded slash commands
    "user": _USER,
    "team": {"id": str, "domain": str},
    "enterprise": {"id": str},
    "channel": {"id": str, "name": str},
    "container": {"type": str, "channel_id": str, "message_ts": str, "view_id": str, "thread_ts": str},
    "message": _MESSAGE,
    "message_ts": str,
    "view": _VIEW,
    "actions": [{"action_id": str, "block_id": str, "value": str, "type": str, "action_ts": str}],
    "authorizations": [{"team_id": str, "user_id": str, "enterprise_id": str, "is_bot": (bool, str)}],
    "event": _EVENT,
    "state": {"values": {"*": {"*": dict}}},
}


def parse(body: bytes, content_type: str) -> dict[str, Any] | None:
    """The body as bolt will read it (form fields, or the JSON of `payload=`), or None if unreadable."""
    try:
        text = body.decode("utf-8")
        if content_type == "application/json":
            parsed = json.loads(text)
        else:
            fields = dict(parse_qsl(text, keep_blank_values=True))
            parsed = json.loads(fields["payload"]) if "payload" in fields else fields
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    return parsed if isinstance(parsed, dict) else None


_WHO = ("user.id", "trigger_id")
REQUIRED: dict[str, tuple[str, ...]] = {  # what every such request carries, and listeners rely on
    "block_actions": ("actions", *_WHO),
    "view_submission": ("view", "user.id"),
    "view_closed": ("view", "user.id"),
    "shortcut": ("callback_id", *_WHO),
    "message_action": ("callback_id", "message", "channel.id", *_WHO),
    "event_callback": ("event", "event.type"),
}
EVENT_REQUIRED: dict[str, tuple[str, ...]] = {
    "app_home_opened": ("event.user",),
    "app_mention": ("event.user", "event.channel", "event.ts"),
}


def problem(body: dict[str, Any]) -> str | None:
    """Where `body` breaks Slack's documented types (a JSON path), or None when it does not."""
    kind = body.get("type")
    needed = REQUIRED.get(kind, ()) if isinstance(kind, str) else ()
    if "view" in body and not isinstance(body["view"], dict):
        return "$.view"  # bolt reads view.type of any request that has the key, even when null
    if "command" in body:  # slash commands are forms without a type
        needed = ("command", "user_id", "channel_id", "trigger_id")
    event = body.get("event")
    if isinstance(event, dict) and isinstance(event.get("type"), str):
        needed = (*needed, *EVENT_REQUIRED.get(event["type"], ()))
    for path in needed:
        value: Any = body
        for part in path.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        # Text must say something and bolt reads actions[0]; an object may be empty.
        if not isinstance(value, str | list | dict) or (not value and not isinstance(value, dict)):
            return f"$.{path}"
    return _check(body, SPEC, "$")


def _check(value: Any, spec: Spec, path: str) -> str | None:
    if isinstance(spec, type | tuple):
        kinds = spec if isinstance(spec, tuple) else (spec,)
        # bool is an int to Python, not to Slack: a `true` where a number or text belongs is wrong.
        ok = isinstance(value, kinds) and (bool in kinds or not isinstance(value, bool))
        return None if ok else path
    if isinstance(spec, list):
        if not isinstance(value, list):
            return path
        for i, item in enumerate(value):
            if (found := _check(item, spec[0], f"{path}[{i}]")) is not None:
                return found
        return None
    if not isinstance(value, dict):
        return path
    for key, sub in spec.items():
        items = value.items() if key == "*" else [(key, value.get(key))]
        for name, item in items:
            if item is None:
                if key == "*":
                    return f"{path}.{name}"
                continue  # absent, or null where Slack sometimes sends null (enterprise, thread_ts)
            if (found := _check(item, sub, f"{path}.{name}")) is not None:
                return found
    return None
