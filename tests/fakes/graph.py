"""A local fake of Microsoft Graph (v1.0) for what the bot reads: users by mail and presence.

Every request must carry a bearer token the fake Entra issued for the Graph scope, else 401 in Graph's
error shape. `throttle(status, retry_after)` makes the next requests fail like Graph throttling.
Use as `async with FakeGraph(check_token) as graph:` and point the client at `graph.url`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

Json = dict[str, Any]
_FILTER = re.compile(r"^(mail|userPrincipalName) eq '((?:[^']|'')*)'$")


@dataclass
class GraphCall:
    method: str
    path: str
    query: dict[str, str]
    body: Any
    status: int = 0


@dataclass
class FakeGraph:
    check_token: Callable[[str], bool]
    users: list[Json] = field(default_factory=list)
    presence: dict[str, str] = field(default_factory=dict)  # object id → availability
    teams: dict[str, dict[str, list[str]]] = field(default_factory=dict)  # group id → user id → roles
    calls: list[GraphCall] = field(default_factory=list)
    url: str = ""
    _faults: list[tuple[int, str | None]] = field(default_factory=list)
    _runner: web.AppRunner | None = None

    def add_user(self, object_id: str, name: str, mail: str, availability: str | None = None) -> None:
        self.users.append({"id": object_id, "displayName": name, "mail": mail, "userPrincipalName": mail})
        if availability is not None:
            self.presence[object_id] = availability

    def throttle(self, status: int = 429, retry_after: str | None = "1", times: int = 1) -> None:
        self._faults.extend([(status, retry_after)] * times)

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware])
        app.router.add_get("/v1.0/users", self._users)
        app.router.add_get("/v1.0/users/{id}", self._user)
        app.router.add_post("/v1.0/communications/getPresencesByUserId", self._presences)
        app.router.add_get("/v1.0/teams/{team}/members", self._members)
        return app

    @staticmethod
    def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> web.Response:
        return web.json_response(
            {"error": {"code": code, "message": message}}, status=status, headers=headers
        )

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        body = await request.json() if request.can_read_body else None
        call = GraphCall(request.method, request.path, dict(request.query), body)
        self.calls.append(call)
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or not self.check_token(auth[len("Bearer ") :]):
            response: web.StreamResponse = self._error(
                401, "InvalidAuthenticationToken", "Access token validation failure."
            )
        elif self._faults:
            status, retry_after = self._faults.pop(0)
            headers = {"Retry-After": retry_after} if retry_after is not None else {}
            response = self._error(
                status,
                "TooManyRequests" if status == 429 else "ServiceUnavailable",
                "Please retry again later.",
                headers,
            )
        else:
            response = await handler(request)
        call.status = response.status
        return response

    async def _users(self, request: web.Request) -> web.Response:
        clauses = request.query.get("$filter", "").split(" or ")
        wanted: list[tuple[str, str]] = []
        for clause in clauses:
            match = _FILTER.match(clause.strip())
            if match is None:
                return self._error(400, "BadRequest", "Invalid filter clause")
            wanted.append((match.group(1), match.group(2).replace("''", "'").lower()))
        found = [u for u in self.users if any(str(u.get(k) or "").lower() == v for k, v in wanted)]
        select = [s for s in request.query.get("$select", "").split(",") if s]
        value = [{k: u.get(k) for k in select} if select else u for u in found]
        return web.json_response(
            {"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users", "value": value}
        )

    async def _user(self, request: web.Request) -> web.Response:
        user = next((u for u in self.users if u["id"] == request.match_info["id"]), None)
        if user is None:
            return self._error(404, "Request_ResourceNotFound", "Resource does not exist.")
        select = [s for s in request.query.get("$select", "").split(",") if s]
        return web.json_response({k: user.get(k) for k in select} if select else user)

    async def _presences(self, request: web.Request) -> web.Response:
        body = await request.json()
        ids = body.get("ids") if isinstance(body, dict) else None
        if not isinstance(ids, list) or not ids or len(ids) > 650:
            return self._error(400, "BadRequest", "ids must hold 1 to 650 ids")
        value = [
            {"id": i, "availability": self.presence[i], "activity": self.presence[i]}
            for i in ids
            if i in self.presence
        ]
        return web.json_response({"value": value})

    async def _members(self, request: web.Request) -> web.Response:
        team = self.teams.get(request.match_info["team"])
        if team is None:
            return self._error(404, "NotFound", "No team found with Group Id")
        wanted = request.query.get("$filter", "")
        match = re.fullmatch(r"\(microsoft\.graph\.aadUserConversationMember/userId eq '([^']*)'\)", wanted)
        if wanted and match is None:
            return self._error(400, "BadRequest", "Invalid filter clause")
        members = [
            {
                "@odata.type": "#microsoft.graph.aadUserConversationMember",
                "id": f"member-{user}",
                "roles": roles,
                "userId": user,
                "displayName": next((u["displayName"] for u in self.users if u["id"] == user), user),
            }
            for user, roles in team.items()
            if match is None or match.group(1) == user
        ]
        return web.json_response({"value": members})

    async def __aenter__(self) -> FakeGraph:
        self._runner = web.AppRunner(self.app())
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        self.url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"  # type: ignore[attr-defined]
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
