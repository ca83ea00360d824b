"""Settings → Bot Framework authentication, and outbound bot tokens cached across turns (defect 3).

botbuilder 4.17.1 builds new `MicrosoftAppCredentials` with an empty msal cache on every turn, so each
turn asks Entra for a token, with blocking msal inside msrest, on the event loop. Here tokens are
acquired (and refreshed before they expire) in a worker thread, and botbuilder is handed credentials
that only read the cached token.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import jwt
import requests
from botbuilder.integration.aiohttp import ConfigurationBotFrameworkAuthentication
from botbuilder.schema import Activity
from botframework.connector.aio import ConnectorClient
from botframework.connector.auth import (
    AppCredentials,
    AuthenticateRequestResult,
    AuthenticationConstants,
    BotFrameworkAuthentication,
    ClaimsIdentity,
    ConnectorFactory,
    MicrosoftAppCredentials,
    ServiceClientCredentialsFactory,
    UserTokenClient,
)
from botframework.connector.auth.jwt_token_extractor import JwtTokenExtractor
from botframework.connector.skills import BotFrameworkClient

from handoff_bot.config import Settings
from handoff_bot.platforms.teams import tokens
from handoff_bot.platforms.teams.tokens import DEFAULT_GRAPH_URL, DEFAULT_LOGIN_URL, TokenError, TokenSource

log = logging.getLogger(__name__)

BOT_SCOPE = AuthenticationConstants.TO_CHANNEL_FROM_BOT_OAUTH_SCOPE  # https://api.botframework.com
MULTI_TENANT_AUTHORITY_TENANT = AuthenticationConstants.DEFAULT_CHANNEL_AUTH_TENANT  # botframework.com
REFRESH_MARGIN = 300.0  # seconds before expiry at which a token is renewed
CONNECTOR_TIMEOUT = 30.0  # seconds for one Bot Connector request
METADATA_MAX_AGE = 23 * 3600.0  # the SDK refetches after 24 h with a blocking call; we do it first


class AuthError(Exception):
    """The bot could not get its own token (bad secret, unknown tenant, authority unreachable)."""


@dataclass(frozen=True)
class Endpoints:
    """Where tokens come from and are checked; unset settings mean Microsoft's public cloud."""

    openid_metadata_url: str
    token_issuer: str
    login_url: str  # the authority base, without tenant
    graph_url: str
    overridden_login: bool

    @classmethod
    def of(cls, settings: Settings) -> Endpoints:
        return cls(
            openid_metadata_url=settings.microsoft_openid_metadata_url
            or AuthenticationConstants.TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL,
            token_issuer=settings.microsoft_token_issuer
            or AuthenticationConstants.TO_BOT_FROM_CHANNEL_TOKEN_ISSUER,
            login_url=(settings.microsoft_login_url or DEFAULT_LOGIN_URL).rstrip("/"),
            graph_url=(settings.microsoft_graph_url or DEFAULT_GRAPH_URL).rstrip("/"),
            overridden_login=settings.microsoft_login_url is not None,
        )

    @staticmethod
    def tenant(settings: Settings) -> str:
        """The authority tenant of the bot's own token: its own, or botframework.com for multi-tenant."""
        if settings.microsoft_app_type == "MultiTenant":
            return str(MULTI_TENANT_AUTHORITY_TENANT)
        return settings.microsoft_app_tenant_id or str(MULTI_TENANT_AUTHORITY_TENANT)

    def authority(self, settings: Settings) -> str:
        return f"{self.login_url}/{self.tenant(settings)}"


def bot_token_source(settings: Settings, endpoints: Endpoints) -> tokens.MsalClientCredentials:
    """msal for the bot's own Bot Framework token, from the same settings botbuilder is given."""
    managed = settings.microsoft_app_type == "UserAssignedMSI"
    secret = settings.microsoft_app_password
    assert managed or secret is not None, "platform_status requires MICROSOFT_APP_PASSWORD"
    return tokens.MsalClientCredentials(
        tokens.AppCredentials(
            client_id=settings.microsoft_app_id or "",
            client_secret=secret.get_secret_value() if secret is not None else "",
            tenant=endpoints.tenant(settings),
            login_url=endpoints.login_url,
            managed_identity=managed,
        )
    )


class _CachedCredentials(AppCredentials):  # type: ignore[misc]
    """What msrest signs requests with: reads the cache, never makes a network call."""

    def __init__(self, app_id: str, scope: str, token: Callable[[], str]) -> None:
        super().__init__(app_id=app_id, oauth_scope=scope)
        self._token = token

    def get_access_token(self, force_refresh: bool = False) -> str:
        return self._token()


class CachedCredentialsFactory(ServiceClientCredentialsFactory):  # type: ignore[misc]
    """One token per (app id, scope, authority), renewed in a thread shortly before it expires."""

    def __init__(
        self, app_id: str, source: TokenSource | None, *, clock: Callable[[], float] = time.monotonic
    ):
        self.app_id, self.source, self.clock = app_id, source, clock
        self._providers: dict[tuple[str, str, str], tokens.TokenProvider] = {}

    @property
    def acquired(self) -> int:
        """How many real token requests were made (tests and metrics)."""
        return sum(p.acquired for p in self._providers.values())

    async def is_valid_app_id(self, app_id: str) -> bool:
        return bool(app_id) and app_id == self.app_id

    async def is_authentication_disabled(self) -> bool:
        return not self.app_id

    async def create_credentials(
        self, app_id: str, oauth_scope: str, login_endpoint: str, validate_authority: bool
    ) -> Any:
        if not self.app_id:
            return MicrosoftAppCredentials.empty()
        if app_id != self.app_id:
            raise PermissionError("credentials were asked for another app id")
        scope = oauth_scope or BOT_SCOPE
        key = (app_id, scope, login_endpoint or "")
        value = await self._token(key)
        provider = self._providers[key]
        return _CachedCredentials(app_id, scope, lambda: provider.current or value)

    async def token(self, scope: str = BOT_SCOPE, authority: str = "") -> str:
        """The bot's own token for `scope` (also used outside botbuilder)."""
        return await self._token((self.app_id, scope, authority))

    async def _token(self, key: tuple[str, str, str]) -> str:
        if self.source is None:
            raise AuthError("no token source configured")
        provider = self._providers.get(key)
        if provider is None:
            provider = tokens.TokenProvider(
                self.source, key[1], refresh_before=REFRESH_MARGIN, now=self.clock
            )
            self._providers[key] = provider
        try:
            return await provider.token()
        except AuthError:
            raise
        except TokenError as exc:
            # The error code only: a description may quote the request.
            raise AuthError(f"token request for {key[1]} failed: {exc.code}") from exc
        except Exception as exc:
            raise AuthError(f"token request for {key[1]} failed: {type(exc).__name__}") from exc


def bot_configuration(settings: Settings, endpoints: Endpoints) -> SimpleNamespace:
    """The configuration object ConfigurationBotFrameworkAuthentication reads its attributes from."""
    return SimpleNamespace(
        APP_ID=settings.microsoft_app_id or "",
        APP_PASSWORD=(
            settings.microsoft_app_password.get_secret_value() if settings.microsoft_app_password else ""
        ),
        APP_TYPE=settings.microsoft_app_type,
        APP_TENANTID=settings.microsoft_app_tenant_id or "",
        # Always the parameterised path, so production and the tests run the same validation code.
        TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL=endpoints.openid_metadata_url,
        TO_BOT_FROM_CHANNEL_TOKEN_ISSUER=endpoints.token_issuer,
        TO_CHANNEL_FROM_BOT_LOGIN_URL=endpoints.authority(settings),
        TO_CHANNEL_FROM_BOT_OAUTH_SCOPE=BOT_SCOPE,
        TO_BOT_FROM_EMULATOR_OPENID_METADATA_URL=AuthenticationConstants.TO_BOT_FROM_EMULATOR_OPENID_METADATA_URL,
        VALIDATE_AUTHORITY=not endpoints.overridden_login,
    )


class _NoRetryConnectorFactory(ConnectorFactory):  # type: ignore[misc]
    """Connector clients without msrest's own retries: the outbox retries, honouring Retry-After."""

    def __init__(self, inner: ConnectorFactory) -> None:
        self._inner = inner

    async def create(self, service_url: str, audience: str | None = None) -> ConnectorClient:
        client = await self._inner.create(service_url, audience)
        client.config.retry_policy.retries = 0
        # msrest waits 100 s by default, longer than an outbox lease: give up well before that.
        client.config.connection.timeout = CONNECTOR_TIMEOUT
        return client


class HandoffAuthentication(BotFrameworkAuthentication):  # type: ignore[misc]
    """Delegates to the SDK; keeps the OpenID metadata fresh off the loop (defect 6) and drops retries."""

    def __init__(self, inner: BotFrameworkAuthentication, metadata_url: str, *, anonymous: bool) -> None:
        self._inner, self.metadata_url, self.anonymous = inner, metadata_url, anonymous

    async def authenticate_request(
        self, activity: Activity, auth_header: str | None
    ) -> AuthenticateRequestResult:
        if auth_header:
            await self.warm_metadata(auth_header)
        result = await self._inner.authenticate_request(activity, auth_header)
        if result.connector_factory is not None:
            result.connector_factory = _NoRetryConnectorFactory(result.connector_factory)
        return result

    async def authenticate_streaming_request(self, auth_header: str, channel_id_header: str) -> Any:
        raise PermissionError("streaming connections are not supported")

    def create_connector_factory(self, claims_identity: ClaimsIdentity) -> ConnectorFactory:
        return _NoRetryConnectorFactory(self._inner.create_connector_factory(claims_identity))

    async def create_user_token_client(self, claims_identity: ClaimsIdentity) -> UserTokenClient:
        return await self._inner.create_user_token_client(claims_identity)

    def create_bot_framework_client(self) -> BotFrameworkClient:
        return self._inner.create_bot_framework_client()

    def get_originating_audience(self) -> str:
        return str(self._inner.get_originating_audience())

    async def authenticate_channel_request(self, auth_header: str) -> ClaimsIdentity:
        return await self._inner.authenticate_channel_request(auth_header)

    async def warm_metadata(self, auth_header: str) -> None:
        """Fetch the signing keys in a thread when the SDK would otherwise fetch them on the loop."""
        metadata = JwtTokenExtractor.get_open_id_metadata(self.metadata_url)
        age = (_now_naive() - metadata.last_updated).total_seconds()
        stale = age > METADATA_MAX_AGE
        if not stale and age > 3600:
            # An unknown key id makes the SDK refresh (at most hourly), also blocking.
            kid = _key_id(auth_header)
            stale = kid is not None and not any(k.get("kid") == kid for k in metadata.keys)
        if stale and not await asyncio.to_thread(_refresh_metadata, metadata) and age > 24 * 3600:
            # The SDK would now try again itself, blocking the loop: refuse here instead.
            raise requests.ConnectionError(f"OpenID metadata unavailable at {self.metadata_url}")


def _now_naive() -> Any:
    from datetime import datetime

    return datetime.now()  # the SDK compares naive local times


def _key_id(auth_header: str) -> str | None:
    try:
        kid = jwt.get_unverified_header(auth_header.partition(" ")[2]).get("kid")
    except jwt.PyJWTError:
        return None
    return str(kid) if kid else None


def _refresh_metadata(metadata: Any) -> bool:
    """The same two requests as the SDK's `_OpenIdMetadata._refresh`, made synchronously in a thread."""
    try:
        response = requests.get(metadata.url, timeout=10)
        response.raise_for_status()
        keys = requests.get(response.json()["jwks_uri"], timeout=10)
        keys.raise_for_status()
        found = keys.json()["keys"]
    except (requests.RequestException, KeyError, ValueError) as exc:
        # Leave the cache as it is: validation then fails (401) rather than the request (500).
        log.warning("teams: cannot fetch OpenID metadata from %s: %s", metadata.url, type(exc).__name__)
        return False
    metadata.keys = found
    metadata.last_updated = _now_naive()
    return True


def build_authentication(
    settings: Settings, source: TokenSource | None = None
) -> tuple[HandoffAuthentication, CachedCredentialsFactory]:
    """The adapter's authentication and the credentials cache, from settings; loud in anonymous mode."""
    endpoints = Endpoints.of(settings)
    anonymous = settings.teams_anonymous
    if anonymous:
        log.warning(
            "teams: MICROSOFT_APP_ID is empty: ANONYMOUS MODE. Requests to /api/messages are NOT "
            "authenticated and replies are sent without a token. Use this for local testing only."
        )
    elif source is None:
        source = bot_token_source(settings, endpoints)
    credentials = CachedCredentialsFactory(settings.microsoft_app_id or "", source)
    inner = ConfigurationBotFrameworkAuthentication(
        bot_configuration(settings, endpoints), credentials_factory=credentials
    )
    return HandoffAuthentication(inner, endpoints.openid_metadata_url, anonymous=anonymous), credentials
