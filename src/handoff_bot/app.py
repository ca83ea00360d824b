"""The composition root: the one place where settings, storage, routes and the worker meet."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from handoff_bot import keys
from handoff_bot.clock import SystemClock
from handoff_bot.config import Settings
from handoff_bot.intake import api, customers, health, openapi
from handoff_bot.metrics import Metrics
from handoff_bot.outbox.timers import register_timers
from handoff_bot.outbox.worker import Handlers, OutboxWorker
from handoff_bot.platforms.slack import app as slack_app
from handoff_bot.platforms.slack.runtime import slack_runtime
from handoff_bot.platforms.teams.runtime import teams_runtime
from handoff_bot.platforms.teams.tokens import TokenSource
from handoff_bot.services.ports import Clock, Committed
from handoff_bot.services.privacy import schedule_retention
from handoff_bot.services.reminders import schedule_summary
from handoff_bot.storage import priority
from handoff_bot.storage.checkpoint import checkpoint_in_background
from handoff_bot.storage.db import create_engine, session_factory
from handoff_bot.storage.migrate import upgrade_database
from handoff_bot.storage.outbox import OutboxStore
from handoff_bot.storage.uow import SqlUnitOfWorkFactory

log = logging.getLogger(__name__)
# Extra create_engine arguments (tests use them to put each run in its own PostgreSQL schema).
ENGINE_OPTIONS = web.AppKey("engine_options", dict[str, Any])
# Where the Teams bot gets its own tokens (tests: a fixed token); unset: msal against MICROSOFT_LOGIN_URL.
TEAMS_TOKEN_SOURCE = web.AppKey("teams_token_source", TokenSource)


def configured_platforms(settings: Settings) -> tuple[str, ...]:
    return tuple(name for name, why_not in settings.platform_status().items() if why_not is None)


PLATFORM_MAX_BODY = 1024 * 1024


def build_app(
    settings: Settings,
    *,
    clock: Clock | None = None,
    handlers: Handlers | None = None,
    run_worker: bool = True,
    engine_options: dict[str, Any] | None = None,
) -> web.Application:
    """Build the aiohttp app. Engines, clients and the worker start in cleanup contexts, not here."""
    # Slack events carry a message up to 40,000 characters twice (text and blocks); the intake API
    # enforces its own 64 KiB cap as it reads.
    app = web.Application(client_max_size=PLATFORM_MAX_BODY)
    app[keys.SETTINGS] = settings
    app[keys.CLOCK] = clock or SystemClock()
    app[keys.METRICS] = Metrics()
    app[keys.HANDLERS] = handlers or Handlers()
    app[keys.REMINDERS] = settings.reminder_policy()
    app[ENGINE_OPTIONS] = engine_options or {}
    app.cleanup_ctx.append(_database)
    app.cleanup_ctx.append(_slack)
    app.cleanup_ctx.append(_teams)
    app.cleanup_ctx.append(_email)
    if run_worker:
        app.cleanup_ctx.append(_worker)
    health.register(app)
    api.register(app)
    customers.register(app)
    openapi.register(app)
    app.router.add_post("/slack/events", slack_events)
    app.router.add_post("/api/messages", teams_messages)
    return app


async def slack_events(request: web.Request) -> web.StreamResponse:
    bolt = request.app.get(keys.SLACK)
    if bolt is None:
        why = request.app[keys.SETTINGS].platform_status()["slack"]
        return web.json_response({"title": "Slack is not configured", "detail": why}, status=404)
    return await slack_app.events_route(lambda: bolt)(request)


async def _slack(app: web.Application) -> AsyncIterator[None]:
    """Slack listeners and delivery, when configured; Socket Mode when an app token is set."""
    settings = app[keys.SETTINGS]
    if settings.platform_status()["slack"] is not None:
        yield
        return
    async with slack_runtime(
        settings, app[keys.UOW], app[keys.CLOCK], app[keys.REMINDERS], socket_mode=True
    ) as slack:
        app[keys.SLACK] = slack.bolt
        app[keys.HANDLERS].add_platform("slack", slack.delivery)
        yield


async def _email(app: web.Application) -> AsyncIterator[None]:
    """Email intake: one poller per HANDOFF_IMAP_URL mailbox, when configured; the acknowledgement handler."""
    from handoff_bot.intake.email.poller import email_pollers, polling
    from handoff_bot.outbox.email_ack import register_email_ack

    settings = app[keys.SETTINGS]
    register_email_ack(app[keys.HANDLERS], settings, uow=app[keys.UOW], clock=app[keys.CLOCK])
    pollers = email_pollers(settings, uow=app[keys.UOW], clock=app[keys.CLOCK], metrics=app[keys.METRICS])
    async with polling(pollers):
        yield


async def teams_messages(request: web.Request) -> web.StreamResponse:
    teams = request.app.get(keys.TEAMS)
    if teams is None:
        why = request.app[keys.SETTINGS].platform_status()["teams"]
        return web.json_response({"title": "Teams is not configured", "detail": why}, status=404)
    return await teams.adapter.process(request, teams.bot)


async def _teams(app: web.Application) -> AsyncIterator[None]:
    """The Teams bot and delivery, when configured (an empty MICROSOFT_APP_ID is anonymous mode)."""
    settings = app[keys.SETTINGS]
    if settings.platform_status()["teams"] is not None:
        yield
        return
    async with teams_runtime(
        settings,
        app[keys.UOW],
        app[keys.CLOCK],
        app[keys.REMINDERS],
        token_source=app.get(TEAMS_TOKEN_SOURCE),
    ) as teams:
        app[keys.TEAMS] = teams
        app[keys.HANDLERS].add_platform("teams", teams.delivery)
        yield


async def _database(app: web.Application) -> AsyncIterator[None]:
    settings = app[keys.SETTINGS]
    engine = create_engine(settings.database_url, **app[ENGINE_OPTIONS])
    checkpointer = checkpoint_in_background(engine)  # SQLite files only; before the first connection
    try:
        if settings.auto_migrate:
            await upgrade_database(engine)
        sessions = session_factory(engine)
        platforms = configured_platforms(settings)
        app[keys.ENGINE] = engine
        app[keys.UOW] = SqlUnitOfWorkFactory(
            sessions, platforms=platforms, clock=app[keys.CLOCK], listeners=[app[keys.METRICS].on_commit]
        )
        app[keys.OUTBOX] = OutboxStore(sessions, app[keys.CLOCK])
        yield
    finally:
        if checkpointer is not None:
            checkpointer.stop()
        await engine.dispose()


async def _worker(app: web.Application) -> AsyncIterator[None]:
    settings = app[keys.SETTINGS]
    register_timers(
        app[keys.HANDLERS],
        uow=app[keys.UOW],
        clock=app[keys.CLOCK],
        policy=app[keys.REMINDERS],
        retention_days=settings.retention_days,
    )
    await schedule_summary(uow=app[keys.UOW], clock=app[keys.CLOCK], policy=app[keys.REMINDERS])
    await schedule_retention(uow=app[keys.UOW], clock=app[keys.CLOCK], tz=settings.tz)
    worker = OutboxWorker(
        app[keys.OUTBOX],
        app[keys.HANDLERS],
        app[keys.CLOCK],
        max_attempts=settings.outbox_max_attempts,
        lease_seconds=settings.outbox_lease_seconds,
        metrics=app[keys.METRICS],
    )
    app[keys.WORKER] = worker

    def wake_on_outbox(committed: Committed) -> None:
        if committed.due_rows:
            worker.wake()

    app[keys.UOW].listeners.append(wake_on_outbox)
    stop = asyncio.Event()
    # Marked as background: on SQLite a waiting request gets the connection first (storage/priority.py).
    task = asyncio.create_task(worker.run(stop), name="outbox-worker", context=priority.background_context())
    try:
        yield
    finally:
        stop.set()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, timeout=10)
