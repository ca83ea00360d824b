"""A local fake of the Slack Web API: records every call, keeps channels, threads and DMs, injects faults.

slack_sdk's AsyncWebClient is pointed at it with `base_url`; it sends JSON bodies for write methods and
query strings for reads, with `Authorization: Bearer xoxb-…`, and reads `ok`/`error` and `Retry-After`.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web
from aiohttp.test_utils import TestServer

Json = dict[str, Any]
WAIT_LIMIT = 30.0  # seconds a test waits for another process before failing


@dataclass
class Call:
    method: str
    params: Json


@dataclass
class Fault:
    method: str
    times: int
    status: int = 200
    error: str | None = None
    retry_after: int | None = None


@dataclass
class Message:
    channel: str
    ts: str
    text: str
    blocks: list[Any]
    metadata: Json | None
    thread_ts: str | None
    user: str
    edits: list[Json] = field(default_factory=list)


class FakeSlack:
    def __init__(self, token: str = "xoxb-test-token", bot_user: str = "UBOT") -> None:
        self.token, self.bot_user = token, bot_user
        self.calls: list[Call] = []
        self.messages: dict[tuple[str, str], Message] = {}
        self.ephemerals: list[Json] = []
        self.views: list[Json] = []
        self.users: dict[str, Json] = {}
        self.channels: set[str] = set()
        self.faults: list[Fault] = []
        self._seq = itertools.count(1)
        self.url = ""
        self.changed = asyncio.Condition()

    # ---------------------------------------------------------------- set-up

    def add_channel(self, channel: str) -> None:
        self.channels.add(channel)

    def add_user(self, user_id: str, name: str, email: str | None) -> None:
        profile = {"real_name": name, "display_name": name, **({"email": email} if email else {})}
        self.users[user_id] = {
            "id": user_id,
            "name": name.lower(),
            "real_name": name,
            "tz": "Europe/Amsterdam",
            "profile": profile,
        }

    def fail_next(
        self,
        method: str,
        times: int = 1,
        *,
        status: int = 200,
        error: str | None = None,
        retry_after: int | None = None,
    ) -> None:
        self.faults.append(Fault(method, times, status, error, retry_after))

    # ---------------------------------------------------------------- queries

    def calls_to(self, method: str) -> list[Json]:
        return [c.params for c in self.calls if c.method == method]

    def top_level(self, channel: str) -> list[Message]:
        return sorted(
            (m for m in self.messages.values() if m.channel == channel and m.thread_ts is None),
            key=lambda m: m.ts,
        )

    def thread(self, channel: str, ts: str) -> list[Message]:
        return sorted(
            (m for m in self.messages.values() if m.channel == channel and m.thread_ts == ts),
            key=lambda m: m.ts,
        )

    def dm_channel_of(self, user: str) -> str:
        return f"D{user}"

    def all_text(self) -> str:
        return json.dumps([[m.text, m.blocks] for m in self.messages.values()], ensure_ascii=False)

    async def wait_for(self, channel: str, count: int) -> list[Message]:
        """Top-level messages in `channel` once there are `count` of them (for tests of other processes)."""
        async with asyncio.timeout(WAIT_LIMIT), self.changed:
            await self.changed.wait_for(lambda: len(self.top_level(channel)) >= count)
        return self.top_level(channel)

    # ---------------------------------------------------------------- server

    @asynccontextmanager
    async def running(self) -> AsyncIterator[FakeSlack]:
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._handle)
        server = TestServer(app, host="127.0.0.1")
        await server.start_server()
        self.url = str(server.make_url("/api/"))
        try:
            yield self
        finally:
            await server.close()

    async def _params(self, request: web.Request) -> Json:
        params: Json = dict(request.query)
        if request.can_read_body:
            raw = await request.text()
            if request.content_type == "application/json" and raw:
                params.update(json.loads(raw))
            elif raw:
                params.update(dict(parse_qsl(raw)))
        for key in ("blocks", "metadata", "view"):
            if isinstance(params.get(key), str):
                params[key] = json.loads(params[key])
        return params

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params = await self._params(request)
        self.calls.append(Call(method, params))
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return web.json_response({"ok": False, "error": "invalid_auth"})
        for fault in self.faults:
            if fault.method == method and fault.times > 0:
                fault.times -= 1
                headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else None
                body = {
                    "ok": False,
                    "error": fault.error or ("ratelimited" if fault.status == 429 else "fatal_error"),
                }
                return web.json_response(body, status=fault.status, headers=headers)
        handler = getattr(self, "m_" + method.replace(".", "_"), None)
        if handler is None:
            return web.json_response({"ok": False, "error": "unknown_method"})
        result: Json = handler(params)
        async with self.changed:
            self.changed.notify_all()
        return web.json_response({"ok": True, **result} if "error" not in result else {"ok": False, **result})

    def _ts(self) -> str:
        return f"{int(time.time())}.{next(self._seq):06d}"

    # ---------------------------------------------------------------- methods

    def m_auth_test(self, p: Json) -> Json:
        return {
            "user_id": self.bot_user,
            "bot_id": "BBOT",
            "team_id": "T1",
            "team": "Bakkerij",
            "user": "handoff",
        }

    def m_chat_postMessage(self, p: Json) -> Json:
        channel = str(p.get("channel", ""))
        if channel not in self.channels and not channel.startswith("D"):
            return {"error": "channel_not_found"}
        thread_ts = p.get("thread_ts")
        if thread_ts is not None and (channel, thread_ts) not in self.messages:
            return {"error": "thread_not_found"}
        blocks = p.get("blocks") or []
        if len(blocks) > 50:
            return {"error": "invalid_blocks"}
        ts = self._ts()
        message = Message(
            channel, ts, str(p.get("text", "")), blocks, p.get("metadata"), thread_ts, self.bot_user
        )
        self.messages[(channel, ts)] = message
        return {"channel": channel, "ts": ts, "message": {"text": message.text, "ts": ts}}

    def m_chat_update(self, p: Json) -> Json:
        channel = str(p.get("channel", ""))
        if channel not in self.channels and not channel.startswith("D"):
            return {"error": "channel_not_found"}  # e.g. a Teams conversation id sent to Slack
        message = self.messages.get((channel, str(p.get("ts"))))
        if message is None:
            return {"error": "message_not_found"}
        message.edits.append({"text": message.text, "blocks": message.blocks})
        message.text, message.blocks = str(p.get("text", "")), p.get("blocks") or []
        message.metadata = p.get("metadata") or message.metadata
        return {"channel": message.channel, "ts": message.ts}

    def m_chat_postEphemeral(self, p: Json) -> Json:
        self.ephemerals.append(p)
        return {"message_ts": self._ts()}

    def m_conversations_open(self, p: Json) -> Json:
        user = str(p.get("users", ""))
        if user not in self.users:
            return {"error": "user_not_found"}
        return {"channel": {"id": self.dm_channel_of(user)}}

    def _listing(self, messages: list[Message], p: Json) -> Json:
        with_metadata = str(p.get("include_all_metadata", "")).lower() in ("1", "true")
        out = []
        for m in messages:
            item: Json = {"type": "message", "ts": m.ts, "text": m.text, "user": m.user}
            if m.thread_ts:
                item["thread_ts"] = m.thread_ts
            if with_metadata and m.metadata:
                item["metadata"] = m.metadata
            out.append(item)
        return {"messages": out[: int(p.get("limit", 100))], "has_more": False}

    def m_conversations_history(self, p: Json) -> Json:
        return self._listing(list(reversed(self.top_level(str(p.get("channel"))))), p)

    def m_conversations_replies(self, p: Json) -> Json:
        channel, ts = str(p.get("channel")), str(p.get("ts"))
        parent = self.messages.get((channel, ts))
        return self._listing(([parent] if parent else []) + self.thread(channel, ts), p)

    def m_chat_getPermalink(self, p: Json) -> Json:
        channel, ts = str(p.get("channel")), str(p.get("message_ts"))
        if (channel, ts) not in self.messages:
            return {"error": "message_not_found"}
        return {
            "channel": channel,
            "permalink": f"https://bakkerij.slack.com/archives/{channel}/p{ts.replace('.', '')}",
        }

    def m_users_info(self, p: Json) -> Json:
        user = self.users.get(str(p.get("user")))
        return {"user": user} if user else {"error": "user_not_found"}

    def m_views_open(self, p: Json) -> Json:
        self.views.append(p["view"])
        return {"view": {"id": f"V{next(self._seq)}", **p["view"]}}

    def m_views_publish(self, p: Json) -> Json:
        self.views.append(p["view"])
        return {"view": {"id": f"V{next(self._seq)}", **p["view"]}}
