"""Liveness, readiness and metrics endpoints."""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from handoff_bot import keys
from handoff_bot.metrics import CONTENT_TYPE

log = logging.getLogger(__name__)
READY_DEADLINE = 5.0


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    try:
        # Bounded: a load balancer asking during a network partition needs an answer, not a hang.
        async with asyncio.timeout(READY_DEADLINE), request.app[keys.ENGINE].connect() as conn:
            await conn.execute(text("SELECT 1"))
    except (SQLAlchemyError, OSError) as exc:
        log.warning("readiness check failed: database unreachable (%s)", type(exc).__name__)
        return web.json_response({"status": "unavailable", "database": "unreachable"}, status=503)
    return web.json_response({"status": "ready", "database": "ok"})


async def metrics(request: web.Request) -> web.Response:
    try:
        counts = await request.app[keys.OUTBOX].counts()
    except (SQLAlchemyError, OSError):
        counts = {"pending": -1, "dead": -1}  # scraped while the database is away: say so, do not fail
    body = request.app[keys.METRICS].render(counts["pending"], counts["dead"])
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})


def register(app: web.Application) -> None:
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
