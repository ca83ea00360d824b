"""The per-channel pacer of the Slack client: spacing, independent channels, bursts, a queue cap."""

from __future__ import annotations

import asyncio
import itertools
import time

import pytest

from handoff_bot.outbox.errors import RetryLater
from handoff_bot.platforms.slack.client import MAX_PAUSE, ChannelPacer


async def test_posts_to_one_channel_leave_one_interval_apart() -> None:
    pacer = ChannelPacer(per_second=50)  # 20 ms apart
    started: list[float] = []

    async def post() -> None:
        await pacer.turn("C1")
        started.append(time.monotonic())

    await asyncio.gather(*(post() for _ in range(10)))
    gaps = [b - a for a, b in itertools.pairwise(started)]
    # Half a slot of timer slack may be made up, never more: sleeping never ends early.
    assert min(gaps) >= 0.01 - 0.002, gaps
    assert started[-1] - started[0] >= 9 * 0.02 - 0.01 - 0.002


async def test_channels_do_not_wait_for_each_other() -> None:
    pacer = ChannelPacer(per_second=1)
    await pacer.turn("C1")
    # A second post to C1 waits a whole second; one to C2 goes at once.
    waiting = asyncio.ensure_future(pacer.turn("C1"))
    await asyncio.wait_for(pacer.turn("C2"), 0.5)
    assert not waiting.done()
    waiting.cancel()


async def test_a_burst_goes_at_once_then_the_rate_applies() -> None:
    pacer = ChannelPacer(per_second=1, burst=3)
    for _ in range(3):
        await asyncio.wait_for(pacer.turn("C1"), 0.5)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(pacer.turn("C1"), 0.5)


async def test_a_queue_longer_than_the_pause_limit_sends_rows_back_without_counting() -> None:
    pacer = ChannelPacer(per_second=1)
    queued = [asyncio.ensure_future(pacer.turn("C1")) for _ in range(int(MAX_PAUSE) + 3)]
    await asyncio.sleep(0)  # every one of them has taken its place in the queue
    with pytest.raises(RetryLater) as refused:
        await pacer.turn("C1")
    assert refused.value.counts is False and refused.value.retry_after is not None
    assert refused.value.retry_after > MAX_PAUSE
    for waiting in queued:
        waiting.cancel()
    await asyncio.gather(*queued, return_exceptions=True)


async def test_a_429_holds_the_channel_for_posts_already_waiting_too() -> None:
    pacer = ChannelPacer(per_second=10)
    await pacer.turn("C1")
    began = time.monotonic()
    waiting = asyncio.ensure_future(pacer.turn("C1"))  # its slot is 0.1 s away
    await asyncio.sleep(0.02)
    pacer.hold("C1", 0.4)  # Slack answered 429 with Retry-After meanwhile
    await waiting
    assert time.monotonic() - began >= 0.4
    await asyncio.wait_for(pacer.turn("C2"), 0.5)  # other channels are not held
