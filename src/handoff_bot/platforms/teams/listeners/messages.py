"""Messages to the bot: `@Handoff ask @colleague …` in a contact's thread, `@Handoff use this channel`,
`my contacts` / `open contacts`, `log a contact`, and a plain reply in the 1:1 chat as an answer."""

from __future__ import annotations

import logging

from botbuilder.core import TurnContext
from botbuilder.schema import Activity

from handoff_bot.platforms.teams import cards, refs
from handoff_bot.platforms.teams.actions import Verb, dialog_data
from handoff_bot.platforms.teams.bot import TeamsRouter
from handoff_bot.platforms.teams.intents import Command, Intent, parse
from handoff_bot.platforms.teams.listeners.flow import Flow
from handoff_bot.services.commands import AnswerQuestion, AskQuestion
from handoff_bot.services.questions import answer_question, ask_question
from handoff_bot.storage.desk import load_desk

log = logging.getLogger(__name__)
PLATFORM = "teams"


def register(router: TeamsRouter, flow: Flow) -> None:
    deps = flow.deps

    async def handle_message(turn: TurnContext) -> bool:
        activity = turn.activity
        if activity.from_property is None or (activity.from_property.id or "").startswith("28:"):
            return True  # the bot's own echo, or a sender we cannot name
        recipient = activity.recipient.id if activity.recipient else None
        intent = parse(activity.text, activity.entities, recipient)
        personal = _kind(activity) == "personal"
        if intent.command is Command.ASK:
            await ask(turn, intent)
        elif intent.command is Command.USE_CHANNEL:
            await use_channel(turn)
        elif intent.command in (Command.MINE, Command.OPEN):
            await desk(turn, "open" if intent.command is Command.OPEN else "mine")
        elif intent.command is Command.LOG:
            await offer_log_form(turn)
        elif intent.command is Command.TEXT and personal and intent.text:
            await answer_in_chat(turn, intent.text)
        else:
            await flow.reply(turn, flow.t("teams.help"))
        return True

    async def ask(turn: TurnContext, intent: Intent) -> None:
        contact_id = await flow.contact_of_thread(turn)
        if contact_id is None:
            await flow.reply(turn, flow.t("mention.not_in_thread"))
            return
        if intent.colleague is None or not intent.text:
            await flow.reply(turn, flow.t("teams.mention.help"))
            return
        asker = await flow.actor(turn)
        mention = intent.colleague
        colleague = await flow.people.person(turn, mention.user_id, mention.aad_object_id, mention.name)
        assert asker.id is not None and colleague.id is not None
        # A refusal (asking yourself, someone unreachable) is told by Flow.message; success needs no
        # reply: the question line appears in the thread through the outbox.
        await ask_question(
            AskQuestion(contact_id, asker.id, colleague.id, intent.text, via=PLATFORM),
            uow=deps.uow,
            clock=deps.clock,
            reminders=deps.reminders,
            platforms=flow.platforms,
        )

    async def use_channel(turn: TurnContext) -> None:
        """Only a team owner may point the bot at a channel (see Flow.owners for how that is checked)."""
        channel = refs.channel_of(turn.activity)
        if channel is None or _kind(turn.activity) != "channel":
            await flow.reply(turn, flow.t("teams.channel.not_a_channel"))
            return
        if deps.configured_channel:
            await flow.reply(turn, flow.t("teams.channel.configured"))
            return
        verdict = await flow.is_team_owner(turn)
        if verdict is None:
            await flow.reply(turn, flow.t("teams.channel.cannot_check"))
            return
        if not verdict:
            await flow.reply(turn, flow.t("teams.channel.owners_only"))
            return
        await deps.use_channel(channel)
        log.info("teams: contacts channel set to %s by a team owner", channel)
        await flow.reply(turn, flow.t("teams.channel.set"))

    async def desk(turn: TurnContext, which: str) -> None:
        person = await flow.actor(turn)
        found = await load_desk(deps.conversations.sessions, person.id)
        content = cards.desk_card(found, deps.catalogue, deps.tz, which=which)
        await turn.send_activity(
            Activity().deserialize(cards.card_activity(content, flow.t(f"desk.{which}")))
        )

    async def offer_log_form(turn: TurnContext) -> None:
        """A bot command cannot open a dialog itself: a one-button card opens the same form as Slack's."""
        button = {
            "type": "Action.Submit",
            "title": flow.t("modal.log.title"),
            "data": dialog_data(Verb.CONTACT_LOG),
            "style": "positive",
        }
        content = cards.card([cards.text_block(flow.t("teams.log.intro"))], actions=[button])
        await turn.send_activity(
            Activity().deserialize(cards.card_activity(content, flow.t("modal.log.title")))
        )

    async def answer_in_chat(turn: TurnContext, text: str) -> None:
        """A plain reply in the 1:1 chat answers the one open question; with several, the cards decide."""
        person = await flow.actor(turn)
        found = await load_desk(deps.conversations.sessions, person.id)
        waiting = found.waiting_for_me
        if len(waiting) != 1:
            key = "teams.answer.none" if not waiting else "teams.answer.several"
            await flow.reply(turn, flow.t(key, count=len(waiting)))
            return
        assert person.id is not None
        await answer_question(
            AnswerQuestion(waiting[0].question_id, person.id, text), uow=deps.uow, clock=deps.clock
        )
        await flow.reply(turn, flow.t("teams.answer.thanks", id=waiting[0].contact_id))

    router.on_message(flow.message(handle_message))


async def send_card(turn: TurnContext, content: cards.Card, summary: str) -> None:
    await turn.send_activity(Activity().deserialize(cards.card_activity(content, summary)))


def _kind(activity: Activity) -> str:
    conversation = activity.conversation
    kind = conversation.conversation_type if conversation else None
    if kind:
        return str(kind)
    return "channel" if refs.channel_of(activity) else "personal"
