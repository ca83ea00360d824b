"""A local fake Entra ID login authority: tenant OpenID configuration and the client-credentials token
endpoint, over real TLS (msal accepts only https authorities).

msal talks to it exactly as to login.microsoftonline.com with `authority=f"{fake.url}/{tenant}"`,
`instance_discovery=False` and `verify=fake.ca_file`. It issues random opaque tokens, remembers which
client and scope each is for (`fake.valid(token, scope)` for the fake Graph or Bot Connector), counts
requests, and can answer slowly (`fake.delay`) to show who waits. Run it on the test's loop
(`async with FakeEntra(...) as fake`) when the code under test keeps msal off the loop, or in its own
thread (`with FakeEntra(...).in_thread() as fake`) for code that may block.

Trusting its certificate: pass `verify=fake.ca_file` to TokenProvider. Code that builds its own msal
application without a per-request `verify` can trust it with REQUESTS_CA_BUNDLE=fake.ca_file (requests
lets that variable override a session's `verify`, which is also why TokenProvider sets it per request).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import ipaddress
import secrets
import ssl
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

TENANT = "8f3c1a2b-4d5e-4f60-8a7b-9c0d1e2f3a4b"
CLIENT_ID = "1b2c3d4e-1111-2222-3333-444455556666"
CLIENT_SECRET = "fake-entra-secret~0123456789abcdef"
GRAPH_SCOPE = "https://graph.microsoft.com/.default"
BOT_SCOPE = "https://api.botframework.com/.default"


@dataclass(frozen=True)
class Issued:
    client_id: str
    tenant: str
    scope: str
    expires_at: float


@dataclass(frozen=True)
class TlsFiles:
    cert_file: Path
    key_file: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert_file, self.key_file)
        return context

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.cert_file))


def self_signed(folder: Path) -> TlsFiles:
    """A certificate for 127.0.0.1 and localhost that is its own CA (clients trust this one file)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fake-entra.test")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "fake-entra.crt", folder / "fake-entra.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return TlsFiles(cert_file, key_file)


class FakeEntra:
    def __init__(
        self,
        *,
        clients: dict[str, str] | None = None,
        tenants: tuple[str, ...] = (TENANT, "botframework.com"),
        lifetime: int = 3599,
        delay: float = 0.0,
    ) -> None:
        self.clients = dict(clients or {CLIENT_ID: CLIENT_SECRET})
        self.tenants, self.lifetime, self.delay = tenants, lifetime, delay
        self.requests: Counter[str] = Counter()  # "discovery", "token", "token_refused"
        self.issued: dict[str, Issued] = {}
        self.url = ""
        self._folder = tempfile.TemporaryDirectory(prefix="fake-entra-")
        self.tls = self_signed(Path(self._folder.name))
        self._runner: web.AppRunner | None = None

    @property
    def ca_file(self) -> str:
        return str(self.tls.cert_file)

    def authority(self, tenant: str = TENANT) -> str:
        return f"{self.url}/{tenant}"

    def valid(self, token: str, scope: str) -> bool:
        issued = self.issued.get(token)
        return issued is not None and issued.scope == scope and issued.expires_at > time.time()

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/{tenant}/v2.0/.well-known/openid-configuration", self._discovery)
        app.router.add_post("/{tenant}/oauth2/v2.0/token", self._token)
        return app

    def _tenant(self, request: web.Request) -> str:
        tenant = request.match_info["tenant"]
        if tenant not in self.tenants:
            raise web.HTTPBadRequest(
                text='{"error":"invalid_tenant","error_description":"AADSTS90002: Tenant not found."}',
                content_type="application/json",
            )
        return tenant

    async def _discovery(self, request: web.Request) -> web.Response:
        tenant = self._tenant(request)
        self.requests["discovery"] += 1
        base = f"{self.url}/{tenant}"
        return web.json_response(
            {
                "issuer": f"{base}/v2.0",
                "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                "token_endpoint": f"{base}/oauth2/v2.0/token",
                "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
                "jwks_uri": f"{self.url}/{tenant}/discovery/v2.0/keys",
                "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
                "subject_types_supported": ["pairwise"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt"],
                "tenant_region_scope": "EU",
            }
        )

    async def _token(self, request: web.Request) -> web.Response:
        tenant = self._tenant(request)
        form = await request.post()
        if self.delay:
            await asyncio.sleep(self.delay)
        client_id, secret = str(form.get("client_id", "")), str(form.get("client_secret", ""))
        if form.get("grant_type") != "client_credentials":
            return self._refuse(400, "unsupported_grant_type", "AADSTS70003: grant type not supported.")
        if self.clients.get(client_id) is None or not secrets.compare_digest(self.clients[client_id], secret):
            return self._refuse(401, "invalid_client", "AADSTS7000215: Invalid client secret provided.")
        scope = str(form.get("scope", ""))
        scopes = [s for s in scope.split() if s not in ("offline_access", "openid", "profile")]
        if len(scopes) != 1 or not scopes[0].endswith("/.default"):
            return self._refuse(400, "invalid_scope", "AADSTS1002012: The provided scope is not valid.")
        self.requests["token"] += 1
        token = "eyFake." + secrets.token_urlsafe(32)
        self.issued[token] = Issued(client_id, tenant, scopes[0], time.time() + self.lifetime)
        return web.json_response(
            {
                "token_type": "Bearer",
                "expires_in": self.lifetime,
                "ext_expires_in": self.lifetime,
                "access_token": token,
            }
        )

    def _refuse(self, status: int, error: str, description: str) -> web.Response:
        self.requests["token_refused"] += 1
        return web.json_response(
            {
                "error": error,
                "error_description": description,
                "error_codes": [int(description[6 : description.index(":")])],
            },
            status=status,
        )

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app())
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=self.tls.server_context())
        await site.start()
        server = site._server
        assert server is not None
        port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        self.url = f"https://127.0.0.1:{port}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeEntra:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
        self._folder.cleanup()

    @contextlib.contextmanager
    def in_thread(self) -> Iterator[FakeEntra]:
        """Serve from a thread with its own event loop (for code that blocks its own loop)."""
        loop = asyncio.new_event_loop()
        started = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(loop)
            loop.run_until_complete(self.start())
            started.set()
            loop.run_forever()

        thread = threading.Thread(target=run, name="fake-entra", daemon=True)
        thread.start()
        if not started.wait(30):
            raise RuntimeError("fake Entra did not start")
        try:
            yield self
        finally:
            asyncio.run_coroutine_threadsafe(self.stop(), loop).result(30)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(30)
            loop.close()
            self._folder.cleanup()
