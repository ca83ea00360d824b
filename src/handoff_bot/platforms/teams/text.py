"""Text for Teams: escaping customer text, and Lines with `<at>` mentions plus their mention entities.

Two places parse text in Teams: Adaptive Card TextBlocks (a markdown subset, plus `<at>…</at>` matched
against the card's `msteams.entities`) and message text (markdown and a little HTML, `<at>` likewise).
Text that is not ours must not format, link or mention: markdown characters are backslash-escaped and
`<` is separated from what follows by an invisible word joiner, so no `<at>` (or any tag) can come out of
it and it never matches one of our mention entities.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from handoff_bot.platforms.cards import Line, OnDuty, PersonRef, plain

PLATFORM = "teams"
WORD_JOINER = "\u2060"
NAME_MAX = 100
_INLINE = re.compile(r"([\\`*_~\[\]])")  # emphasis, code, links (a link needs "[")
# Headings, quotes and lists: only where they would take effect ("+316…" and "12.50" stay as they are).
_LINE_START = re.compile(r"^([ \t]*)(>|[#+\-](?=[ \t]|$)|\d+(?=[.)](?:[ \t]|$)))", re.MULTILINE)
_DOUBLE_BRACE = re.compile(r"\{(?=\{)")
_ENTITY = re.compile(r"&(?=#?[A-Za-z0-9]+;)")  # a typed "&lt;" must not turn into "<"


def trim(text: str, limit: int, note: str = "…") -> str:
    if len(text) <= limit:
        return text
    return text[: max(0, limit - len(note))].rstrip() + note


def inert(text: str) -> str:
    """For places that show text literally (TextRun, Input values, titles): only tags are neutralised."""
    # Tags (`<at>`) and template functions (`{{DATE(…)}}`): no `<` or `{{` survives, however many.
    text = _DOUBLE_BRACE.sub("{" + WORD_JOINER, text.replace("<", "<" + WORD_JOINER))
    return _ENTITY.sub("&" + WORD_JOINER, text)


def _line_start(match: re.Match[str]) -> str:
    indent, marker = match.group(1), match.group(2)
    # "1." is a list only with its period: escape the period, keep the number.
    return indent + marker + "\\" if marker[0].isdigit() else indent + "\\" + marker


def escape(text: str) -> str:
    """For markdown places (TextBlock, Fact, message text): no formatting, links, tags or mentions."""
    return _LINE_START.sub(_line_start, _INLINE.sub(r"\\\1", inert(text)))


@dataclass(frozen=True)
class OnDutyMention:
    """Who "on duty" means in Teams: a team tag (e.g. "Reception"), mentioned with `type="tag"`.

    Bots can mention users and tags; without a tag (None) on-duty lines mention nobody.
    """

    id: str
    name: str
    type: str = "tag"


@dataclass
class Mentions:
    """Mention entities for one card or message; the same person is mentioned with one entity."""

    entities: list[dict[str, Any]] = field(default_factory=list)
    _texts: dict[tuple[str, str], str] = field(default_factory=dict)

    def at(self, mention_id: str, name: str, kind: str | None = None) -> str:
        key = (kind or "person", mention_id)
        if key in self._texts:
            return self._texts[key]
        # The `<at>` text is what Teams matches entities by: two people called Jan need different texts.
        label = trim(re.sub(r"[<>&\r\n]", "", name).strip(), NAME_MAX) or "?"
        taken = set(self._texts.values())
        text, n = f"<at>{label}</at>", 2
        while text in taken:
            text, n = f"<at>{label} ({n})</at>", n + 1
        self._texts[key] = text
        mentioned: dict[str, str] = {"id": mention_id, "name": label}
        if kind:
            mentioned["type"] = kind
        self.entities.append({"type": "mention", "text": text, "mentioned": mentioned})
        return text


def markdown(
    line: Line, mentions: Mentions | None, limit: int, *, onduty: OnDutyMention | None = None
) -> str:
    """A Line as TextBlock/message text: ours and customer text escaped, Teams users as mentions.

    With `mentions=None` (notification text, places without entities) people are shown by name.
    """
    out: list[str] = []
    budget = limit  # counted in unescaped characters
    for segment in line:
        if budget <= 0:
            break
        if isinstance(segment, PersonRef):
            user = segment.platform_ids.get(PLATFORM)
            name = trim(segment.name, NAME_MAX)
            out.append(mentions.at(user, name) if user and mentions is not None else escape(name))
            budget -= len(name)
        elif isinstance(segment, OnDuty):
            if onduty is not None:
                out.append(
                    mentions.at(onduty.id, onduty.name, onduty.type)
                    if mentions is not None
                    else escape(onduty.name)
                )
        else:
            # Trim the raw text, then escape: an escape sequence is never cut in half.
            raw = trim(segment, budget)
            out.append(escape(raw))
            budget -= len(raw)
    return "".join(out)


def plain_text(line: Line, limit: int) -> str:
    """Notification or fallback text: names, no mentions, escaped."""
    return escape(trim(plain(line), limit))


def message(line: Line, *, onduty: OnDutyMention | None = None, limit: int = 4000) -> dict[str, Any]:
    """A thread reply (or 1:1 message) activity: markdown text with `<at>` mentions and their entities."""
    mentions = Mentions()
    text = markdown(line, mentions, limit, onduty=onduty)
    activity: dict[str, Any] = {"type": "message", "textFormat": "markdown", "text": text}
    if mentions.entities:
        activity["entities"] = mentions.entities
    return activity
