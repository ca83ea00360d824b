"""Dialog (task module) cards for ask, transfer, resolve and log a contact, the task/fetch response
envelopes, and reading what a dialog submitted. Pure functions.

Ask and transfer offer two ways to pick a colleague: the people we know (on Teams, Slack or both; with
their Teams presence, so you ask someone who can answer now) and Teams' people picker, which searches the
whole organisation (`Data.Query` on `graph.microsoft.com/users`, answered with an Entra object id).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from handoff_bot.domain.contacts import Channel
from handoff_bot.i18n.catalogue import Catalogue
from handoff_bot.platforms.teams.actions import Verb, action_data, decode_ref, person_ref
from handoff_bot.platforms.teams.cards import INPUT_MAX, Card, Element, attachment, card, rich, text_block
from handoff_bot.platforms.teams.presence import ICONS, Presence
from handoff_bot.platforms.teams.text import escape, inert, trim

PEOPLE_DATASET = "graph.microsoft.com/users"
EXPANDED_MAX = 8  # up to this many known colleagues show as a list (presence visible), more as a dropdown
KNOWN_MAX = 100
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
LOG_FIELDS = {"name": 200, "phone": 50, "email": 254, "company": 200, "subject": 300}


@dataclass(frozen=True)
class Colleague:
    """Someone known to the desk; `presence` is None when Teams cannot tell (e.g. only on Slack)."""

    person_id: int
    name: str
    presence: Presence | None = None


@dataclass(frozen=True)
class KnownColleague:
    person_id: int


@dataclass(frozen=True)
class DirectoryUser:
    """Picked in Teams' people picker: an Entra (AAD) object id, to be resolved to a person."""

    aad_object_id: str


ColleagueChoice = KnownColleague | DirectoryUser


def task_card(title: str, content: Card, *, width: str = "medium") -> dict[str, Any]:
    """The task/fetch (or task/submit) response that shows `content` in a dialog."""
    return {
        "task": {
            "type": "continue",
            "value": {"title": trim(title, 60), "width": width, "card": attachment(content)},
        }
    }


def task_message(text: str) -> dict[str, Any]:
    """The task/submit response that closes the dialog with a short message."""
    return {"task": {"type": "message", "value": trim(text, 500)}}


def _error(errors: Mapping[str, str], field: str) -> list[Element]:
    message = errors.get(field)
    return [text_block(escape(message), color="Attention", spacing="None")] if message else []


def _text_input(
    input_id: str,
    label: str,
    *,
    multiline: bool = False,
    required: bool = False,
    value: str | None = None,
    max_length: int = INPUT_MAX,
) -> Element:
    element: Element = {
        "type": "Input.Text",
        "id": input_id,
        "label": inert(label),
        "isMultiline": multiline,
        "maxLength": max_length,
    }
    if required:
        element["isRequired"] = True
        element["errorMessage"] = inert(label)
    if value:
        element["value"] = trim(value, max_length)
    return element


def _presence_title(colleague: Colleague, c: Catalogue) -> str:
    name = inert(trim(colleague.name, 80))
    if colleague.presence is None:
        return name
    return f"{ICONS[colleague.presence]} {name} · {c.t(f'presence.{colleague.presence.value}')}"


def _colleague_inputs(
    c: Catalogue, colleagues: Sequence[Colleague], label: str, errors: Mapping[str, str]
) -> list[Element]:
    elements: list[Element] = []
    known = list(colleagues[:KNOWN_MAX])
    if known:
        elements.append(
            {
                "type": "Input.ChoiceSet",
                "id": "known",
                "label": inert(label),
                "style": "expanded" if len(known) <= EXPANDED_MAX else "compact",
                "choices": [
                    {"title": _presence_title(x, c), "value": person_ref(x.person_id)} for x in known
                ],
            }
        )
    elements.append(
        {
            "type": "Input.ChoiceSet",
            "id": "colleague",
            "label": inert(c.t("teams.dialog.search") if known else label),
            "choices": [],
            "choices.data": {"type": "Data.Query", "dataset": PEOPLE_DATASET},
            "placeholder": inert(c.t("teams.dialog.search_placeholder")),
        }
    )
    elements.extend(_error(errors, "colleague"))
    return elements


def _dialog(body: list[Element], submit: str, verb: Verb, ref_id: int | None) -> Card:
    return card(
        body,
        actions=[
            {
                "type": "Action.Submit",
                "title": trim(submit, 60),
                "data": action_data(verb, ref_id),
                "style": "positive",
            }
        ],
    )


def ask_dialog(
    c: Catalogue,
    contact_header: str,
    contact_id: int,
    colleagues: Sequence[Colleague],
    *,
    question: str | None = None,
    errors: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Ask a colleague: who (known colleagues with presence, or anyone via the picker) and the question."""
    errors = errors or {}
    body: list[Element] = [
        rich(trim(contact_header, 200), weight="Bolder"),
        *_colleague_inputs(c, colleagues, c.t("modal.ask.colleague"), errors),
        _text_input("question", c.t("modal.ask.question"), multiline=True, required=True, value=question),
        *_error(errors, "question"),
    ]
    content = _dialog(body, c.t("modal.ask.submit"), Verb.CONTACT_ASK, contact_id)
    return task_card(c.t("modal.ask.title"), content)


def transfer_dialog(
    c: Catalogue,
    contact_header: str,
    contact_id: int,
    colleagues: Sequence[Colleague],
    *,
    errors: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    errors = errors or {}
    body: list[Element] = [
        rich(trim(contact_header, 200), weight="Bolder"),
        *_colleague_inputs(c, colleagues, c.t("modal.transfer.colleague"), errors),
        _text_input("note", c.t("modal.transfer.note"), multiline=True),
        text_block(escape(c.t("modal.transfer.hint")), isSubtle=True, size="Small", spacing="None"),
    ]
    content = _dialog(body, c.t("modal.transfer.submit"), Verb.CONTACT_TRANSFER, contact_id)
    return task_card(c.t("modal.transfer.title"), content)


def resolve_dialog(c: Catalogue, contact_header: str, contact_id: int) -> dict[str, Any]:
    body: list[Element] = [
        rich(trim(contact_header, 200), weight="Bolder"),
        _text_input("outcome", c.t("modal.resolve.outcome"), multiline=True),
    ]
    content = _dialog(body, c.t("modal.resolve.submit"), Verb.CONTACT_RESOLVE, contact_id)
    return task_card(c.t("modal.resolve.title"), content)


def log_contact_dialog(
    c: Catalogue,
    *,
    body: str | None = None,
    channel: Channel = Channel.PHONE,
    values: Mapping[str, str] | None = None,
    errors: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The same form as Slack's log-a-contact modal; `values` refills it when it comes back with errors."""
    errors, values = errors or {}, values or {}
    elements: list[Element] = [
        {
            "type": "Input.ChoiceSet",
            "id": "channel",
            "label": inert(c.t("modal.log.channel")),
            "style": "compact",
            "isRequired": True,
            "errorMessage": inert(c.t("modal.required")),
            "value": values.get("channel") or channel.value,
            "choices": [{"title": c.t(f"channel.{ch.value}"), "value": ch.value} for ch in Channel],
        }
    ]
    for field, limit in LOG_FIELDS.items():
        elements.append(
            _text_input(field, c.t(f"modal.log.{field}"), value=values.get(field), max_length=limit)
        )
        elements.extend(_error(errors, field))
    elements.append(
        _text_input("body", c.t("modal.log.body"), multiline=True, value=values.get("body") or body)
    )
    callback: Element = {"type": "Input.Time", "id": "callback", "label": inert(c.t("modal.log.callback"))}
    if values.get("callback"):
        callback["value"] = values["callback"]
    elements.append(callback)
    elements.extend(_error(errors, "callback"))
    elements.append(
        {
            "type": "Input.Toggle",
            "id": "mine",
            "label": inert(c.t("modal.log.mine_label")),
            "title": c.t("modal.log.mine"),
            "valueOn": "mine",
            "valueOff": "",
            "value": "mine" if values.get("mine") == "mine" else "",
        }
    )
    content = _dialog(elements, c.t("modal.log.submit"), Verb.CONTACT_LOG, None)
    return task_card(c.t("modal.log.title"), content)


def chosen_colleague(inputs: Mapping[str, str]) -> ColleagueChoice | None:
    """The picker wins over the list (it is the deliberate search); None when nothing valid was picked."""
    picked = (inputs.get("colleague") or "").strip()
    if picked:
        return DirectoryUser(picked) if _GUID.match(picked) else None
    person_id = decode_ref(inputs.get("known"), "p")
    return KnownColleague(person_id) if person_id is not None else None


def log_values(inputs: Mapping[str, str]) -> dict[str, Any]:
    """A submitted log-a-contact dialog in the shape Slack's `modals.values` gives (shared validation)."""
    found: dict[str, Any] = {}
    for field in ("channel", *LOG_FIELDS, "body", "callback"):
        value = (inputs.get(field) or "").strip()
        found[field] = value or None
    found["mine"] = ["mine"] if inputs.get("mine") == "mine" else []
    return found
