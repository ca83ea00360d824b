"""Adaptive Card rendering (schema 1.5, what Teams supports): pure functions from neutral views.

Customer text goes into RichTextBlock TextRuns (shown literally, no markdown) or is escaped where Teams
parses markdown; mentions live only in our own lines, as `<at>` text with `msteams.entities`. Cards are
kept well under Teams' 28 KB: when a hostile or huge contact would go over, the body is shortened further.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import tzinfo
from typing import Any

from handoff_bot.domain.contacts import ContactStatus
from handoff_bot.i18n.catalogue import Catalogue, format_datetime
from handoff_bot.platforms.cards import CHANNEL_ICONS, ContactCard, Line, QuestionView, plain
from handoff_bot.platforms.teams.actions import (
    CARD_ACTIONS,
    DIALOG_VERBS,
    Verb,
    action_data,
    dialog_data,
)
from handoff_bot.platforms.teams.text import Mentions, OnDutyMention, escape, inert, markdown, trim
from handoff_bot.storage.desk import ContactLine, Desk, QuestionLine

CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
VERSION = "1.5"
CARD_BUDGET = 20_000  # bytes of JSON as sent (ASCII-escaped): Teams' 28 KB with room for the envelope
STATUS_ICONS = {ContactStatus.OPEN: "🟢", ContactStatus.CLAIMED: "🟡", ContactStatus.RESOLVED: "✅"}
INPUT_MAX = 3000
DESK_LINES = 25  # lines per list in desk, digest and summary cards

Element = dict[str, Any]
Card = dict[str, Any]


@dataclass(frozen=True)
class Limits:
    header: int = 200
    subject: int = 300
    body: int = 3000
    detail: int = 200
    details: int = 8
    line: int = 1000
    questions: int = 5


# Tried in order until the card fits CARD_BUDGET; the last one fits whatever the input.
LADDER = (
    Limits(),
    Limits(body=1500, line=500),
    Limits(body=600, line=250, detail=100, questions=3),
    Limits(header=100, subject=120, body=200, detail=60, details=4, line=120, questions=2),
)


def size(payload: object) -> int:
    """Bytes on the wire: Bot Framework clients send JSON with non-ASCII escaped as \\uXXXX."""
    return len(json.dumps(payload, ensure_ascii=True, separators=(",", ":")))


def text_run(text: str, **style: Any) -> Element:
    """Text shown literally: TextRuns have no markdown; tags are made inert all the same."""
    return {"type": "TextRun", "text": inert(text) or " ", **style}


def rich(text: str, **style: Any) -> Element:
    return {"type": "RichTextBlock", "inlines": [text_run(text, **style)]}


def text_block(text: str, **style: Any) -> Element:
    """Markdown text that is already escaped (ours, or built by `markdown`)."""
    return {"type": "TextBlock", "text": text or " ", "wrap": True, **style}


def card(body: list[Element], *, actions: list[Element] | None = None, fallback: str = "") -> Card:
    content: Card = {"type": "AdaptiveCard", "$schema": SCHEMA, "version": VERSION, "body": body}
    if actions:
        content["actions"] = actions
    if fallback:
        content["fallbackText"] = escape(trim(fallback, 300))
    return content


def with_mentions(content: Card, mentions: Mentions, *, full_width: bool = False) -> Card:
    msteams: dict[str, Any] = {}
    if full_width:
        msteams["width"] = "Full"
    if mentions.entities:
        msteams["entities"] = mentions.entities
    if msteams:
        content["msteams"] = msteams
    return content


def attachment(content: Card) -> dict[str, Any]:
    return {"contentType": CONTENT_TYPE, "content": content}


def card_activity(content: Card, summary: str) -> dict[str, Any]:
    """A message activity carrying one card; `summary` is what notifications and the chat list show."""
    return {"type": "message", "summary": trim(summary, 300), "attachments": [attachment(content)]}


def invoke_card_response(content: Card) -> dict[str, Any]:
    """The body answering an `adaptiveCard/action` invoke: the clicker sees this card at once."""
    return {"statusCode": 200, "type": CONTENT_TYPE, "value": content}


def invoke_message_response(text: str) -> dict[str, Any]:
    """The body answering an `adaptiveCard/action` invoke with a short message (e.g. who won a claim)."""
    return {"statusCode": 200, "type": "application/vnd.microsoft.activity.message", "value": trim(text, 500)}


def _action(verb: Verb, label: str, ref_id: int, primary: bool) -> Element:
    if verb in DIALOG_VERBS:
        # Opens a dialog: Teams sends task/fetch with this data, the bot answers with a dialog card.
        action: Element = {
            "type": "Action.Submit",
            "title": trim(label, 60),
            "data": dialog_data(verb, ref_id),
        }
    else:
        action = {
            "type": "Action.Execute",
            "title": trim(label, 60),
            "verb": verb.value,
            "data": action_data(verb, ref_id),
        }
    if primary:
        action["style"] = "positive"
    return action


def _line(line: Line, mentions: Mentions, limit: int, onduty: OnDutyMention | None, **style: Any) -> Element:
    return text_block(markdown(line, mentions, limit, onduty=onduty), **style)


def _contact_card(
    view: ContactCard,
    trimmed_note: str,
    limits: Limits,
    onduty: OnDutyMention | None,
    *,
    note: Line | None = None,
    with_actions: bool = True,
) -> Card:
    mentions = Mentions()
    body: list[Element] = [_line(note, mentions, limits.line, onduty, weight="Bolder")] if note else []
    body += [
        rich(trim(view.header, limits.header), weight="Bolder", size="Medium"),
        rich(trim(view.subject, limits.subject), weight="Bolder"),
    ]
    if view.body:
        shortened = len(view.body) > limits.body
        body.append(rich(trim(view.body, limits.body)))
        if shortened:
            body.append(text_block(escape(trimmed_note), isSubtle=True, size="Small", spacing="None"))
    facts = [
        {"title": escape(trim(label, 60)), "value": escape(trim(value, limits.detail))}
        for label, value in view.details[: limits.details]
    ]
    if facts:
        body.append({"type": "FactSet", "facts": facts})
    body.append(text_block(escape(view.received), isSubtle=True, size="Small"))
    if view.context:
        body.append(_line(view.context, mentions, limits.line, onduty, isSubtle=True, size="Small"))
    if view.owner:
        body.append(_line(view.owner, mentions, limits.line, onduty, size="Small", spacing="None"))
    for question in view.questions[: limits.questions]:
        body.append(_line(question, mentions, limits.line, onduty, size="Small"))
    status = markdown(view.status_line, mentions, limits.line, onduty=onduty)
    body.append(
        {
            "type": "Container",
            "style": "emphasis",
            "items": [text_block(f"{STATUS_ICONS[view.status]} {status}", weight="Bolder")],
        }
    )
    actions = [_action(CARD_ACTIONS[a.kind], a.label, view.contact_id, a.primary) for a in view.actions]
    fallback = plain(note) if note else view.fallback
    content = card(body, actions=actions if with_actions else None, fallback=fallback)
    return with_mentions(content, mentions, full_width=True)


def contact_card(view: ContactCard, *, trimmed_note: str, onduty: OnDutyMention | None = None) -> Card:
    """The contact card: header, subject, body, details, context, owner, questions, status, actions."""
    content: Card = {}
    for limits in LADDER:
        content = _contact_card(view, trimmed_note, limits, onduty)
        if size(content) <= CARD_BUDGET:
            break
    return content


def question_card(
    view: QuestionView, *, contact: ContactCard | None = None, trimmed_note: str = "", placeholder: str = ""
) -> Card:
    """The 1:1 question: who asks, the question, the contact it is about, and an answer box while open.

    `contact` (the private view) adds the body and details, so the colleague can answer without the
    channel; with HANDOFF_CARD_DETAIL=minimal this is the only place they see them.
    """
    mentions = Mentions()
    body: list[Element] = [
        _line(view.intro, mentions, 500, None, weight="Bolder"),
        rich(trim(view.text, INPUT_MAX), italic=True),
    ]
    summary: list[Element] = [
        rich(trim(view.contact_header, 200), weight="Bolder"),
        rich(trim(view.contact_subject, 300)),
    ]
    if contact is not None:
        limits = Limits(body=1500)
        if contact.body:
            summary.append(rich(trim(contact.body, limits.body), size="Small"))
            if len(contact.body) > limits.body and trimmed_note:
                summary.append(text_block(escape(trimmed_note), isSubtle=True, size="Small"))
        facts = [
            {"title": escape(trim(label, 60)), "value": escape(trim(value, limits.detail))}
            for label, value in contact.details[: limits.details]
        ]
        if facts:
            summary.append({"type": "FactSet", "facts": facts})
    body.append({"type": "Container", "style": "emphasis", "items": summary})
    if view.answer is not None:
        body.append(_line(view.answer, mentions, 1000, None))
    actions: list[Element] = []
    if view.can_answer:
        body.append(
            {
                "type": "Input.Text",
                "id": "answer",
                "label": inert(view.answer_label),
                "placeholder": inert(placeholder or view.answer_label),
                "isMultiline": True,
                "isRequired": True,
                "errorMessage": inert(placeholder or view.answer_label),
                "maxLength": INPUT_MAX,
            }
        )
        actions.append(
            {
                "type": "Action.Execute",
                "title": trim(view.answer_label, 60),
                "verb": Verb.QUESTION_ANSWER.value,
                "data": action_data(Verb.QUESTION_ANSWER, view.question_id),
                "style": "positive",
            }
        )
    return with_mentions(card(body, actions=actions, fallback=view.fallback), mentions)


def transfer_card(note: Line, view: ContactCard, *, trimmed_note: str) -> Card:
    """The 1:1 message to whoever a contact was transferred to: the note, then the (private) contact.

    No buttons: the actions live on the channel card, which stays the one place that changes.
    """
    content: Card = {}
    for limits in LADDER:
        content = _contact_card(view, trimmed_note, limits, None, note=note, with_actions=False)
        if size(content) <= CARD_BUDGET:
            break
    return content


def list_card(title: str, lines: Sequence[str], *, empty: str = "—") -> Card:
    """A titled list for the channel (opening digest, end-of-day summary); `lines` are already escaped."""
    body: list[Element] = [text_block(escape(title), weight="Bolder", size="Medium")]
    shown = list(lines[: DESK_LINES * 2])
    body += [text_block(line, spacing="None") for line in shown] or [text_block(escape(empty), isSubtle=True)]
    content = card(body, fallback=title)
    for n in range(len(shown), 0, -5):  # many long lines: keep the first ones that fit
        if size(content) <= CARD_BUDGET:
            break
        content["body"] = body[: n + 1]
    return content


def _desk_contact(c: ContactLine, catalogue: Catalogue, tz: tzinfo) -> str:
    when = format_datetime(c.received_at, tz, catalogue.language)
    return (
        f"{CHANNEL_ICONS[c.channel]} **#{c.contact_id}** {escape(trim(c.customer, 80))} — "
        f"{escape(trim(c.subject, 120))} ({escape(when)})"
    )


def _desk_question(q: QuestionLine, catalogue: Catalogue, tz: tzinfo) -> str:
    when = format_datetime(q.asked_at, tz, catalogue.language)
    return f"❓ **#{q.contact_id}** {escape(trim(q.text, 200))} ({escape(when)})"


def desk_card(desk: Desk, catalogue: Catalogue, tz: tzinfo, *, which: str = "all") -> Card:
    """ "my contacts" / "open contacts": titled lists, each line escaped, at most DESK_LINES per list."""
    c = catalogue
    sections: list[tuple[str, list[str], str]] = []
    if which in ("all", "mine"):
        sections.append(
            (c.t("desk.mine"), [_desk_contact(x, c, tz) for x in desk.mine], c.t("desk.mine.empty"))
        )
        sections.append(
            (
                c.t("desk.waiting"),
                [_desk_question(x, c, tz) for x in desk.waiting_for_me],
                c.t("desk.waiting.empty"),
            )
        )
        sections.append(
            (c.t("desk.asked"), [_desk_question(x, c, tz) for x in desk.asked_by_me], c.t("desk.asked.empty"))
        )
    if which in ("all", "open"):
        sections.append(
            (c.t("desk.open"), [_desk_contact(x, c, tz) for x in desk.open], c.t("desk.open.empty"))
        )
    body: list[Element] = []
    for title, lines, empty in sections:
        body.append(text_block(escape(title), weight="Bolder", size="Medium"))
        if not lines:
            body.append(text_block(escape(empty), isSubtle=True, spacing="None"))
        for line in lines[:DESK_LINES]:
            body.append(text_block(line, spacing="None"))
        if len(lines) > DESK_LINES:
            more = c.t("teams.desk.more", count=len(lines) - DESK_LINES)
            body.append(text_block(escape(more), isSubtle=True, spacing="None"))
    title = c.t("desk.open" if which == "open" else "desk.mine")
    return card(body, fallback=title)
