"""Private notes to clickers: written to the outbox, together when the database has one writer."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest

from handoff_bot.clock import ManualClock
from handoff_bot.platforms.slack.deps import SlackDeps
from handoff_bot.services.effects import NOTICE
from tests.fakes.memory import FakeUnitOfWorkFactory


def deps(uow: FakeUnitOfWorkFactory, *, group_notes: bool) -> SlackDeps:
    unused: Any = None  # the note path touches neither Slack, the catalogue nor the people
    return SlackDeps(
        uow=uow,
        clock=uow.clock,
        catalogue=unused,
        tz=UTC,
        client=unused,
        people=unused,
        messages=unused,
        channel="C0CONTACTS",
        region="NL",
        group_notes=group_notes,
    )


@pytest.mark.parametrize("group_notes", [True, False])
async def test_notes_arriving_together_are_each_written_once(group_notes: bool) -> None:
    uow = FakeUnitOfWorkFactory(clock=ManualClock(datetime(2026, 12, 2, 9, tzinfo=UTC)), platforms=("slack",))
    slack = deps(uow, group_notes=group_notes)
    users = [f"U{n}" for n in range(5)]
    await asyncio.gather(*(slack.ephemeral("C0CONTACTS", u, f"Already claimed ({u})") for u in users))
    rows = [row for commit in uow.commits for row in commit.rows]
    assert sorted(r.payload["user"] for r in rows if r.kind == NOTICE) == users
    assert all(r.platform == "slack" for r in rows)
    # Together: the other four got in line while the first gathered, so one transaction holds all.
    assert len(uow.commits) == (1 if group_notes else 5)
