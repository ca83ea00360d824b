"""Teams users → People: by Entra id, else Teams' roster (name, email), joined with Slack by email."""

from __future__ import annotations

from typing import Any

from handoff_bot.clock import ManualClock
from handoff_bot.platforms.teams.graph import GraphUser
from handoff_bot.platforms.teams.people import CACHE_SECONDS, Member, TeamsPeople
from handoff_bot.services.commands import EnsurePerson
from handoff_bot.services.people import ensure_person
from tests.fakes.memory import FakeUnitOfWorkFactory

AAD = "aad-marieke"


class Roster:
    """A stand-in for TeamsInfo.get_member at the port: counts how often Teams is asked."""

    def __init__(self, **members: Member) -> None:
        self.members, self.asked = members, 0

    async def __call__(self, turn_context: Any, user_id: str) -> Member | None:
        self.asked += 1
        return self.members.get(user_id)


async def test_a_teams_user_with_the_email_of_a_slack_person_is_that_person(clock: ManualClock) -> None:
    uow = FakeUnitOfWorkFactory(clock=clock, platforms=("slack", "teams"))
    slack = await ensure_person(
        EnsurePerson("Marieke", "marieke@example.org", identities=(("slack", "U1"),)), uow=uow
    )
    roster = Roster(**{"29:m": Member("29:m", AAD, "Marieke de Boer", "Marieke@example.org")})
    people = TeamsPeople(uow, lookup=roster)

    first = await people.person(None, "29:m", AAD)
    again = await people.person(None, "29:m", AAD)

    assert first.id == again.id == slack.id
    assert first.identities == {"slack": "U1", "teams": AAD}
    assert roster.asked == 1  # the second sighting is found by its Entra id, without asking Teams


async def test_without_an_email_the_user_is_a_teams_only_person_named_by_teams(clock: ManualClock) -> None:
    uow = FakeUnitOfWorkFactory(clock=clock, platforms=("teams",))
    roster = Roster(**{"29:p": Member("29:p", "aad-piet", "Piet", None)})
    person = await TeamsPeople(uow, lookup=roster).person(None, "29:p")
    assert (person.display_name, person.email, person.identities) == ("Piet", None, {"teams": "aad-piet"})


async def test_when_teams_will_not_say_the_activity_name_and_user_id_stand_in(clock: ManualClock) -> None:
    uow = FakeUnitOfWorkFactory(clock=clock, platforms=("teams",))
    people = TeamsPeople(uow, lookup=Roster())
    person = await people.person(None, "29:x", None, "Emulator User")
    assert (person.display_name, person.identities) == ("Emulator User", {"teams": "29:x"})


async def test_an_unusable_email_does_not_lock_the_user_out(clock: ManualClock) -> None:
    uow = FakeUnitOfWorkFactory(clock=clock, platforms=("teams",))
    roster = Roster(**{"29:j": Member("29:j", "aad-joop", "Joop", "not an email")})
    person = await TeamsPeople(uow, lookup=roster).person(None, "29:j")
    assert (person.email, person.identities) == (None, {"teams": "aad-joop"})


async def test_roster_answers_are_cached_for_an_hour(clock: ManualClock) -> None:
    uow = FakeUnitOfWorkFactory(clock=clock, platforms=("teams",))
    now = [0.0]
    roster = Roster(**{"29:p": Member("29:p", "aad-piet", "Piet", None)})
    people = TeamsPeople(uow, lookup=roster, clock=lambda: now[0])
    await people.member(None, "29:p")
    await people.member(None, "29:p")
    assert roster.asked == 1
    now[0] = CACHE_SECONDS + 1
    await people.member(None, "29:p")
    assert roster.asked == 2


class Directory:
    def __init__(self, user: Any) -> None:
        self.user, self.asked = user, 0

    async def user_by_id(self, aad_object_id: str) -> Any:
        self.asked += 1
        return self.user


async def test_someone_outside_the_roster_is_named_by_the_directory_and_joined_by_email(
    clock: ManualClock,
) -> None:
    uow = FakeUnitOfWorkFactory(clock=clock, platforms=("slack", "teams"))
    slack = await ensure_person(
        EnsurePerson("Jan", "jan@example.org", identities=(("slack", "U9"),)), uow=uow
    )
    directory = Directory(GraphUser("aad-jan", "Jan Bakker", None, "JAN@example.org"))
    people = TeamsPeople(uow, lookup=Roster(), directory=lambda: directory)

    picked = await people.person(None, "aad-jan", "aad-jan")

    assert picked.id == slack.id and picked.identities == {"slack": "U9", "teams": "aad-jan"}
    assert directory.asked == 1


async def test_someone_recorded_without_an_email_gets_it_later_and_then_is_one_with_their_slack_self(
    clock: ManualClock,
) -> None:
    """Teams would not say the first time; later it does, and Slack's Marieke joins that person."""
    uow = FakeUnitOfWorkFactory(clock=clock, platforms=("slack", "teams"))
    now = [0.0]
    roster = Roster()  # the roster lookup failed at first sight
    people = TeamsPeople(uow, lookup=roster, clock=lambda: now[0])
    first = await people.person(None, "29:m", AAD, "Marieke")
    assert first.email is None and roster.asked == 1
    assert (await people.person(None, "29:m", AAD)).email is None and roster.asked == 2  # still no answer

    roster.members["29:m"] = Member("29:m", AAD, "Marieke", "marieke@example.org")
    assert (await people.person(None, "29:m", AAD)).email is None
    assert roster.asked == 2  # within the hour Teams is not asked again
    now[0] = CACHE_SECONDS + 1
    later = await people.person(None, "29:m", AAD)
    slack = await ensure_person(
        EnsurePerson("Marieke", "marieke@example.org", identities=(("slack", "U1"),)), uow=uow
    )

    assert later.id == first.id == slack.id and later.email == "marieke@example.org"
    assert slack.identities == {"teams": AAD, "slack": "U1"}
