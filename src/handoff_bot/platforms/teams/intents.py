"""What a Teams message asks the bot to do: `@Handoff ask @colleague …`, `use this channel`, `my contacts`…

Pure: works on the activity's text and mention entities (as plain dicts), so it is tested without the SDK.
Who is mentioned comes from the entities Teams sends, never from names typed in the text.
"""

from __future__ import annotations

import enum
import html
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

_AT = re.compile(r"<at[^>]*>(.*?)</at>", re.IGNORECASE | re.DOTALL)
_TAGS = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"[ \t\u00a0]+")


class Command(enum.StrEnum):
    ASK = "ask"
    USE_CHANNEL = "use_channel"
    MINE = "mine"
    OPEN = "open"
    LOG = "log"
    HELP = "help"
    TEXT = "text"  # anything else: in a 1:1 chat it may be the answer to an open question


# Both languages of the catalogue; compared after lower-casing and collapsing spaces.
_PHRASES: dict[Command, tuple[str, ...]] = {
    Command.USE_CHANNEL: ("use this channel", "gebruik dit kanaal"),
    Command.MINE: ("my contacts", "mine", "mijn contacten", "mijn"),
    Command.OPEN: ("open contacts", "open", "open contacten"),
    Command.LOG: ("log a contact", "log contact", "log", "contact vastleggen", "nieuw contact"),
    Command.HELP: ("help", "hulp", "?"),
}
_ASK_WORDS = ("ask", "vraag")


@dataclass(frozen=True)
class Mention:
    user_id: str  # the Teams user id (29:…) of the mentioned person
    name: str
    aad_object_id: str | None = None


@dataclass(frozen=True)
class Intent:
    command: Command
    text: str = ""  # the question (ASK) or the whole message (TEXT), as plain text
    colleague: Mention | None = None  # ASK: the first person mentioned after "ask"


def mentions_of(entities: Iterable[Any] | None) -> list[tuple[str, Mention]]:
    """(the `<at>…</at>` text, who) for each mention entity, in the order Teams lists them."""
    found: list[tuple[str, Mention]] = []
    for entity in entities or ():
        data = _as_dict(entity)
        if data.get("type") != "mention":
            continue
        mentioned = _as_dict(data.get("mentioned"))
        user_id = mentioned.get("id")
        if not isinstance(user_id, str) or not user_id:
            continue
        aad = mentioned.get("aadObjectId") or mentioned.get("aad_object_id")
        text = data.get("text") if isinstance(data.get("text"), str) else ""
        found.append((str(text), Mention(user_id, str(mentioned.get("name") or ""), aad or None)))
    return found


def parse(text: str | None, entities: Iterable[Any] | None, bot_id: str | None) -> Intent:
    """The command in a message; the bot's own mention (required in channels) is ignored."""
    mentions = [(t, m) for t, m in mentions_of(entities) if m.user_id != bot_id]
    # NUL marks where a mention stood (below): one typed by the sender must not point into `people`.
    raw = (text or "").replace("\x00", "")
    # Drop the bot's <at>…</at>; keep a marker for every other mention to know where it stood.
    people: list[Mention] = []

    def mark(match: re.Match[str]) -> str:
        tag = match.group(0)
        for i, (mention_text, mention) in enumerate(mentions):
            inner = match.group(1)
            same = _norm(mention_text) == _norm(tag) if mention_text else _norm(inner) == _norm(mention.name)
            if same:
                mentions.pop(i)
                people.append(mention)
                return f" \x00{len(people) - 1}\x00 "
        return " "  # the bot (or a mention without an entity, which we do not trust)

    marked = _AT.sub(mark, raw)
    plain = _clean(marked)
    words = plain.split(" ", 1)
    first = words[0].lower().rstrip(":,") if words[0] else ""
    if first in _ASK_WORDS:
        rest = words[1] if len(words) > 1 else ""
        found = re.match(r"^\x00(\d+)\x00\s*[:,]?\s*(.*)$", rest, re.DOTALL)
        if found is None:
            return Intent(Command.ASK, _unmark(rest, people))
        return Intent(Command.ASK, _unmark(found.group(2), people).strip(), people[int(found.group(1))])
    phrase = _unmark(plain, people).lower().strip(" .!")
    for command, phrases in _PHRASES.items():
        if phrase in phrases:
            return Intent(command)
    return Intent(Command.TEXT, _unmark(plain, people))


def _unmark(text: str, people: list[Mention]) -> str:
    return _SPACE.sub(" ", re.sub(r"\x00(\d+)\x00", lambda m: people[int(m.group(1))].name, text)).strip()


def plain_text(text: str) -> str:
    """A Teams message body (HTML) as plain text: tags dropped, entities decoded, lines kept."""
    return _clean(_AT.sub(lambda m: m.group(1), text))


def _clean(text: str) -> str:
    """Teams text may carry HTML (entities, <p>, <br>): plain text, lines kept, spaces collapsed."""
    text = re.sub(r"<br\s*/?>|</p>", "\n", text, flags=re.IGNORECASE)
    text = html.unescape(_TAGS.sub("", text))
    lines = [_SPACE.sub(" ", line).strip() for line in text.splitlines()]
    return "\n".join(line for line in lines if line).strip()


def _norm(text: str) -> str:
    return _SPACE.sub(" ", html.unescape(_TAGS.sub("", text))).strip().lower()


def _as_dict(value: Any) -> Mapping[str, Any]:
    if isinstance(value, Mapping):
        return value
    # botbuilder's Entity keeps `mentioned` and `text` in additional_properties (serialize() drops them).
    extra = getattr(value, "additional_properties", None)
    if isinstance(extra, Mapping):
        return {**extra, "type": getattr(value, "type", None)}
    return {}
