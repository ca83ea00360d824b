"""Benchmark 3: 1,000 contacts at once into a Slack that allows N posts/s per channel (429 + Retry-After).

The fake Slack runs a token bucket per channel (burst 3); the bot paces itself (SLACK_POST_RATE = N)
so it drains the burst at Slack's rate without collecting 429s. BENCH_DRAIN_RATE sets N (default 20).
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Any

import aiohttp

from tests.e2e.served import Served
from tests.fakes.slack_server import FakeSlack

RATE = float(os.environ.get("BENCH_DRAIN_RATE", "20"))
CONTACTS = 1000
CHANNEL = "C0BURST"
TOKEN = "burst-token-0123456789abcdef"


async def burst_drain(
    database_url: str, cwd: Path, *, contacts: int = CONTACTS, rate: float = RATE, early_429s: int = 0
) -> dict[str, float]:
    """Post `contacts` contacts at once; returns drain time, target, 429s, missing and duplicates.
    `early_429s` refuses the first posts with 429 regardless, as Slack does when others post too."""
    async with FakeSlack(rate_per_channel=rate, burst=3) as slack:
        slack.add_channel(CHANNEL)
        if early_429s:
            slack.fail_next("chat.postMessage", times=early_429s, status=429, retry_after=1)
        env = {
            "HANDOFF_DATABASE_URL": database_url,
            "HANDOFF_INTAKE_TOKENS": f"burst={TOKEN}",
            "SLACK_BOT_TOKEN": slack.token,
            "SLACK_SIGNING_SECRET": "burst-signing-secret-0123456789",
            "SLACK_CONTACTS_CHANNEL": CHANNEL,
            "SLACK_API_URL": slack.url,
            "SLACK_POST_RATE": str(rate),
            "SLACK_POST_BURST": "1",
        }
        async with (
            Served(env, cwd, name=f"burst-{time.monotonic_ns()}") as app,
            aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=64)) as http,
        ):

            async def post(n: int) -> int:
                body: dict[str, Any] = {
                    "channel": "web",
                    "customer": {"name": f"Klant {n}", "email": f"burst{n}@bench.example"},
                    "subject": "Vraag",
                    "external_id": f"burst-{n}",
                }
                headers = {"Authorization": f"Bearer {TOKEN}"}
                async with http.post(f"{app.url}/api/contacts", json=body, headers=headers) as response:
                    assert response.status == 201, await response.text()
                    return int((await response.json())["id"])

            began = time.time()  # the fake stamps calls with time.time()
            ids = await asyncio.gather(*(post(n) for n in range(contacts)))
            accepted = time.time() - began
            await slack.wait_until(
                lambda: len(slack.messages_in(CHANNEL)) >= contacts, within=3 * contacts / rate + 120
            )
            await asyncio.sleep(2)  # a late duplicate would arrive now
        posts = [
            c
            for c in slack.calls
            if c.method == "chat.postMessage" and c.params.get("channel") == CHANNEL and c.status == 200
        ]
        limited = sum(1 for c in slack.calls if c.method == "chat.postMessage" and c.status == 429)
        posted = [int((m.metadata or {})["event_payload"]["contact_id"]) for m in slack.messages_in(CHANNEL)]
    last = max(c.at for c in posts)
    after_intake = [c for c in posts if c.at > began + accepted]
    return {
        "contacts": contacts,
        "rate": rate,
        "accepted_s": accepted,
        "drain_s": last - began,
        # The pace once intake is done (intake and delivery share one process and database).
        "rate_after_intake": len(after_intake) / max(1e-9, last - began - accepted),
        "target_s": 1.1 * contacts / rate,
        "ratelimited": limited,
        "missing": len(set(ids) - set(posted)),
        "duplicates": len(posted) - len(set(posted)),
    }
