"""Teams users as People: by Entra object id, else asked of Teams (name, email) and joined by email.

The same email on Slack and Teams is one person, so a contact claimed in Teams shows the same name on
the Slack card and a Slack user can ask a colleague who is only on Teams.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from botbuilder.core import TurnContext
from botbuilder.core.teams import TeamsInfo
from botbuilder.schema import ChannelAccount

from handoff_bot.domain.errors import InvalidIdentity
from handoff_bot.domain.people import Person
from handoff_bot.services.commands import EnsurePerson
from handoff_bot.services.people import ensure_person
from handoff_bot.services.ports import UnitOfWorkFactory

log = logging.getLogger(__name__)
PLATFORM = "teams"
CACHE_SIZE = 1000
CACHE_SECONDS = 3600.0


@dataclass(frozen=True)
class Member:
    """What Teams says about a user (TeamsInfo.get_member)."""

    user_id: str  # 29:… (per bot)
    aad_object_id: str | None
    name: str
    email: str | None


MemberLookup = Callable[[TurnContext, str], Awaitable[Member | None]]


class Directory(Protocol):
    """Microsoft Graph's users, for someone the team roster does not know (picked org-wide)."""

    async def user_by_id(self, aad_object_id: str) -> Any: ...


async def get_member(turn_context: TurnContext, user_id: str) -> Member | None:
    """The roster entry of a user in this conversation, or None when Teams will not say."""
    try:
        account = await TeamsInfo.get_member(turn_context, user_id)
    except Exception as exc:  # the connector's errors are msrest exceptions of many kinds
        log.warning("teams: could not look up member %s: %s", user_id, type(exc).__name__)
        return None
    email = account.email or account.user_principal_name or None
    return Member(user_id, account.aad_object_id or None, account.name or "", email)


class TeamsPeople:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        *,
        lookup: MemberLookup = get_member,
        directory: Callable[[], Directory | None] = lambda: None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.uow, self.lookup, self.directory, self.clock = uow, lookup, directory, clock
        self._members: OrderedDict[str, tuple[float, Member]] = OrderedDict()
        self._email_tried: OrderedDict[str, float] = OrderedDict()  # user id → when

    async def person(
        self, turn_context: TurnContext, user_id: str, aad_object_id: str | None = None, name: str = ""
    ) -> Person:
        """The Person behind a Teams user; asks Teams for name and email only on first sight."""
        if aad_object_id:
            async with self.uow() as tx:
                known = await tx.people.by_identity(PLATFORM, aad_object_id)
            if known is not None:
                return await self._with_email(turn_context, user_id, aad_object_id, known)
        member = await self.member(turn_context, user_id)
        aad = aad_object_id or (member.aad_object_id if member else None)
        if aad and not aad_object_id:
            async with self.uow() as tx:
                known = await tx.people.by_identity(PLATFORM, aad)
            if known is not None:
                return known
        # Without an Entra id (the Emulator, anonymous test mode) the Teams user id stands in for it.
        identity = aad or user_id
        email = member.email if member else None
        display = (member.name if member else "") or name or identity
        if email is None:
            # Without an email this person cannot be linked to their Slack self: say so, once.
            log.info("teams user %s has no known email; recorded as a Teams-only person", identity)
        try:
            return await ensure_person(
                EnsurePerson(display, email, None, ((PLATFORM, identity),)), uow=self.uow
            )
        except InvalidIdentity:
            log.warning("teams user %s has an unusable email; recorded without it", identity)
            return await ensure_person(
                EnsurePerson(display, None, None, ((PLATFORM, identity),)), uow=self.uow
            )

    async def _with_email(
        self, turn_context: TurnContext, user_id: str, identity: str, known: Person
    ) -> Person:
        """Someone first recorded without an email (Teams would not say then) gets it later, so their
        Slack self, seen after that, is joined with them. Asked at most hourly per user."""
        if known.email is not None:
            return known
        now = self.clock()
        tried = self._email_tried.get(user_id)
        if tried is not None and now - tried < CACHE_SECONDS:
            return known
        self._email_tried[user_id] = now
        while len(self._email_tried) > CACHE_SIZE:
            self._email_tried.popitem(last=False)
        member = await self.member(turn_context, user_id)
        if member is None or not member.email:
            return known
        try:
            found = await ensure_person(
                EnsurePerson(known.display_name, member.email, None, ((PLATFORM, identity),)), uow=self.uow
            )
        except InvalidIdentity:
            return known
        if found.email is None:
            # Already someone else's (their Slack self, seen first): joining two people is an admin task.
            log.info("teams user %s has the email of another person; kept apart", identity)
        return found

    async def of_account(self, turn_context: TurnContext, account: ChannelAccount | None) -> Person | None:
        if account is None or not account.id:
            return None
        return await self.person(turn_context, str(account.id), account.aad_object_id, account.name or "")

    async def member(self, turn_context: TurnContext, user_id: str) -> Member | None:
        """TeamsInfo.get_member, cached (bounded, an hour) so a busy thread costs one call per person."""
        now = self.clock()
        cached = self._members.get(user_id)
        if cached is not None and now - cached[0] < CACHE_SECONDS:
            self._members.move_to_end(user_id)
            return cached[1]
        member = await self.lookup(turn_context, user_id) or await self._from_directory(user_id)
        if member is not None:
            self._members[user_id] = (now, member)
            self._members.move_to_end(user_id)
            while len(self._members) > CACHE_SIZE:
                self._members.popitem(last=False)
        return member

    async def _from_directory(self, user_id: str) -> Member | None:
        """Someone outside this team's roster (Teams' people picker searches the whole organisation):
        Graph knows their name and email, which joins them with their Slack self."""
        directory = self.directory()
        if directory is None:
            return None
        try:
            user = await directory.user_by_id(user_id)
        except Exception as exc:  # Graph down or not permitted: the person is still recorded, by id
            log.warning("teams: directory lookup failed: %s", type(exc).__name__)
            return None
        if user is None:
            return None
        email = user.mail or user.user_principal_name or None
        return Member(user_id, user.id, user.display_name, email)
