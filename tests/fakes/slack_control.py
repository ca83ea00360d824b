"""Control routes of the fake Slack for a test or benchmark that runs it in another process.

GET  /_fake/messages?channel=C   what `messages_in` gives, as Slack JSON (with metadata)
GET  /_fake/thread?channel=C&ts=T the replies under one message
GET  /_fake/calls[?method=M]     every call: method, params, status, error
GET  /_fake/stats                calls and 429s per method
POST /_fake/channels {"id", "name"?, "member"?}   POST /_fake/users {"id", "name", "email"?, …}
POST /_fake/fail_next {"method", "times"?, "status"?, "error"?, "retry_after"?, "hang"?}
POST /_fake/outage {"status"?}   POST /_fake/recover   POST /_fake/trigger → {"trigger_id"}
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:
    from tests.fakes.slack_server import FakeSlack


def add_routes(app: web.Application, fake: FakeSlack) -> None:
    async def messages(request: web.Request) -> web.Response:
        channel = request.query["channel"]
        return web.json_response([fake.message_json(channel, m.ts) for m in fake.messages_in(channel)])

    async def thread(request: web.Request) -> web.Response:
        channel, ts = request.query["channel"], request.query["ts"]
        return web.json_response([fake.message_json(channel, m.ts) for m in fake.thread(channel, ts)])

    async def calls(request: web.Request) -> web.Response:
        wanted = request.query.get("method")
        return web.json_response(
            [
                {"method": c.method, "params": c.params, "status": c.status, "error": c.error, "at": c.at}
                for c in fake.calls
                if wanted in (None, c.method)
            ]
        )

    async def stats(request: web.Request) -> web.Response:
        return web.json_response(
            {
                "calls": Counter(c.method for c in fake.calls),
                "ratelimited": Counter(c.method for c in fake.calls if c.status == 429),
            }
        )

    async def channels(request: web.Request) -> web.Response:
        body = await _body(request)
        fake.add_channel(body["id"], body.get("name"), member=body.get("member", True))
        return web.json_response({"ok": True})

    async def users(request: web.Request) -> web.Response:
        body = await _body(request)
        fake.add_user(
            body["id"],
            body["name"],
            body.get("email"),
            body.get("real_name"),
            body.get("tz", "Europe/Amsterdam"),
        )
        return web.json_response({"ok": True})

    async def fail_next(request: web.Request) -> web.Response:
        body = await _body(request)
        fake.fail_next(
            body["method"],
            int(body.get("times", 1)),
            status=int(body.get("status", 200)),
            error=body.get("error"),
            retry_after=body.get("retry_after"),
            hang=body.get("hang"),
        )
        return web.json_response({"ok": True})

    async def outage(request: web.Request) -> web.Response:
        body = await _body(request)
        fake.outage(int(body.get("status", 503)))
        return web.json_response({"ok": True})

    async def recover(request: web.Request) -> web.Response:
        fake.recover()
        return web.json_response({"ok": True})

    async def trigger(request: web.Request) -> web.Response:
        return web.json_response({"trigger_id": fake.issue_trigger_id()})

    app.router.add_get("/_fake/messages", messages)
    app.router.add_get("/_fake/thread", thread)
    app.router.add_get("/_fake/calls", calls)
    app.router.add_get("/_fake/stats", stats)
    app.router.add_post("/_fake/channels", channels)
    app.router.add_post("/_fake/users", users)
    app.router.add_post("/_fake/fail_next", fail_next)
    app.router.add_post("/_fake/outage", outage)
    app.router.add_post("/_fake/recover", recover)
    app.router.add_post("/_fake/trigger", trigger)


async def _body(request: web.Request) -> dict[str, Any]:
    if not request.body_exists:
        return {}
    body = await request.json()
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text="expected a JSON object")
    return body
