"""Delivers outbox rows for Slack: cards, their thread lines, and DMs, each recorded for later edits."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, tzinfo
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from handoff_bot.domain.errors import NotFound
from handoff_bot.domain.office_hours import OfficeHours
from handoff_bot.domain.people import Person
from handoff_bot.domain.questions import Question, QuestionStatus
from handoff_bot.i18n.catalogue import Catalogue, format_datetime
from handoff_bot.outbox.errors import PermanentFailure
from handoff_bot.platforms.cards import CHANNEL_ICONS, CardBuilder, Line
from handoff_bot.platforms.slack import blocks
from handoff_bot.platforms.slack.actions import CARD_EVENT, DM_EVENT, LINE_EVENT, ActionId, question_ref
from handoff_bot.platforms.slack.client import SlackClient
from handoff_bot.platforms.timeline import asked_via, event_of, via_of
from handoff_bot.services import effects, privacy, reach, reminders
from handoff_bot.services.ports import OutboxMessage, UnitOfWorkFactory
from handoff_bot.services.views import ContactDetails, contact_details, day_summary
from handoff_bot.storage.chat_messages import CARD, CHANNEL_POST, DM, THREAD_LINE, ChatMessages, MessageRef
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
        *,
        hours: OfficeHours | None = None,
        onduty: str = "",
        minimal: bool = False,
        platforms: Sequence[str] = (PLATFORM,),
    ) -> None:
        self.client, self.uow, self.messages = client, uow, messages
        self.platforms = tuple(platforms)  # configured chat platforms: who DMs whom (services.reach)
        self.catalogue, self.builder, self.channel = (
            catalogue,
            CardBuilder(catalogue, tz, hours, minimal=minimal),
            channel,
        )
        self.tz, self.onduty = tz, onduty

    async def __call__(self, message: OutboxMessage) -> Completion | None:
        if message.kind == reminders.CHANNEL_DIGEST:
            return await self._digest(message)
        if message.kind == reminders.CHANNEL_SUMMARY:
            return await self._summary(message)
        if message.kind == effects.NOTICE:
            await self._ephemeral(message, str(message.payload["text"]))
            return None
        contact_id = int(message.payload["contact_id"])
        try:
            details = await contact_details(contact_id, uow=self.uow)
        except NotFound:
            log.info("slack: contact %s no longer exists; nothing to deliver", contact_id)
            return None
        kind = message.kind
        if kind == privacy.CHAT_REDACT:
            await self._redact(details, str(message.payload.get("reason", privacy.ERASED)))
            return None
        if kind == effects.CARD_POST:
            return await self._post_card(details, message)
        if kind == effects.PRIVATE_DETAILS:
            card_blocks = blocks.card_message(self.builder.card(details, private=True), "")["blocks"]
            text = self.catalogue.t("private.details", id=contact_id)
            intro = {"type": "section", "text": {"type": "plain_text", "text": text}}
            await self._ephemeral(message, text, [intro, *(b for b in card_blocks if b["type"] != "actions")])
            return None
        card = await self.messages.card(PLATFORM, contact_id)
        if card is None:
            # Contacts from before Slack was configured have no card; there is nothing to update.
            log.info("slack: no card for contact %s; skipping %s", contact_id, kind)
            return None
        if kind == effects.CARD_REFRESH:
            await self._update_card(details, card)
            return None
        if kind == effects.THREAD_NOTE:
            event = event_of(details, message.payload["event_id"])
            line = self.builder.thread_line(details, event) if event else None
            return await self._thread_line(card, line, event.id if event else None, message) if line else None
        if kind == effects.THREAD_OWNER:
            line = self.builder.owner_note(details)
            return await self._thread_line(card, line, None, message) if line else None
        if kind == effects.DM_QUESTION:
            return await self._dm_question(details, int(message.payload["question_id"]), message)
        if kind == effects.DM_QUESTION_CLOSED:
            await self._refresh_question_dms(details, int(message.payload["question_id"]))
            return None
        if kind == effects.DM_TRANSFER:
            return await self._dm_transfer(details, card, message)
        if kind == effects.DM_QUESTION_NUDGE:
            return await self._nudge_colleague(details, int(message.payload["question_id"]))
        if kind == effects.DM_ASKER_NUDGE:
            return await self._nudge_asker(details, int(message.payload["question_id"]))
        if kind == effects.DM_CALLBACK:
            return await self._callback_soon(details, card, message)
        log.warning("slack: unknown outbox kind %s; skipped", kind)
        return None

    async def _ephemeral(
        self, message: OutboxMessage, text: str, blocks_: list[dict[str, Any]] | None = None
    ) -> None:
        """Only the person who clicked sees it. Once it cannot be shown (they left the channel, it
        was archived) there is no one to tell: logged, not dead-lettered; 429s and outages retry."""
        extra = {"blocks": blocks_} if blocks_ else {}
        channel, user = str(message.payload["channel"]), str(message.payload["user"])
        try:
            await self.client.call("chat.postEphemeral", channel=channel, user=user, text=text, **extra)
        except PermanentFailure as exc:
            log.warning("slack: could not show %s a private note in %s: %s", user, channel, exc.reason)

    async def _post_card(self, details: ContactDetails, message: OutboxMessage) -> Completion | None:
        contact_id = details.contact.id
        assert contact_id is not None
        if await self.messages.card(PLATFORM, contact_id) is not None:
            return None
        if message.attempts > 1:
            # An earlier attempt may have posted and crashed before recording it: look before posting again.
            found = await self.client.history_has(
                self.channel, CARD_EVENT, {"contact_id": contact_id}, since=message.created_at
            )
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
                card.channel_id, LINE_EVENT, match, thread_ts=card.message_id, since=message.created_at
            )
            if found is not None and found.get("ts") != card.message_id:
                return _record(
                    MessageRef(
                        PLATFORM, THREAD_LINE, card.channel_id, found["ts"], card.message_id, card.contact_id
                    )
                )
        payload = blocks.thread_message(line, card.contact_id or 0, event_id, onduty=self.onduty)
        data = await self.client.call(
            "chat.postMessage", channel=card.channel_id, thread_ts=card.message_id, **payload
        )
        return _record(
            MessageRef(
                PLATFORM, THREAD_LINE, card.channel_id, str(data["ts"]), card.message_id, card.contact_id
            )
        )

    def _delivers_dm(self, person: Person | None, via: str | None) -> bool:
        return reach.delivers_dm(person, PLATFORM, via=via, platforms=self.platforms)

    async def _dm_channel(self, slack_user: str) -> str:
        data = await self.client.call("conversations.open", users=slack_user)
        return str(data["channel"]["id"])

    async def _dm_question(
        self, details: ContactDetails, question_id: int, message: OutboxMessage
    ) -> Completion | None:
        question = next((q for q in details.questions if q.id == question_id), None)
        colleague = details.person(question.colleague_id) if question else None
        if question is None or colleague is None:
            return None
        if not self._delivers_dm(colleague, via_of(event_of(details, message.payload.get("event_id")))):
            return None  # the rule sends this DM on the colleague's other platform
        slack_user = colleague.identities[PLATFORM]
        if await self.messages.for_question(PLATFORM, question_id):
            return None
        channel = await self._dm_channel(slack_user)
        payload = self._question_payload(details, question)
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
        payload = self._question_payload(details, question)
        for ref in await self.messages.for_question(PLATFORM, question_id):
            await self.client.call("chat.update", channel=ref.channel_id, ts=ref.message_id, **payload)

    def _question_payload(self, details: ContactDetails, question: Question) -> dict[str, Any]:
        payload = blocks.question_message(self.builder.question(details, question))
        if self.builder.minimal:
            # The shared card is minimal: the person asked sees the customer's details here, privately.
            private = blocks.card_message(self.builder.card(details, private=True), "")["blocks"]
            payload["blocks"] = [*payload["blocks"], *(b for b in private if b["type"] != "actions")]
        return payload

    async def _dm_transfer(
        self, details: ContactDetails, card: MessageRef, message: OutboxMessage
    ) -> Completion | None:
        event = event_of(details, message.payload["event_id"])
        target = details.person(event.data.get("to")) if event else None
        if event is None or target is None or not self._delivers_dm(target, via_of(event)):
            return None
        channel = await self._dm_channel(target.identities[PLATFORM])
        line = self.builder.transfer_note(details, event)
        private = self.builder.card(details, private=True)
        payload = blocks.card_message(private, self.catalogue.t("card.body_trimmed"))
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

    async def _dm(
        self,
        person: Person | None,
        text: str,
        blocks_: list[dict[str, Any]],
        *,
        contact_id: int | None,
        question_id: int | None = None,
        thread_ts: str | None = None,
        channel: str | None = None,
        via: str | None = None,
    ) -> Completion | None:
        """A DM to a person on Slack; people the rule reaches elsewhere get it on their own platform.

        With `channel` (an existing DM of ours) the person was reached here before: stay there.
        """
        if person is None or PLATFORM not in person.identities:
            return None
        if channel is None and not self._delivers_dm(person, via):
            return None
        channel = channel or await self._dm_channel(person.identities[PLATFORM])
        extra = {"thread_ts": thread_ts} if thread_ts else {}
        data = await self.client.call(
            "chat.postMessage", channel=channel, text=text, blocks=blocks_, unfurl_links=False, **extra
        )
        return _record(
            MessageRef(PLATFORM, DM, channel, str(data["ts"]), thread_ts, contact_id, question_id, person.id)
        )

    def _section(self, line: Line) -> tuple[str, list[dict[str, Any]]]:
        text = blocks.mrkdwn(line, onduty=self.onduty)
        return blocks.plain_line(line), [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]

    async def _nudge_colleague(self, details: ContactDetails, question_id: int) -> Completion | None:
        question = next((q for q in details.questions if q.id == question_id), None)
        if question is None or question.status is not QuestionStatus.OPEN:
            return None
        dms = await self.messages.for_question(PLATFORM, question_id)
        if not dms:
            return None
        fallback, section = self._section(self.builder.nudge_colleague(details, question))
        # In the question's own DM thread, where a plain reply is the answer.
        return await self._dm(
            details.person(question.colleague_id),
            fallback,
            section,
            contact_id=details.contact.id,
            question_id=question_id,
            thread_ts=dms[0].message_id,
            channel=dms[0].channel_id,
        )

    async def _nudge_asker(self, details: ContactDetails, question_id: int) -> Completion | None:
        question = next((q for q in details.questions if q.id == question_id), None)
        if question is None or question.status is not QuestionStatus.OPEN:
            return None
        fallback, section = self._section(self.builder.nudge_asker(details, question))
        button = {
            "type": "actions",
            "elements": [
                {
                    "type": "button",
                    "action_id": ActionId.QUESTION_ASK_AGAIN.value,
                    "value": question_ref(question_id),
                    "text": {"type": "plain_text", "text": self.catalogue.t("action.ask_again")},
                    "style": "primary",
                }
            ],
        }
        return await self._dm(
            details.person(question.asker_id),
            fallback,
            [*section, button],
            contact_id=details.contact.id,
            question_id=question_id,
            via=asked_via(details, question_id),
        )

    async def _callback_soon(
        self, details: ContactDetails, card: MessageRef, message: OutboxMessage
    ) -> Completion | None:
        event = event_of(details, message.payload["event_id"])
        line = self.builder.reminder_line(details, event) if event else None
        if event is None or line is None:
            return None
        claimant = details.person(details.contact.claimed_by)
        if self._delivers_dm(claimant, None):
            fallback, section = self._section(line)
            return await self._dm(claimant, fallback, section, contact_id=details.contact.id)
        elsewhere = claimant and reach.dm_platform(claimant.identities, via=None, platforms=self.platforms)
        if elsewhere:
            return None  # the claimant's own platform tells them
        # Nobody (on any chat) has it: say it in the thread, where whoever is on duty sees it.
        return await self._thread_line(card, line, event.id, message)

    async def _digest(self, message: OutboxMessage) -> Completion | None:
        lines: list[str] = []
        for contact_id in [int(i) for i in message.payload.get("contact_ids", [])]:
            try:
                details = await contact_details(contact_id, uow=self.uow)
            except NotFound:
                continue
            lines.append(await self._list_item(details))
        if not lines:
            return None
        since = datetime.fromisoformat(str(message.payload["since"]))
        when = format_datetime(since, self.tz, self.catalogue.language)
        return await self._post_channel(self.catalogue.t("digest.title", count=len(lines), since=when), lines)

    async def _summary(self, message: OutboxMessage) -> Completion | None:
        closing = datetime.fromisoformat(str(message.payload["closing"]))
        start = closing.astimezone(self.tz).replace(hour=0, minute=0, second=0, microsecond=0)
        day = await day_summary(start, closing, uow=self.uow)
        c = self.catalogue
        lines = []
        for contact in day.unresolved:
            owner = day.people.get(contact.claimed_by) if contact.claimed_by else None
            who = blocks.escape(owner.display_name) if owner else c.t("summary.nobody")
            channel = self.builder.channel_label(contact.channel)
            lines.append(f"• {CHANNEL_ICONS[contact.channel]} #{contact.id} {channel} — {who}")
        for question in day.open_questions:
            colleague = day.people.get(question.colleague_id)
            name = colleague.display_name if colleague else c.t("person.unknown")
            lines.append("❓ " + blocks.escape(c.t("summary.question", name=name, id=question.contact_id)))
        median = (
            c.t("summary.median", minutes=max(1, round(day.median_claim_seconds / 60)))
            if day.median_claim_seconds is not None
            else c.t("summary.no_claims")
        )
        title = c.t(
            "summary.title", open=len(day.unresolved), questions=len(day.open_questions), median=median
        )
        return await self._post_channel(title, lines)

    async def _redact(self, details: ContactDetails, reason: str) -> None:
        """Edit every message we posted about this contact: the card, its thread lines and the DMs."""
        assert details.contact.id is not None
        neutral = self.catalogue.t(f"redacted.{reason}")
        text_only = {
            "text": neutral,
            "blocks": [{"type": "section", "text": {"type": "plain_text", "text": neutral}}],
        }
        card = blocks.card_message(self.builder.card(details), "")
        for ref in await self.messages.for_contact(details.contact.id):
            if ref.platform != PLATFORM:
                continue  # Teams copies are edited by Teams' own delivery; Slack would refuse their ids
            payload = card if ref.role == CARD else text_only
            try:
                await self.client.call("chat.update", channel=ref.channel_id, ts=ref.message_id, **payload)
            except PermanentFailure as exc:
                # Someone deleted it in Slack already: nothing left to redact there.
                if "message_not_found" not in exc.reason:
                    raise
                log.info(
                    "slack: message %s of contact %s is gone; nothing to redact",
                    ref.message_id,
                    details.contact.id,
                )

    async def _list_item(self, details: ContactDetails) -> str:
        assert details.contact.id is not None
        card = await self.messages.card(PLATFORM, details.contact.id)
        # No customer data in channel-wide posts: they cannot be edited per customer on erasure.
        contact = details.contact
        when = format_datetime(contact.received_at, self.tz, self.catalogue.language)
        channel = self.builder.channel_label(contact.channel)
        label = f"{CHANNEL_ICONS[contact.channel]} #{contact.id} {channel}, {when}"
        if card is None:
            return f"• {label}"
        link = await self.client.call(
            "chat.getPermalink", channel=card.channel_id, message_ts=card.message_id
        )
        return f"• <{link['permalink']}|{label}>"

    async def _post_channel(self, title: str, lines: list[str]) -> Completion | None:
        body = blocks.trim("\n".join(lines), 2900) if lines else "—"
        payload = [
            {"type": "section", "text": {"type": "mrkdwn", "text": blocks.escape(title)}},
            {"type": "section", "text": {"type": "mrkdwn", "text": body}},
        ]
        data = await self.client.call(
            "chat.postMessage",
            channel=self.channel,
            text=blocks.escape(title),
            blocks=payload,
            unfurl_links=False,
        )
        return _record(MessageRef(PLATFORM, CHANNEL_POST, self.channel, str(data["ts"])))


def _record(ref: MessageRef) -> Completion:
    async def completion(session: AsyncSession) -> None:
        await ChatMessages.record(session, ref)

    return completion
