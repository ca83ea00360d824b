"""Buttons on a contact card, and the modals they open (ask, transfer, resolve)."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from handoff_bot.domain.errors import DomainError
from handoff_bot.platforms.slack import modals
from handoff_bot.platforms.slack.actions import ActionId, ViewId, contact_ref, decode
from handoff_bot.platforms.slack.deps import SlackDeps
from handoff_bot.services.commands import (
    AskQuestion,
    ClaimContact,
    ReleaseContact,
    ReopenContact,
    ResolveContact,
    TransferContact,
)
from handoff_bot.services.contacts import (
    claim_contact,
    release_contact,
    reopen_contact,
    resolve_contact,
    transfer_contact,
)
from handoff_bot.services.questions import ask_question
from handoff_bot.services.views import contact_details


def _where(body: dict[str, Any]) -> tuple[str | None, str | None]:
    channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id")
    return channel, (body.get("user") or {}).get("id")


def _contact_id(body: dict[str, Any]) -> int | None:
    actions = body.get("actions") or [{}]
    return decode(actions[0].get("value"), "c")


def register(app: AsyncApp, deps: SlackDeps) -> None:
    async def handle_claim_click(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        claimed = await _direct(
            deps,
            body,
            lambda contact_id, person_id: claim_contact(
                ClaimContact(contact_id, person_id), uow=deps.uow, clock=deps.clock
            ),
        )
        if claimed is not None and deps.minimal:
            channel, user = _where(body)
            await deps.show_details(channel, user, claimed)

    async def handle_release_click(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        await _direct(
            deps,
            body,
            lambda contact_id, person_id: release_contact(
                ReleaseContact(contact_id, person_id), uow=deps.uow, clock=deps.clock
            ),
        )

    async def handle_reopen_click(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        await _direct(
            deps,
            body,
            lambda contact_id, person_id: reopen_contact(
                ReopenContact(contact_id, person_id), uow=deps.uow, clock=deps.clock
            ),
        )

    async def open_modal(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        contact_id = _contact_id(body)
        if contact_id is None:
            return
        action_id = (body.get("actions") or [{}])[0].get("action_id")
        try:
            details = await contact_details(contact_id, uow=deps.uow)
        except DomainError as error:
            channel, user = _where(body)
            await deps.ephemeral(channel, user, await deps.explain(error))
            return
        header = deps.builder.header(details)
        ref = contact_ref(contact_id)
        action = ActionId(action_id)
        if action is ActionId.CONTACT_RESOLVE:
            view = modals.resolve_modal(deps.catalogue, header, ref)
        else:
            others = await deps.people.elsewhere(deps.platforms)
            opener = modals.ask_modal if action is ActionId.CONTACT_ASK else modals.transfer_modal
            view = opener(deps.catalogue, header, ref, others=others)
        await deps.client.call("views.open", trigger_id=body["trigger_id"], view=view)

    async def handle_ask_submit(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        contact_id = decode(view.get("private_metadata"), "c")
        got = modals.values(view)
        question = (got.get("question") or "").strip()
        if contact_id is None or not question:
            await ack(response_action="errors", errors={"question": deps.catalogue.t("modal.required")})
            return
        refused = _pick_refusal(deps, got)
        if refused:
            await ack(response_action="errors", errors=refused)
            return
        asker = await deps.people.person(body["user"]["id"])
        colleague = await deps.people.chosen(got.get("colleague"), got.get("colleague_other"))
        if colleague is None:
            await ack(response_action="errors", errors=_field_error(got, deps.catalogue.t("modal.required")))
            return
        assert asker.id is not None and colleague.id is not None
        try:
            await ask_question(
                AskQuestion(contact_id, asker.id, colleague.id, question, via="slack"),
                uow=deps.uow,
                clock=deps.clock,
                reminders=deps.reminders,
                platforms=deps.platforms,
            )
        except DomainError as error:
            await ack(response_action="errors", errors=_field_error(got, await deps.explain(error)))
            return
        await ack()

    async def handle_transfer_submit(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        contact_id = decode(view.get("private_metadata"), "c")
        got = modals.values(view)
        if contact_id is None:
            await ack()  # not a value we produced: nothing to transfer
            return
        refused = _pick_refusal(deps, got)
        if refused:
            await ack(response_action="errors", errors=refused)
            return
        person = await deps.people.person(body["user"]["id"])
        target = await deps.people.chosen(got.get("colleague"), got.get("colleague_other"))
        if target is None:
            await ack(response_action="errors", errors=_field_error(got, deps.catalogue.t("modal.required")))
            return
        assert person.id is not None and target.id is not None
        try:
            await transfer_contact(
                TransferContact(contact_id, person.id, target.id, got.get("note") or "", via="slack"),
                uow=deps.uow,
                clock=deps.clock,
                platforms=deps.platforms,
            )
        except DomainError as error:
            await ack(response_action="errors", errors=_field_error(got, await deps.explain(error)))
            return
        await ack()

    async def handle_resolve_submit(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        contact_id = decode(view.get("private_metadata"), "c")
        if contact_id is None:
            await ack()
            return
        person = await deps.people.person(body["user"]["id"])
        assert person.id is not None
        try:
            await resolve_contact(
                ResolveContact(contact_id, person.id, modals.values(view).get("outcome")),
                uow=deps.uow,
                clock=deps.clock,
            )
        except DomainError as error:
            await ack(response_action="errors", errors={"outcome": await deps.explain(error)})
            return
        await ack()

    app.action(ActionId.CONTACT_CLAIM.value)(handle_claim_click)
    app.action(ActionId.CONTACT_RELEASE.value)(handle_release_click)
    app.action(ActionId.CONTACT_REOPEN.value)(handle_reopen_click)
    for action in (ActionId.CONTACT_ASK, ActionId.CONTACT_TRANSFER, ActionId.CONTACT_RESOLVE):
        app.action(action.value)(open_modal)
    app.view(ViewId.ASK.value)(handle_ask_submit)
    app.view(ViewId.TRANSFER.value)(handle_transfer_submit)
    app.view(ViewId.RESOLVE.value)(handle_resolve_submit)


def _pick_refusal(deps: SlackDeps, got: dict[str, Any]) -> dict[str, str] | None:
    """Exactly one colleague: from Slack's picker or from the people only on Teams."""
    slack_user, other = got.get("colleague"), got.get("colleague_other")
    if slack_user and other:
        return {"colleague_other": deps.catalogue.t("modal.colleague_one")}
    if not slack_user and not other:
        return {"colleague": deps.catalogue.t("modal.required")}
    return None


def _field_error(got: dict[str, Any], text: str) -> dict[str, str]:
    """Errors show under the picker that was used."""
    return {"colleague_other" if got.get("colleague_other") else "colleague": text}


async def _direct(deps: SlackDeps, body: dict[str, Any], change: Any) -> int | None:
    """A one-click change: the card update arrives through the outbox; only refusals are told here.

    Returns the contact id when the change was made.
    """
    contact_id = _contact_id(body)
    channel, user = _where(body)
    if contact_id is None or user is None:
        return None
    person = await deps.people.person(user)
    assert person.id is not None
    try:
        await change(contact_id, person.id)
    except DomainError as error:
        await deps.ephemeral(channel, user, await deps.explain(error))
        return None
    return contact_id
