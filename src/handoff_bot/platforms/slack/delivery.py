"""Delivers outbox rows for Slack: cards, their thread lines, and DMs, each recorded for later edits."""

from __future__ import annotations

import logging
from datetime import tzinfo
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from handoff_bot.domain.errors import NotFound
from handoff_bot.domain.events import TimelineEvent
from handoff_bot.i18n.catalogue import Catalogue
from handoff_bot.platforms.cards import CardBuilder, Line
from handoff_bot.platforms.slack import blocks
from handoff_bot.platforms.slack.actions import CARD_EVENT, DM_EVENT, LINE_EVENT
from handoff_bot.platforms.slack.client import SlackClient
from handoff_bot.services import effects
from handoff_bot.services.ports import OutboxMessage, UnitOfWorkFactory
from handoff_bot.services.views import ContactDetails, contact_details
from handoff_bot.storage.chat_messages import CARD, DM, THREAD_LINE, ChatMessages, MessageRef
from handoff_bot.storage.outbox import Completion

log = logging.getLogger(__name__)
PLATFORM = "slack"


class SlackDelivery:
    """The outbox handler for platform "slack". Every step is safe to repeat after a crash."""

    def __init__(
        self,
        client: SlackClient,
        uow: UnitOfWorkFactory,
        messages: ChatMessages,
        catalogue: Catalogue,
        tz: tzinfo,
        channel: str,
    ) -> None:
        self.client, self.uow, self.messages = client, uow, messages
        self.catalogue, self.builder, self.channel = catalogue, CardBuilder(catalogue, tz), channel

    async def __call__(self, message: OutboxMessage) -> Completion | None:
        contact_id = int(message.payload["contact_id"])
        try:
            details = await contact_details(contact_id, uow=self.uow)
        except NotFound:
            log.info("slack: contact %s no longer exists; nothing to deliver", contact_id)
            return None
        kind = message.kind
        if kind == effects.CARD_POST:
            return await self._post_card(details, message)
        card = await self.messages.card(PLATFORM, contact_id)
        if card is None:
            # Contacts from before Slack was configured have no card; there is nothing to update.
            log.info("slack: no card for contact %s; skipping %s", contact_id, kind)
            return None
        if kind == effects.CARD_REFRESH:
            await self._update_card(details, card)
            return None
        if kind == effects.THREAD_NOTE:
            event = _event(details, message.payload["event_id"])
            line = self.builder.thread_line(details, event) if event else None
            return await self._thread_line(card, line, event.id if event else None, message) if line else None
        if kind == effects.THREAD_OWNER:
            line = self.builder.owner_note(details)
            return await self._thread_line(card, line, None, message) if line else None
        if kind == effects.DM_QUESTION:
            return await self._dm_question(details, int(message.payload["question_id"]))
        if kind == effects.DM_QUESTION_CLOSED:
            await self._refresh_question_dms(details, int(message.payload["question_id"]))
            return None
        if kind == effects.DM_TRANSFER:
            return await self._dm_transfer(details, card, message)
        log.warning("slack: unknown outbox kind %s; skipped", kind)
        return None

    async def _post_card(self, details: ContactDetails, message: OutboxMessage) -> Completion | None:
        contact_id = details.contact.id
        assert contact_id is not None
        if await self.messages.card(PLATFORM, contact_id) is not None:
            return None
        if message.attempts > 1:
            # An earlier attempt may have posted and crashed before recording it: look before posting again.
            found = await self.client.history_has(self.channel, CARD_EVENT, {"contact_id": contact_id})
            if found is not None:
                return _record(MessageRef(PLATFORM, CARD, self.channel, found["ts"], None, contact_id))
        payload = blocks.card_message(self.builder.card(details), self.catalogue.t("card.body_trimmed"))
        data = await self.client.call("chat.postMessage", channel=self.channel, **payload)
        return _record(MessageRef(PLATFORM, CARD, str(data["channel"]), str(data["ts"]), None, contact_id))

    async def _update_card(self, details: ContactDetails, card: MessageRef) -> None:
        payload = blocks.card_message(self.builder.card(details), self.catalogue.t("card.body_trimmed"))
        # Metadata must be sent again on every update or Slack drops it.
        await self.client.call("chat.update", channel=card.channel_id, ts=card.message_id, **payload)

    async def _thread_line(
        self, card: MessageRef, line: Line, event_id: int | None, message: OutboxMessage
    ) -> Completion | None:
        match: dict[str, Any] = {"contact_id": card.contact_id, "event_id": event_id}
        if message.attempts > 1:
            found = await self.client.history_has(
                card.channel_id, LINE_EVENT, match, thread_ts=card.message_id
            )
            if found is not None and found.get("ts") != card.message_id:
                return _record(
                    MessageRef(
                        PLATFORM, THREAD_LINE, card.channel_id, found["ts"], card.message_id, card.contact_id
                    )
                )
        payload = blocks.thread_message(line, card.contact_id or 0, event_id)
        data = await self.client.call(
            "chat.postMessage", channel=card.channel_id, thread_ts=card.message_id, **payload
        )
        return _record(
            MessageRef(
                PLATFORM, THREAD_LINE, card.channel_id, str(data["ts"]), card.message_id, card.contact_id
            )
        )

    async def _dm_channel(self, slack_user: str) -> str:
        data = await self.client.call("conversations.open", users=slack_user)
        return str(data["channel"]["id"])

    async def _dm_question(self, details: ContactDetails, question_id: int) -> Completion | None:
        question = next((q for q in details.questions if q.id == question_id), None)
        colleague = details.person(question.colleague_id) if question else None
        if question is None or colleague is None:
            return None
        slack_user = colleague.identities.get(PLATFORM)
        if slack_user is None:
            return None  # the colleague is not on Slack; their platform's delivery reaches them
        if await self.messages.for_question(PLATFORM, question_id):
            return None
        channel = await self._dm_channel(slack_user)
        payload = blocks.question_message(self.builder.question(details, question))
        data = await self.client.call("chat.postMessage", channel=channel, **payload)
        return _record(
            MessageRef(
                PLATFORM, DM, channel, str(data["ts"]), None, details.contact.id, question_id, colleague.id
            )
        )

    async def _refresh_question_dms(self, details: ContactDetails, question_id: int) -> None:
        question = next((q for q in details.questions if q.id == question_id), None)
        if question is None:
            return
        view = self.builder.question(details, question)
        for ref in await self.messages.for_question(PLATFORM, question_id):
            await self.client.call(
                "chat.update", channel=ref.channel_id, ts=ref.message_id, **blocks.question_message(view)
            )

    async def _dm_transfer(
        self, details: ContactDetails, card: MessageRef, message: OutboxMessage
    ) -> Completion | None:
        event = _event(details, message.payload["event_id"])
        target = details.person(event.data.get("to")) if event else None
        if event is None or target is None or PLATFORM not in target.identities:
            return None
        channel = await self._dm_channel(target.identities[PLATFORM])
        line = self.builder.transfer_note(details, event)
        payload = blocks.card_message(self.builder.card(details), self.catalogue.t("card.body_trimmed"))
        payload["blocks"] = [
            {"type": "section", "text": {"type": "mrkdwn", "text": blocks.mrkdwn(line)}},
            *payload["blocks"][:-1],
        ]  # the buttons live on the channel card
        payload["text"] = blocks.plain_line(line)
        payload["metadata"] = {"event_type": DM_EVENT, "event_payload": {"contact_id": card.contact_id}}
        data = await self.client.call("chat.postMessage", channel=channel, **payload)
        return _record(
            MessageRef(PLATFORM, DM, channel, str(data["ts"]), None, details.contact.id, None, target.id)
        )


def _event(details: ContactDetails, event_id: object) -> TimelineEvent | None:
    return next((e for e in details.timeline if e.id == event_id), None)


def _record(ref: MessageRef) -> Completion:
    async def completion(session: AsyncSession) -> None:
        await ChatMessages.record(session, ref)

    return completion
