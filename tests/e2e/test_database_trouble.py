"""When the database is away: readiness says so, intake answers 503 with a clear problem, nothing hangs."""

from __future__ import annotations

import asyncio

from aiohttp.test_utils import TestClient, TestServer

from handoff_bot.app import build_app
from handoff_bot.config import load_settings

TOKEN = "crm-token-0123456789abcdef"


async def test_unreachable_database_gives_503_not_500() -> None:
    # Nothing listens on port 9 (discard): connections are refused at once.
    settings = load_settings(
        database_url="postgresql+asyncpg://postgres@127.0.0.1:9/test",
        auto_migrate=False,
        intake_tokens=f"crm={TOKEN}",
    )
    app = build_app(settings, run_worker=False)
    async with TestClient(TestServer(app)) as client, asyncio.timeout(30):
        assert (await client.get("/healthz")).status == 200
        ready = await client.get("/readyz")
        assert ready.status == 503 and (await ready.json())["database"] == "unreachable"
        response = await client.post(
            "/api/contacts",
            json={"channel": "phone", "customer": {"name": "A"}},
            headers={"Authorization": f"Bearer {TOKEN}"},
        )
        assert response.status == 503
        assert response.headers["Content-Type"].startswith("application/problem+json")
        assert response.headers["Retry-After"] == "5"
        assert "database is unavailable" in (await response.json(content_type=None))["detail"]
