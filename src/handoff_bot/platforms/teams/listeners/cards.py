"""Buttons on the contact card and the 1:1 question card.

Action.Execute arrives as an `adaptiveCard/action` invoke: apply the change and answer with the card as
it now is (only the clicker sees that answer; the outbox updates everyone's copy). Action.Submit in a
channel arrives as a message with `value`: no card can be returned, so only refusals are told.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from botbuilder.core import InvokeResponse, TurnContext

from handoff_bot.platforms.teams import actions, cards
from handoff_bot.platforms.teams.actions import CardActionData, Verb
from handoff_bot.platforms.teams.adapter import invoke_response
from handoff_bot.platforms.teams.bot import TeamsRouter
from handoff_bot.platforms.teams.listeners.flow import Flow
from handoff_bot.services.commands import AnswerQuestion, ClaimContact, ReleaseContact, ReopenContact
from handoff_bot.services.contacts import claim_contact, release_contact, reopen_contact
from handoff_bot.services.questions import answer_question
from handoff_bot.services.views import contact_details

ADAPTIVE_CARD_ACTION = "adaptiveCard/action"
ERROR_TYPE = "application/vnd.microsoft.error"
Change = Callable[[int, int], Awaitable[Any]]


def register(router: TeamsRouter, flow: Flow) -> None:
    deps = flow.deps

    one_click: dict[Verb, Change] = {
        Verb.CONTACT_CLAIM: lambda cid, pid: claim_contact(
            ClaimContact(cid, pid), uow=deps.uow, clock=deps.clock
        ),
        Verb.CONTACT_RELEASE: lambda cid, pid: release_contact(
            ReleaseContact(cid, pid), uow=deps.uow, clock=deps.clock
        ),
        Verb.CONTACT_REOPEN: lambda cid, pid: reopen_contact(
            ReopenContact(cid, pid), uow=deps.uow, clock=deps.clock
        ),
    }

    async def apply(turn: TurnContext, data: CardActionData) -> str | None:
        """Do what the button says. A missing input comes back as the sentence to show; a rule that
        says no raises, and the edge's translator (Flow.invoke / Flow.message) tells the clicker why."""
        person = await flow.actor(turn)
        assert person.id is not None and data.ref_id is not None
        if data.verb is Verb.QUESTION_ANSWER:
            text = (data.inputs.get("answer") or "").strip()
            if not text:
                return flow.t("modal.required")
            await answer_question(
                AnswerQuestion(data.ref_id, person.id, text), uow=deps.uow, clock=deps.clock
            )
        elif data.verb in one_click:
            await one_click[data.verb](data.ref_id, person.id)
        else:
            return flow.t("teams.action.use_dialog")
        return None

    async def handle_card_action(turn: TurnContext) -> InvokeResponse | None:
        value = turn.activity.value if isinstance(turn.activity.value, dict) else {}
        kind = (value.get("action") or {}).get("type") if isinstance(value.get("action"), dict) else None
        if kind != "Action.Execute":
            # What the SDK's own handler answers: only Action.Execute is invoked this way.
            error = {"code": "NotSupported", "message": f"The action '{kind}' is not supported."}
            return invoke_response({"statusCode": 400, "type": ERROR_TYPE, "value": error}, 400)
        data = actions.decode(value)
        if data is None or data.ref_id is None:
            return flow.message_response(flow.t("teams.action.unknown"))
        refused = await apply(turn, data)
        if refused is not None:
            return flow.message_response(refused)
        if data.verb is Verb.QUESTION_ANSWER:
            return await question_response(data.ref_id)
        return await flow.card_response(data.ref_id)

    async def question_response(question_id: int) -> InvokeResponse:
        async with deps.uow() as tx:
            question = await tx.questions.get(question_id)
        details = await contact_details(question.contact_id, uow=deps.uow)
        view = deps.builder.question(details, question)
        return invoke_response(cards.invoke_card_response(cards.question_card(view)))

    async def handle_submitted_card(turn: TurnContext) -> bool:
        """Action.Submit (a message carrying `value`): the same change; refusals as a short reply."""
        value = turn.activity.value
        data = actions.decode(value) if isinstance(value, dict) else None
        if data is None:
            return False
        if data.ref_id is None or data.verb in actions.DIALOG_VERBS:
            return True  # dialogs open through task/fetch, never through a plain message
        refused = await apply(turn, data)
        if refused is not None:
            await flow.reply(turn, refused)
        return True

    router.on_invoke(ADAPTIVE_CARD_ACTION)(flow.invoke(handle_card_action))
    router.on_message(flow.message(handle_submitted_card))
