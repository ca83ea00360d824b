"""Benchmark 2: time from a signed Slack claim click to the HTTP answer, 20 people on 200 contacts."""

from __future__ import annotations

import asyncio
import os
import random
import time
from pathlib import Path

import aiohttp

from tests.bench.common import TOKEN, cpu_seconds, percentile, served
from tests.fakes import slack_signing as ss
from tests.fakes.slack_server import FakeSlack

SECRET = "bench-signing-secret-0123456789"
# Seconds the fake Slack takes to answer each API call while people click (0: at once). Slack's own
# API answers in 100 ms and more; BENCH_SLACK_LATENCY=0.1 shows what a click waits for on Slack.
LATENCY = float(os.environ.get("BENCH_SLACK_LATENCY", "0"))
CHANNEL = "C0BENCH"
PEOPLE, CONTACTS = 20, 200


async def click_to_ack(database_url: str, cwd: Path) -> dict[str, float]:
    async with FakeSlack() as slack:
        slack.add_channel(CHANNEL)
        users = [f"U{i:04d}" for i in range(PEOPLE)]
        for user in users:
            slack.add_user(user, f"Medewerker {user}", f"{user.lower()}@bench.example")
        env = {
            "HANDOFF_DATABASE_URL": database_url,
            "SLACK_BOT_TOKEN": slack.token,
            "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_CONTACTS_CHANNEL": CHANNEL,
            "SLACK_API_URL": slack.url,
            # This fake sets no rate limit, and Slack's own 1 post/s per channel would make the 200
            # cards take minutes to appear; benchmark 3 measures pacing, this one the click path.
            "SLACK_POST_RATE": "1000",
            "SLACK_POST_BURST": "100",
        }
        async with served(env, cwd) as (url, proc), aiohttp.ClientSession() as http:
            for n in range(CONTACTS):
                body = {
                    "channel": "phone",
                    "customer": {"name": f"Beller {n}", "phone": f"+3161{n:07d}"},
                    "subject": "Terugbelverzoek",
                }
                async with http.post(
                    f"{url}/api/contacts", json=body, headers={"Authorization": f"Bearer {TOKEN}"}
                ) as response:
                    assert response.status == 201
            cards = await slack.wait_for_messages(CHANNEL, CONTACTS)
            targets = [(int((c.metadata or {})["event_payload"]["contact_id"]), c.ts) for c in cards]
            if LATENCY:
                slack.fail_next("*", times=10**9, hang=LATENCY)  # slow, then answered as usual
            latencies: list[float] = []
            statuses: set[int] = set()
            cpu_before = cpu_seconds(proc.pid)

            async def person(user: str) -> None:
                order = targets[:]
                random.Random(user).shuffle(order)
                for contact_id, ts in order:
                    click = ss.block_actions(
                        "contact.claim", user=user, channel=CHANNEL, message_ts=ts, value=f"v1:c:{contact_id}"
                    )
                    body_bytes = ss.interaction_body(click)
                    headers = ss.signed_headers(SECRET, body_bytes, ss.FORM)
                    started = time.perf_counter()
                    async with http.post(f"{url}/slack/events", data=body_bytes, headers=headers) as response:
                        await response.read()
                        statuses.add(response.status)
                    latencies.append((time.perf_counter() - started) * 1000)

            await asyncio.gather(*(person(u) for u in users))
            clicked = time.perf_counter()

            def claimed_cards() -> int:
                return sum(1 for c in slack.messages_in(CHANNEL) if "contact.claim" not in str(c.blocks))

            # The cards change through the outbox, after the clicks' answers: how long until all show it.
            await slack.wait_until(lambda: claimed_cards() == CONTACTS, within=120)
            settled = time.perf_counter() - clicked
            cpu = cpu_seconds(proc.pid) - cpu_before
    assert statuses == {200}, statuses
    return {
        "p50": percentile(latencies, 50),
        "p99": percentile(latencies, 99),
        "clicks": len(latencies),
        "claimed": claimed_cards(),
        "settled_s": settled,
        "cpu_s": cpu,
    }
