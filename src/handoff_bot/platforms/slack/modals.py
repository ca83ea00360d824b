"""Modal views (Block Kit) and reading their submitted values. Pure functions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from handoff_bot.domain.contacts import Channel
from handoff_bot.i18n.catalogue import Catalogue
from handoff_bot.platforms.slack.actions import ViewId
from handoff_bot.platforms.slack.blocks import trim

View = dict[str, Any]
INPUT_MAX = 3000
OPTIONS_MAX = 100  # Slack's limit on a static_select's options
# Colleagues the users_select cannot list (only on Teams): (opaque person value, name).
Others = Sequence[tuple[str, str]]


def _text(text: str, limit: int = 75) -> dict[str, Any]:
    return {"type": "plain_text", "text": trim(text, limit) or " ", "emoji": True}


def _modal(
    view_id: ViewId, title: str, submit: str, close: str, blocks: list[dict[str, Any]], private_metadata: str
) -> View:
    return {
        "type": "modal",
        "callback_id": view_id.value,
        "title": _text(title, 24),
        "submit": _text(submit, 24),
        "close": _text(close, 24),
        "private_metadata": private_metadata,
        "blocks": blocks,
    }


def _context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [_text(text, 2000)]}


def _input(
    block_id: str, label: str, element: dict[str, Any], *, optional: bool = False, hint: str | None = None
) -> dict[str, Any]:
    block: dict[str, Any] = {
        "type": "input",
        "block_id": block_id,
        "label": _text(label, 2000),
        "element": {**element, "action_id": block_id},
        "optional": optional,
    }
    if hint:
        block["hint"] = _text(hint, 2000)
    return block


def _text_input(
    multiline: bool = False, initial: str | None = None, max_length: int = INPUT_MAX
) -> dict[str, Any]:
    element: dict[str, Any] = {"type": "plain_text_input", "multiline": multiline, "max_length": max_length}
    if initial:
        element["initial_value"] = trim(initial, max_length)
    return element


def _colleague_pickers(label: str, c: Catalogue, others: Others) -> list[dict[str, Any]]:
    """Slack's own user picker, plus (when there are any) the colleagues who are only on Teams."""
    if not others:
        return [_input("colleague", label, {"type": "users_select"})]
    options = [{"text": _text(name), "value": value} for value, name in others[:OPTIONS_MAX]]
    return [
        _input("colleague", label, {"type": "users_select"}, optional=True),
        _input(
            "colleague_other",
            c.t("modal.colleague_other"),
            {"type": "static_select", "options": options},
            optional=True,
            hint=c.t("modal.colleague_other.hint"),
        ),
    ]


def ask_modal(
    c: Catalogue,
    contact_header: str,
    ref: str,
    initial_question: str | None = None,
    others: Others = (),
) -> View:
    return _modal(
        ViewId.ASK,
        c.t("modal.ask.title"),
        c.t("modal.ask.submit"),
        c.t("modal.cancel"),
        [
            _context(contact_header),
            *_colleague_pickers(c.t("modal.ask.colleague"), c, others),
            _input("question", c.t("modal.ask.question"), _text_input(True, initial_question)),
        ],
        ref,
    )


def transfer_modal(c: Catalogue, contact_header: str, ref: str, others: Others = ()) -> View:
    return _modal(
        ViewId.TRANSFER,
        c.t("modal.transfer.title"),
        c.t("modal.transfer.submit"),
        c.t("modal.cancel"),
        [
            _context(contact_header),
            *_colleague_pickers(c.t("modal.transfer.colleague"), c, others),
            _input(
                "note",
                c.t("modal.transfer.note"),
                _text_input(True),
                optional=True,
                hint=c.t("modal.transfer.hint"),
            ),
        ],
        ref,
    )


def resolve_modal(c: Catalogue, contact_header: str, ref: str) -> View:
    return _modal(
        ViewId.RESOLVE,
        c.t("modal.resolve.title"),
        c.t("modal.resolve.submit"),
        c.t("modal.cancel"),
        [
            _context(contact_header),
            _input("outcome", c.t("modal.resolve.outcome"), _text_input(True), optional=True),
        ],
        ref,
    )


def answer_modal(c: Catalogue, question_text: str, ref: str) -> View:
    return _modal(
        ViewId.ANSWER,
        c.t("modal.answer.title"),
        c.t("modal.answer.submit"),
        c.t("modal.cancel"),
        [
            {"type": "section", "text": _text(question_text, 3000)},
            _input("answer", c.t("modal.answer.answer"), _text_input(True)),
        ],
        ref,
    )


def log_contact_modal(
    c: Catalogue, private_metadata: str = "", *, body: str | None = None, channel: Channel = Channel.PHONE
) -> View:
    options = [{"text": _text(c.t(f"channel.{ch.value}")), "value": ch.value} for ch in Channel]
    initial = next(o for o in options if o["value"] == channel.value)
    return _modal(
        ViewId.LOG_CONTACT,
        c.t("modal.log.title"),
        c.t("modal.log.submit"),
        c.t("modal.cancel"),
        [
            _input(
                "channel",
                c.t("modal.log.channel"),
                {"type": "static_select", "options": options, "initial_option": initial},
            ),
            _input("name", c.t("modal.log.name"), _text_input(max_length=200), optional=True),
            _input("phone", c.t("modal.log.phone"), _text_input(max_length=50), optional=True),
            _input("email", c.t("modal.log.email"), _text_input(max_length=254), optional=True),
            _input("company", c.t("modal.log.company"), _text_input(max_length=200), optional=True),
            _input("subject", c.t("modal.log.subject"), _text_input(max_length=300), optional=True),
            _input("body", c.t("modal.log.body"), _text_input(True, body), optional=True),
            _input("callback", c.t("modal.log.callback"), {"type": "timepicker"}, optional=True),
            _input(
                "mine",
                c.t("modal.log.mine_label"),
                {"type": "checkboxes", "options": [{"text": _text(c.t("modal.log.mine")), "value": "mine"}]},
                optional=True,
            ),
        ],
        private_metadata,
    )


def values(view: dict[str, Any]) -> dict[str, Any]:
    """Flatten `view.state.values` to {block_id: value} for the element types our modals use."""
    found: dict[str, Any] = {}
    state = (view.get("state") or {}).get("values") or {}
    if not isinstance(state, dict):
        return found
    for block_id, actions in state.items():
        if not isinstance(actions, dict):
            continue
        for element in actions.values():
            if not isinstance(element, dict):
                continue
            kind = element.get("type")
            if kind == "plain_text_input":
                found[block_id] = element.get("value")
            elif kind == "users_select":
                found[block_id] = element.get("selected_user")
            elif kind == "static_select":
                found[block_id] = (element.get("selected_option") or {}).get("value")
            elif kind == "timepicker":
                found[block_id] = element.get("selected_time")
            elif kind == "checkboxes":
                found[block_id] = [o.get("value") for o in element.get("selected_options") or []]
    return found
