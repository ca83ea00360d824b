"""Microsoft Graph, app-only: find colleagues by email and read their presence for the ask dialog.

Needs the application permissions User.Read.All and Presence.Read.All (admin consent). Throttling
(429, and 503/504 with Retry-After) is waited out when the wait is short, else reported: the dialog
then shows colleagues without presence rather than making someone wait.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp

from handoff_bot.config import Settings
from handoff_bot.platforms.teams.dialogs import Colleague
from handoff_bot.platforms.teams.presence import Presence, from_graph
from handoff_bot.platforms.teams.tokens import (
    DEFAULT_GRAPH_URL,
    DEFAULT_LOGIN_URL,
    AppCredentials,
    TokenError,
    TokenProvider,
    graph_scope,
)

log = logging.getLogger(__name__)

PRESENCE_BATCH = 650  # getPresencesByUserId takes at most 650 ids per request
RETRY_STATUSES = frozenset({429, 503, 504})
_GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
_EMAIL = re.compile(r"^[^\s'\"\\<>()\x00-\x1f@]{1,200}@[^\s'\"\\<>()\x00-\x1f@]{1,200}$")


class GraphError(Exception):
    """Graph refused the request or was unavailable; `status` is the HTTP status (0: no answer)."""

    def __init__(self, status: int, code: str, retry_after: float | None = None) -> None:
        super().__init__(f"graph {status} {code}")
        self.status, self.code, self.retry_after = status, code, retry_after


@dataclass(frozen=True)
class GraphUser:
    id: str  # Entra object id: what Teams calls aadObjectId and the people picker returns
    display_name: str
    mail: str | None
    user_principal_name: str | None


@dataclass(frozen=True)
class PresenceTarget:
    """A known colleague and, when they are on Teams, their Entra object id."""

    person_id: int
    name: str
    aad_object_id: str | None


def _retry_after(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


class GraphClient:
    def __init__(
        self,
        session: aiohttp.ClientSession,
        tokens: TokenProvider,
        base_url: str = DEFAULT_GRAPH_URL,
        *,
        max_wait: float = 3.0,
        attempts: int = 3,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._session, self._tokens = session, tokens
        self._base = base_url.rstrip("/") + "/v1.0"
        self._max_wait, self._attempts, self._sleep = max_wait, attempts, sleep

    async def _request(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        renewed = False
        for attempt in range(1, self._attempts + 1):
            token = await self._tokens.token()
            headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
            try:
                async with self._session.request(
                    method, self._base + path, headers=headers, **kwargs
                ) as resp:
                    if resp.status == 401 and not renewed:
                        # Revoked or rotated: one fresh token, then give up.
                        self._tokens.invalidate()
                        renewed = True
                        continue
                    if resp.status in RETRY_STATUSES:
                        wait = _retry_after(resp.headers.get("Retry-After"))
                        wait = 1.0 * attempt if wait is None else wait
                        if attempt < self._attempts and wait <= self._max_wait:
                            log.info("graph %s %s: %d, retrying in %.1fs", method, path, resp.status, wait)
                            await self._sleep(wait)
                            continue
                        raise GraphError(resp.status, "throttled", wait)
                    if resp.status >= 400:
                        raise GraphError(resp.status, await _error_code(resp))
                    body = await resp.json(content_type=None)
                    if not isinstance(body, dict):
                        raise GraphError(resp.status, "unexpected_body")
                    return body
            except aiohttp.ClientError as exc:
                raise GraphError(0, type(exc).__name__) from exc
        raise GraphError(401, "unauthorized")

    async def user_by_email(self, email: str) -> GraphUser | None:
        """The directory user whose mail (or sign-in name) is `email`, or None."""
        email = email.strip()
        if not _EMAIL.match(email):
            raise ValueError("not an email address")
        quoted = email.replace("'", "''")  # OData string literal; _EMAIL already refuses quotes
        body = await self._request(
            "GET",
            "/users",
            params={
                "$filter": f"mail eq '{quoted}' or userPrincipalName eq '{quoted}'",
                "$select": "id,displayName,mail,userPrincipalName",
                "$top": "2",
            },
        )
        users = [_user(u) for u in body.get("value") or [] if isinstance(u, dict) and u.get("id")]
        return users[0] if users else None

    async def user_by_id(self, aad_object_id: str) -> GraphUser | None:
        """The directory user with this Entra object id (e.g. picked in the people picker), or None."""
        if not _GUID.match(aad_object_id):
            return None
        try:
            body = await self._request(
                "GET", f"/users/{aad_object_id}", params={"$select": "id,displayName,mail,userPrincipalName"}
            )
        except GraphError as exc:
            if exc.status == 404:
                return None
            raise
        return _user(body) if body.get("id") else None

    async def presences(self, aad_object_ids: Sequence[str]) -> dict[str, Presence]:
        """Presence by Entra object id; ids Graph does not know are left out."""
        unique = list(dict.fromkeys(i for i in aad_object_ids if i))
        found: dict[str, Presence] = {}
        for start in range(0, len(unique), PRESENCE_BATCH):
            batch = unique[start : start + PRESENCE_BATCH]
            body = await self._request("POST", "/communications/getPresencesByUserId", json={"ids": batch})
            for item in body.get("value") or []:
                if isinstance(item, dict) and isinstance(item.get("id"), str):
                    found[item["id"]] = from_graph(item.get("availability"))
        return found

    async def is_owner(self, team_group_id: str, aad_object_id: str) -> bool:
        """Whether the user owns the team (TeamMember.Read.All); the team is its Microsoft 365 group id."""
        if not (_GUID.match(team_group_id) and _GUID.match(aad_object_id)):
            return False
        body = await self._request(
            "GET",
            f"/teams/{team_group_id}/members",
            params={"$filter": f"(microsoft.graph.aadUserConversationMember/userId eq '{aad_object_id}')"},
        )
        for member in body.get("value") or []:
            if not isinstance(member, dict) or member.get("userId") != aad_object_id:
                continue
            roles = member.get("roles")
            if isinstance(roles, list) and "owner" in roles:
                return True
        return False


def _user(data: dict[str, Any]) -> GraphUser:
    return GraphUser(
        id=str(data["id"]),
        display_name=str(data.get("displayName") or data.get("mail") or data["id"]),
        mail=data.get("mail") if isinstance(data.get("mail"), str) else None,
        user_principal_name=data.get("userPrincipalName")
        if isinstance(data.get("userPrincipalName"), str)
        else None,
    )


async def _error_code(resp: aiohttp.ClientResponse) -> str:
    with contextlib.suppress(aiohttp.ContentTypeError, ValueError, aiohttp.ClientError):
        body = await resp.json(content_type=None)
        if isinstance(body, dict) and isinstance(body.get("error"), dict):
            return str(body["error"].get("code") or "error")[:100]
    return "error"


async def colleagues_with_presence(
    graph: GraphClient | None, people: Sequence[PresenceTarget]
) -> list[Colleague]:
    """The ask dialog's list: everyone known, with Teams presence where Graph can tell.

    Graph being slow, throttled or not configured must not stop anyone asking: presence is then left out.
    """
    presence: dict[str, Presence] = {}
    ids = [p.aad_object_id for p in people if p.aad_object_id]
    if graph is not None and ids:
        try:
            presence = await graph.presences(ids)
        except (GraphError, TokenError) as exc:
            log.warning("presence unavailable for %d colleagues: %s", len(ids), exc)
    colleagues = [
        Colleague(
            p.person_id,
            p.name,
            presence.get(p.aad_object_id, Presence.UNKNOWN) if p.aad_object_id and presence else None,
        )
        for p in people
    ]
    # Who can answer now comes first; then by name.
    order = {
        Presence.AVAILABLE: 0,
        Presence.AWAY: 1,
        Presence.BUSY: 2,
        Presence.OFFLINE: 3,
        Presence.UNKNOWN: 4,
    }
    return sorted(
        colleagues, key=lambda c: (order.get(c.presence, 5) if c.presence else 5, c.name.casefold())
    )


@contextlib.asynccontextmanager
async def open_graph(
    credentials: AppCredentials,
    graph_url: str = DEFAULT_GRAPH_URL,
    *,
    verify: bool | str = True,
    request_timeout: float = 10.0,
) -> AsyncIterator[GraphClient]:
    """A Graph client with its own HTTP session and token provider, for a runtime's lifetime."""
    tokens = TokenProvider.for_app(
        credentials, graph_scope(graph_url), verify=verify, timeout=request_timeout
    )
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=request_timeout)) as session:
        yield GraphClient(session, tokens, graph_url)


def graph_credentials(settings: Settings) -> AppCredentials | None:
    """The bot's app registration as a Graph client, or None where Graph cannot be used.

    Graph is read in the organisation's own tenant, so it needs MICROSOFT_APP_TENANT_ID and a secret:
    anonymous mode and a managed identity without a secret get colleagues without presence.
    """
    if settings.teams_anonymous or not settings.microsoft_app_id or settings.microsoft_app_password is None:
        return None
    if not settings.microsoft_app_tenant_id:
        return None
    return AppCredentials(
        client_id=settings.microsoft_app_id,
        client_secret=settings.microsoft_app_password.get_secret_value(),
        tenant=settings.microsoft_app_tenant_id,
        login_url=settings.microsoft_login_url or DEFAULT_LOGIN_URL,
    )


@contextlib.asynccontextmanager
async def graph_from_settings(settings: Settings) -> AsyncIterator[GraphClient | None]:
    """For a runtime's cleanup_ctx: a Graph client when the settings allow one, else None."""
    credentials = graph_credentials(settings)
    if credentials is None:
        log.info("Microsoft Graph not used: presence and directory search by email are off")
        yield None
        return
    async with open_graph(credentials, settings.microsoft_graph_url or DEFAULT_GRAPH_URL) as graph:
        yield graph
