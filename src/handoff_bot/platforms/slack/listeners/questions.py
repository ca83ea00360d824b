"""Answering a question: the Answer button and modal in the DM, or a plain reply in its thread."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from handoff_bot.domain.errors import DomainError, NotFound
from handoff_bot.platforms.slack import modals
from handoff_bot.platforms.slack.actions import ActionId, ViewId, contact_ref, decode, question_ref
from handoff_bot.platforms.slack.deps import SlackDeps
from handoff_bot.services.commands import AnswerQuestion
from handoff_bot.services.questions import answer_question
from handoff_bot.services.views import contact_details

log = logging.getLogger(__name__)


def register(app: AsyncApp, deps: SlackDeps) -> None:
    async def handle_answer_click(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        question_id = decode((body.get("actions") or [{}])[0].get("value"), "q")
        if question_id is None:
            return
        try:
            async with deps.uow() as tx:
                question = await tx.questions.get(question_id)
        except NotFound as error:
            await deps.ephemeral(
                (body.get("channel") or {}).get("id"), body["user"]["id"], await deps.explain(error)
            )
            return
        view = modals.answer_modal(deps.catalogue, question.text, question_ref(question_id))
        await deps.client.call("views.open", trigger_id=body["trigger_id"], view=view)

    async def handle_answer_submit(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        question_id = decode(view.get("private_metadata"), "q")
        text = (modals.values(view).get("answer") or "").strip()
        if question_id is None or not text:
            await ack(response_action="errors", errors={"answer": deps.catalogue.t("modal.required")})
            return
        person = await deps.people.person(body["user"]["id"])
        assert person.id is not None
        try:
            await answer_question(
                AnswerQuestion(question_id, person.id, text), uow=deps.uow, clock=deps.clock
            )
        except DomainError as error:
            await ack(response_action="errors", errors={"answer": await deps.explain(error)})
            return
        await ack()

    async def handle_dm_message(event: dict[str, Any]) -> None:
        """A reply in the thread of a question DM is the answer; other DM chatter gets a hint."""
        if event.get("channel_type") != "im" or event.get("bot_id") or event.get("subtype"):
            return
        user, channel, text = event.get("user"), event.get("channel"), (event.get("text") or "").strip()
        thread_ts = event.get("thread_ts")
        if not user or not channel or not text:
            return
        question_id = (
            await deps.messages.question_for_dm("slack", str(channel), str(thread_ts)) if thread_ts else None
        )
        if question_id is None:
            await deps.ephemeral(channel, user, deps.catalogue.t("dm.hint"))
            return
        person = await deps.people.person(user)
        assert person.id is not None
        try:
            await answer_question(
                AnswerQuestion(question_id, person.id, text), uow=deps.uow, clock=deps.clock
            )
        except DomainError as error:
            await deps.ephemeral(channel, user, await deps.explain(error))

    async def handle_ask_again_click(ack: AsyncAck, body: dict[str, Any]) -> None:
        """From the "no answer yet" DM: the ask form again, with the same question filled in."""
        await ack()
        question_id = decode((body.get("actions") or [{}])[0].get("value"), "q")
        if question_id is None:
            return
        async with deps.uow() as tx:
            question = await tx.questions.get(question_id)
        details = await contact_details(question.contact_id, uow=deps.uow)
        view = modals.ask_modal(
            deps.catalogue,
            deps.builder.header(details),
            contact_ref(question.contact_id),
            initial_question=question.text,
            others=await deps.people.elsewhere(deps.platforms),
        )
        await deps.client.call("views.open", trigger_id=body["trigger_id"], view=view)

    app.action(ActionId.QUESTION_ANSWER.value)(handle_answer_click)
    app.action(ActionId.QUESTION_ASK_AGAIN.value)(handle_ask_again_click)
    app.view(ViewId.ANSWER.value)(handle_answer_submit)
    app.event({"type": "message", "channel_type": "im"})(handle_dm_message)
