"""Group commit mechanics: who writes, who waits, and that every caller gets its own answer."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from handoff_bot.services.batching import GroupCommit


class Store:
    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.gate: asyncio.Event | None = None

    async def write(self, items: Sequence[int]) -> list[str | Exception]:
        self.batches.append(list(items))
        if self.gate is not None:
            await self.gate.wait()
        return [ValueError(f"bad {i}") if i < 0 else f"stored {i}" for i in items]


async def test_a_lone_caller_writes_at_once_and_alone() -> None:
    store = Store()
    line = GroupCommit(store.write)
    assert await line.submit(1) == "stored 1"
    assert store.batches == [[1]]


async def test_callers_arriving_together_share_a_write_and_get_their_own_answers() -> None:
    store = Store()
    line = GroupCommit(store.write)
    results = await asyncio.gather(*(line.submit(i) for i in (1, -2, 3)), return_exceptions=True)
    assert store.batches == [[1, -2, 3]]
    assert results[0] == "stored 1" and results[2] == "stored 3"
    assert isinstance(results[1], ValueError) and str(results[1]) == "bad -2"


async def test_callers_arriving_during_a_write_form_the_next_one_up_to_the_limit() -> None:
    store = Store()
    store.gate = asyncio.Event()
    line = GroupCommit(store.write, limit=3)
    first = asyncio.create_task(line.submit(0))
    await asyncio.sleep(0.01)
    assert store.batches == [[0]]
    later = [asyncio.create_task(line.submit(i)) for i in range(1, 6)]
    await asyncio.sleep(0.01)
    store.gate.set()
    assert await first == "stored 0"
    assert await asyncio.gather(*later) == [f"stored {i}" for i in range(1, 6)]
    assert store.batches == [[0], [1, 2, 3], [4, 5]]


async def test_a_failed_write_fails_its_callers_and_the_line_moves_on() -> None:
    calls = 0

    async def flaky(items: Sequence[int]) -> list[str | Exception]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ConnectionError("database went away")
        return [f"stored {i}" for i in items]

    line = GroupCommit(flaky)
    results = await asyncio.gather(line.submit(1), line.submit(2), return_exceptions=True)
    assert all(isinstance(r, Exception) for r in results), "nobody is told their item was stored"
    assert await line.submit(3) == "stored 3"


async def test_a_caller_that_gives_up_while_waiting_does_not_stall_the_line() -> None:
    store = Store()
    store.gate = asyncio.Event()
    line = GroupCommit(store.write)
    first = asyncio.create_task(line.submit(0))
    await asyncio.sleep(0.01)
    quitter = asyncio.create_task(line.submit(1))
    stayer = asyncio.create_task(line.submit(2))
    await asyncio.sleep(0.01)
    quitter.cancel()
    store.gate.set()
    assert await first == "stored 0"
    with pytest.raises(asyncio.CancelledError):
        await quitter
    assert await asyncio.wait_for(stayer, 5) == "stored 2"


async def test_a_writer_cancelled_while_gathering_hands_on_its_turn() -> None:
    """A request's deadline can cancel the caller whose turn it is before it writes; the callers
    behind it must still be written, and later ones too (before, the line waited forever)."""
    store = Store()
    line = GroupCommit(store.write)
    leader = asyncio.create_task(line.submit(1))
    follower = asyncio.create_task(line.submit(2))
    await asyncio.sleep(0)  # the leader has its turn and is gathering; the follower is in line
    leader.cancel()
    assert await asyncio.wait_for(follower, 1) == "stored 2"
    assert leader.cancelled()
    assert await asyncio.wait_for(line.submit(3), 1) == "stored 3"
    assert 1 not in [i for batch in store.batches for i in batch]


async def test_with_two_writers_two_writes_run_at_once_and_the_rest_queue_behind_them() -> None:
    store = Store()
    store.gate = asyncio.Event()
    line = GroupCommit(store.write, limit=3, writers=2)
    first = asyncio.create_task(line.submit(0))
    await asyncio.sleep(0.01)  # 0 is being written (the gate holds it on the wire)
    second = asyncio.create_task(line.submit(1))
    await asyncio.sleep(0.01)
    assert store.batches == [[0], [1]]  # the second writer did not wait for the first
    later = [asyncio.create_task(line.submit(i)) for i in range(2, 7)]
    await asyncio.sleep(0.01)
    store.gate.set()
    assert [await first, await second] == ["stored 0", "stored 1"]
    assert await asyncio.gather(*later) == [f"stored {i}" for i in range(2, 7)]
    # Every item written exactly once, in batches of at most three.
    written = [i for batch in store.batches for i in batch]
    assert sorted(written) == list(range(7)) and all(len(b) <= 3 for b in store.batches)


def test_a_group_commit_without_writers_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one writer"):
        GroupCommit(Store().write, writers=0)


async def test_callers_arriving_while_a_writer_gathers_join_its_group_not_a_second_writer() -> None:
    store = Store()
    line = GroupCommit(store.write, writers=2)
    assert await asyncio.gather(*(line.submit(i) for i in range(5))) == [f"stored {i}" for i in range(5)]
    assert store.batches == [[0, 1, 2, 3, 4]]


async def test_a_caller_given_the_turn_but_cancelled_before_taking_it_hands_it_on() -> None:
    store = Store()
    store.gate = asyncio.Event()
    victims: list[asyncio.Task[str]] = []

    class CancelledOnTheirTurn(GroupCommit[int, str]):
        def _lead(self, future: asyncio.Future[object]) -> None:  # type: ignore[override]
            super()._lead(future)  # type: ignore[arg-type]
            for task in victims:
                task.cancel()  # the turn is theirs, but they are cancelled before they run again

    line = CancelledOnTheirTurn(store.write)
    first = asyncio.create_task(line.submit(0))
    await asyncio.sleep(0.01)
    doomed = asyncio.create_task(line.submit(1))
    after = asyncio.create_task(line.submit(2))
    await asyncio.sleep(0.01)
    victims.append(doomed)
    store.gate.set()
    assert await first == "stored 0"
    with pytest.raises(asyncio.CancelledError):
        await doomed
    victims.clear()
    assert await asyncio.wait_for(after, 1) == "stored 2"
    assert store.batches == [[0], [2]]
