"""Delivers outbox rows for Teams: cards as channel threads, their replies, and 1:1 chats, each recorded.

Teams has no history a bot can search (Slack's way of finding a post that a crash did not record), so
every post is bracketed: a marker is stored before the post, and the post's ids are kept in memory
until the outbox completion has recorded them. A retry in the same process records what was posted.
When the outcome is unknown (no answer from Teams, or the process died mid-post) the row is posted
again, with a warning: a card or question that may show twice beats one nobody ever sees.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, tzinfo
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from handoff_bot.domain.errors import NotFound
from handoff_bot.domain.office_hours import OfficeHours
from handoff_bot.domain.people import Person
from handoff_bot.domain.questions import Question, QuestionStatus
from handoff_bot.i18n.catalogue import Catalogue, format_datetime
from handoff_bot.outbox.errors import PermanentFailure, RetryLater
from handoff_bot.platforms.cards import CHANNEL_ICONS, CardBuilder, Line
from handoff_bot.platforms.teams import cards, text
from handoff_bot.platforms.teams.actions import Verb, dialog_data, question_ref
from handoff_bot.platforms.teams.client import NoAnswer, Posted, TeamsClient, activity_of
from handoff_bot.platforms.teams.refs import THREAD_MARK
from handoff_bot.platforms.timeline import asked_via, event_of, via_of
from handoff_bot.services import effects, privacy, reach, reminders
from handoff_bot.services.ports import OutboxMessage, UnitOfWorkFactory
from handoff_bot.services.views import ContactDetails, contact_details, day_summary
from handoff_bot.storage.chat_messages import CARD, CHANNEL_POST, DM, THREAD_LINE, ChatMessages, MessageRef
from handoff_bot.storage.outbox import Completion
from handoff_bot.storage.teams_refs import CONTACTS_CHANNEL, TeamsConversation, TeamsConversations

log = logging.getLogger(__name__)
PLATFORM = "teams"
PENDING = "pending:"  # teams_settings key prefix of a post in progress, per outbox row
REMEMBERED = 1000  # posts kept in memory until their completion is known to be recorded
NO_CHANNEL = (
    "teams: no contacts channel: set TEAMS_CONTACTS_CHANNEL or write '@Handoff use this channel' in it"
)
NOT_INSTALLED = (
    "teams: the bot has not been added to a team yet; add the app to the team of the contacts channel"
)


class TeamsDelivery:
    """The outbox handler for platform "teams". Every step is safe to repeat after a crash."""

    def __init__(
        self,
        client: TeamsClient,
        uow: UnitOfWorkFactory,
        messages: ChatMessages,
        conversations: TeamsConversations,
        catalogue: Catalogue,
        tz: tzinfo,
        channel: str | None,
        *,
        hours: OfficeHours | None = None,
        minimal: bool = False,
        onduty: text.OnDutyMention | None = None,
        platforms: Sequence[str] = (PLATFORM,),
    ) -> None:
        self.client, self.uow, self.messages, self.conversations = client, uow, messages, conversations
        self.platforms = tuple(platforms)  # configured chat platforms: who DMs whom (services.reach)
        self.catalogue, self.tz, self.configured_channel, self.onduty = catalogue, tz, channel, onduty
        self.builder = CardBuilder(catalogue, tz, hours, minimal=minimal)
        self._posted: OrderedDict[int, MessageRef] = OrderedDict()

    async def __call__(self, message: OutboxMessage) -> Completion | None:
        if message.kind == reminders.CHANNEL_DIGEST:
            return await self._digest(message)
        if message.kind == reminders.CHANNEL_SUMMARY:
            return await self._summary(message)
        contact_id = int(message.payload["contact_id"])
        try:
            details = await contact_details(contact_id, uow=self.uow)
        except NotFound:
            log.info("teams: contact %s no longer exists; nothing to deliver", contact_id)
            return None
        kind = message.kind
        if kind == privacy.CHAT_REDACT:
            await self._redact(details, str(message.payload.get("reason", privacy.ERASED)))
            return None
        if kind == effects.CARD_POST:
            return await self._post_card(details, message)
        card = await self.messages.card(PLATFORM, contact_id)
        if card is None:
            # Contacts from before Teams was configured have no card; there is nothing to update.
            log.info("teams: no card for contact %s; skipping %s", contact_id, kind)
            return None
        if kind == effects.CARD_REFRESH:
            await self._update_card(details, card)
            return None
        if kind == effects.THREAD_NOTE:
            event = event_of(details, message.payload["event_id"])
            line = self.builder.thread_line(details, event) if event else None
            return await self._thread_line(card, line, message) if line else None
        if kind == effects.THREAD_OWNER:
            line = self.builder.owner_note(details)
            return await self._thread_line(card, line, message) if line else None
        if kind == effects.DM_QUESTION:
            return await self._dm_question(details, int(message.payload["question_id"]), message)
        if kind == effects.DM_QUESTION_CLOSED:
            await self._refresh_question_dms(details, int(message.payload["question_id"]))
            return None
        if kind == effects.DM_TRANSFER:
            return await self._dm_transfer(details, message)
        if kind == effects.DM_QUESTION_NUDGE:
            return await self._nudge_colleague(details, int(message.payload["question_id"]), message)
        if kind == effects.DM_ASKER_NUDGE:
            return await self._nudge_asker(details, int(message.payload["question_id"]), message)
        if kind == effects.DM_CALLBACK:
            return await self._callback_soon(details, card, message)
        log.warning("teams: unknown outbox kind %s; skipped", kind)
        return None

    # ------------------------------------------------------------ where to post

    async def _channel_id(self) -> str:
        channel = self.configured_channel or await self.conversations.setting(CONTACTS_CHANNEL)
        if not channel:
            raise RetryLater(NO_CHANNEL, retry_after=60, counts=False)
        return channel

    async def _anchor(self, conversation_id: str) -> TeamsConversation:
        """The stored conversation whose service url and tenant reach `conversation_id`."""
        stored = await self.conversations.get(conversation_id)
        if stored is not None:
            return stored
        channel = await self.conversations.channel(conversation_id.split(THREAD_MARK, 1)[0])
        anchor = channel or await self.conversations.any_channel(self.client.tenant_id)
        if anchor is None:
            raise RetryLater(NOT_INSTALLED, retry_after=300)
        return anchor

    # ------------------------------------------------------------ posting exactly once

    async def _once(self, message: OutboxMessage, post: Callable[[], Awaitable[MessageRef]]) -> Completion:
        """Post at most once per outbox row, even when the process dies between post and record."""
        assert message.id is not None
        remembered = self._posted.get(message.id)
        if remembered is not None:
            return self._record(message.id, remembered)  # posted; recording it failed last time
        marker = f"{PENDING}{message.id}"
        if await self.conversations.setting(marker) is not None and message.attempts > 1:
            log.warning(
                "teams: outbox row %s (%s): an earlier attempt got no answer from Teams or stopped before "
                "recording it; posting again, so Teams may show it twice",
                message.id,
                message.kind,
            )
        await self.conversations.set_setting(marker, message.kind)
        try:
            ref = await post()
        except NoAnswer:
            raise  # Teams may have posted it: the marker stays, so the next attempt warns
        except Exception:
            # Teams refused: nothing was posted, the next attempt may post.
            await self.conversations.delete_setting(marker)
            raise
        self._posted[message.id] = ref
        while len(self._posted) > REMEMBERED:
            self._posted.popitem(last=False)
        return self._record(message.id, ref)

    def _record(self, row_id: int, ref: MessageRef) -> Completion:
        async def completion(session: AsyncSession) -> None:
            await ChatMessages.record(session, ref)
            await TeamsConversations.delete_setting_in(session, f"{PENDING}{row_id}")

        return completion

    # ------------------------------------------------------------ the card and its thread

    def _onduty(self, conversation_id: str) -> text.OnDutyMention:
        """Whom reminders mention when a customer has no usual contact person: the channel itself."""
        if self.onduty is not None:
            return self.onduty
        channel = conversation_id.split(THREAD_MARK, 1)[0]
        return text.OnDutyMention(channel, self.catalogue.t("teams.onduty"), "channel")

    def _card_activity(self, details: ContactDetails, channel_id: str) -> Any:
        view = self.builder.card(details)
        content = cards.contact_card(
            view, trimmed_note=self.catalogue.t("card.body_trimmed"), onduty=self._onduty(channel_id)
        )
        return activity_of(cards.card_activity(content, view.fallback))

    async def _post_card(self, details: ContactDetails, message: OutboxMessage) -> Completion | None:
        contact_id = details.contact.id
        assert contact_id is not None
        if await self.messages.card(PLATFORM, contact_id) is not None:
            return None
        channel_id = await self._channel_id()
        anchor = await self._anchor(channel_id)
        activity = self._card_activity(details, channel_id)

        async def post() -> MessageRef:
            posted = await self.client.post_thread(anchor, channel_id, activity)
            return MessageRef(PLATFORM, CARD, posted.conversation_id, posted.activity_id, None, contact_id)

        return await self._once(message, post)

    async def _update_card(self, details: ContactDetails, card: MessageRef) -> None:
        anchor = await self._anchor(card.channel_id)
        activity = self._card_activity(details, card.channel_id)
        await self.client.update(anchor, card.channel_id, card.message_id, activity)

    async def _thread_line(self, card: MessageRef, line: Line, message: OutboxMessage) -> Completion:
        anchor = await self._anchor(card.channel_id)
        activity = activity_of(text.message(line, onduty=self._onduty(card.channel_id)))

        async def post() -> MessageRef:
            posted = await self.client.reply(anchor, card.channel_id, activity)
            return MessageRef(
                PLATFORM, THREAD_LINE, card.channel_id, posted.activity_id, card.message_id, card.contact_id
            )

        return await self._once(message, post)

    # ------------------------------------------------------------ 1:1 chats

    def _delivers_dm(self, person: Person | None, via: str | None) -> bool:
        return reach.delivers_dm(person, PLATFORM, via=via, platforms=self.platforms)

    async def _chat(self, person: Person | None, contact_id: int | None) -> TeamsConversation | None:
        """The 1:1 chat with a person on Teams; people not on Teams are reached on their own platform."""
        identity = person.identities.get(PLATFORM) if person is not None else None
        if not identity:
            return None
        # A new chat lives in the tenant of the team where the contact's card is.
        card = await self.messages.card(PLATFORM, contact_id) if contact_id is not None else None
        near = await self._anchor(card.channel_id) if card is not None else None
        if identity.startswith("29:"):
            return await self.client.personal_chat(aad_object_id=None, user_id=identity, near=near)
        return await self.client.personal_chat(aad_object_id=identity, near=near)

    async def _dm(
        self,
        message: OutboxMessage,
        person: Person | None,
        activity: Any,
        *,
        contact_id: int | None,
        question_id: int | None = None,
    ) -> Completion | None:
        if person is None or PLATFORM not in person.identities:
            return None
        chat = await self._chat(person, contact_id)
        if chat is None:
            return None

        async def post() -> MessageRef:
            posted: Posted = await self.client.send(chat, activity)
            return MessageRef(
                PLATFORM,
                DM,
                chat.conversation_id,
                posted.activity_id,
                None,
                contact_id,
                question_id,
                person.id,
            )

        return await self._once(message, post)

    def _question_activity(self, details: ContactDetails, question: Question) -> Any:
        view = self.builder.question(details, question)
        private = self.builder.card(details, private=True) if self.builder.minimal else None
        content = cards.question_card(
            view, contact=private, trimmed_note=self.catalogue.t("card.body_trimmed")
        )
        return activity_of(cards.card_activity(content, view.fallback))

    async def _dm_question(
        self, details: ContactDetails, question_id: int, message: OutboxMessage
    ) -> Completion | None:
        question = next((q for q in details.questions if q.id == question_id), None)
        colleague = details.person(question.colleague_id) if question else None
        if question is None or colleague is None:
            return None
        if not self._delivers_dm(colleague, via_of(event_of(details, message.payload.get("event_id")))):
            return None  # the rule sends this DM on the colleague's other platform
        if await self.messages.for_question(PLATFORM, question_id):
            return None
        activity = self._question_activity(details, question)
        return await self._dm(
            message, colleague, activity, contact_id=details.contact.id, question_id=question_id
        )

    async def _refresh_question_dms(self, details: ContactDetails, question_id: int) -> None:
        question = next((q for q in details.questions if q.id == question_id), None)
        if question is None:
            return
        for ref in await self.messages.for_question(PLATFORM, question_id):
            anchor = await self._anchor(ref.channel_id)
            await self.client.update(
                anchor, ref.channel_id, ref.message_id, self._question_activity(details, question)
            )

    async def _dm_transfer(self, details: ContactDetails, message: OutboxMessage) -> Completion | None:
        event = event_of(details, message.payload["event_id"])
        target = details.person(event.data.get("to")) if event else None
        if event is None or target is None or not self._delivers_dm(target, via_of(event)):
            return None
        line = self.builder.transfer_note(details, event)
        view = self.builder.card(details, private=True)
        content = cards.transfer_card(line, view, trimmed_note=self.catalogue.t("card.body_trimmed"))
        activity = activity_of(cards.card_activity(content, text.plain_text(line, 300)))
        return await self._dm(message, target, activity, contact_id=details.contact.id)

    async def _nudge_colleague(
        self, details: ContactDetails, question_id: int, message: OutboxMessage
    ) -> Completion | None:
        question = next((q for q in details.questions if q.id == question_id), None)
        if question is None or question.status is not QuestionStatus.OPEN:
            return None
        if not await self.messages.for_question(PLATFORM, question_id):
            return None
        line = self.builder.nudge_colleague(details, question)
        return await self._dm(
            message,
            details.person(question.colleague_id),
            activity_of(text.message(line)),
            contact_id=details.contact.id,
            question_id=question_id,
        )

    async def _nudge_asker(
        self, details: ContactDetails, question_id: int, message: OutboxMessage
    ) -> Completion | None:
        question = next((q for q in details.questions if q.id == question_id), None)
        if question is None or question.status is not QuestionStatus.OPEN:
            return None
        if not self._delivers_dm(details.person(question.asker_id), asked_via(details, question_id)):
            return None
        assert details.contact.id is not None
        mentions = text.Mentions()
        line = self.builder.nudge_asker(details, question)
        ask_again = {
            "type": "Action.Submit",
            "title": text.trim(self.catalogue.t("action.ask_again"), 60),
            # `again` (a question ref) lets the ask dialog refill the question for its asker.
            "data": {**dialog_data(Verb.CONTACT_ASK, details.contact.id), "again": question_ref(question_id)},
            "style": "positive",
        }
        content = cards.with_mentions(
            cards.card(
                [cards.text_block(text.markdown(line, mentions, 1000))],
                actions=[ask_again],
                fallback=text.plain_text(line, 300),
            ),
            mentions,
        )
        return await self._dm(
            message,
            details.person(question.asker_id),
            activity_of(cards.card_activity(content, text.plain_text(line, 300))),
            contact_id=details.contact.id,
            question_id=question_id,
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
            return await self._dm(
                message, claimant, activity_of(text.message(line)), contact_id=details.contact.id
            )
        if claimant and reach.dm_platform(claimant.identities, via=None, platforms=self.platforms):
            return None  # the claimant's own platform tells them
        # Nobody (on any chat) has it: say it in the thread, where whoever is on duty sees it.
        return await self._thread_line(card, line, message)

    # ------------------------------------------------------------ channel-wide posts

    async def _digest(self, message: OutboxMessage) -> Completion | None:
        lines: list[str] = []
        for contact_id in [int(i) for i in message.payload.get("contact_ids", [])]:
            try:
                details = await contact_details(contact_id, uow=self.uow)
            except NotFound:
                continue
            lines.append(self._list_item(details))
        if not lines:
            return None
        since = datetime.fromisoformat(str(message.payload["since"]))
        when = format_datetime(since, self.tz, self.catalogue.language)
        return await self._post_channel(
            message, self.catalogue.t("digest.title", count=len(lines), since=when), lines
        )

    async def _summary(self, message: OutboxMessage) -> Completion | None:
        closing = datetime.fromisoformat(str(message.payload["closing"]))
        start = closing.astimezone(self.tz).replace(hour=0, minute=0, second=0, microsecond=0)
        day = await day_summary(start, closing, uow=self.uow)
        c = self.catalogue
        lines = []
        for contact in day.unresolved:
            owner = day.people.get(contact.claimed_by) if contact.claimed_by else None
            who = text.escape(owner.display_name) if owner else text.escape(c.t("summary.nobody"))
            channel = text.escape(self.builder.channel_label(contact.channel))
            lines.append(f"{CHANNEL_ICONS[contact.channel]} #{contact.id} {channel} — {who}")
        for question in day.open_questions:
            colleague = day.people.get(question.colleague_id)
            name = colleague.display_name if colleague else c.t("person.unknown")
            lines.append("❓ " + text.escape(c.t("summary.question", name=name, id=question.contact_id)))
        median = (
            c.t("summary.median", minutes=max(1, round(day.median_claim_seconds / 60)))
            if day.median_claim_seconds is not None
            else c.t("summary.no_claims")
        )
        title = c.t(
            "summary.title", open=len(day.unresolved), questions=len(day.open_questions), median=median
        )
        return await self._post_channel(message, title, lines)

    def _list_item(self, details: ContactDetails) -> str:
        # No customer data in channel-wide posts: they cannot be edited per customer on erasure.
        contact = details.contact
        when = format_datetime(contact.received_at, self.tz, self.catalogue.language)
        channel = self.builder.channel_label(contact.channel)
        return text.escape(f"{CHANNEL_ICONS[contact.channel]} #{contact.id} {channel}, {when}")

    async def _post_channel(self, message: OutboxMessage, title: str, lines: list[str]) -> Completion:
        content = cards.list_card(title, lines)
        channel_id = await self._channel_id()
        anchor = await self._anchor(channel_id)
        activity = activity_of(cards.card_activity(content, title))

        async def post() -> MessageRef:
            posted = await self.client.post_thread(anchor, channel_id, activity)
            return MessageRef(PLATFORM, CHANNEL_POST, posted.conversation_id, posted.activity_id)

        return await self._once(message, post)

    # ------------------------------------------------------------ privacy

    async def _redact(self, details: ContactDetails, reason: str) -> None:
        """Edit every Teams message about this contact: the card, its thread lines and the 1:1 messages."""
        assert details.contact.id is not None
        neutral = activity_of(
            {
                "type": "message",
                "textFormat": "plain",
                "text": text.escape(self.catalogue.t(f"redacted.{reason}")),
            }
        )
        for ref in await self.messages.for_contact(details.contact.id):
            if ref.platform != PLATFORM:
                continue
            activity = self._card_activity(details, ref.channel_id) if ref.role == CARD else neutral
            try:
                anchor = await self._anchor(ref.channel_id)
                await self.client.update(anchor, ref.channel_id, ref.message_id, activity)
            except PermanentFailure as exc:
                # Someone deleted it in Teams already: nothing left to redact there.
                if "no longer exists" not in exc.reason:
                    raise
                log.info(
                    "teams: message %s of contact %s is gone; nothing to redact",
                    ref.message_id,
                    details.contact.id,
                )
