"""Slack users as People: joined through their email, created on first sight."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

from handoff_bot.domain.errors import InvalidIdentity, NotFound
from handoff_bot.domain.people import Person
from handoff_bot.outbox.errors import PermanentFailure
from handoff_bot.platforms.slack.actions import decode, person_ref
from handoff_bot.platforms.slack.client import SlackClient
from handoff_bot.services.commands import EnsurePerson
from handoff_bot.services.people import ensure_person
from handoff_bot.services.ports import UnitOfWorkFactory

log = logging.getLogger(__name__)
PLATFORM = "slack"
# Every click names its user; who that is changes rarely, so recently seen users skip the database.
REMEMBER_SECONDS = 60.0
REMEMBER_MAX = 10_000


class SlackPeople:
    def __init__(self, client: SlackClient, uow: UnitOfWorkFactory) -> None:
        self.client, self.uow = client, uow
        self._seen: dict[str, tuple[float, Person]] = {}
        self._by_id: dict[int, tuple[float, Person]] = {}

    def known(self, person_id: int) -> Person | None:
        """A person looked up here within the last minute, by id; None when not (or no longer) known."""
        seen = self._by_id.get(person_id)
        return seen[1] if seen is not None and seen[0] > time.monotonic() else None

    async def elsewhere(self, platforms: Sequence[str]) -> list[tuple[str, str]]:
        """(opaque value, name) of the people Slack's user picker cannot offer: only on another platform."""
        others = [p for p in platforms if p != PLATFORM]
        if not others:
            return []
        async with self.uow() as tx:
            people = await tx.people.all()
        return [
            (person_ref(p.id), p.display_name)
            for p in people
            if p.id is not None and PLATFORM not in p.identities and any(p.identities.get(o) for o in others)
        ]

    async def chosen(self, slack_user: object, other: object) -> Person | None:
        """The colleague picked in a form: a Slack user, or a person value from `elsewhere`."""
        if isinstance(slack_user, str) and slack_user:
            return await self.person(slack_user)
        person_id = decode(other, "p")
        if person_id is None:
            return None
        async with self.uow() as tx:
            try:
                return await tx.people.get(person_id)
            except NotFound:
                return None

    async def person(self, user_id: str) -> Person:
        """The Person behind a Slack user id; asks Slack (users.info) only the first time."""
        now = time.monotonic()
        seen = self._seen.get(user_id)
        if seen is not None and seen[0] > now:
            return seen[1]
        person = await self._lookup(user_id)
        if len(self._seen) >= REMEMBER_MAX:
            self._seen.clear()
            self._by_id.clear()
        self._seen[user_id] = (now + REMEMBER_SECONDS, person)
        if person.id is not None:
            self._by_id[person.id] = (now + REMEMBER_SECONDS, person)
        return person

    async def _lookup(self, user_id: str) -> Person:
        async with self.uow() as tx:
            known = await tx.people.by_identity(PLATFORM, user_id)
        if known is not None:
            return known
        try:
            data = await self.client.call("users.info", user=user_id)
        except PermanentFailure as exc:
            # Slack signed the request, so the user exists; someone from another workspace (Slack
            # Connect) or a deactivated account is not visible to users.info. Join them by id.
            log.info("slack user %s has no profile we can read (%s); joined by id", user_id, exc.reason)
            data = {}
        user = data.get("user") or {}
        profile = user.get("profile") or {}
        name = (
            profile.get("display_name")
            or profile.get("real_name")
            or user.get("real_name")
            or user.get("name")
            or user_id
        )
        email = profile.get("email") or None
        try:
            return await ensure_person(
                EnsurePerson(str(name), email, None, ((PLATFORM, user_id),)), uow=self.uow
            )
        except InvalidIdentity:
            # A profile email we cannot parse must not lock the user out; join them without it.
            log.warning("slack user %s has an unusable profile email; joined without it", user_id)
            return await ensure_person(
                EnsurePerson(str(name), None, None, ((PLATFORM, user_id),)), uow=self.uow
            )
