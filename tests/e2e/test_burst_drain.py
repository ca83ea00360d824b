"""A burst of contacts into a rate-limited Slack: each posted once, at Slack's pace, without a pile of 429s.

The short version of benchmark 3 (tests/bench/burst_drain.py), against a real `serve` process.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.bench.burst_drain import burst_drain


@pytest.mark.slow
async def test_a_burst_drains_at_the_channel_rate_exactly_once(tmp_path: Path) -> None:
    contacts, rate = 60, 20.0
    result = await burst_drain(
        f"sqlite+aiosqlite:///{tmp_path / 'burst.db'}", tmp_path, contacts=contacts, rate=rate
    )
    assert (result["missing"], result["duplicates"]) == (0, 0), result
    # The fake allows `rate`/s after a burst of 3, so the drain cannot be faster than this...
    assert result["drain_s"] >= (contacts - 3) / rate - 0.1, result
    # ...and the bot paces itself: unpaced, it collects about three 429s per contact (measured).
    assert result["ratelimited"] <= contacts // 4, result


@pytest.mark.slow
async def test_a_429_in_the_middle_of_a_burst_does_not_set_off_more(tmp_path: Path) -> None:
    # After a 429 the posts queued for that channel wait out Retry-After with it, then go one by
    # one; released together they would be refused again, and again.
    contacts, rate = 60, 20.0
    database = f"sqlite+aiosqlite:///{tmp_path / 'burst.db'}"
    result = await burst_drain(database, tmp_path, contacts=contacts, rate=rate, early_429s=2)
    assert (result["missing"], result["duplicates"]) == (0, 0), result
    assert result["ratelimited"] <= 2 + contacts // 10, result
