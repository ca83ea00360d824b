"""Action and view ids, and the tiny versioned values buttons carry (`v1:c:42`).

Buttons carry an opaque reference only; who clicked, and where, comes from the verified request.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from handoff_bot.platforms.cards import ActionKind


class ActionId(enum.StrEnum):
    CONTACT_CLAIM = "contact.claim"
    CONTACT_ASK = "contact.ask"
    CONTACT_RESOLVE = "contact.resolve"
    CONTACT_RELEASE = "contact.release"
    CONTACT_TRANSFER = "contact.transfer"
    CONTACT_REOPEN = "contact.reopen"
    QUESTION_ANSWER = "question.answer"
    QUESTION_ASK_AGAIN = "question.ask_again"


CARD_ACTIONS = {
    ActionKind.CLAIM: ActionId.CONTACT_CLAIM,
    ActionKind.ASK: ActionId.CONTACT_ASK,
    ActionKind.RESOLVE: ActionId.CONTACT_RESOLVE,
    ActionKind.RELEASE: ActionId.CONTACT_RELEASE,
    ActionKind.TRANSFER: ActionId.CONTACT_TRANSFER,
    ActionKind.REOPEN: ActionId.CONTACT_REOPEN,
}


class ViewId(enum.StrEnum):
    ASK = "view.ask"
    TRANSFER = "view.transfer"
    RESOLVE = "view.resolve"
    ANSWER = "view.answer"
    LOG_CONTACT = "view.log_contact"


# Message metadata event types: ids only, never personal data (other apps in the channel can read it).
CARD_EVENT = "handoff_contact_card"
LINE_EVENT = "handoff_thread_line"
DM_EVENT = "handoff_question"

_REF = re.compile(r"^v1:([cqp]):([1-9][0-9]{0,17})$")


@dataclass(frozen=True)
class Ref:
    kind: str  # "c" contact, "q" question, "p" person
    id: int


def contact_ref(contact_id: int) -> str:
    return f"v1:c:{contact_id}"


def question_ref(question_id: int) -> str:
    return f"v1:q:{question_id}"


def person_ref(person_id: int) -> str:
    return f"v1:p:{person_id}"


def decode(value: object, kind: str) -> int | None:
    """The id in a value we produced, or None for anything else (old, forged or garbage values)."""
    if not isinstance(value, str):
        return None
    match = _REF.match(value)
    if match is None or match.group(1) != kind:
        return None
    return int(match.group(2))
