"""kill -9 of the server, three times, at random moments during a burst of contacts and claim clicks.

Every accepted contact is posted exactly once, and every claim that was answered with success is
still claimed afterwards. Short in `make test`; HANDOFF_FAULTS=long (make bench) sends 300.
"""

from __future__ import annotations

import asyncio
import functools
import random
from pathlib import Path

import aiohttp
import pytest

from tests.e2e import faults
from tests.e2e.served import Served
from tests.fakes.slack_server import FakeSlack

CONTACTS = 300 if faults.LONG else 24
KILLS = 3


@pytest.mark.slow
async def test_three_kills_lose_nothing_and_post_nothing_twice(tmp_path: Path) -> None:
    seed = random.randrange(1_000_000)
    rng = random.Random(seed)
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'crash.db'}"
    async with FakeSlack() as slack:
        users = faults.people(slack)
        # A dead worker's leases run out after 5 s, so the next process picks its rows up quickly.
        env = faults.app_env(slack, database_url, HANDOFF_OUTBOX_LEASE_SECONDS="5")
        app = Served(env, tmp_path, name="crash")
        await app.start()
        accepted: dict[int, int] = {}  # n → contact id
        answered: dict[int, str] = {}  # contact id → the user whose claim was answered 200
        # Kill when these many contacts have been accepted (and a random moment later).
        kill_at = sorted(rng.sample(range(CONTACTS // 10, CONTACTS * 9 // 10), KILLS))
        try:
            async with aiohttp.ClientSession() as http:
                sem = asyncio.Semaphore(6)
                progress = asyncio.Condition()

                async def one(n: int) -> None:
                    async with sem:
                        accepted[n] = await faults.intake(http, lambda: app.url, n)
                    async with progress:
                        progress.notify_all()

                def reached(count: int) -> bool:
                    return len(accepted) >= count

                async def killer() -> None:
                    for threshold in kill_at:
                        async with progress:
                            await progress.wait_for(functools.partial(reached, threshold))
                        await asyncio.sleep(rng.uniform(0, 0.5))
                        await app.kill()
                        await app.start()

                async def clicker() -> None:
                    # Claims race the crashes too: each card is clicked by one person until answered.
                    while len(answered) < CONTACTS:
                        for card in faults.cards(slack):
                            contact_id = faults.card_contact(card)
                            if contact_id in answered:
                                continue
                            user = users[contact_id % len(users)]
                            if await faults.claim(http, app.url, card, user) == 200:
                                answered[contact_id] = user
                        await asyncio.sleep(0.05)

                clicking = asyncio.create_task(clicker())
                await asyncio.gather(killer(), *(one(n) for n in range(CONTACTS)))
                await asyncio.wait_for(clicking, 180)
                # Every claim leaves one line in its card's thread, also after a crash mid-delivery.
                await slack.wait_until(
                    lambda: all(len(slack.thread(faults.CHANNEL, c.ts)) >= 1 for c in faults.cards(slack)),
                    within=120,
                )
                await asyncio.sleep(1)  # anything posted twice would show up by now
        finally:
            await app.stop()
        assert app.starts == KILLS + 1
        posted = sorted(faults.card_contact(c) for c in faults.cards(slack))
        assert posted == sorted(accepted.values()), f"seed {seed}: lost or duplicated cards"
        assert len(set(accepted.values())) == CONTACTS
        for card in faults.cards(slack):
            lines = [m.text for m in slack.thread(faults.CHANNEL, card.ts)]
            assert len(lines) == 1 and "claimed" in lines[0], (seed, faults.card_contact(card), lines)
        held = await faults.claimants(database_url)
        assert {cid: held.get(cid) for cid in answered} == answered, (
            f"seed {seed}: an answered claim was lost"
        )
