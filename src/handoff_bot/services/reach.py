"""Which platform reaches a person privately: the one rule every platform's delivery applies.

When Slack and Teams are both configured, every outbox row about a DM is delivered to both; each
delivery asks `dm_platform` and only the one it names sends, so exactly one DM goes out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from handoff_bot.domain.errors import Unreachable
from handoff_bot.domain.people import Person

# Without a hint of where the conversation started (API, timers, older rows), this order decides.
PREFERENCE = ("slack", "teams")


def dm_platform(identities: Mapping[str, str], *, via: str | None, platforms: Sequence[str]) -> str | None:
    """The platform to DM someone on: where the conversation started if they are there, else
    the one configured platform they are on (by PREFERENCE when several), else None."""
    reachable = [p for p in platforms if identities.get(p)]
    if not reachable:
        return None
    if via in reachable:
        return via
    return min(reachable, key=lambda p: PREFERENCE.index(p) if p in PREFERENCE else len(PREFERENCE))


def delivers_dm(person: Person | None, platform: str, *, via: str | None, platforms: Sequence[str]) -> bool:
    """Whether `platform`'s delivery is the one that sends this person's DM."""
    if person is None:
        return False
    return dm_platform(person.identities, via=via, platforms=platforms) == platform


def require_reachable(person: Person, platforms: Sequence[str]) -> None:
    """Refuse (with Unreachable) before recording anything a person could never be told about."""
    if dm_platform(person.identities, via=None, platforms=platforms) is None:
        assert person.id is not None
        raise Unreachable(person_id=person.id)
