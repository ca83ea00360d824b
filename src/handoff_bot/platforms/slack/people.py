"""Slack users as People: joined through their email, created on first sight."""

from __future__ import annotations

import logging

from handoff_bot.domain.errors import InvalidIdentity
from handoff_bot.domain.people import Person
from handoff_bot.outbox.errors import PermanentFailure
from handoff_bot.platforms.slack.client import SlackClient
from handoff_bot.services.commands import EnsurePerson
from handoff_bot.services.people import ensure_person
from handoff_bot.services.ports import UnitOfWorkFactory

log = logging.getLogger(__name__)
PLATFORM = "slack"


class SlackPeople:
    def __init__(self, client: SlackClient, uow: UnitOfWorkFactory) -> None:
        self.client, self.uow = client, uow

    async def person(self, user_id: str) -> Person:
        """The Person behind a Slack user id; asks Slack (users.info) only the first time."""
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
