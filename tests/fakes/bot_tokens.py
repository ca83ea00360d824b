"""A local Bot Framework token issuer: an RSA key, OpenID metadata + JWKS over HTTP, and token minting.

The server runs in a THREAD (botbuilder's JwtTokenExtractor fetches metadata with blocking
`requests.get`, defect 6). botbuilder caches metadata per URL for the whole process, so tests share one
issuer per process (`shared_issuer()`), and a key that a test signs with is always the one served.
"""

from __future__ import annotations

import functools
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

ISSUER = "https://api.botframework.com"
KID = "handoff-test-key"


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


class BotTokenIssuer:
    def __init__(self) -> None:
        self.key = _key()
        self.forger = _key()  # signs "forged" tokens with the real key id: only the signature is wrong
        self.requests: list[str] = []  # paths fetched, to see that metadata was really read
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------- server

    def start(self) -> BotTokenIssuer:
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                issuer.requests.append(self.path)
                if self.path == "/v1/.well-known/openidconfiguration":
                    body: Any = {
                        "issuer": ISSUER,
                        "jwks_uri": f"{issuer.base_url}/v1/.well-known/keys",
                        "id_token_signing_alg_values_supported": ["RS256"],
                    }
                elif self.path == "/v1/.well-known/keys":
                    jwk = json.loads(RSAAlgorithm.to_jwk(issuer.key.public_key()))
                    body = {"keys": [{**jwk, "kid": KID, "use": "sig", "endorsements": ["msteams"]}]}
                else:
                    self.send_error(404)
                    return
                raw = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="bot-tokens", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    @property
    def base_url(self) -> str:
        assert self._server is not None, "start() the issuer first"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def metadata_url(self) -> str:
        return f"{self.base_url}/v1/.well-known/openidconfiguration"

    # ------------------------------------------------------------- tokens

    def token(
        self,
        app_id: str,
        service_url: str,
        *,
        expired: bool = False,
        audience: str | None = None,
        forged: bool = False,
        issuer: str = ISSUER,
        kid: str = KID,
    ) -> str:
        """A token as the Bot Framework channel service signs it for activities sent to the bot."""
        now = int(time.time())
        # botbuilder allows 5 minutes of clock skew: an "expired" token is well past that.
        exp = now - 3600 if expired else now + 3600
        claims = {
            "iss": issuer,
            "aud": audience or app_id,
            "serviceurl": service_url,
            "nbf": exp - 7200 if expired else now - 60,
            "exp": exp,
        }
        key = self.forger if forged else self.key
        return jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid})

    def header(self, app_id: str, service_url: str, **kwargs: Any) -> str:
        return f"Bearer {self.token(app_id, service_url, **kwargs)}"


@functools.cache
def shared_issuer() -> BotTokenIssuer:
    """One issuer per test process (its thread is a daemon and ends with the process)."""
    return BotTokenIssuer().start()
