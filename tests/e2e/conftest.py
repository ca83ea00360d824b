"""An API client over the whole app (no chat platforms, no worker) on each database kind."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select

from handoff_bot import keys
from handoff_bot.app import build_app
from handoff_bot.config import load_settings
from handoff_bot.storage.models import (
    ContactRow,
    CustomerIdentityRow,
    CustomerRow,
    OutboxRow,
    TimelineRow,
)
from tests.conftest import Database

API_TOKEN = "crm-token-0123456789abcdef"
WEB_TOKEN = "web-token-fedcba9876543210"
AUTH = {"Authorization": f"Bearer {API_TOKEN}"}


class Api:
    def __init__(self, client: TestClient[Any, Any]) -> None:
        self.client = client

    async def post(self, body: Any, **headers: str) -> tuple[int, Any]:
        raw = json.dumps(body)  # also for `null`, which aiohttp's json= would leave out
        response = await self.client.post(
            "/api/contacts", data=raw, headers={**AUTH, "Content-Type": "application/json", **headers}
        )
        return response.status, await response.json(content_type=None)

    async def stored(self) -> dict[str, int]:
        """Row counts of everything an intake writes: all zero means nothing was stored."""
        sessions = self.client.app[keys.UOW].sessions
        counts = {}
        async with sessions() as s:
            for row in (ContactRow, CustomerRow, CustomerIdentityRow, TimelineRow, OutboxRow):
                counts[str(row.__tablename__)] = int(
                    await s.scalar(select(func.count()).select_from(row)) or 0
                )
        return counts


@pytest.fixture
async def api(database: Database) -> AsyncIterator[Api]:
    engine_options = (
        {"connect_args": {"server_settings": {"search_path": database.schema}}} if database.schema else {}
    )
    settings = load_settings(database_url=database.url, intake_tokens=f"crm={API_TOKEN},web={WEB_TOKEN}")
    app = build_app(settings, run_worker=False, engine_options=engine_options)
    async with TestClient(TestServer(app)) as client:
        yield Api(client)
