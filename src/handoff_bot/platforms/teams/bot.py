"""The Teams bot: remembers where it may post, dispatches to listeners, translates errors once."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import Any

from botbuilder.core import InvokeResponse, TurnContext
from botbuilder.core.teams import TeamsActivityHandler
from botbuilder.schema import Activity, ActivityTypes

from handoff_bot.i18n.catalogue import Catalogue
from handoff_bot.platforms.teams import refs
from handoff_bot.platforms.teams.adapter import invoke_response
from handoff_bot.storage.teams_refs import TeamsConversations

log = logging.getLogger(__name__)

MessageHandler = Callable[[TurnContext], Awaitable[bool]]  # True: handled, stop looking
InvokeHandler = Callable[[TurnContext], Awaitable[InvokeResponse | None]]


class TeamsRouter:
    """What listener modules register into, each with a `register(router, deps)` function."""

    def __init__(self) -> None:
        self.messages: list[MessageHandler] = []
        self.invokes: dict[str, InvokeHandler] = {}

    def on_message(self, handler: MessageHandler) -> MessageHandler:
        """Message handlers are asked in registration order until one returns True."""
        self.messages.append(handler)
        return handler

    def on_invoke(self, name: str) -> Callable[[InvokeHandler], InvokeHandler]:
        """One handler per invoke name (`adaptiveCard/action`, `task/fetch`, `task/submit`…)."""

        def add(handler: InvokeHandler) -> InvokeHandler:
            if name in self.invokes:
                raise ValueError(f"an invoke handler for {name!r} is already registered")
            self.invokes[name] = handler
            return handler

        return add


class HandoffBot(TeamsActivityHandler):  # type: ignore[misc]
    def __init__(self, router: TeamsRouter, conversations: TeamsConversations, catalogue: Catalogue) -> None:
        self.router, self.conversations, self.catalogue = router, conversations, catalogue
        # conversation id → (service url, tenant) already stored by this process: skip rewriting it.
        self._known: dict[str, tuple[str, str | None]] = {}

    async def on_turn(self, turn_context: TurnContext) -> None:
        await self.remember(turn_context.activity)
        await super().on_turn(turn_context)

    async def remember(self, activity: Activity) -> None:
        """Store (or forget) the conversation reference this activity tells us about."""
        if activity.channel_id not in (None, "msteams", "emulator", "test"):
            return
        if _bot_removed(activity):
            await self._forget(activity)
            return
        conversation = refs.conversation_of(activity)
        if conversation is None:
            return
        seen = (conversation.service_url, conversation.tenant_id)
        if self._known.get(conversation.conversation_id) == seen:
            return
        await self.conversations.save(conversation)
        self._known[conversation.conversation_id] = seen
        log.info(
            "teams: stored %s conversation reference (tenant %s)", conversation.kind, conversation.tenant_id
        )

    async def _forget(self, activity: Activity) -> None:
        team = refs.team_of(activity)
        if team:
            removed = await self.conversations.remove_team(team)
            log.info("teams: bot removed from a team; forgot %s channel reference(s)", removed)
        if activity.conversation is not None and activity.conversation.id:
            await self.conversations.remove(str(activity.conversation.id))
        self._known.clear()

    async def on_message_activity(self, turn_context: TurnContext) -> None:
        for handler in self.router.messages:
            if await handler(turn_context):
                return

    async def on_invoke_activity(self, turn_context: TurnContext) -> InvokeResponse | None:
        handler = self.router.invokes.get(turn_context.activity.name or "")
        if handler is not None:
            return await handler(turn_context)
        # None of the SDK's own invokes is implemented here: it answers 501, or fails to read a value
        # of the wrong shape (msrest's DeserializationError). Both are the sender's mistake: a 400.
        try:
            response: InvokeResponse | None = await super().on_invoke_activity(turn_context)
        except ValueError as exc:
            log.info("teams: unreadable %s invoke: %s", turn_context.activity.name, type(exc).__name__)
            return _unsupported()
        if response is not None and response.status == HTTPStatus.NOT_IMPLEMENTED:
            return _unsupported()
        return response

    def _create_adaptive_card_invoke_error_response(self, status_code: int, code: str, message: str) -> Any:
        # The SDK puts an Exception object in the body, which no serialiser can write (defect 1, 400 path).
        return {
            "statusCode": int(status_code),
            "type": "application/vnd.microsoft.error",
            "value": {"code": code, "message": message},
        }

    async def on_error(self, turn_context: TurnContext, error: Exception) -> None:
        """The one translator for turns: an incident id in the log and in what the user sees."""
        incident = uuid.uuid4().hex[:12]
        activity = turn_context.activity
        log.error(
            "teams: %s activity failed [incident %s]",
            activity.type if activity else "?",
            incident,
            exc_info=(type(error), error, error.__traceback__),
        )
        text = self.catalogue.t("error.incident", incident=incident)
        try:
            if activity is not None and activity.type == ActivityTypes.invoke:
                await turn_context.send_activity(
                    Activity(type="invokeResponse", value=invoke_response({"error": text}, 500))
                )
            elif activity is not None and activity.type == ActivityTypes.message:
                await turn_context.send_activity(text)
        except Exception:
            log.warning("teams: could not tell the user about incident %s", incident, exc_info=True)


def _unsupported() -> InvokeResponse:
    return invoke_response({"code": "NotSupported", "message": "This bot does not handle that invoke."}, 400)


def _bot_removed(activity: Activity) -> bool:
    if activity.type == ActivityTypes.installation_update:
        return str(activity.action or "").startswith("remove")
    if activity.type == ActivityTypes.conversation_update and activity.members_removed:
        bot = activity.recipient.id if activity.recipient else None
        return any(member.id == bot for member in activity.members_removed)
    return False
