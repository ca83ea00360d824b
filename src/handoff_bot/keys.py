"""Typed application state keys (aiohttp `web.AppKey`), shared by the composition root and the routes."""

from __future__ import annotations

from aiohttp import web
from slack_bolt.async_app import AsyncApp
from sqlalchemy.ext.asyncio import AsyncEngine

from handoff_bot.config import Settings
from handoff_bot.metrics import Metrics
from handoff_bot.outbox.worker import Handlers, OutboxWorker
from handoff_bot.platforms.teams.runtime import TeamsRuntime
from handoff_bot.services.ports import Clock
from handoff_bot.services.reminders import ReminderPolicy
from handoff_bot.storage.outbox import OutboxStore
from handoff_bot.storage.uow import SqlUnitOfWorkFactory

SETTINGS = web.AppKey("settings", Settings)
CLOCK = web.AppKey("clock", Clock)
METRICS = web.AppKey("metrics", Metrics)
HANDLERS = web.AppKey("handlers", Handlers)
ENGINE = web.AppKey("engine", AsyncEngine)
UOW = web.AppKey("uow", SqlUnitOfWorkFactory)
OUTBOX = web.AppKey("outbox", OutboxStore)
WORKER = web.AppKey("worker", OutboxWorker)
SLACK = web.AppKey("slack", AsyncApp)
REMINDERS = web.AppKey("reminders", ReminderPolicy)
TEAMS = web.AppKey("teams", TeamsRuntime)
