"""A local fake Bot Connector service (the REST API behind `serviceUrl`), as botbuilder 4.17.1 calls it.

It keeps channel threads, 1:1 chats and their messages, records every activity sent, created, updated
and replied, returns ids shaped like Teams' (13-digit message ids, `19:…;messageid=…` threads,
`a:…` personal chats), checks the bearer token of every call, and injects throttling (429, 412, 502,
504 with Retry-After). See tests/fixtures/teams/botbuilder_4.17.1_outbound_requests_captured.json.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import secrets
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer

from tests.fakes.adaptive_cards import invalid_cards

Json = dict[str, Any]
THREAD_MARK = ";messageid="
WAIT_LIMIT = 30.0


@dataclass
class Recorded:
    """One call: kind is thread (new channel thread), create (1:1), send, reply, update or delete."""

    kind: str
    conversation_id: str
    activity_id: str | None
    activity: Json | None
    body: Json | None
    authorization: str | None
    at: float = field(default_factory=time.monotonic)  # when the fake accepted it (pacing checks)


@dataclass
class Message:
    conversation_id: str
    id: str
    activity: Json
    edits: list[Json] = field(default_factory=list)

    @property
    def text(self) -> str:
        return str(self.activity.get("text") or "")

    @property
    def card(self) -> Json | None:
        for attachment in self.activity.get("attachments") or []:
            if attachment.get("contentType") == "application/vnd.microsoft.card.adaptive":
                content: Json = attachment.get("content") or {}
                return content
        return None


@dataclass
class Fault:
    status: int
    times: int
    retry_after: str | None
    kind: str | None  # only calls of this kind, or any


@dataclass
class User:
    id: str  # 29:…
    aad_object_id: str
    name: str
    email: str | None
    installed: bool = True  # the app is installed for this user (personal scope or a shared team)


class FakeConnector:
    def __init__(self, *, token: str | None = "fake-bot-token", tenant: str = "tenant-1") -> None:
        # token None: anonymous mode, where the bot must send no Authorization header at all.
        self.check_token: Callable[[str | None], bool] = lambda header: (
            header is None if token is None else header == f"Bearer {token}"
        )
        self.tenant = tenant
        self.calls: list[Recorded] = []
        self.messages: dict[str, list[Message]] = {}  # conversation id → messages in order
        self.users: dict[str, User] = {}
        self.faults: list[Fault] = []
        self.late: list[tuple[str | None, float]] = []  # (kind or any, seconds)
        self.refused = 0  # calls refused for a bad token
        # Every card sent, created, replied or updated (and returned to an invoke, by the harness) is
        # checked against the Adaptive Cards 1.5 schema; the harnesses fail a test that sent a bad one.
        self.invalid_cards: list[str] = []
        self._ids = itertools.count(1767765488000)
        self.url = ""
        self.changed = asyncio.Condition()

    # ---------------------------------------------------------------- set-up

    def add_user(self, user_id: str, aad_object_id: str, name: str, email: str | None = None) -> User:
        user = User(user_id, aad_object_id, name, email)
        self.users[user_id] = user
        return user

    def fail_next(
        self, status: int, *, times: int = 1, retry_after: str | None = None, kind: str | None = None
    ) -> None:
        self.faults.append(Fault(status, times, retry_after, kind))

    def answer_late(self, seconds: float, *, kind: str | None = None) -> None:
        """The next call is accepted (and done) but answered only after `seconds`: a client timeout."""
        self.late.append((kind, seconds))

    # ---------------------------------------------------------------- reading

    def calls_of(self, kind: str) -> list[Recorded]:
        return [c for c in self.calls if c.kind == kind]

    def threads(self, channel_id: str) -> list[Message]:
        """The root message of every thread in a channel, oldest first."""
        return [
            m
            for cid, msgs in self.messages.items()
            if cid.startswith(channel_id + THREAD_MARK)
            for m in msgs
            if m.id == cid.partition(THREAD_MARK)[2]
        ]

    def thread(self, conversation_id: str) -> list[Message]:
        """The replies in a thread (not its root)."""
        root = conversation_id.partition(THREAD_MARK)[2]
        return [m for m in self.messages.get(conversation_id, []) if m.id != root]

    def chat_with(self, user_id: str) -> list[Message]:
        """Messages the bot sent in its 1:1 chat with a user (by 29: id or Entra object id)."""
        user = self.users.get(user_id) or next(
            (u for u in self.users.values() if u.aad_object_id == user_id), None
        )
        assert user is not None, f"unknown user {user_id}"
        return self.messages.get(self._personal_id(user), [])

    async def wait_for(self, predicate: Callable[[], bool]) -> None:
        async with self.changed:
            await asyncio.wait_for(self.changed.wait_for(predicate), WAIT_LIMIT)

    # ---------------------------------------------------------------- server

    @asynccontextmanager
    async def running(self) -> AsyncIterator[FakeConnector]:
        app = web.Application()
        app.router.add_post("/v3/conversations", self._create)
        app.router.add_post("/v3/conversations/{cid}/activities", self._send)
        app.router.add_post("/v3/conversations/{cid}/activities/{aid}", self._reply)
        app.router.add_put("/v3/conversations/{cid}/activities/{aid}", self._update)
        app.router.add_delete("/v3/conversations/{cid}/activities/{aid}", self._delete)
        app.router.add_get("/v3/conversations/{cid}/members/{uid}", self._member)
        server = TestServer(app, host="127.0.0.1")
        await server.start_server()
        self.url = str(server.make_url("/"))
        try:
            yield self
        finally:
            await server.close()

    async def _gate(
        self, request: web.Request, kind: str, body: Json | None = None
    ) -> tuple[Json | None, web.Response | None]:
        header = request.headers.get("Authorization")
        if not self.check_token(header):
            self.refused += 1
            return None, _error(401, "Unauthorized", "Authorization has been denied for this request.")
        for fault in self.faults:
            if fault.times > 0 and fault.kind in (None, kind):
                fault.times -= 1
                headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
                return None, _error(fault.status, "Throttled", "Too many requests", headers)
        if body is None and request.can_read_body:
            body = await request.json()
        self.invalid_cards += [f"{kind}: {problem}" for problem in invalid_cards(body)]
        return body, None

    async def _record(self, call: Recorded, message: Message | None = None) -> None:
        async with self.changed:
            self.calls.append(call)
            if message is not None:
                self.messages.setdefault(message.conversation_id, []).append(message)
            self.changed.notify_all()
        late = next((x for x in self.late if x[0] in (None, call.kind)), None)
        if late is not None:  # done, but the answer comes too late for the bot
            self.late.remove(late)
            await asyncio.sleep(late[1])

    def _new_id(self) -> str:
        return str(next(self._ids))

    def _personal_id(self, user: User) -> str:
        return f"a:1{user.aad_object_id.replace('-', '')}"

    async def _create(self, request: web.Request) -> web.Response:
        sent: Json = await request.json()
        channel = ((sent.get("channelData") or {}).get("channel") or {}).get("id")
        new_thread = bool(sent.get("isGroup") and channel)
        body, refused = await self._gate(request, "thread" if new_thread else "create", sent)
        if refused is not None:
            return refused
        assert body is not None
        header = request.headers.get("Authorization")
        if new_thread:
            root = self._new_id()
            conversation_id = f"{channel}{THREAD_MARK}{root}"
            activity = {**(body.get("activity") or {}), "id": root}
            await self._record(
                Recorded("thread", conversation_id, root, activity, body, header),
                Message(conversation_id, root, activity),
            )
            return web.json_response({"id": conversation_id, "activityId": root})
        tenant = ((body.get("channelData") or {}).get("tenant") or {}).get("id")
        if tenant != self.tenant:
            # Teams needs the tenant for a 1:1 chat (defect 5: it must travel in channelData).
            return _error(400, "BadArgument", "Tenant must be specified in channelData.")
        members = body.get("members") or []
        member = members[0].get("id") if len(members) == 1 else None
        user = self.users.get(member or "") or next(
            (u for u in self.users.values() if u.aad_object_id == member), None
        )
        if user is None:
            return _error(404, "NotFound", "User not found")
        if not user.installed:
            return _error(403, "Forbidden", "Bot is not installed in user's personal scope")
        conversation_id = self._personal_id(user)
        self.messages.setdefault(conversation_id, [])
        await self._record(Recorded("create", conversation_id, None, None, body, header))
        return web.json_response({"id": conversation_id})

    async def _send(self, request: web.Request) -> web.Response:
        return await self._post(request, "send", None)

    async def _reply(self, request: web.Request) -> web.Response:
        return await self._post(request, "reply", request.match_info["aid"])

    async def _post(self, request: web.Request, kind: str, reply_to: str | None) -> web.Response:
        body, refused = await self._gate(request, kind)
        if refused is not None:
            return refused
        assert body is not None
        conversation_id = request.match_info["cid"]
        if conversation_id not in self.messages and THREAD_MARK not in conversation_id:
            # A thread someone else started (the bot answers in it) is fine; an unknown chat is not.
            return _error(404, "ConversationNotFound", "Conversation not found.")
        activity_id = self._new_id()
        activity = {**body, "id": activity_id}
        await self._record(
            Recorded(
                kind, conversation_id, activity_id, activity, body, request.headers.get("Authorization")
            ),
            Message(conversation_id, activity_id, activity),
        )
        return web.json_response({"id": activity_id})

    def _find(self, conversation_id: str, activity_id: str) -> Message | None:
        return next((m for m in self.messages.get(conversation_id, []) if m.id == activity_id), None)

    async def _update(self, request: web.Request) -> web.Response:
        body, refused = await self._gate(request, "update")
        if refused is not None:
            return refused
        assert body is not None
        conversation_id, activity_id = request.match_info["cid"], request.match_info["aid"]
        message = self._find(conversation_id, activity_id)
        if message is None:
            return _error(404, "NotFound", "The message does not exist.")
        async with self.changed:
            message.edits.append(message.activity)
            message.activity = {**body, "id": activity_id}
            self.calls.append(
                Recorded(
                    "update", conversation_id, activity_id, body, body, request.headers.get("Authorization")
                )
            )
            self.changed.notify_all()
        return web.json_response({"id": activity_id})

    async def _delete(self, request: web.Request) -> web.Response:
        _, refused = await self._gate(request, "delete")
        if refused is not None:
            return refused
        conversation_id, activity_id = request.match_info["cid"], request.match_info["aid"]
        message = self._find(conversation_id, activity_id)
        if message is None:
            return _error(404, "NotFound", "The message does not exist.")
        self.messages[conversation_id].remove(message)
        await self._record(
            Recorded("delete", conversation_id, activity_id, None, None, request.headers.get("Authorization"))
        )
        return web.Response(status=200)

    async def _member(self, request: web.Request) -> web.Response:
        _, refused = await self._gate(request, "member")
        if refused is not None:
            return refused
        member = request.match_info["uid"]
        user = self.users.get(member) or next(
            (u for u in self.users.values() if u.aad_object_id == member), None
        )
        if user is None:
            return _error(404, "MemberNotFoundInConversation", "The member was not found.")
        return web.json_response(
            {
                "id": user.id,
                "name": user.name,
                "aadObjectId": user.aad_object_id,
                "email": user.email,
                "userPrincipalName": user.email,
                "tenantId": self.tenant,
                "userRole": "user",
            }
        )

    def dump(self) -> str:
        """Everything the fake holds, for assertion messages."""
        return json.dumps({cid: [m.activity for m in msgs] for cid, msgs in self.messages.items()}, indent=1)


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response(
        {"error": {"code": code, "message": message}}, status=status, headers=headers or {}
    )


def bot_id(app_id: str) -> str:
    return f"28:{app_id}"


def random_user_id() -> str:
    return "29:1" + secrets.token_urlsafe(40)
