"""Block Kit rendering: pure functions from neutral views to Slack message payloads, within limits."""

from __future__ import annotations

from typing import Any

from handoff_bot.domain.contacts import ContactStatus
from handoff_bot.platforms.cards import ContactCard, Line, OnDuty, PersonRef, QuestionView, plain
from handoff_bot.platforms.slack.actions import (
    CARD_ACTIONS,
    CARD_EVENT,
    DM_EVENT,
    LINE_EVENT,
    ActionId,
    contact_ref,
    question_ref,
)

PLATFORM = "slack"
SECTION_MAX = 3000
HEADER_MAX = 150
CONTEXT_MAX = 2000
FALLBACK_MAX = 3000
BODY_MAX = 2800  # leaves room for the "trimmed" note inside one section
LINE_MAX = 2800

Block = dict[str, Any]
STATUS_ICONS = {ContactStatus.OPEN: "🟢", ContactStatus.CLAIMED: "🟡", ContactStatus.RESOLVED: "✅"}


def escape(text: str) -> str:
    """Slack's three control characters: without this a customer's `<!channel>` pings everyone."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def trim(text: str, limit: int, note: str = "…") -> str:
    if len(text) <= limit:
        return text
    return text[: max(0, limit - len(note))].rstrip() + note


def onduty_mention(setting: str) -> str:
    """SLACK_ONDUTY_MENTION (@here, @channel, S… user group, U… user) as Slack markup."""
    if setting in ("@here", "@channel", "@everyone"):
        return f"<!{setting[1:]}>"
    if setting.startswith("S"):
        return f"<!subteam^{setting}>"
    return f"<@{setting}>" if setting else ""


def mrkdwn(line: Line, limit: int = LINE_MAX, *, onduty: str = "") -> str:
    """Our template text and names escaped; people with a Slack account become real mentions."""
    out: list[str] = []
    for segment in line:
        if isinstance(segment, PersonRef):
            user = segment.platform_ids.get(PLATFORM)
            out.append(f"<@{user}>" if user else escape(segment.name))
        elif isinstance(segment, OnDuty):
            out.append(onduty_mention(onduty))
        else:
            out.append(escape(segment))
    # Trim before returning so an escape sequence is never cut in half by a later trim.
    text = "".join(out)
    return text if len(text) <= limit else trim(escape(plain(line)), limit)


def plain_line(line: Line, limit: int = FALLBACK_MAX) -> str:
    """Notification text: names, no mentions, escaped like everything else Slack parses."""
    return trim(escape(plain(line)), limit)


def _plain(text: str, limit: int) -> dict[str, Any]:
    return {"type": "plain_text", "text": trim(text, limit) or " ", "emoji": True}


def _mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text or " "}


def card_message(card: ContactCard, trimmed_note: str) -> dict[str, Any]:
    """chat.postMessage / chat.update arguments for a contact card (without channel and ts)."""
    blocks: list[Block] = [
        {"type": "header", "text": _plain(card.header, HEADER_MAX)},
        # Customer text goes in plain_text: no mrkdwn, no links, no mentions can come out of it.
        {"type": "section", "text": _plain(card.subject, SECTION_MAX)},
    ]
    if card.body:
        body = card.body if len(card.body) <= BODY_MAX else trim(card.body, BODY_MAX) + "\n" + trimmed_note
        blocks.append({"type": "section", "text": _plain(body, SECTION_MAX)})
    facts = [_plain(f"{label}: {value}", 200) for label, value in card.details[:8]]
    facts.append(_plain(card.received, 200))
    blocks.append({"type": "context", "elements": facts[:10]})
    context = [_mrkdwn(mrkdwn(card.context, CONTEXT_MAX))]
    if card.owner:
        context.append(_mrkdwn(mrkdwn(card.owner, CONTEXT_MAX)))
    blocks.append({"type": "context", "elements": context})
    for question in card.questions[:5]:
        blocks.append({"type": "context", "elements": [_mrkdwn(mrkdwn(question, CONTEXT_MAX))]})
    # No bold around the status: an outcome someone typed could contain `*` and break it.
    blocks.append(
        {"type": "section", "text": _mrkdwn(STATUS_ICONS[card.status] + " " + mrkdwn(card.status_line))}
    )
    if card.actions:  # Slack refuses an actions block without elements
        blocks.append(
            {
                "type": "actions",
                "block_id": f"card:{card.contact_id}",
                "elements": [
                    _button(CARD_ACTIONS[a.kind], a.label, contact_ref(card.contact_id), a.primary)
                    for a in card.actions
                ],
            }
        )
    return {
        "text": trim(card.fallback, FALLBACK_MAX),
        "blocks": blocks,
        "metadata": {"event_type": CARD_EVENT, "event_payload": {"contact_id": card.contact_id}},
        "unfurl_links": False,
        "unfurl_media": False,
    }


def thread_message(line: Line, contact_id: int, event_id: int | None, *, onduty: str = "") -> dict[str, Any]:
    text = mrkdwn(line, onduty=onduty)
    payload: dict[str, Any] = {"contact_id": contact_id}
    if event_id is not None:
        payload["event_id"] = event_id
    return {
        "text": text,
        "blocks": [{"type": "section", "text": _mrkdwn(text)}],
        "metadata": {"event_type": LINE_EVENT, "event_payload": payload},
        "unfurl_links": False,
        "unfurl_media": False,
    }


def question_message(view: QuestionView) -> dict[str, Any]:
    blocks: list[Block] = [
        {"type": "section", "text": _mrkdwn(mrkdwn(view.intro))},
        {"type": "section", "text": _plain(view.text, SECTION_MAX)},
        {
            "type": "context",
            "elements": [_plain(view.contact_header, 500), _plain(view.contact_subject, 500)],
        },
    ]
    if view.answer is not None:
        blocks.append({"type": "section", "text": _mrkdwn(mrkdwn(view.answer))})
    if view.can_answer:
        blocks.append(
            {
                "type": "actions",
                "block_id": f"question:{view.question_id}",
                "elements": [
                    _button(ActionId.QUESTION_ANSWER, view.answer_label, question_ref(view.question_id), True)
                ],
            }
        )
    return {
        "text": trim(view.fallback, FALLBACK_MAX),
        "blocks": blocks,
        "metadata": {
            "event_type": DM_EVENT,
            "event_payload": {"question_id": view.question_id, "contact_id": view.contact_id},
        },
        "unfurl_links": False,
        "unfurl_media": False,
    }


def _button(action_id: ActionId, label: str, value: str, primary: bool) -> Block:
    button: Block = {
        "type": "button",
        "action_id": action_id.value,
        "text": _plain(label, 75),
        "value": value,
    }
    if primary:
        button["style"] = "primary"
    return button


def desk_blocks(sections: list[tuple[str, list[str], str]]) -> list[Block]:
    """Titled lists (title, lines, text when empty). Lines are already escaped mrkdwn."""
    out: list[Block] = []
    for title, lines, empty in sections:
        out.append({"type": "header", "text": _plain(title, HEADER_MAX)})
        text = "\n".join(lines) if lines else f"_{escape(empty)}_"
        out.append({"type": "section", "text": _mrkdwn(trim(text, SECTION_MAX))})
    return out[:100]
