"""Adaptive Card verbs and the tiny versioned data card actions carry (`{"verb": …, "ref": "v1:c:42"}`).

Card data is opaque and untrusted: who clicked, and where, comes from the verified activity. Decoding
accepts exactly what we render (Action.Execute invokes, Action.Submit messages, task/fetch and
task/submit invokes) and returns None for anything else.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from handoff_bot.platforms.cards import ActionKind


class Verb(enum.StrEnum):
    CONTACT_CLAIM = "contact.claim"
    CONTACT_ASK = "contact.ask"
    CONTACT_RESOLVE = "contact.resolve"
    CONTACT_RELEASE = "contact.release"
    CONTACT_TRANSFER = "contact.transfer"
    CONTACT_REOPEN = "contact.reopen"
    CONTACT_LOG = "contact.log"
    QUESTION_ANSWER = "question.answer"


CARD_ACTIONS = {
    ActionKind.CLAIM: Verb.CONTACT_CLAIM,
    ActionKind.ASK: Verb.CONTACT_ASK,
    ActionKind.RESOLVE: Verb.CONTACT_RESOLVE,
    ActionKind.RELEASE: Verb.CONTACT_RELEASE,
    ActionKind.TRANSFER: Verb.CONTACT_TRANSFER,
    ActionKind.REOPEN: Verb.CONTACT_REOPEN,
}

# These need input (a colleague, a note, an outcome): the button opens a dialog (task module) instead of
# acting at once. Org-wide people search only works in dialogs, not in channel cards.
DIALOG_VERBS = frozenset({Verb.CONTACT_ASK, Verb.CONTACT_TRANSFER, Verb.CONTACT_RESOLVE, Verb.CONTACT_LOG})

# Which kind of reference each verb carries: "c" contact, "q" question, None (logging a new contact).
REF_KINDS: Mapping[Verb, str | None] = {
    **{verb: "c" for verb in CARD_ACTIONS.values()},
    Verb.QUESTION_ANSWER: "q",
    Verb.CONTACT_LOG: None,
}

_REF = re.compile(r"^v1:([cqp]):([1-9][0-9]{0,17})$")
TASK_FETCH = "task/fetch"


def contact_ref(contact_id: int) -> str:
    return f"v1:c:{contact_id}"


def question_ref(question_id: int) -> str:
    return f"v1:q:{question_id}"


def person_ref(person_id: int) -> str:
    """A colleague offered in a dialog (known from the database: on Teams, Slack or both)."""
    return f"v1:p:{person_id}"


def decode_ref(value: object, kind: str) -> int | None:
    """The id in a reference we produced, or None for anything else."""
    match = _REF.match(value) if isinstance(value, str) else None
    if match is None or match.group(1) != kind:
        return None
    return int(match.group(2))


def _ref_for(verb: Verb, ref_id: int | None) -> str | None:
    kind = REF_KINDS[verb]
    if kind is None:
        return None
    if ref_id is None:
        raise ValueError(f"{verb} needs an id")
    return contact_ref(ref_id) if kind == "c" else question_ref(ref_id)


def action_data(verb: Verb, ref_id: int | None = None) -> dict[str, str]:
    """The `data` of an Action.Execute (or a dialog's submit button)."""
    data = {"verb": verb.value}
    ref = _ref_for(verb, ref_id)
    if ref is not None:
        data["ref"] = ref
    return data


def dialog_data(verb: Verb, ref_id: int | None = None) -> dict[str, Any]:
    """The `data` of an Action.Submit that opens a dialog: Teams sends it back in the task/fetch invoke."""
    return {"msteams": {"type": TASK_FETCH}, **action_data(verb, ref_id)}


@dataclass(frozen=True)
class CardActionData:
    verb: Verb
    ref_id: int | None  # the contact or question id, None for contact.log
    inputs: Mapping[str, str]  # the card's input values (answer, colleague, note, …), strings only


def _payload(value: object) -> Mapping[str, Any] | None:
    """The data object out of any of the four activity shapes that carry card data."""
    if not isinstance(value, Mapping):
        return None
    action = value.get("action")
    if isinstance(action, Mapping):  # adaptiveCard/action invoke: {"action": {"verb", "data"}, "trigger"}
        data = action.get("data")
        data = dict(data) if isinstance(data, Mapping) else {}
        data.setdefault("verb", action.get("verb"))
        return data
    inner = value.get("data")
    if isinstance(inner, Mapping):  # task/fetch and task/submit: {"data": {...}, "context": {...}}
        return inner
    return value  # Action.Submit in a message: the data merged with the inputs


def decode(value: object) -> CardActionData | None:
    """What a card action asks for, or None for data we did not produce (old, forged or garbage)."""
    data = _payload(value)
    if data is None:
        return None
    raw = data.get("verb")
    if not isinstance(raw, str) or raw not in Verb.__members__.values():
        return None
    verb = Verb(raw)
    kind = REF_KINDS[verb]
    ref_id: int | None = None
    if kind is not None:
        ref_id = decode_ref(data.get("ref"), kind)
        if ref_id is None:
            return None
    inputs = {
        str(k): v for k, v in data.items() if k not in ("verb", "ref", "msteams") and isinstance(v, str)
    }
    return CardActionData(verb, ref_id, inputs)
