"""The state of the fake Slack workspace and its Web API methods, in Slack's documented shapes.

Each method takes the call's parameters (JSON-string fields already decoded) and returns the answer
without `ok`, or raises SlackError with Slack's error code. The HTTP side is in slack_server.py.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from tests.fakes import slack_limits as limits
from tests.fakes.slack_signing import API_APP_ID, BOT_ID, BOT_USER_ID, TEAM_DOMAIN, TEAM_ID, TEAM_NUMBER

Json = dict[str, Any]
Method = Callable[[Json], Json]

TRIGGER_LIFETIME = 3.0  # seconds a trigger_id may be exchanged for a modal, once


class SlackError(Exception):
    """An answer with `ok: false`; `status`/`headers` for HTTP-level ones (429, 5xx)."""

    def __init__(
        self, error: str, *, status: int = 200, headers: dict[str, str] | None = None, **extra: Any
    ) -> None:
        super().__init__(error)
        self.error, self.status, self.headers, self.extra = error, status, headers or {}, extra

    def body(self) -> Json:
        return {"ok": False, "error": self.error, **self.extra}


def _invalid_arguments(*messages: str) -> SlackError:
    return SlackError("invalid_arguments", response_metadata={"messages": [f"[ERROR] {m}" for m in messages]})


@dataclass
class Message:
    channel: str
    ts: str
    user: str
    text: str
    blocks: list[Json]
    metadata: Json | None = None
    thread_ts: str | None = None  # set on replies only; a parent's thread_ts shows in its JSON
    broadcast: bool = False
    edits: list[Json] = field(default_factory=list)  # earlier versions, oldest first
    edited_ts: str | None = None

    @property
    def is_reply(self) -> bool:
        return self.thread_ts is not None


@dataclass
class Channel:
    id: str
    name: str
    is_im: bool = False
    user: str | None = None  # the other person of a DM
    is_member: bool = True
    is_archived: bool = False
    members: set[str] | None = None  # None: everybody (for ephemeral messages)
    messages: dict[str, Message] = field(default_factory=dict)


@dataclass
class Ephemeral:
    channel: str
    user: str
    ts: str
    text: str
    blocks: list[Json]
    thread_ts: str | None = None


class Workspace:
    """Channels with messages and threads, DMs, users, ephemeral messages and views."""

    def __init__(
        self,
        *,
        bot_user: str = BOT_USER_ID,
        auto_create_channels: bool = False,
        strict_triggers: bool = False,
        now: Callable[[], float],
    ) -> None:
        self.bot_user = bot_user
        self.auto_create_channels, self.strict_triggers = auto_create_channels, strict_triggers
        self.now = now
        self.channels: dict[str, Channel] = {}
        self.users: dict[str, Json] = {}
        self.ephemerals: list[Ephemeral] = []
        self.views: dict[str, Json] = {}  # view id → the view as Slack last returned it
        self.view_log: list[Json] = []  # every view opened, pushed, updated or published, in order
        self._triggers: dict[str, float] = {}  # issued trigger id → expiry
        self._used_triggers: set[str] = set()
        self._seq = itertools.count(1)
        self.methods: dict[str, Method] = {
            "auth.test": self._auth_test,
            "chat.postMessage": self._post_message,
            "chat.update": self._update,
            "chat.postEphemeral": self._post_ephemeral,
            "chat.delete": self._delete,
            "chat.getPermalink": self._permalink,
            "conversations.open": self._open,
            "conversations.info": self._info,
            "conversations.history": self._history,
            "conversations.replies": self._replies,
            "users.info": self._user_info,
            "users.lookupByEmail": self._lookup_by_email,
            "views.open": self._views_open,
            "views.push": self._views_push,
            "views.update": self._views_update,
            "views.publish": self._views_publish,
        }

    # ------------------------------------------------------------------ set-up

    def add_channel(
        self,
        channel: str,
        name: str | None = None,
        *,
        member: bool = True,
        archived: bool = False,
        members: set[str] | None = None,
    ) -> Channel:
        """A channel; `member=False` means the bot was not invited (posting fails with not_in_channel)."""
        self.channels[channel] = Channel(
            channel, name or channel.lower(), is_member=member, is_archived=archived, members=members
        )
        return self.channels[channel]

    def add_user(
        self,
        user_id: str,
        name: str,
        email: str | None = None,
        real_name: str | None = None,
        tz: str = "Europe/Amsterdam",
        *,
        deleted: bool = False,
        is_bot: bool = False,
    ) -> Json:
        """A workspace member; `name` is also the display name unless `real_name` differs."""
        real = real_name or name
        offset = ZoneInfo(tz).utcoffset(datetime.now(ZoneInfo(tz)))
        profile: Json = {
            "real_name": real,
            "real_name_normalized": real,
            "display_name": name,
            "display_name_normalized": name,
            "first_name": real.split(" ")[0],
            "team": TEAM_ID,
        }
        if email:
            profile["email"] = email
        self.users[user_id] = {
            "id": user_id,
            "team_id": TEAM_ID,
            "name": name.lower().replace(" ", "."),
            "deleted": deleted,
            "real_name": real,
            "tz": tz,
            "tz_label": tz,
            "tz_offset": int(offset.total_seconds()) if offset else 0,
            "profile": profile,
            "is_admin": False,
            "is_owner": False,
            "is_bot": is_bot,
            "is_app_user": False,
            "updated": int(self.now()),
        }
        return self.users[user_id]

    def issue_trigger_id(self) -> str:
        """A trigger id views.open accepts once within 3 seconds (what Slack puts in an interaction)."""
        trigger = f"{int(self.now() * 1000)}{next(self._seq)}.{TEAM_NUMBER}.{secrets.token_hex(16)}"
        self._triggers[trigger] = self.now() + TRIGGER_LIFETIME
        return trigger

    def post_as(self, user: str, channel: str, text: str, *, thread_ts: str | None = None) -> Message:
        """A person's message (to reply to, or to find in history); send its event with slack_signing."""
        target = self._channel(channel)
        message = Message(channel, self._ts(), user, text, [], thread_ts=thread_ts)
        target.messages[message.ts] = message
        return message

    # ------------------------------------------------------------------ inspection

    def messages_in(self, channel: str) -> list[Message]:
        """What a person scrolling `channel` sees: top-level messages and broadcast replies, oldest first."""
        found = self.channels.get(channel)
        if found is None:
            return []
        return _by_ts(m for m in found.messages.values() if not m.is_reply or m.broadcast)

    def thread(self, channel: str, ts: str) -> list[Message]:
        """The replies under the message `ts`, oldest first."""
        found = self.channels.get(channel)
        return _by_ts(m for m in found.messages.values() if m.thread_ts == ts) if found else []

    def message(self, channel: str, ts: str) -> Message:
        """The current version of one message (after every chat.update)."""
        found = self.channels.get(channel)
        if found is None or ts not in found.messages:
            raise KeyError(f"no message {ts} in {channel}")
        return found.messages[ts]

    def message_json(self, channel: str, ts: str) -> Json:
        """The message as conversations.history shows it with include_all_metadata (for payloads)."""
        return self._json(self.message(channel, ts), with_metadata=True)

    def dm_channel_of(self, user: str) -> str:
        """The app's DM channel with `user`, the id conversations.open answers (stable per user)."""
        return "D0" + hashlib.sha256(user.encode()).hexdigest()[:9].upper()

    def ephemerals_for(self, user: str) -> list[Ephemeral]:
        return [e for e in self.ephemerals if e.user == user]

    def last_view(self) -> Json:
        """The view most recently opened, pushed, updated or published (as Slack returned it)."""
        if not self.view_log:
            raise LookupError("no view was opened")
        return _public(self.views[self.view_log[-1]["id"]])

    def home_of(self, user: str) -> Json | None:
        """The Home tab last published for `user`."""
        home = next((v for v in self.views.values() if v["type"] == "home" and v.get("_user") == user), None)
        return _public(home) if home is not None else None

    def all_texts(self, channel: str | None = None) -> list[str]:
        """Every string the fake holds in messages (text, blocks, metadata), ephemerals and views;
        with `channel`, only what was posted there."""
        out: list[str] = []
        for found in self.channels.values():
            if channel is not None and found.id != channel:
                continue
            for m in found.messages.values():
                out += [m.text, *limits.strings(m.blocks), *limits.strings(m.metadata)]
        for e in self.ephemerals:
            if channel is None or e.channel == channel:
                out += [e.text, *limits.strings(e.blocks)]
        if channel is None:
            for view in self.views.values():
                out += list(limits.strings(view))
        return out

    # ------------------------------------------------------------------ state

    def _ts(self) -> str:
        return f"{int(self.now())}.{next(self._seq) % 1_000_000:06d}"

    def _channel(self, channel_id: Any) -> Channel:
        channel_id = str(channel_id or "")
        found = self.channels.get(channel_id)
        if found is not None:
            return found
        if channel_id in self.users:
            # Posting to a user id lands in their Slackbot DM, not in the app's DM with them.
            return self.channels.setdefault(
                channel_id, Channel(channel_id, "slackbot", is_im=True, user=channel_id)
            )
        if self.auto_create_channels and channel_id[:1] in ("C", "G"):
            return self.add_channel(channel_id)
        raise SlackError("channel_not_found")

    def _writable(self, channel_id: Any) -> Channel:
        channel = self._channel(channel_id)
        if channel.is_archived:
            raise SlackError("is_archived")
        if not channel.is_member:
            raise SlackError("not_in_channel")
        return channel

    def _readable(self, channel_id: Any) -> Channel:
        channel = self._channel(channel_id)
        if not channel.is_member:
            raise SlackError("not_in_channel")
        return channel

    def _content(self, p: Json, *, required: bool) -> tuple[str | None, list[Json] | None]:
        text, blocks = p.get("text"), p.get("blocks")
        if blocks is not None and not isinstance(blocks, list):
            raise SlackError("invalid_blocks_format")
        if required and not text and not blocks and not p.get("attachments"):
            raise SlackError("no_text")
        if text is not None and len(str(text)) > limits.MESSAGE_TEXT:
            raise SlackError("msg_too_long")
        if blocks:
            problems = limits.message_problems(blocks)
            if problems:
                raise SlackError(
                    "invalid_blocks",
                    errors=problems,
                    response_metadata={"messages": [f"[ERROR] {p}" for p in problems]},
                )
            if limits.text_length(blocks) > limits.MESSAGE_BLOCKS_TEXT:
                raise SlackError("msg_blocks_too_long")
        return (None if text is None else str(text)), blocks

    @staticmethod
    def _metadata(p: Json) -> Json | None:
        metadata = p.get("metadata")
        if metadata is None or metadata == "":
            return None
        if not isinstance(metadata, dict):
            raise SlackError("invalid_metadata_format")
        if not isinstance(metadata.get("event_type"), str) or not isinstance(
            metadata.get("event_payload"), dict
        ):
            raise SlackError("invalid_metadata_schema")
        return {"event_type": metadata["event_type"], "event_payload": metadata["event_payload"]}

    def _json(self, m: Message, *, with_metadata: bool) -> Json:
        """A message in Slack's shape, with the thread summary a parent carries."""
        out: Json = {"type": "message", "text": m.text, "user": m.user, "ts": m.ts, "team": TEAM_ID}
        if m.user == self.bot_user:
            out |= {"bot_id": BOT_ID, "app_id": API_APP_ID}
        if m.blocks:
            out["blocks"] = m.blocks
        if m.broadcast:
            out["subtype"] = "thread_broadcast"
        if m.thread_ts is not None:
            parent = self.channels[m.channel].messages.get(m.thread_ts)
            out |= {"thread_ts": m.thread_ts, "parent_user_id": parent.user if parent else self.bot_user}
        replies = self.thread(m.channel, m.ts)
        if replies and not m.is_reply:
            users = list(dict.fromkeys(r.user for r in replies))
            out |= {
                "thread_ts": m.ts,
                "reply_count": len(replies),
                "reply_users": users,
                "reply_users_count": len(users),
                "latest_reply": replies[-1].ts,
            }
        if m.edited_ts is not None:
            out["edited"] = {"user": m.user, "ts": m.edited_ts}
        if with_metadata and m.metadata is not None:
            out["metadata"] = m.metadata
        return out

    # ------------------------------------------------------------------ Web API methods

    def _auth_test(self, p: Json) -> Json:
        return {
            "url": f"https://{TEAM_DOMAIN}.slack.com/",
            "team": "Handoff Test",
            "user": "handoff",
            "team_id": TEAM_ID,
            "user_id": self.bot_user,
            "bot_id": BOT_ID,
            "is_enterprise_install": False,
        }

    def _post_message(self, p: Json) -> Json:
        channel = self._writable(p.get("channel"))
        text, blocks = self._content(p, required=True)
        metadata = self._metadata(p)
        thread_ts = p.get("thread_ts") or None
        if thread_ts is not None:
            parent = channel.messages.get(str(thread_ts))
            if parent is None:
                raise SlackError("thread_not_found")
            thread_ts = parent.thread_ts or parent.ts  # a reply's ts means its thread
        message = Message(
            channel.id,
            self._ts(),
            self.bot_user,
            text or "",
            blocks or [],
            metadata,
            thread_ts=thread_ts,
            broadcast=bool(thread_ts) and _flag(p.get("reply_broadcast")),
        )
        channel.messages[message.ts] = message
        return {"channel": channel.id, "ts": message.ts, "message": self._json(message, with_metadata=True)}

    def _update(self, p: Json) -> Json:
        channel = self._channel(p.get("channel"))
        message = channel.messages.get(str(p.get("ts")))
        if message is None:
            raise SlackError("message_not_found")
        if message.user != self.bot_user:
            raise SlackError("cant_update_message")
        text, blocks = self._content(p, required=True)
        metadata = self._metadata(p)
        message.edits.append(
            {
                "text": message.text,
                "blocks": message.blocks,
                "metadata": message.metadata,
                "ts": message.edited_ts,
            }
        )
        # Slack keeps blocks left out of an update, drops them for `[]`, and keeps metadata only when
        # it is sent again.
        message.text = text if text is not None else message.text
        message.blocks = blocks if blocks is not None else message.blocks
        message.metadata = metadata
        message.edited_ts = self._ts()
        return {
            "channel": channel.id,
            "ts": message.ts,
            "text": message.text,
            "message": self._json(message, with_metadata=True),
        }

    def _post_ephemeral(self, p: Json) -> Json:
        channel = self._writable(p.get("channel"))
        user = str(p.get("user") or "")
        if user not in self.users:
            raise SlackError("user_not_found")
        if channel.members is not None and user not in channel.members:
            raise SlackError("user_not_in_channel")
        text, blocks = self._content(p, required=True)
        ephemeral = Ephemeral(channel.id, user, self._ts(), text or "", blocks or [], p.get("thread_ts"))
        self.ephemerals.append(ephemeral)
        return {"message_ts": ephemeral.ts}

    def _delete(self, p: Json) -> Json:
        channel = self._channel(p.get("channel"))
        message = channel.messages.get(str(p.get("ts")))
        if message is None:
            raise SlackError("message_not_found")
        if message.user != self.bot_user:
            raise SlackError("cant_delete_message")
        del channel.messages[message.ts]
        return {"channel": channel.id, "ts": message.ts}

    def _permalink(self, p: Json) -> Json:
        channel = self._channel(p.get("channel"))
        message = channel.messages.get(str(p.get("message_ts")))
        if message is None:
            raise SlackError("message_not_found")
        link = f"https://{TEAM_DOMAIN}.slack.com/archives/{channel.id}/p{message.ts.replace('.', '')}"
        if message.thread_ts:
            link += f"?thread_ts={message.thread_ts}&cid={channel.id}"
        return {"channel": channel.id, "permalink": link}

    def _open(self, p: Json) -> Json:
        users = [u for u in str(p.get("users") or "").split(",") if u]
        if len(users) != 1:
            raise _invalid_arguments("this fake opens DMs with exactly one user")
        user = self.users.get(users[0])
        if user is None or user["deleted"]:
            raise SlackError("user_not_found" if user is None else "user_disabled")
        if user["is_bot"]:
            raise SlackError("cannot_dm_bot")
        dm = self.dm_channel_of(users[0])
        existed = dm in self.channels
        channel = self.channels.setdefault(dm, Channel(dm, dm.lower(), is_im=True, user=users[0]))
        out: Json = {"channel": {"id": dm}}
        if existed:
            out |= {"no_op": True, "already_open": True}
        if _flag(p.get("return_im")):
            out["channel"] = self._conversation(channel)
        return out

    def _conversation(self, channel: Channel) -> Json:
        if channel.is_im:
            return {"id": channel.id, "created": int(self.now()), "is_im": True, "is_org_shared": False,
                    "user": channel.user, "is_user_deleted": False, "priority": 0}  # fmt: skip
        return {"id": channel.id, "name": channel.name, "is_channel": True, "is_group": False, "is_im": False,
                "is_private": channel.id.startswith("G"), "is_archived": channel.is_archived,
                "is_member": channel.is_member, "context_team_id": TEAM_ID}  # fmt: skip

    def _info(self, p: Json) -> Json:
        return {"channel": self._conversation(self._channel(p.get("channel")))}

    def _history(self, p: Json) -> Json:
        channel = self._readable(p.get("channel"))
        visible = [m for m in channel.messages.values() if not m.is_reply or m.broadcast]
        page = _page(_by_ts(visible)[::-1], p)
        return self._listing(page, p) | {"pin_count": 0}

    def _replies(self, p: Json) -> Json:
        channel = self._readable(p.get("channel"))
        first = channel.messages.get(str(p.get("ts")))
        if first is None:
            raise SlackError("thread_not_found")
        parent = channel.messages.get(first.thread_ts or first.ts, first)
        page = _page([parent, *self.thread(channel.id, parent.ts)], p)
        return self._listing(page, p)

    def _listing(self, page: tuple[list[Message], str | None], p: Json) -> Json:
        messages, cursor = page
        with_metadata = _flag(p.get("include_all_metadata"))
        out: Json = {"messages": [self._json(m, with_metadata=with_metadata) for m in messages]}
        out["has_more"] = cursor is not None
        if cursor is not None:
            out["response_metadata"] = {"next_cursor": cursor}
        return out

    def _user_info(self, p: Json) -> Json:
        user = self.users.get(str(p.get("user") or ""))
        if user is None:
            raise SlackError("user_not_found")
        return {"user": user}

    def _lookup_by_email(self, p: Json) -> Json:
        email = str(p.get("email") or "").lower()
        for user in self.users.values():
            if str(user["profile"].get("email", "")).lower() == email and not user["deleted"]:
                return {"user": user}
        raise SlackError("users_not_found")

    def _use_trigger(self, trigger_id: Any) -> None:
        if not trigger_id:
            raise _invalid_arguments("missing required field: trigger_id")
        trigger = str(trigger_id)
        if trigger in self._used_triggers and self.strict_triggers:
            raise SlackError("exchanged_trigger_id")
        expiry = self._triggers.pop(trigger, None)
        self._used_triggers.add(trigger)
        if expiry is None and self.strict_triggers:
            raise SlackError("invalid_trigger_id")
        if expiry is not None and self.now() > expiry:
            raise SlackError("expired_trigger_id")

    def _store_view(self, view: Any, *, view_id: str | None = None, **extra: Any) -> Json:
        if not isinstance(view, dict):
            raise _invalid_arguments("missing required field: view")
        problems = limits.view_problems(view)
        if problems:
            raise _invalid_arguments(*problems)
        view_id = view_id or f"V0{secrets.token_hex(5).upper()[:9]}"
        previous = self.views.get(view_id, {})
        stored: Json = {
            "id": view_id,
            "team_id": TEAM_ID,
            "type": view["type"],
            "blocks": view.get("blocks", []),
            "private_metadata": view.get("private_metadata", ""),
            "callback_id": view.get("callback_id", ""),
            "state": {"values": {}},
            "hash": f"{int(self.now())}.{secrets.token_hex(4)}",
            "title": view.get("title"),
            "clear_on_close": bool(view.get("clear_on_close", False)),
            "notify_on_close": bool(view.get("notify_on_close", False)),
            "close": view.get("close"),
            "submit": view.get("submit"),
            "previous_view_id": previous.get("previous_view_id"),
            "root_view_id": previous.get("root_view_id", view_id),
            "app_id": API_APP_ID,
            "external_id": view.get("external_id", ""),
            "app_installed_team_id": TEAM_ID,
            "bot_id": BOT_ID,
            **{k: v for k, v in previous.items() if k.startswith("_")},
            **extra,
        }
        self.views[view_id] = stored
        self.view_log.append(stored)
        return stored

    def _views_open(self, p: Json) -> Json:
        self._use_trigger(p.get("trigger_id"))
        return {"view": _public(self._store_view(p.get("view")))}

    def _views_push(self, p: Json) -> Json:
        self._use_trigger(p.get("trigger_id"))
        previous = self.view_log[-1]["id"] if self.view_log else None
        return {"view": _public(self._store_view(p.get("view"), previous_view_id=previous))}

    def _views_update(self, p: Json) -> Json:
        view_id = p.get("view_id")
        if not view_id and p.get("external_id"):
            view_id = next((k for k, v in self.views.items() if v["external_id"] == p["external_id"]), None)
        if not view_id or view_id not in self.views:
            raise SlackError("not_found")
        if p.get("hash") and p["hash"] != self.views[view_id]["hash"]:
            raise SlackError("hash_conflict")
        return {"view": _public(self._store_view(p.get("view"), view_id=str(view_id)))}

    def _views_publish(self, p: Json) -> Json:
        user = str(p.get("user_id") or "")
        if user not in self.users:
            raise SlackError("user_not_found")
        view = p.get("view")
        if isinstance(view, dict) and view.get("type") != "home":
            raise _invalid_arguments("views.publish takes a view of type home")
        home = self.home_of(user)
        if p.get("hash") and home is not None and p["hash"] != home["hash"]:
            raise SlackError("hash_conflict")
        stored = self._store_view(view, view_id=home["id"] if home else None, _user=user)
        return {"view": _public(stored)}


def _flag(value: Any) -> bool:
    return value is True or str(value).lower() in ("1", "true")


def _by_ts(messages: Iterable[Message]) -> list[Message]:
    return sorted(messages, key=lambda m: _ts_key(m.ts))


def _ts_key(ts: Any) -> tuple[int, int]:
    """A message timestamp as (seconds, sequence): floats lose the last digit of Slack's timestamps."""
    seconds, _, fraction = str(ts).partition(".")
    if not seconds.isdigit() or not (fraction.isdigit() or fraction == ""):
        raise SlackError("invalid_ts_oldest")
    return int(seconds), int(fraction.ljust(6, "0")[:6])


def _page(ordered: list[Message], p: Json) -> tuple[list[Message], str | None]:
    """`oldest`/`latest` (exclusive unless `inclusive`), `limit` and cursors shaped like Slack's."""
    inclusive = _flag(p.get("inclusive"))
    if p.get("oldest"):
        oldest = _ts_key(p["oldest"])
        ordered = [m for m in ordered if _ts_key(m.ts) > oldest or (inclusive and _ts_key(m.ts) == oldest)]
    if p.get("latest"):
        latest = _ts_key(p["latest"])
        ordered = [m for m in ordered if _ts_key(m.ts) < latest or (inclusive and _ts_key(m.ts) == latest)]
    if p.get("cursor"):
        try:
            after = base64.b64decode(str(p["cursor"])).decode().removeprefix("next_ts:")
        except ValueError:
            raise SlackError("invalid_cursor") from None
        index = next((i for i, m in enumerate(ordered) if m.ts.replace(".", "") == after), None)
        if index is None:
            raise SlackError("invalid_cursor")
        ordered = ordered[index:]
    try:
        limit = max(1, min(999, int(p.get("limit") or 100)))
    except ValueError:
        raise SlackError("invalid_limit") from None
    if len(ordered) <= limit:
        return ordered, None
    following = ordered[limit].ts.replace(".", "")
    return ordered[:limit], base64.b64encode(f"next_ts:{following}".encode()).decode()


def _public(view: Json) -> Json:
    return {k: v for k, v in view.items() if not k.startswith("_")}
