"""People joined across Slack and Teams by email, raced for real on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handoff_bot.services.commands import EnsurePerson
from handoff_bot.services.people import ensure_person
from handoff_bot.storage.models import PersonIdentityRow, PersonRow
from handoff_bot.storage.uow import SqlUnitOfWorkFactory

AAD = "6b3e7c1a-2f4d-4a8e-9c0b-1d2e3f4a5b6c"


async def _counts(sessions: async_sessionmaker[AsyncSession]) -> tuple[int, int]:
    async with sessions() as s:
        people = await s.scalar(select(func.count()).select_from(PersonRow))
        identities = await s.scalar(select(func.count()).select_from(PersonIdentityRow))
    return int(people or 0), int(identities or 0)


async def test_a_teams_user_seen_twenty_times_at_once_joins_the_slack_person_with_that_email(
    uow: SqlUnitOfWorkFactory, sessions: async_sessionmaker[AsyncSession]
) -> None:
    marieke = await ensure_person(
        EnsurePerson("Marieke", "marieke@example.org", identities=(("slack", "U0MARIEKE"),)), uow=uow
    )
    sighting = EnsurePerson("Marieke de Boer", "Marieke@Example.org", identities=(("teams", AAD),))

    seen = await asyncio.gather(*(ensure_person(sighting, uow=uow) for _ in range(20)))

    assert {p.id for p in seen} == {marieke.id}
    assert await _counts(sessions) == (1, 2)
    async with uow() as tx:
        stored = await tx.people.get(marieke.id or 0)
        assert await tx.people.by_identity("teams", AAD) == stored
    assert stored.identities == {"slack": "U0MARIEKE", "teams": AAD}
    assert (stored.display_name, stored.email) == ("Marieke", "marieke@example.org")


async def test_one_person_seen_on_slack_and_teams_at_once_for_the_first_time_is_one_person(
    uow: SqlUnitOfWorkFactory, sessions: async_sessionmaker[AsyncSession]
) -> None:
    on_slack = EnsurePerson("Piet", "piet@example.org", identities=(("slack", "U0PIET"),))
    on_teams = EnsurePerson("Piet Jansen", "PIET@example.org", identities=(("teams", AAD),))

    seen = await asyncio.gather(*(ensure_person(on_slack if i % 2 else on_teams, uow=uow) for i in range(20)))

    assert len({p.id for p in seen}) == 1
    assert await _counts(sessions) == (1, 2)
    async with uow() as tx:
        stored = await tx.people.get(seen[0].id or 0)
    assert stored.identities == {"slack": "U0PIET", "teams": AAD}
    assert stored.email == "piet@example.org"


async def test_a_teams_user_first_seen_without_email_keeps_working_when_the_email_is_someone_elses(
    uow: SqlUnitOfWorkFactory, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """Teams may not tell us the email at first; later learning one that a Slack person has must not fail."""
    joop_slack = await ensure_person(
        EnsurePerson("Joop", "joop@example.org", identities=(("slack", "U0JOOP"),)), uow=uow
    )
    joop_teams = await ensure_person(EnsurePerson("Joop", identities=(("teams", AAD),)), uow=uow)

    again = await ensure_person(
        EnsurePerson("Joop", "joop@example.org", identities=(("teams", AAD),)), uow=uow
    )

    assert again.id == joop_teams.id != joop_slack.id
    assert again.email is None
    assert await _counts(sessions) == (2, 2)
