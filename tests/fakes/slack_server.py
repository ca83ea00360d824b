"""A local fake of the Slack Web API on 127.0.0.1: the workspace over HTTP, with faults and rate limits.

slack_sdk's AsyncWebClient(base_url=fake.url) POSTs to `{base_url}{method}` with `Authorization: Bearer
xoxb-…` and a JSON body (chat.*, views.*), a form body, or a query string (reads, conversations.open);
form and query fields such as `blocks`, `metadata` and `view` are JSON strings. Every answer is JSON
with `ok`, in Slack's documented shapes and error codes. Use it as `async with FakeSlack() as slack:`,
or run it in its own process: `python -m tests.fakes.slack_server --port N --rate N` (then read its
state over the `/_fake/…` control routes).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import secrets
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from aiohttp import web

from tests.fakes import slack_control
from tests.fakes.slack_signing import BOT_USER_ID
from tests.fakes.slack_workspace import (
    Channel,
    Ephemeral,
    Json,
    Message,
    SlackError,
    Workspace,
)

DEFAULT_TOKEN = "xoxb-1111111111-2222222222-fakeslackbottoken0001"
WAIT_LIMIT = 30.0  # seconds a test waits for another task or process before failing
JSON_FIELDS = ("blocks", "attachments", "metadata", "view")
SERVER_ERRORS = {500: "internal_error", 503: "service_unavailable", 504: "request_timeout"}

__all__ = ["DEFAULT_TOKEN", "Call", "Channel", "Ephemeral", "FakeSlack", "Message", "SlackError"]


@dataclass
class Call:
    """One request as the fake saw it: JSON-string fields decoded, the token left out."""

    method: str
    params: Json
    headers: dict[str, str]
    at: float
    status: int = 0
    response: Json = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return bool(self.response.get("ok"))

    @property
    def error(self) -> str | None:
        error = self.response.get("error")
        return str(error) if error is not None else None


@dataclass
class Fault:
    method: str  # "*" for every method
    times: int
    status: int = 200
    error: str | None = None
    retry_after: int | None = None
    hang: float | None = None

    def answer(self) -> SlackError | None:
        if self.status == 429:
            headers = {"Retry-After": str(self.retry_after if self.retry_after is not None else 1)}
            return SlackError(self.error or "ratelimited", status=429, headers=headers)
        if self.status != 200:
            return SlackError(self.error or SERVER_ERRORS.get(self.status, "fatal_error"), status=self.status)
        return SlackError(self.error) if self.error else None


@dataclass
class _Bucket:
    per_second: float
    burst: float
    tokens: float
    updated: float

    def take(self, now: float) -> int | None:
        """None when allowed; otherwise the whole seconds to wait, as Slack's Retry-After says."""
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.per_second)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return None
        return max(1, math.ceil((1 - self.tokens) / self.per_second))


@dataclass
class _RateRule:
    per_second: float
    burst: float
    per_channel: bool


class FakeSlack(Workspace):
    """The Slack Web API on 127.0.0.1, with state the tests can inspect and faults they can inject."""

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        bot_user: str = BOT_USER_ID,
        auto_create_channels: bool = False,
        strict_triggers: bool = False,
        rate_per_channel: float | None = None,
        burst: int = 3,
        now: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(
            bot_user=bot_user,
            auto_create_channels=auto_create_channels,
            strict_triggers=strict_triggers,
            now=now,
        )
        self.token = token
        self.calls: list[Call] = []
        self.faults: list[Fault] = []
        self.url = ""
        self.changed = asyncio.Condition()
        self._outage: SlackError | None = None
        self._rules: dict[str, _RateRule] = {}
        self._buckets: dict[tuple[str, str], _Bucket] = {}
        self._hanging: set[asyncio.Future[None]] = set()
        self.responses: list[Json] = []  # what the app posted to response_urls the fake handed out
        self._runner: web.AppRunner | None = None
        if rate_per_channel is not None:
            self.rate_limit("chat.postMessage", rate_per_channel, burst=burst, per_channel=True)

    # ------------------------------------------------------------------ faults and limits

    def fail_next(
        self,
        method: str,
        times: int = 1,
        *,
        status: int = 200,
        error: str | None = None,
        retry_after: int | None = None,
        hang: float | None = None,
    ) -> None:
        """The next `times` calls of `method` ("*": any) fail: 429 with Retry-After, a 5xx, or
        `ok: false` with `error`. `hang` holds the answer that many seconds (or until `release()`)
        first; without status/error the call then takes effect, as when Slack is slow and the
        client gave up waiting."""
        self.faults.append(Fault(method, times, status, error, retry_after, hang))

    def outage(self, status: int = 503, error: str | None = None) -> None:
        """Every call fails with `status` until `recover()`."""
        self._outage = SlackError(error or SERVER_ERRORS.get(status, "fatal_error"), status=status)

    def recover(self) -> None:
        self._outage = None

    def release(self) -> None:
        """Let every hanging call answer now."""
        for future in self._hanging:
            if not future.done():
                future.set_result(None)

    def rate_limit(
        self, method: str, per_second: float, *, burst: float = 1, per_channel: bool = False
    ) -> None:
        """Token bucket for `method` (per `channel` argument with `per_channel`): 429 + Retry-After."""
        self._rules[method] = _RateRule(per_second, max(1.0, burst), per_channel)

    def response_url(self) -> str:
        """A response_url served by the fake (for builders' `response_url=`), so bolt's `respond()`
        stays on 127.0.0.1; what arrives there is kept in `responses`."""
        if not self.url:
            raise RuntimeError("start the fake first")
        return f"{self.url.removesuffix('/api/')}/hooks/{secrets.token_hex(8)}"

    # ------------------------------------------------------------------ inspection

    def calls_to(self, method: str) -> list[Json]:
        """The parameters of every call to `method`, in order."""
        return [c.params for c in self.calls if c.method == method]

    async def wait_until(self, predicate: Callable[[], bool], within: float = WAIT_LIMIT) -> None:
        """Wait until `predicate()` holds after some call (for work done by another task or process)."""
        async with asyncio.timeout(within), self.changed:
            await self.changed.wait_for(predicate)

    async def wait_for_messages(self, channel: str, count: int, within: float = WAIT_LIMIT) -> list[Message]:
        await self.wait_until(lambda: len(self.messages_in(channel)) >= count, within)
        return self.messages_in(channel)

    # ------------------------------------------------------------------ server

    async def __aenter__(self) -> FakeSlack:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        self._runner = web.AppRunner(self.app(), shutdown_timeout=1.0, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, host, port).start()
        bound_host, bound_port = self._runner.addresses[0][:2]
        self.url = f"http://{bound_host}:{bound_port}/api/"
        return self.url

    async def close(self) -> None:
        self.release()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._handle)
        app.router.add_post("/hooks/{hook}", self._hook)
        slack_control.add_routes(app, self)
        return app

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        headers = {
            k: ("<redacted>" if k.lower() == "authorization" else v) for k, v in request.headers.items()
        }
        call = Call(method, {}, headers, self.now())
        self.calls.append(call)
        response_headers: dict[str, str] = {}
        try:
            params, token = await _read(request)
            call.params = params
            body = await self._answer(method, params, token)
            status = 200
        except SlackError as exc:
            body, status, response_headers = exc.body(), exc.status, exc.headers
        call.status, call.response = status, body
        async with self.changed:
            self.changed.notify_all()
        return web.json_response(body, status=status, headers=response_headers)

    async def _hook(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.responses.append(body if isinstance(body, dict) else {"body": body})
        async with self.changed:
            self.changed.notify_all()
        return web.Response(text="ok")  # response_urls answer plain text, not the Web API's JSON

    async def _answer(self, method: str, params: Json, token: str | None) -> Json:
        if self._outage is not None:
            raise self._outage
        handler = self.methods.get(method)
        if handler is None:
            raise SlackError("unknown_method", req_method=method)
        fault = self._take_fault(method)
        if fault is not None:
            if fault.hang:
                await self._hang(fault.hang)
            failure = fault.answer()
            if failure is not None:
                raise failure
        if not token:
            raise SlackError("not_authed")
        if token != self.token:
            raise SlackError("invalid_auth")
        self._check_rate(method, params)
        return {"ok": True, **handler(params)}

    def _take_fault(self, method: str) -> Fault | None:
        for fault in self.faults:
            if fault.method in (method, "*") and fault.times > 0:
                fault.times -= 1
                return fault
        return None

    async def _hang(self, seconds: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._hanging.add(future)
        try:
            await asyncio.wait({future}, timeout=seconds)
        finally:
            self._hanging.discard(future)

    def _check_rate(self, method: str, params: Json) -> None:
        rule = self._rules.get(method)
        if rule is None:
            return
        key = (method, str(params.get("channel", "")) if rule.per_channel else "")
        bucket = self._buckets.setdefault(key, _Bucket(rule.per_second, rule.burst, rule.burst, self.now()))
        wait = bucket.take(self.now())
        if wait is not None:
            raise SlackError("ratelimited", status=429, headers={"Retry-After": str(wait)})


# ---------------------------------------------------------------------- request parsing


async def _read(request: web.Request) -> tuple[Json, str | None]:
    """Parameters from the query string and the body, and the token (header, or form/query field)."""
    params: Json = dict(request.query)
    token = params.pop("token", None)
    if request.body_exists:
        if request.content_type == "application/json":
            try:
                body = json.loads(await request.read() or b"{}")
            except ValueError:
                raise SlackError("invalid_json") from None
            if not isinstance(body, dict):
                raise SlackError("invalid_json")
            body.pop("token", None)  # Slack reads a JSON body's token only from the header
            params.update(body)
        else:
            form = await request.post()
            params.update({k: v for k, v in form.items() if isinstance(v, str)})
            token = params.pop("token", token)
    auth = request.headers.get("Authorization", "")
    if auth.startswith("Bearer "):
        token = auth.removeprefix("Bearer ").strip()
    for key in JSON_FIELDS:
        if isinstance(params.get(key), str) and params[key]:
            # Undecodable JSON stays text: the method answers with its own *_format error.
            with contextlib.suppress(ValueError):
                params[key] = json.loads(params[key])
    return params, token


# ---------------------------------------------------------------------- own process


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.fakes.slack_server", description=__doc__)
    parser.add_argument("--port", type=int, default=0, help="0: any free port (the URL is printed)")
    parser.add_argument("--rate", type=float, default=None, help="chat.postMessage per channel per second")
    parser.add_argument("--burst", type=int, default=3)
    parser.add_argument("--token", default=DEFAULT_TOKEN)
    parser.add_argument("--channel", action="append", default=[], help="a channel id the bot is in")
    parser.add_argument("--user", action="append", default=[], help="ID:name[:email]")
    parser.add_argument("--auto-create", action="store_true", help="accept every C…/G… channel")
    parser.add_argument("--strict-triggers", action="store_true")
    return parser.parse_args(argv)


async def serve(argv: list[str] | None = None) -> None:
    args = _parse_args(argv)
    fake = FakeSlack(
        args.token,
        rate_per_channel=args.rate,
        burst=args.burst,
        auto_create_channels=args.auto_create,
        strict_triggers=args.strict_triggers,
    )
    for channel in args.channel:
        fake.add_channel(channel)
    for spec in args.user:
        user_id, name, *email = spec.split(":", 2)
        fake.add_user(user_id, name, email[0] if email else None)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with fake:
        print(f"FAKE_SLACK_URL={fake.url}", flush=True)
        await stop.wait()


if __name__ == "__main__":
    asyncio.run(serve())
