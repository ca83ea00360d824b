"""Who DMs the asked colleague when Slack and Teams are both configured (services.reach)."""

from __future__ import annotations

import pytest

from handoff_bot.clock import ManualClock
from handoff_bot.domain.contacts import Channel
from handoff_bot.domain.errors import Unreachable
from handoff_bot.domain.events import EventKind
from handoff_bot.domain.people import Person
from handoff_bot.services.commands import (
    AskQuestion,
    ClaimContact,
    CustomerDetails,
    EnsurePerson,
    ReceiveContact,
    TransferContact,
)
from handoff_bot.services.contacts import claim_contact, receive_contact, transfer_contact
from handoff_bot.services.people import ensure_person
from handoff_bot.services.questions import ask_question
from handoff_bot.services.reach import delivers_dm, dm_platform, require_reachable
from tests.fakes.memory import FakeUnitOfWorkFactory

BOTH = ("slack", "teams")
ON_BOTH = {"slack": "U1", "teams": "aad-1"}


@pytest.mark.parametrize(
    ("identities", "via", "platforms", "expected"),
    [
        (ON_BOTH, "slack", BOTH, "slack"),  # on the asker's platform: there
        (ON_BOTH, "teams", BOTH, "teams"),
        ({"teams": "aad-1"}, "slack", BOTH, "teams"),  # only on the other one: there
        ({"slack": "U1"}, "teams", BOTH, "slack"),
        ({}, "slack", BOTH, None),  # nowhere: nobody sends
        ({"teams": "aad-1"}, "slack", ("slack",), None),  # on a platform this install does not run
        ({"teams": ""}, "teams", BOTH, None),  # an empty id is no identity
        (ON_BOTH, None, BOTH, "slack"),  # no hint (API, timers): a fixed preference, never both
        (ON_BOTH, None, ("teams", "slack"), "slack"),
        (ON_BOTH, "email", BOTH, "slack"),  # a hint that is no chat platform is ignored
    ],
)
def test_the_rule_names_exactly_one_platform_or_none(
    identities: dict[str, str], via: str | None, platforms: tuple[str, ...], expected: str | None
) -> None:
    assert dm_platform(identities, via=via, platforms=platforms) == expected


@pytest.mark.parametrize("via", ["slack", "teams", None])
@pytest.mark.parametrize("identities", [ON_BOTH, {"slack": "U1"}, {"teams": "aad-1"}, {}])
def test_of_both_deliveries_exactly_one_sends_when_the_person_is_reachable(
    identities: dict[str, str], via: str | None
) -> None:
    person = Person(1, "Piet", "piet@example.org", None, identities)
    senders = [p for p in BOTH if delivers_dm(person, p, via=via, platforms=BOTH)]
    assert len(senders) == (1 if identities else 0)
    assert not delivers_dm(None, "slack", via=via, platforms=BOTH)


def test_someone_on_no_configured_platform_is_unreachable() -> None:
    require_reachable(Person(1, "Piet", identities={"teams": "aad-1"}), BOTH)
    with pytest.raises(Unreachable) as raised:
        require_reachable(Person(7, "Joop", identities={"teams": "aad-7"}), ("slack",))
    assert raised.value.person_id == 7


async def _setup(uow: FakeUnitOfWorkFactory, clock: ManualClock) -> tuple[int, int, int, int]:
    asker = await ensure_person(EnsurePerson("Marieke", identities=(("slack", "U1"),)), uow=uow)
    teams_only = await ensure_person(EnsurePerson("Sanne", identities=(("teams", "aad-2"),)), uow=uow)
    nowhere = await ensure_person(EnsurePerson("Joop", "joop@example.org"), uow=uow)
    received = await receive_contact(
        ReceiveContact(Channel.PHONE, "api", CustomerDetails(name="Anna")), uow=uow, clock=clock
    )
    assert asker.id and teams_only.id and nowhere.id and received.contact.id
    return asker.id, teams_only.id, nowhere.id, received.contact.id


async def test_asking_someone_on_no_platform_is_refused_and_records_nothing(clock: ManualClock) -> None:
    uow = FakeUnitOfWorkFactory(clock=clock, platforms=BOTH)
    asker, teams_only, nowhere, cid = await _setup(uow, clock)
    commits = len(uow.commits)

    with pytest.raises(Unreachable) as raised:
        await ask_question(
            AskQuestion(cid, asker, nowhere, "Warranty?"), uow=uow, clock=clock, platforms=BOTH
        )
    assert raised.value.person_id == nowhere and len(uow.commits) == commits

    asked = await ask_question(
        AskQuestion(cid, asker, teams_only, "Warranty?", via="slack"), uow=uow, clock=clock, platforms=BOTH
    )
    [event] = uow.commits[-1].events
    assert event.kind is EventKind.ASKED
    assert event.data == {"question_id": asked.id, "colleague": teams_only, "via": "slack"}


async def test_a_transfer_to_someone_on_no_platform_is_refused_and_the_platform_is_recorded(
    clock: ManualClock,
) -> None:
    uow = FakeUnitOfWorkFactory(clock=clock, platforms=BOTH)
    asker, teams_only, nowhere, cid = await _setup(uow, clock)
    await claim_contact(ClaimContact(cid, asker), uow=uow, clock=clock)
    commits = len(uow.commits)

    with pytest.raises(Unreachable):
        await transfer_contact(TransferContact(cid, asker, nowhere), uow=uow, clock=clock, platforms=BOTH)
    assert len(uow.commits) == commits

    contact = await transfer_contact(
        TransferContact(cid, asker, teams_only, "Call her back", via="slack"),
        uow=uow,
        clock=clock,
        platforms=BOTH,
    )
    assert contact.claimed_by == teams_only
    [event] = uow.commits[-1].events
    assert event.data == {"to": teams_only, "note": "Call her back", "via": "slack"}
