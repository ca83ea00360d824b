"""`/handoff`, the global and message shortcuts, the log-a-contact modal, and the App Home tab."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any, Literal

from slack_bolt.async_app import AsyncAck, AsyncApp

from handoff_bot.domain.contacts import Channel
from handoff_bot.domain.errors import DomainError, InvalidIdentity
from handoff_bot.platforms.slack import modals
from handoff_bot.platforms.slack.actions import ViewId
from handoff_bot.platforms.slack.deps import SlackDeps
from handoff_bot.platforms.slack.desk import desk_sections
from handoff_bot.services.commands import ClaimContact, CustomerDetails, ReceiveContact
from handoff_bot.services.contacts import claim_contact, receive_contact
from handoff_bot.storage.desk import load_desk

log = logging.getLogger(__name__)
SOURCE = "slack"
LOG_SHORTCUT = "log_contact"
MESSAGE_SHORTCUT = "handoff_message"
FIELD_BLOCKS = {"email": "email", "phone": "phone", "handle": "name", "customer": "name"}


def register(app: AsyncApp, deps: SlackDeps, sessions: Any) -> None:
    async def handle_command(ack: AsyncAck, command: dict[str, Any]) -> None:
        word = (command.get("text") or "").strip().lower()
        if word in ("", "log", "new", "nieuw"):
            await ack()
            view = modals.log_contact_modal(deps.catalogue)
            await deps.client.call("views.open", trigger_id=command["trigger_id"], view=view)
            return
        if word in ("mine", "mijn", "open"):
            person = await deps.people.person(command["user_id"])
            desk = await load_desk(sessions, person.id)
            which = "open" if word == "open" else "mine"
            blocks = desk_sections(desk, deps.catalogue, deps.tz, which=which)
            await ack(text=deps.catalogue.t(f"desk.{which}"), blocks=blocks, response_type="ephemeral")
            return
        await ack(text=deps.catalogue.t("command.help"), response_type="ephemeral")

    async def handle_log_shortcut(ack: AsyncAck, shortcut: dict[str, Any]) -> None:
        await ack()
        await deps.client.call(
            "views.open", trigger_id=shortcut["trigger_id"], view=modals.log_contact_modal(deps.catalogue)
        )

    async def handle_message_shortcut(ack: AsyncAck, shortcut: dict[str, Any]) -> None:
        await ack()
        message = shortcut.get("message") or {}
        channel = (shortcut.get("channel") or {}).get("id") or ""
        origin = json.dumps({"channel": channel, "ts": message.get("ts") or ""})
        view = modals.log_contact_modal(
            deps.catalogue, origin, body=message.get("text") or "", channel=Channel.CHAT
        )
        await deps.client.call("views.open", trigger_id=shortcut["trigger_id"], view=view)

    async def handle_log_submit(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        got = modals.values(view)
        details = CustomerDetails(
            name=got.get("name"), company=got.get("company"), email=got.get("email"), phone=got.get("phone")
        )
        if not details.has_identity_or_name():
            await ack(response_action="errors", errors={"name": deps.catalogue.t("modal.log.need_customer")})
            return
        try:
            channel = Channel(got.get("channel") or Channel.PHONE.value)
        except ValueError:
            channel = Channel.OTHER
        external_id = _origin_id(view.get("private_metadata"))
        callback = _callback_today(got.get("callback"), deps)
        if callback is False:
            await ack(
                response_action="errors", errors={"callback": deps.catalogue.t("modal.log.callback_past")}
            )
            return
        user = body["user"]["id"]
        try:
            received = await receive_contact(
                ReceiveContact(
                    channel=channel,
                    source=SOURCE,
                    customer=details,
                    subject=got.get("subject") or "",
                    body=got.get("body") or "",
                    external_id=external_id,
                    callback_before=callback or None,
                ),
                uow=deps.uow,
                clock=deps.clock,
                region=deps.region,
                reminders=deps.reminders,
            )
        except InvalidIdentity as error:
            block = FIELD_BLOCKS.get(error.field, "name")
            await ack(response_action="errors", errors={block: await deps.explain(error)})
            return
        await ack()
        if "mine" in (got.get("mine") or []) and received.contact.id is not None:
            person = await deps.people.person(user)
            assert person.id is not None
            try:
                await claim_contact(
                    ClaimContact(received.contact.id, person.id), uow=deps.uow, clock=deps.clock
                )
            except DomainError as error:
                await deps.ephemeral(deps.channel, user, await deps.explain(error))

    async def handle_home_opened(event: dict[str, Any]) -> None:
        if event.get("tab") not in (None, "home"):
            return
        person = await deps.people.person(event["user"])
        desk = await load_desk(sessions, person.id)
        await deps.client.call(
            "views.publish",
            user_id=event["user"],
            view={"type": "home", "blocks": desk_sections(desk, deps.catalogue, deps.tz)},
        )

    app.command("/handoff")(handle_command)
    app.shortcut(LOG_SHORTCUT)(handle_log_shortcut)
    app.shortcut(MESSAGE_SHORTCUT)(handle_message_shortcut)
    app.view(ViewId.LOG_CONTACT.value)(handle_log_submit)
    app.event("app_home_opened")(handle_home_opened)


def _callback_today(value: object, deps: SlackDeps) -> datetime | Literal[False] | None:
    """ "15:00" from the time picker: today, local time. False when that time has already passed."""
    if not isinstance(value, str) or not value:
        return None
    try:
        hours, minutes = (int(x) for x in value.split(":"))
        local_now = deps.clock.now().astimezone(deps.tz)
        when = local_now.replace(hour=hours, minute=minutes, second=0, microsecond=0)
    except ValueError:
        return None
    return when.astimezone(UTC) if when > local_now else False


def _origin_id(private_metadata: object) -> str | None:
    """A message handed off twice is one contact: its channel and ts are the external id."""
    if not isinstance(private_metadata, str) or not private_metadata:
        return None
    try:
        origin = json.loads(private_metadata)
    except ValueError:
        return None
    if isinstance(origin, dict) and origin.get("channel") and origin.get("ts"):
        return f"{origin['channel']}:{origin['ts']}"[:200]
    return None
