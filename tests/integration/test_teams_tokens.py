"""The bot's own token from a user-assigned managed identity, through the one msal module (tokens.py)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from handoff_bot.config import load_settings
from handoff_bot.platforms.teams.auth import AuthError, CachedCredentialsFactory, build_authentication

APP_ID = "3f1c2d4e-0000-4000-8000-00000000abcd"
TENANT = "50612dbb-0237-4969-b378-8d42590f9c00"
IDENTITY_HEADER = "local-identity-header"


class FakeIdentityEndpoint:
    """App Service's managed identity endpoint (what msal calls when IDENTITY_ENDPOINT is set)."""

    def __init__(self) -> None:
        self.requests: list[dict[str, str]] = []
        self.refuse = False

    async def token(self, request: web.Request) -> web.Response:
        self.requests.append({**request.query, "header": request.headers.get("X-IDENTITY-HEADER", "")})
        if self.refuse or request.headers.get("X-IDENTITY-HEADER") != IDENTITY_HEADER:
            return web.json_response({"statusCode": 400, "message": "no identity"}, status=400)
        return web.json_response(
            {
                "access_token": f"mi-token-for-{request.query.get('client_id')}",
                "expires_on": str(int(time.time()) + 3600),
                "resource": request.query.get("resource"),
                "token_type": "Bearer",
            }
        )


@asynccontextmanager
async def managed_identity_bot(
    fake: FakeIdentityEndpoint, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[CachedCredentialsFactory]:
    """A bot configured as a user-assigned managed identity on a host whose identity endpoint is `fake`."""
    app = web.Application()
    app.router.add_get("/msi/token", fake.token)
    async with TestServer(app) as server:
        # The server runs on this loop: a token request made on the loop would never be answered.
        monkeypatch.setenv("IDENTITY_ENDPOINT", str(server.make_url("/msi/token")))
        monkeypatch.setenv("IDENTITY_HEADER", IDENTITY_HEADER)
        settings = load_settings(
            microsoft_app_id=APP_ID, microsoft_app_type="UserAssignedMSI", microsoft_app_tenant_id=TENANT
        )
        yield build_authentication(settings)[1]


async def test_a_managed_identity_bot_gets_its_token_from_the_host_once_and_off_the_loop(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake = FakeIdentityEndpoint()
    async with managed_identity_bot(fake, monkeypatch) as credentials:
        tokens = await asyncio.wait_for(asyncio.gather(*(credentials.token() for _ in range(5))), 30)
        signed = await credentials.create_credentials(APP_ID, "https://api.botframework.com", "", True)

    assert set(tokens) == {f"mi-token-for-{APP_ID}"}
    assert signed.get_access_token() == tokens[0]
    assert len(fake.requests) == 1 and credentials.acquired == 1  # cached: one request for every caller
    # A managed identity names a resource (no "/.default") and which identity of the host.
    assert fake.requests[0]["resource"] == "https://api.botframework.com"
    assert fake.requests[0]["client_id"] == APP_ID


async def test_a_refused_managed_identity_is_an_auth_error_naming_the_code(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake = FakeIdentityEndpoint()
    fake.refuse = True
    async with managed_identity_bot(fake, monkeypatch) as credentials:
        with pytest.raises(AuthError, match="invalid_scope"):
            await asyncio.wait_for(credentials.token(), 30)
