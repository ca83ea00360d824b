"""What every Teams flow listener shares: who acted, the refreshed cards, the colleagues to offer."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from botbuilder.core import InvokeResponse, TurnContext
from botbuilder.schema import Activity

from handoff_bot.domain.errors import DomainError
from handoff_bot.domain.people import Person
from handoff_bot.platforms.teams import cards, dialogs, refs
from handoff_bot.platforms.teams.adapter import invoke_response
from handoff_bot.platforms.teams.deps import TeamsDeps
from handoff_bot.platforms.teams.people import PLATFORM, TeamsPeople
from handoff_bot.platforms.teams.presence import Presence
from handoff_bot.services import reach
from handoff_bot.services.views import ContactDetails, contact_details

log = logging.getLogger(__name__)
PRESENCE_WAIT = 2.0  # seconds the ask dialog waits for Graph presence (invokes must answer within ~5 s)
InvokeListener = Callable[[TurnContext], Awaitable[InvokeResponse]]
MessageListener = Callable[[TurnContext], Awaitable[bool]]


class PresenceSource(Protocol):
    async def presences(self, aad_object_ids: Sequence[str]) -> Mapping[str, Presence]: ...


class TeamOwners(Protocol):
    """Whether a user owns a team (Graph: /teams/{group id}/members, roles contain "owner")."""

    async def is_owner(self, team_group_id: str, aad_object_id: str) -> bool: ...


@dataclass
class Flow:
    deps: TeamsDeps
    people: TeamsPeople
    platforms: tuple[str, ...]

    @property
    def presence(self) -> PresenceSource | None:
        """Graph presence; None without Graph (the dialog then shows no presence)."""
        source: PresenceSource | None = self.deps.presence
        return source

    @property
    def owners(self) -> TeamOwners | None:
        """Graph team roles; None: owners cannot be checked, so nobody may pick a channel."""
        owners: TeamOwners | None = self.deps.owners
        return owners

    def t(self, key: str, **values: object) -> str:
        return self.deps.catalogue.t(key, **values)

    async def actor(self, turn: TurnContext) -> Person:
        """The person who sent this (verified) activity."""
        person = await self.people.of_account(turn, turn.activity.from_property)
        if person is None or person.id is None:
            raise PermissionError("teams: an activity without a sender")
        return person

    async def explain(self, error: DomainError) -> str:
        return await self.deps.explain(error)

    def contact_card(self, details: ContactDetails) -> dict[str, Any]:
        view = self.deps.builder.card(details)
        return cards.contact_card(view, trimmed_note=self.t("card.body_trimmed"))

    async def card_response(self, contact_id: int) -> InvokeResponse:
        """The card as it is now, shown to the clicker at once (the outbox updates everyone's copy)."""
        details = await contact_details(contact_id, uow=self.deps.uow)
        return invoke_response(cards.invoke_card_response(self.contact_card(details)))

    def message_response(self, text: str) -> InvokeResponse:
        return invoke_response(cards.invoke_message_response(text))

    def invoke(
        self, handler: InvokeListener, respond: Callable[[str], InvokeResponse] | None = None
    ) -> InvokeListener:
        """The one translator for refusals of invokes: a rule said no → the clicker reads why
        (`respond` shapes that answer: a card action message by default, a dialog message for dialogs).

        Anything else is a bug and goes on to the bot's on_turn_error (incident id in log and reply).
        """
        answer = respond or self.message_response

        async def translated(turn: TurnContext) -> InvokeResponse:
            try:
                return await handler(turn)
            except DomainError as error:
                log.info("teams invoke refused: %s", error)
                return answer(await self.explain(error))

        return translated

    def message(self, handler: MessageListener) -> MessageListener:
        """The same translator for messages: the refusal is the reply."""

        async def translated(turn: TurnContext) -> bool:
            try:
                return await handler(turn)
            except DomainError as error:
                log.info("teams message refused: %s", error)
                await self.reply(turn, await self.explain(error))
                return True

        return translated

    async def colleagues(self, exclude: int | None) -> list[dialogs.Colleague]:
        """Everyone who can be reached on a configured platform (Teams or Slack), with Teams presence."""
        async with self.deps.uow() as tx:
            people = await tx.people.all()
        reachable = [
            p
            for p in people
            if p.id is not None
            and p.id != exclude
            and reach.dm_platform(p.identities, via=PLATFORM, platforms=self.platforms)
        ]
        seen: Mapping[str, Presence] = {}
        aad_ids = [p.identities[PLATFORM] for p in reachable if p.identities.get(PLATFORM)]
        if self.presence is not None and aad_ids:
            try:
                # Teams gives a dialog a few seconds to open: a slow Graph must not keep it shut.
                seen = await asyncio.wait_for(self.presence.presences(aad_ids), PRESENCE_WAIT)
            except Exception as exc:  # presence is a nicety: the dialog opens without it
                log.warning("teams: presence unavailable: %s", type(exc).__name__)
        return [
            dialogs.Colleague(
                p.id or 0,
                p.display_name,
                seen.get(p.identities.get(PLATFORM, ""), Presence.UNKNOWN)
                if PLATFORM in p.identities
                else None,
            )
            for p in reachable
        ]

    async def is_team_owner(self, turn: TurnContext) -> bool | None:
        """True/False when Graph could tell; None when it cannot be checked (no Graph, no team id).

        The Bot Framework roster has no team roles (TeamsChannelAccount.user_role is "user" for
        owners too), so ownership is read from Microsoft Graph, which needs TeamMember.Read.All.
        """
        sender = turn.activity.from_property
        aad = getattr(sender, "aad_object_id", None)
        group = _team_group_id(turn.activity)
        if self.owners is None or not aad or not group:
            return None
        try:
            return await self.owners.is_owner(group, aad)
        except Exception as exc:  # Graph down or permission missing: say it cannot be checked
            log.warning("teams: team owners could not be checked: %s", type(exc).__name__)
            return None

    async def reply(self, turn: TurnContext, text: str) -> None:
        """A short answer in the conversation the activity came from (Teams has no ephemeral messages)."""
        await turn.send_activity(Activity(type="message", text=text, text_format="plain"))

    async def contact_of_thread(self, turn: TurnContext) -> int | None:
        """The contact whose card is the root of the channel thread this activity is in."""
        conversation = turn.activity.conversation
        thread = str(conversation.id) if conversation and conversation.id else ""
        root = refs.thread_root(thread)
        if root is None:
            return None
        for where in dict.fromkeys((refs.channel_of(turn.activity) or thread, thread)):
            found = await self.deps.messages.contact_for_card(PLATFORM, where, root)
            if found is not None:
                return found
        return None


def _team_group_id(activity: Activity) -> str | None:
    """The team's Microsoft 365 group id, which Teams sends as channelData.team.aadGroupId."""
    data = activity.channel_data if isinstance(activity.channel_data, dict) else {}
    team = data.get("team")
    group = team.get("aadGroupId") if isinstance(team, dict) else None
    return str(group) if group else None
