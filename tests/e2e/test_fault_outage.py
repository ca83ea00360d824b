"""Slack away: first every call answers 503, then calls hang until the client times out.

Intake keeps accepting all along, nothing is lost, everything is posted once Slack is back, nothing
twice. Short in `make test` (a few seconds of outage); HANDOFF_FAULTS=long (make bench) 15 s + 15 s.
"""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path

import aiohttp
import pytest

from tests.e2e import faults
from tests.e2e.served import Served
from tests.fakes.slack_server import FakeSlack

DOWN, HANGING = (15.0, 15.0) if faults.LONG else (1.5, 2.0)
PER_PHASE = 30 if faults.LONG else 4


@pytest.mark.slow
async def test_intake_keeps_accepting_and_everything_arrives_once_after_the_outage(tmp_path: Path) -> None:
    async with FakeSlack() as slack:
        env = faults.app_env(
            slack, f"sqlite+aiosqlite:///{tmp_path / 'outage.db'}", SLACK_TIMEOUT_SECONDS="1"
        )
        numbers = itertools.count()
        accepted: list[int] = []
        async with Served(env, tmp_path, name="outage") as app, aiohttp.ClientSession() as http:

            async def arrive(seconds: float) -> None:
                """PER_PHASE contacts spread over `seconds`; each must be accepted first time."""
                for _ in range(PER_PHASE):
                    async with http.post(
                        f"{app.url}/api/contacts",
                        json=faults.contact(next(numbers)),
                        headers={"Authorization": f"Bearer {faults.TOKEN}"},
                        timeout=aiohttp.ClientTimeout(total=15),
                    ) as response:
                        assert response.status == 201, await response.text()
                        accepted.append(int((await response.json())["id"]))
                    await asyncio.sleep(seconds / PER_PHASE)

            await arrive(0.5)
            await slack.wait_for_messages(faults.CHANNEL, PER_PHASE, within=60)
            slack.outage(503)
            await arrive(DOWN)
            slack.recover()
            slack.fail_next("*", times=1_000_000, status=503, hang=600)  # held until released
            hanging_from = len(slack.calls)
            await arrive(HANGING)
            held = [c for c in slack.calls[hanging_from:] if c.method == "chat.postMessage"]
            slack.faults.clear()
            slack.release()  # the held calls now answer 503, to clients that gave up long ago
            await arrive(0.5)
            await slack.wait_for_messages(faults.CHANNEL, len(accepted), within=180)
            await asyncio.sleep(1)  # anything posted twice would show up by now
        refused = [
            c for c in slack.calls[:hanging_from] if c.method == "chat.postMessage" and c.status == 503
        ]
        assert refused and held, "the bot met both halves of the outage"
        posted = sorted(faults.card_contact(c) for c in faults.cards(slack))
        assert posted == sorted(accepted)
        assert len(accepted) == 4 * PER_PHASE
