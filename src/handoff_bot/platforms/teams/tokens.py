"""App-only tokens from Entra ID with msal, for Microsoft Graph and the bot's own Bot Framework calls.

The one msal module: client credentials (app id + secret) or a user-assigned managed identity.

msal is synchronous (requests): every msal call, including building the application (which fetches
the authority's OpenID configuration), runs in a worker thread, never on the event loop. A token is
reused until shortly before it expires; concurrent callers share one request.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import msal
import requests

log = logging.getLogger(__name__)

DEFAULT_LOGIN_URL = "https://login.microsoftonline.com"
DEFAULT_GRAPH_URL = "https://graph.microsoft.com"
BOT_FRAMEWORK_SCOPE = "https://api.botframework.com/.default"
BOT_FRAMEWORK_TENANT = "botframework.com"  # the authority tenant of multi-tenant bots
REFRESH_BEFORE = 300.0  # seconds before expiry a token is renewed


def graph_scope(graph_url: str = DEFAULT_GRAPH_URL) -> str:
    """The application-permission scope for a Graph endpoint (sovereign clouds have their own host)."""
    return graph_url.rstrip("/") + "/.default"


class TokenError(Exception):
    """Entra refused or could not be reached; carries the error code, never the secret."""

    def __init__(self, code: str, description: str = "") -> None:
        super().__init__(f"{code}: {description}" if description else code)
        self.code = code
        self.description = description


class TokenSource(Protocol):
    """Gets a fresh token for one scope. Synchronous (msal is): always called in a worker thread."""

    def acquire(self, scope: str) -> tuple[str, float]:
        """(access token, seconds until it expires)."""
        ...


class StaticTokenSource:
    """A fixed token (tests that do not exercise token acquisition)."""

    def __init__(self, token: str, expires_in: float = 3600.0) -> None:
        self.token, self.expires_in, self.calls = token, expires_in, 0

    def acquire(self, scope: str) -> tuple[str, float]:
        self.calls += 1
        return self.token, self.expires_in


@dataclass(frozen=True)
class AppCredentials:
    client_id: str
    client_secret: str = field(repr=False)  # empty for a managed identity
    tenant: str
    login_url: str = DEFAULT_LOGIN_URL
    # MICROSOFT_APP_TYPE=UserAssignedMSI: the host's identity gives the token, no secret, no authority.
    managed_identity: bool = False

    @property
    def authority(self) -> str:
        return f"{self.login_url.rstrip('/')}/{self.tenant}"

    @property
    def overridden(self) -> bool:
        """A sovereign cloud or a test authority: not one msal can check against Microsoft's list."""
        return self.login_url.rstrip("/") != DEFAULT_LOGIN_URL


class MsalClientCredentials:
    """The synchronous part: one msal application for one app registration, any number of scopes.

    `acquire(scope)` does blocking HTTP: call it in a worker thread (TokenProvider and the adapter's
    `auth.CachedCredentialsFactory` do); it is the TokenSource of both Graph and the bot's own token.
    The msal application is built on first use, in that thread (building it fetches the authority's
    OpenID configuration).
    """

    def __init__(
        self, credentials: AppCredentials, *, verify: bool | str = True, timeout: float = 10.0
    ) -> None:
        # verify: True, or a CA bundle path (an authority with a private CA, e.g. the tests' fake Entra).
        self.credentials, self._verify, self._timeout = credentials, verify, timeout
        self._app: msal.ConfidentialClientApplication | msal.ManagedIdentityClient | None = None
        self._building = threading.Lock()

    def acquire(self, scope: str) -> tuple[str, float]:
        """(access token, seconds until it expires); TokenError when Entra says no or cannot be reached."""
        # Bot Framework names its scope without the suffix client credentials need.
        scope = scope if scope.endswith("/.default") else f"{scope.rstrip('/')}/.default"
        result = self._result(scope)
        token = result.get("access_token")
        if not isinstance(token, str) or not token:
            code = str(result.get("error") or "no_token")
            # The description names the app and tenant at most; msal never echoes the secret.
            raise TokenError(code, str(result.get("error_description") or "").splitlines()[0][:300])
        expires_in = result.get("expires_in")
        lifetime = float(expires_in) if isinstance(expires_in, int | float | str) else 3600.0
        log.info(
            "token for client %s scope %s from %s, valid %ds",
            self.credentials.client_id,
            scope,
            result.get("token_source", "identity_provider"),
            int(lifetime),
        )
        return token, lifetime

    def reset(self) -> None:
        """Drop msal's application and cache: the next acquire asks Entra afresh."""
        with self._building:
            self._app = None

    def _result(self, scope: str) -> dict[str, Any]:
        try:
            with self._building:
                if self._app is None:
                    self._app = self._build()
                app = self._app
            if isinstance(app, msal.ManagedIdentityClient):
                # Managed identities name a resource, not a scope.
                result = app.acquire_token_for_client(resource=scope.removesuffix("/.default"))
            else:
                result = app.acquire_token_for_client(scopes=[scope])
        except ValueError as exc:  # msal: authority unreachable or its discovery document is wrong
            raise TokenError("authority_unavailable", str(exc).splitlines()[0][:300]) from exc
        except OSError as exc:  # requests' ConnectionError and timeouts are OSErrors
            raise TokenError("authority_unreachable", type(exc).__name__) from exc
        except msal.exceptions.MsalError as exc:  # e.g. a 5xx from the authority
            raise TokenError("authority_error", str(exc).splitlines()[0][:300]) from exc
        return dict(result or {})

    def _build(self) -> msal.ConfidentialClientApplication | msal.ManagedIdentityClient:
        c = self.credentials
        if c.managed_identity:
            return msal.ManagedIdentityClient(
                msal.UserAssignedManagedIdentity(client_id=c.client_id), http_client=self._http_client()
            )
        overridden = c.overridden
        return msal.ConfidentialClientApplication(
            c.client_id,
            client_credential=c.client_secret,
            authority=c.authority,
            # Instance discovery asks login.microsoftonline.com whether the host is known: wrong for a
            # sovereign cloud we were told about, and impossible for a local test authority.
            validate_authority=not overridden,
            instance_discovery=False if overridden else None,
            http_client=self._http_client(),
            token_cache=msal.TokenCache(),
        )

    def _http_client(self) -> requests.Session:
        """requests lets REQUESTS_CA_BUNDLE override a session's `verify`; only a per-request one wins."""
        session = requests.Session()
        options: dict[str, Any] = {"timeout": self._timeout}
        if self._verify is not True:
            options["verify"] = self._verify
        session.request = functools.partial(session.request, **options)  # type: ignore[method-assign]
        return session


class TokenProvider:
    """Bearer tokens for one scope, for async code: the source runs in a worker thread, one request at a
    time, and a token is reused until shortly before it expires."""

    def __init__(
        self,
        source: TokenSource,
        scope: str,
        *,
        refresh_before: float = REFRESH_BEFORE,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        self.source, self.scope = source, scope
        self._refresh_before, self._now = refresh_before, now
        self._token: str | None = None
        self._expires_at = 0.0
        self._lock = asyncio.Lock()
        self.acquired = 0  # real token requests made (tests and metrics)

    @classmethod
    def for_app(
        cls,
        credentials: AppCredentials,
        scope: str,
        *,
        refresh_before: float = REFRESH_BEFORE,
        verify: bool | str = True,
        timeout: float = 10.0,
        now: Callable[[], float] = time.monotonic,
    ) -> TokenProvider:
        """Tokens of one app registration, with msal."""
        source = MsalClientCredentials(credentials, verify=verify, timeout=timeout)
        return cls(source, scope, refresh_before=refresh_before, now=now)

    def _fresh(self) -> bool:
        return self._token is not None and self._now() < self._expires_at - self._refresh_before

    @property
    def current(self) -> str | None:
        """The cached token while it is still valid (for synchronous callers that must not fetch)."""
        return self._token if self._token is not None and self._now() < self._expires_at else None

    async def token(self) -> str:
        """A valid token: the cached one, or one fetched (in a thread) by the first caller to need it."""
        if self._fresh():
            assert self._token is not None
            return self._token
        async with self._lock:
            if not self._fresh():
                token, lifetime = await asyncio.to_thread(self.source.acquire, self.scope)
                self._token, self._expires_at = token, self._now() + lifetime
                self.acquired += 1
            assert self._token is not None
            return self._token

    def invalidate(self) -> None:
        """Forget the token (after a 401): the next call fetches a new one, past msal's cache too."""
        self._token, self._expires_at = None, 0.0
        if isinstance(self.source, MsalClientCredentials):
            self.source.reset()
