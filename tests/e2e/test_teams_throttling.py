"""A burst into a throttling Teams: the fake Bot Connector answers 429 + Retry-After for a while, on the
channel (new threads) and on one thread (replies and card updates). Every message arrives exactly once,
the bot keeps within Teams' per-thread limits as counted by the fake, and nothing is dead-lettered.

Runs a short burst in `make test`; HANDOFF_FAULTS=long (`make bench`) runs the long one.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections import defaultdict

import pytest
from sqlalchemy import select

from handoff_bot import keys
from handoff_bot.platforms.teams.client import THREAD_LIMITS, Pacer
from handoff_bot.services.commands import ClaimContact, EnsurePerson, ReleaseContact
from handoff_bot.services.contacts import claim_contact, release_contact
from handoff_bot.services.people import ensure_person
from handoff_bot.storage.models import OutboxRow
from tests.conftest import Database
from tests.e2e.teams_harness import CHANNEL, MARIEKE, TeamsHarness, teams_app
from tests.fakes.bot_connector import Recorded

LONG = os.environ.get("HANDOFF_FAULTS") == "long"
# Arrival times at the fake jitter against the bot's own clock on a loaded machine: windows are
# checked a little shorter than Teams' (a message the bot paced 1.0 s apart may arrive 0.8 s apart).
SLACK = 0.8
LONG_ONLY = [
    pytest.mark.slow,
    pytest.mark.skipif(not LONG, reason="the long version runs with HANDOFF_FAULTS=long"),
]


async def drain_until_settled(h: TeamsHarness) -> None:
    """Run the worker until no Teams row is pending (Retry-After makes rows due again later)."""
    deadline = time.monotonic() + 120.0
    while True:
        await h.deliver()
        async with h.client.app[keys.UOW].sessions() as s:
            pending = list(
                (
                    await s.scalars(
                        select(OutboxRow.id).where(
                            OutboxRow.platform == "teams", OutboxRow.status == "pending"
                        )
                    )
                ).all()
            )
        if not pending:
            return
        assert time.monotonic() < deadline, f"rows still pending: {pending}"
        await asyncio.sleep(0.2)


async def settled_rows(h: TeamsHarness) -> dict[str, int]:
    async with h.client.app[keys.UOW].sessions() as s:
        rows = list((await s.scalars(select(OutboxRow).where(OutboxRow.platform == "teams"))).all())
    counts: dict[str, int] = defaultdict(int)
    for row in rows:
        counts[row.status] += 1
    return dict(counts)


def assert_paced(calls: list[Recorded]) -> None:
    """Per conversation (a thread, or the channel for new threads): no window holds more than Teams allows."""
    lanes: dict[str, list[float]] = defaultdict(list)
    for call in calls:
        lane = CHANNEL if call.kind == "thread" else call.conversation_id
        lanes[lane].append(call.at)
    for lane, times in lanes.items():
        times.sort()
        for window, most in THREAD_LIMITS[:2]:  # 7 per 1 s, 8 per 2 s: the ones a burst can break
            for i in range(len(times) - most):
                assert times[i + most] - times[i] >= window * SLACK, (lane, window, most, times)


def threads_per_contact(h: TeamsHarness) -> dict[str, int]:
    seen: dict[str, int] = defaultdict(int)
    for root in h.connector.threads(CHANNEL):
        card = json.dumps(root.activity)
        seen[next(s for s in card.split('"') if s.startswith("Burst "))] += 1
    return seen


@pytest.mark.parametrize(
    "contacts", [pytest.param(14, id="short"), pytest.param(60, id="long", marks=LONG_ONLY)]
)
async def test_a_burst_into_a_throttled_channel_posts_every_contact_once_at_teams_pace(
    sqlite_database: Database, contacts: int
) -> None:
    async with teams_app(sqlite_database.url) as h:
        await h.install()
        h.connector.fail_next(429, times=4, retry_after="1", kind="thread")
        for i in range(contacts):
            await h.post_contact(subject=f"Burst {i:03d}")

        await drain_until_settled(h)

        assert threads_per_contact(h) == {f"Burst {i:03d}": 1 for i in range(contacts)}
        assert all(f.times == 0 for f in h.connector.faults)  # the 429s were really served
        assert (await settled_rows(h)).get("dead", 0) == 0
        assert_paced(h.connector.calls_of("thread"))


@pytest.mark.parametrize(
    "cycles", [pytest.param(5, id="short"), pytest.param(25, id="long", marks=LONG_ONLY)]
)
async def test_a_throttled_thread_gets_every_line_once_and_its_card_updates_in_order(
    sqlite_database: Database, cycles: int
) -> None:
    async with teams_app(sqlite_database.url) as h:
        await h.install()
        created = await h.post_contact(subject="Burst 000")
        await h.deliver()
        ref = await h.card_ref(created["id"])
        uow, clock = h.client.app[keys.UOW], h.client.app[keys.CLOCK]
        marieke = await ensure_person(
            EnsurePerson(MARIEKE[2], MARIEKE[3], identities=(("teams", MARIEKE[1]),)), uow=uow
        )
        assert marieke.id is not None
        # Claim and release in a burst: a thread line and a card update each, all on one thread.
        for _ in range(cycles):
            await claim_contact(ClaimContact(created["id"], marieke.id), uow=uow, clock=clock)
            await release_contact(ReleaseContact(created["id"], marieke.id), uow=uow, clock=clock)
        h.connector.fail_next(429, times=3, retry_after="1", kind="reply")
        h.connector.fail_next(429, times=2, retry_after="1", kind="update")

        await drain_until_settled(h)

        lines = h.connector.thread(ref.channel_id)
        assert len(lines) == 2 * cycles, [m.text for m in lines]
        assert len({m.id for m in lines}) == len(lines)
        claimed = [m for m in lines if "claimed" in m.text.lower()]
        assert len(claimed) == cycles
        assert all(f.times == 0 for f in h.connector.faults)
        assert (await settled_rows(h)).get("dead", 0) == 0
        card = await h.card(created["id"])
        assert "Claim" in json.dumps(card.card)  # the last update (released) is the one shown
        on_thread = [c for c in h.connector.calls if c.conversation_id == ref.channel_id]
        assert_paced(on_thread)


async def test_rows_waiting_for_one_slot_take_it_one_by_one() -> None:
    """The outbox delivers a batch concurrently: after a pause they must not all fire at once."""
    pacer = Pacer(limits=((0.3, 2),), tenant_limits=None)
    pacer.pause("thread", 0.2)
    entered: list[float] = []

    async def send() -> None:
        async with pacer.turn("thread"):
            entered.append(time.monotonic())  # the pacer's own clock, read where it records

    await asyncio.gather(*(send() for _ in range(6)))

    assert len(entered) == 6
    assert all(later - first >= 0.3 for first, later in zip(entered, entered[2:], strict=False))
