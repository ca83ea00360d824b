"""Two `serve` processes on one PostgreSQL database, clicks spread over both.

Every contact is posted once and claimed by exactly one person, and each reminder fires once.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
from pathlib import Path

import aiohttp
import pytest

from tests.conftest import NO_POSTGRES, POSTGRES_URL
from tests.e2e import faults
from tests.e2e.served import Served
from tests.fakes.slack_server import FakeSlack

CONTACTS = 60 if faults.LONG else 12
CLICKERS = 4  # people clicking the same card at once


@pytest.mark.slow
@pytest.mark.postgres
async def test_two_instances_one_database_one_claimant_one_post_one_reminder(tmp_path: Path) -> None:
    if not POSTGRES_URL:
        pytest.skip(NO_POSTGRES)
    async with faults.postgres_database(POSTGRES_URL) as database_url, FakeSlack() as slack:
        users = faults.people(slack)
        env = faults.app_env(
            slack,
            database_url,
            HANDOFF_CLAIM_REMINDER_MINUTES="0.04",  # 2.4 s, then the card turns overdue at 4.8 s
            HANDOFF_OFFICE_HOURS="always",
            HANDOFF_HOLIDAYS_COUNTRY="",
            HANDOFF_END_OF_DAY_SUMMARY="false",
        )
        first = Served(env, tmp_path, name="first")
        second = Served(env, tmp_path, name="second")
        await asyncio.gather(first.start(), second.start())
        instances = itertools.cycle([first, second])
        try:
            async with aiohttp.ClientSession() as http:
                urls = [next(instances).url for _ in range(CONTACTS)]
                ids = await asyncio.gather(
                    *(faults.intake(http, functools.partial(str, urls[n]), n) for n in range(CONTACTS))
                )
                cards = await slack.wait_for_messages(faults.CHANNEL, CONTACTS, within=60)
                # Every other contact is claimed: CLICKERS people at once, alternately on each instance.
                to_claim = [c for c in cards if faults.card_contact(c) % 2 == 0]
                clicks = [
                    faults.claim(http, next(instances).url, card, users[(i + k) % len(users)])
                    for i, card in enumerate(to_claim)
                    for k in range(CLICKERS)
                ]
                statuses = await asyncio.gather(*clicks)
                assert set(statuses) == {200}, statuses
                unclaimed = [c for c in cards if faults.card_contact(c) % 2 == 1]
                # Unclaimed cards get the reminder and then the overdue line in their threads.
                await slack.wait_until(
                    lambda: all(len(slack.thread(faults.CHANNEL, c.ts)) >= 2 for c in unclaimed), within=90
                )
                await asyncio.sleep(2)  # a timer firing twice would have done so by now
        finally:
            await asyncio.gather(first.stop(), second.stop())
        posted = sorted(faults.card_contact(c) for c in faults.cards(slack))
        assert posted == sorted(ids) and len(set(ids)) == CONTACTS
        claimed = await faults.claimants(database_url)
        assert sorted(claimed) == sorted(faults.card_contact(c) for c in to_claim)
        claims = await faults.timeline_counts(database_url, "claimed")
        assert all(count == 1 for count in claims.values()) and len(claims) == len(to_claim), claims
        for card in to_claim:
            lines = [m.text for m in slack.thread(faults.CHANNEL, card.ts)]
            winner = claimed[faults.card_contact(card)]
            claim_lines = [line for line in lines if line.endswith(" claimed this contact")]
            assert claim_lines == [f"<@{winner}> claimed this contact"], lines
        reminders = await faults.timeline_counts(database_url, "reminded", "step")
        assert all(count == 1 for count in reminders.values()), reminders
        for card in unclaimed:
            contact_id = faults.card_contact(card)
            assert reminders.get((contact_id, 1)) == 1 and reminders.get((contact_id, 2)) == 1
            assert len(slack.thread(faults.CHANNEL, card.ts)) == 2
