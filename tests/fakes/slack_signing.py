"""What Slack sends to the app's request URL: exact wire bodies, signed with Slack's v0 scheme.

Shapes follow the documented examples in tests/fixtures/slack/ (block_actions, view_submission,
event_callback, message_action, shortcut, slash command). The workspace identity below matches what the
fake Web API (tests/fakes/slack_server.py) answers to `auth.test`, so bolt recognises its own bot.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import secrets
import time
import uuid
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlencode

Json = dict[str, Any]

TEAM_ID = "T0TEAM0001"
TEAM_DOMAIN = "handoff-test"
API_APP_ID = "A0HANDOFF1"
BOT_USER_ID = "U0HANDOFFBOT"
BOT_ID = "B0HANDOFF1"
TEAM_NUMBER = "47445629121"  # the middle part of a trigger id, as in the documented examples
VERIFICATION_TOKEN = "legacy-verification-token"  # deprecated by Slack, still present in every payload
FORM = "application/x-www-form-urlencoded"
JSON_TYPE = "application/json"

_sequence = itertools.count(1)


# ------------------------------------------------------------------ signing


def sign(secret: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    """X-Slack-Request-Timestamp and X-Slack-Signature (v0= hex HMAC-SHA256 of `v0:{ts}:{body}`)."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), b"v0:" + ts.encode() + b":" + body, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}"}


def signed_headers(
    secret: str, body: bytes, content_type: str, timestamp: int | None = None, *, retry_num: int | None = None
) -> dict[str, str]:
    """All headers of a request from Slack; `retry_num` adds the headers of an event redelivery."""
    headers = {"Content-Type": content_type, **sign(secret, body, timestamp)}
    if retry_num is not None:
        headers |= {"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": "http_timeout"}
    return headers


# ------------------------------------------------------------------ wire bodies


def interaction_body(payload: Mapping[str, Any]) -> bytes:
    """Interactivity (block_actions, view_submission, shortcuts): form-encoded `payload=<json>`."""
    return urlencode({"payload": json.dumps(payload, ensure_ascii=False)}).encode()


def event_body(
    event: Mapping[str, Any],
    *,
    event_id: str | None = None,
    team_id: str = TEAM_ID,
    api_app_id: str = API_APP_ID,
    event_time: int | None = None,
    bot_user_id: str = BOT_USER_ID,
) -> bytes:
    """An Events API `event_callback` envelope around one inner event, as JSON."""
    envelope = {
        "token": VERIFICATION_TOKEN,
        "team_id": team_id,
        "context_team_id": team_id,
        "api_app_id": api_app_id,
        "event": dict(event),
        "type": "event_callback",
        "event_id": event_id or new_event_id(),
        "event_time": int(time.time()) if event_time is None else event_time,
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": team_id,
                "user_id": bot_user_id,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
        "event_context": f"4-{secrets.token_hex(16)}",
    }
    return json.dumps(envelope, ensure_ascii=False).encode()


def url_verification_body(challenge: str) -> bytes:
    return json.dumps(
        {"token": VERIFICATION_TOKEN, "challenge": challenge, "type": "url_verification"}
    ).encode()


def slash_command_body(
    command: str,
    text: str,
    *,
    user_id: str,
    channel_id: str,
    trigger_id: str | None = None,
    channel_name: str = "general",
    user_name: str | None = None,
    team_id: str = TEAM_ID,
    team_domain: str = TEAM_DOMAIN,
    api_app_id: str = API_APP_ID,
    response_url: str | None = None,
) -> bytes:
    """A slash command, form-encoded in the order Slack sends its fields."""
    fields = {
        "token": VERIFICATION_TOKEN,
        "team_id": team_id,
        "team_domain": team_domain,
        "channel_id": channel_id,
        "channel_name": channel_name,
        "user_id": user_id,
        "user_name": user_name or user_id.lower(),
        "command": command,
        "text": text,
        "api_app_id": api_app_id,
        "is_enterprise_install": "false",
        "response_url": response_url or _hook("commands"),
        "trigger_id": trigger_id or new_trigger_id(),
    }
    return urlencode(fields).encode()


# ------------------------------------------------------------------ ids


def new_trigger_id() -> str:
    """A trigger id in Slack's shape (`<digits>.<digits>.<hex>`), not known to any fake server."""
    return f"{int(time.time() * 1000)}{next(_sequence)}.{TEAM_NUMBER}.{secrets.token_hex(16)}"


def new_event_id() -> str:
    return f"Ev{next(_sequence):02d}{secrets.token_hex(5).upper()}"


def new_ts() -> str:
    """A message timestamp for something a person wrote (the fake server makes the bot's)."""
    return f"{int(time.time())}.{next(_sequence):06d}"


# ------------------------------------------------------------------ interaction payloads


def user_ref(user: str, *, name: str | None = None, team_id: str = TEAM_ID) -> Json:
    handle = name or user.lower()
    return {"id": user, "username": handle, "name": handle, "team_id": team_id}


def _envelope(kind: str, user: str, trigger_id: str | None) -> Json:
    return {
        "type": kind,
        "user": user_ref(user),
        "api_app_id": API_APP_ID,
        "token": VERIFICATION_TOKEN,
        "trigger_id": trigger_id or new_trigger_id(),
        "team": {"id": TEAM_ID, "domain": TEAM_DOMAIN},
        "enterprise": None,
        "is_enterprise_install": False,
    }


def block_actions(
    action_id: str,
    *,
    user: str,
    channel: str,
    message: Mapping[str, Any] | None = None,
    message_ts: str | None = None,
    value: str | None = None,
    block_id: str | None = None,
    trigger_id: str | None = None,
    channel_name: str = "general",
    is_ephemeral: bool = False,
    response_url: str | None = None,
) -> Json:
    """A button click in a message in a channel (container type `message`).

    With `message` (as the fake server's `message_json` gives it) the button is looked up in its blocks:
    block_id, label and value come from there, and a button that is not on the message is an error.
    """
    if message is None and message_ts is None:
        raise ValueError("a click needs the message it was on: pass message= or message_ts=")
    message = dict(message) if message is not None else {"type": "message", "text": "", "ts": message_ts}
    ts = str(message.get("ts") or message_ts)
    button = _find_button(message.get("blocks"), action_id)
    if button is None and message.get("blocks"):
        raise LookupError(f"no button {action_id!r} on message {ts}")
    found_block, element = button or (block_id or "b", {"text": {"type": "plain_text", "text": action_id}})
    action: Json = {
        "action_id": action_id,
        "block_id": block_id or found_block,
        "text": {"emoji": True, **element.get("text", {})},
        "value": value if value is not None else element.get("value", ""),
        "type": "button",
        "action_ts": f"{time.time():.6f}",
    }
    if "style" in element:
        action["style"] = element["style"]
    payload = _envelope("block_actions", user, trigger_id)
    payload |= {
        "container": {
            "type": "message",
            "message_ts": ts,
            "channel_id": channel,
            "is_ephemeral": is_ephemeral,
        },
        "channel": {"id": channel, "name": channel_name},
        "message": message,
        "state": {"values": {}},
        "response_url": response_url or _hook("actions"),
        "actions": [action],
    }
    return payload


def view_block_actions(
    view: Mapping[str, Any],
    action_id: str,
    *,
    user: str,
    value: str | None = None,
    trigger_id: str | None = None,
) -> Json:
    """A button click inside a modal or the Home tab (container type `view`)."""
    full = _full_view(view, {})
    button = _find_button(full.get("blocks"), action_id)
    if button is None:
        raise LookupError(f"no button {action_id!r} in view {full['id']}")
    block_id, element = button
    action = {
        "type": "button",
        "block_id": block_id,
        "action_id": action_id,
        "text": {"emoji": True, **element.get("text", {})},
        "value": value if value is not None else element.get("value", ""),
        "action_ts": f"{time.time():.6f}",
    }
    payload = _envelope("block_actions", user, trigger_id)
    return payload | {"container": {"type": "view", "view_id": full["id"]}, "view": full, "actions": [action]}


def view_submission(
    view: Mapping[str, Any],
    values: Mapping[str, Mapping[str, Any]],
    *,
    user: str,
    trigger_id: str | None = None,
) -> Json:
    """A modal submitted: `view` as it was opened, `values` as `{block_id: {action_id: state}}`.

    `{block_id: state}` (a state built by the helpers below) is read as action_id == block_id.
    """
    state = {
        block: dict(inner) if "type" not in inner else {block: dict(inner)} for block, inner in values.items()
    }
    payload = _envelope("view_submission", user, trigger_id)
    return payload | {"view": _full_view(view, state), "response_urls": []}


def view_closed(view: Mapping[str, Any], *, user: str, is_cleared: bool = False) -> Json:
    """The user closed a modal opened with `notify_on_close: true`."""
    payload = _envelope("view_closed", user, None)
    del payload["trigger_id"]  # Slack sends none: nothing can be opened from a closed modal
    return payload | {"view": _full_view(view, {}), "is_cleared": is_cleared}


def message_action(
    callback_id: str,
    *,
    user: str,
    channel: str,
    message: Mapping[str, Any],
    trigger_id: str | None = None,
    channel_name: str = "general",
    response_url: str | None = None,
) -> Json:
    """A message shortcut (type `message_action`) chosen on `message`."""
    return {
        "type": "message_action",
        "token": VERIFICATION_TOKEN,
        "action_ts": f"{time.time():.6f}",
        "team": {"id": TEAM_ID, "domain": TEAM_DOMAIN},
        "user": user_ref(user),
        "channel": {"id": channel, "name": channel_name},
        "is_enterprise_install": False,
        "enterprise": None,
        "callback_id": callback_id,
        "trigger_id": trigger_id or new_trigger_id(),
        "response_url": response_url or _hook("app"),
        "message_ts": str(message.get("ts")),
        "message": dict(message),
    }


def global_shortcut(callback_id: str, *, user: str, trigger_id: str | None = None) -> Json:
    """A global shortcut (type `shortcut`) from the shortcuts menu."""
    return {
        "type": "shortcut",
        "token": VERIFICATION_TOKEN,
        "action_ts": f"{time.time():.6f}",
        "team": {"id": TEAM_ID, "domain": TEAM_DOMAIN},
        "user": user_ref(user),
        "is_enterprise_install": False,
        "enterprise": None,
        "callback_id": callback_id,
        "trigger_id": trigger_id or new_trigger_id(),
    }


# ------------------------------------------------------------------ inner events


def message_event(
    text: str,
    *,
    user: str,
    channel: str,
    channel_type: str | None = None,
    ts: str | None = None,
    thread_ts: str | None = None,
    parent_user_id: str | None = None,
) -> Json:
    """A person's message (`message.channels`/`message.im`); a thread reply has `thread_ts` != `ts`.

    Over the Events API a reply carries no `message_replied` subtype, so none is set here.
    """
    ts = ts or new_ts()
    event: Json = {
        "client_msg_id": str(uuid.uuid4()),
        "type": "message",
        "text": text,
        "user": user,
        "ts": ts,
        "blocks": [_rich_text(text)],
        "team": TEAM_ID,
        "channel": channel,
        "event_ts": ts,
        "channel_type": channel_type or ("im" if channel.startswith("D") else "channel"),
    }
    if thread_ts is not None:
        event["thread_ts"] = thread_ts
        event["parent_user_id"] = parent_user_id or BOT_USER_ID
    return event


def app_mention(
    text: str, *, user: str, channel: str, ts: str | None = None, thread_ts: str | None = None
) -> Json:
    """`@bot …` in a channel; `text` should contain `<@BOT_USER_ID>` as Slack writes mentions."""
    ts = ts or new_ts()
    event: Json = {
        "client_msg_id": str(uuid.uuid4()),
        "type": "app_mention",
        "text": text,
        "user": user,
        "ts": ts,
        "blocks": [_rich_text(text)],
        "team": TEAM_ID,
        "channel": channel,
        "event_ts": ts,
    }
    if thread_ts is not None:
        event["thread_ts"] = thread_ts
    return event


def _rich_text(text: str) -> Json:
    return {
        "type": "rich_text",
        "block_id": secrets.token_hex(2),
        "elements": [{"type": "rich_text_section", "elements": [{"type": "text", "text": text}]}],
    }


# ------------------------------------------------------------------ view state values


def plain_text_input(value: str | None) -> Json:
    return {"type": "plain_text_input", "value": value}


def users_select(user: str | None) -> Json:
    return {"type": "users_select", "selected_user": user}


def multi_users_select(users: Iterable[str]) -> Json:
    return {"type": "multi_users_select", "selected_users": list(users)}


def conversations_select(conversation: str | None) -> Json:
    return {"type": "conversations_select", "selected_conversation": conversation}


def channels_select(channel: str | None) -> Json:
    return {"type": "channels_select", "selected_channel": channel}


def option(value: str, text: str | None = None) -> Json:
    return {"text": {"type": "plain_text", "text": text or value, "emoji": True}, "value": value}


def static_select(value: str | None, text: str | None = None) -> Json:
    return {"type": "static_select", "selected_option": option(value, text) if value is not None else None}


def radio_buttons(value: str | None, text: str | None = None) -> Json:
    return {"type": "radio_buttons", "selected_option": option(value, text) if value is not None else None}


def checkboxes(*values: str | tuple[str, str]) -> Json:
    """Ticked boxes, each a value or (value, label)."""
    chosen = [option(v) if isinstance(v, str) else option(*v) for v in values]
    return {"type": "checkboxes", "selected_options": chosen}


def datepicker(date: str | None) -> Json:
    """`date` as YYYY-MM-DD."""
    return {"type": "datepicker", "selected_date": date}


def timepicker(time_of_day: str | None, timezone: str | None = None) -> Json:
    """`time_of_day` as HH:mm; `timezone` only when the element declared one."""
    state: Json = {"type": "timepicker", "selected_time": time_of_day}
    if timezone is not None:
        state["timezone"] = timezone
    return state


def datetimepicker(unix_seconds: int | None) -> Json:
    return {"type": "datetimepicker", "selected_date_time": unix_seconds}


# ------------------------------------------------------------------ helpers


def _hook(kind: str) -> str:
    """Slack's response_url path on a host that cannot resolve (tests pass `fake.response_url()`)."""
    return f"https://hooks.slack.invalid/{kind}/{TEAM_ID}/{next(_sequence)}/{secrets.token_hex(12)}"


def _find_button(blocks: Any, action_id: str) -> tuple[str, Json] | None:
    for block in blocks or []:
        if not isinstance(block, dict):
            continue
        candidates = [*block.get("elements", []), block.get("accessory")]
        for element in candidates:
            if isinstance(element, dict) and element.get("action_id") == action_id:
                return str(block.get("block_id") or secrets.token_hex(2)), element
    return None


def _full_view(view: Mapping[str, Any], state: Json) -> Json:
    """The view as Slack echoes it in payloads: every field present, with the submitted state."""
    view_id = str(view.get("id") or f"V0{secrets.token_hex(4).upper()}")
    return {
        "id": view_id,
        "team_id": TEAM_ID,
        "type": "modal",
        "blocks": [],
        "private_metadata": "",
        "callback_id": "",
        "hash": f"{int(time.time())}.{secrets.token_hex(4)}",
        "title": None,
        "clear_on_close": False,
        "notify_on_close": False,
        "close": None,
        "submit": None,
        "previous_view_id": None,
        "root_view_id": view_id,
        "app_id": API_APP_ID,
        "external_id": "",
        "app_installed_team_id": TEAM_ID,
        "bot_id": BOT_ID,
        **dict(view),
        "state": {"values": state},
    }
