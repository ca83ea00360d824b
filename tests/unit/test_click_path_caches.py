"""The click path remembers who recently clicked: no database round trip to name them again."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from handoff_bot.clock import ManualClock
from handoff_bot.domain.errors import AlreadyClaimed
from handoff_bot.i18n.catalogue import Catalogue
from handoff_bot.platforms.outcomes import explain
from handoff_bot.platforms.slack import people as slack_people
from handoff_bot.services.commands import EnsurePerson
from handoff_bot.services.people import ensure_person
from tests.fakes.memory import FakeUnitOfWorkFactory


class NoSlack:
    """users.info must not be needed for people the database already knows."""

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        raise AssertionError(f"unexpected Slack call {method}")


async def _known(uow: FakeUnitOfWorkFactory) -> slack_people.SlackPeople:
    await ensure_person(EnsurePerson("Marieke", "marieke@example.org", None, (("slack", "U1"),)), uow=uow)
    return slack_people.SlackPeople(NoSlack(), uow)  # type: ignore[arg-type]


async def test_a_user_seen_a_moment_ago_is_not_looked_up_again() -> None:
    uow = FakeUnitOfWorkFactory(clock=ManualClock(datetime(2026, 11, 23, 10, 0, tzinfo=UTC)))
    people = await _known(uow)
    first = await people.person("U1")
    entered = uow.entered
    again = await people.person("U1")
    assert again.id == first.id and again.display_name == "Marieke"
    assert uow.entered == entered, "the second click must not open a unit of work"


async def test_a_remembered_user_is_looked_up_again_after_a_minute(monkeypatch: Any) -> None:
    uow = FakeUnitOfWorkFactory(clock=ManualClock(datetime(2026, 11, 23, 10, 0, tzinfo=UTC)))
    people = await _known(uow)
    now = [1000.0]
    monkeypatch.setattr("handoff_bot.platforms.slack.people.time.monotonic", lambda: now[0])
    await people.person("U1")
    entered = uow.entered
    now[0] += slack_people.REMEMBER_SECONDS + 1
    assert people.known(1) is None, "an expired entry names nobody"
    await people.person("U1")
    assert uow.entered == entered + 1


async def test_a_refusal_names_the_winner_from_people_seen_recently() -> None:
    uow = FakeUnitOfWorkFactory(clock=ManualClock(datetime(2026, 11, 23, 10, 0, tzinfo=UTC)))
    people = await _known(uow)
    marieke = await people.person("U1")
    assert marieke.id is not None
    entered = uow.entered
    text = await explain(
        AlreadyClaimed(contact_id=7, by=marieke.id), catalogue=Catalogue("en"), uow=uow, known=people.known
    )
    assert "Marieke" in text
    assert uow.entered == entered
    # Someone this instance has not seen is still named, from the database.
    other = await ensure_person(EnsurePerson("Piet", "piet@example.org"), uow=uow)
    assert other.id is not None
    named = await explain(
        AlreadyClaimed(contact_id=7, by=other.id), catalogue=Catalogue("en"), uow=uow, known=people.known
    )
    assert "Piet" in named
