"""Dialogs (task modules): ask a colleague, transfer, resolve, log a contact.

`task/fetch` opens the form; `task/submit` applies it. A refusal shows the form again with the reason
under the field it concerns; success closes the dialog with one short sentence.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Literal

from botbuilder.core import InvokeResponse, TurnContext

from handoff_bot.domain.contacts import Channel
from handoff_bot.domain.errors import DomainError, InvalidIdentity, NotFound
from handoff_bot.domain.people import Person
from handoff_bot.platforms.teams import actions, dialogs
from handoff_bot.platforms.teams.actions import CardActionData, Verb
from handoff_bot.platforms.teams.adapter import invoke_response
from handoff_bot.platforms.teams.bot import TeamsRouter
from handoff_bot.platforms.teams.cards import INPUT_MAX
from handoff_bot.platforms.teams.intents import plain_text
from handoff_bot.platforms.teams.listeners.flow import Flow
from handoff_bot.platforms.teams.people import PLATFORM
from handoff_bot.services.commands import (
    AskQuestion,
    ClaimContact,
    CustomerDetails,
    ReceiveContact,
    ResolveContact,
    TransferContact,
)
from handoff_bot.services.contacts import claim_contact, receive_contact, resolve_contact, transfer_contact
from handoff_bot.services.questions import ask_question
from handoff_bot.services.views import contact_details

log = logging.getLogger(__name__)
TASK_FETCH, TASK_SUBMIT = "task/fetch", "task/submit"
# The manifest's message action "Log a contact" (composeExtensions command `logContact`).
EXTENSION_FETCH, EXTENSION_SUBMIT = "composeExtension/fetchTask", "composeExtension/submitAction"
LOG_COMMAND = "logContact"
SOURCE = "teams"
LOG_FIELDS = {"email": "email", "phone": "phone", "handle": "name", "customer": "name"}


def register(router: TeamsRouter, flow: Flow) -> None:
    deps = flow.deps
    c = deps.catalogue

    async def form(
        data: CardActionData, person: Person, errors: Mapping[str, str] | None = None
    ) -> dict[str, Any]:
        """The dialog for `data.verb`, refilled with what was typed when it comes back with errors."""
        if data.verb is Verb.CONTACT_LOG:
            return dialogs.log_contact_dialog(c, values=data.inputs, errors=errors)
        assert data.ref_id is not None
        header = deps.builder.header(await contact_details(data.ref_id, uow=deps.uow))
        if data.verb is Verb.CONTACT_RESOLVE:
            return dialogs.resolve_dialog(c, header, data.ref_id)
        colleagues = await flow.colleagues(exclude=person.id)
        if data.verb is Verb.CONTACT_TRANSFER:
            return dialogs.transfer_dialog(c, header, data.ref_id, colleagues, errors=errors)
        question = data.inputs.get("question") or await asked_before(data, person)
        return dialogs.ask_dialog(c, header, data.ref_id, colleagues, question=question, errors=errors)

    async def asked_before(data: CardActionData, person: Person) -> str | None:
        """ "Ask someone else" carries the unanswered question's ref: refill it, for its asker only."""
        question_id = actions.decode_ref(data.inputs.get("again"), "q")
        if question_id is None:
            return None
        async with deps.uow() as tx:
            try:
                question = await tx.questions.get(question_id)
            except NotFound:
                return None
        mine = question.asker_id == person.id and question.contact_id == data.ref_id
        return question.text if mine else None

    async def handle_task_fetch(turn: TurnContext) -> InvokeResponse:
        data = actions.decode(turn.activity.value)
        if data is None or data.verb not in actions.DIALOG_VERBS:
            return invoke_response(dialogs.task_message(flow.t("teams.action.unknown")))
        person = await flow.actor(turn)
        try:
            return invoke_response(await form(data, person))
        except NotFound as error:
            return invoke_response(dialogs.task_message(await flow.explain(error)))

    async def colleague(turn: TurnContext, inputs: Mapping[str, str]) -> Person | None:
        """A known colleague (person value) or someone found with Teams' people picker (Entra id)."""
        choice = dialogs.chosen_colleague(inputs)
        if isinstance(choice, dialogs.KnownColleague):
            async with deps.uow() as tx:
                try:
                    return await tx.people.get(choice.person_id)
                except NotFound:
                    return None
        if isinstance(choice, dialogs.DirectoryUser):
            return await flow.people.person(turn, choice.aad_object_id, choice.aad_object_id)
        return None

    async def submit(turn: TurnContext, data: CardActionData, person: Person) -> dict[str, Any]:
        assert person.id is not None
        inputs = data.inputs
        if data.verb is Verb.CONTACT_LOG:
            return await log_contact(data, person)
        assert data.ref_id is not None
        if data.verb is Verb.CONTACT_RESOLVE:
            outcome = (inputs.get("outcome") or "").strip() or None
            await resolve_contact(
                ResolveContact(data.ref_id, person.id, outcome), uow=deps.uow, clock=deps.clock
            )
            return dialogs.task_message(flow.t("teams.done.resolved", id=data.ref_id))
        target = await colleague(turn, inputs)
        if target is None or target.id is None:
            return await form(data, person, {"colleague": flow.t("teams.dialog.pick_colleague")})
        if data.verb is Verb.CONTACT_TRANSFER:
            note = inputs.get("note") or ""
            await transfer_contact(
                TransferContact(data.ref_id, person.id, target.id, note, via=PLATFORM),
                uow=deps.uow,
                clock=deps.clock,
                platforms=flow.platforms,
            )
            return dialogs.task_message(flow.t("teams.done.transferred", name=target.display_name))
        question = (inputs.get("question") or "").strip()
        if not question:
            return await form(data, person, {"question": flow.t("modal.required")})
        await ask_question(
            AskQuestion(data.ref_id, person.id, target.id, question, via=PLATFORM),
            uow=deps.uow,
            clock=deps.clock,
            reminders=deps.reminders,
            platforms=flow.platforms,
        )
        return dialogs.task_message(flow.t("teams.done.asked", name=target.display_name))

    async def log_contact(
        data: CardActionData, person: Person, *, external_id: str | None = None
    ) -> dict[str, Any]:
        got = dialogs.log_values(data.inputs)
        details = CustomerDetails(
            name=got.get("name"), company=got.get("company"), email=got.get("email"), phone=got.get("phone")
        )
        if not details.has_identity_or_name():
            return await form(data, person, {"name": flow.t("modal.log.need_customer")})
        try:
            channel = Channel(got.get("channel") or Channel.PHONE.value)
        except ValueError:
            channel = Channel.OTHER
        callback = callback_today(got.get("callback"))
        if callback is False:
            return await form(data, person, {"callback": flow.t("modal.log.callback_past")})
        cmd = ReceiveContact(
            channel=channel,
            source=SOURCE,
            customer=details,
            subject=got.get("subject") or "",
            body=got.get("body") or "",
            external_id=external_id,
            callback_before=callback or None,
        )
        try:
            received = await receive_contact(
                cmd, uow=deps.uow, clock=deps.clock, region=deps.region, reminders=deps.reminders
            )
        except InvalidIdentity as error:
            return await form(data, person, {LOG_FIELDS.get(error.field, "name"): await flow.explain(error)})
        contact_id = received.contact.id
        assert contact_id is not None and person.id is not None
        if "mine" in got.get("mine", []):
            try:
                await claim_contact(ClaimContact(contact_id, person.id), uow=deps.uow, clock=deps.clock)
            except DomainError as error:
                return dialogs.task_message(await flow.explain(error))
        return dialogs.task_message(flow.t("teams.done.logged", id=contact_id))

    def callback_today(value: object) -> datetime | Literal[False] | None:
        """ "15:00" (Input.Time): today, local time; False when that time has already passed."""
        if not isinstance(value, str) or not value:
            return None
        try:
            hours, minutes = (int(x) for x in value.split(":")[:2])
            local_now = deps.clock.now().astimezone(deps.tz)
            when = local_now.replace(hour=hours, minute=minutes, second=0, microsecond=0)
        except ValueError:
            return None
        return when.astimezone(UTC) if when > local_now else False

    async def handle_task_submit(turn: TurnContext) -> InvokeResponse:
        data = actions.decode(turn.activity.value)
        if data is None or data.verb not in actions.DIALOG_VERBS:
            return invoke_response(dialogs.task_message(flow.t("teams.action.unknown")))
        person = await flow.actor(turn)
        try:
            return invoke_response(await submit(turn, data, person))
        except NotFound as error:
            return invoke_response(dialogs.task_message(await flow.explain(error)))
        except DomainError as error:
            if data.verb is Verb.CONTACT_RESOLVE:
                return invoke_response(dialogs.task_message(await flow.explain(error)))
            return invoke_response(await form(data, person, {"colleague": await flow.explain(error)}))

    async def handle_extension_fetch(turn: TurnContext) -> InvokeResponse:
        """The message action: the log form, with the message's text as the body (chat by default)."""
        value = turn.activity.value if isinstance(turn.activity.value, dict) else {}
        if value.get("commandId") != LOG_COMMAND:
            return closing(flow.t("teams.action.unknown"))
        body = _message_text(value)
        channel = Channel.CHAT if body else Channel.PHONE
        return invoke_response(dialogs.log_contact_dialog(c, body=body or None, channel=channel))

    async def handle_extension_submit(turn: TurnContext) -> InvokeResponse:
        value = turn.activity.value if isinstance(turn.activity.value, dict) else {}
        data = actions.decode(value)
        if value.get("commandId") != LOG_COMMAND or data is None or data.verb is not Verb.CONTACT_LOG:
            return closing(flow.t("teams.action.unknown"))
        person = await flow.actor(turn)
        message = value.get("messagePayload")
        # A message handed off twice is one contact: its id is the external id.
        origin = f"teams:{message['id']}"[:200] if isinstance(message, dict) and message.get("id") else None
        return invoke_response(await log_contact(data, person, external_id=origin))

    def closing(text: str) -> InvokeResponse:
        return invoke_response(dialogs.task_message(text))

    router.on_invoke(TASK_FETCH)(flow.invoke(handle_task_fetch, closing))
    router.on_invoke(TASK_SUBMIT)(flow.invoke(handle_task_submit, closing))
    router.on_invoke(EXTENSION_FETCH)(flow.invoke(handle_extension_fetch, closing))
    router.on_invoke(EXTENSION_SUBMIT)(flow.invoke(handle_extension_submit, closing))


def _message_text(value: Mapping[str, Any]) -> str:
    message = value.get("messagePayload")
    body = message.get("body") if isinstance(message, Mapping) else None
    content = body.get("content") if isinstance(body, Mapping) else None
    return plain_text(content)[:INPUT_MAX] if isinstance(content, str) else ""
