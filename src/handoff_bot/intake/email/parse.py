"""One raw mail to what intake needs: who, which thread, the new text, attachments and whether to skip."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import getaddresses, parsedate_to_datetime

from handoff_bot.domain.customers import normalise_email
from handoff_bot.domain.errors import InvalidIdentity
from handoff_bot.domain.text import clean_text
from handoff_bot.intake.email.charsets import decode_bytes, decode_words
from handoff_bot.intake.email.classify import classify
from handoff_bot.intake.email.html_text import html_to_text
from handoff_bot.intake.email.mime import Part, first, read_message, walk
from handoff_bot.intake.email.quotes import new_text

__all__ = ["TEXT_LIMIT", "ParsedMail", "classify", "parse_mail"]

TEXT_LIMIT = 50_000
MAX_REFERENCES = 100
_ID = re.compile(r"<([^<>\s]{1,255})>")
_TAG = re.compile(r"\[#([0-9]{1,18})\]")
_MAX_FROM = 2000
_HASHED_HEADERS = ("from", "to", "date", "subject")


@dataclass(frozen=True)
class ParsedMail:
    message_id: str  # without <>; when missing, a sha256 hex digest of the headers and the text
    in_reply_to: str | None
    references: tuple[str, ...]
    from_name: str | None
    from_address: str | None
    subject: str
    text: str  # the new text of this mail: no quoted reply, signature or footer; at most TEXT_LIMIT
    original: str  # the whole best body part as text
    attachments: tuple[tuple[str, int], ...]  # (filename, decoded size in bytes)
    contact_tag: int | None  # the 123 of "[#123]" in the subject
    date: datetime | None  # aware
    skip_reason: str | None  # "bounce", "auto_reply" or "bulk": not for a contact


def parse_mail(raw: bytes) -> ParsedMail:
    """Parse a raw RFC 5322 message; malformed input gives a best-effort result, never an error."""
    root = read_message(raw)
    headers = root.headers
    body = _best_body(raw, root)
    original = clean_text(_body_text(raw, body)) if body is not None else ""
    subject = clean_text(decode_words(first(headers, "subject") or ""), single_line=True)
    from_name, from_address = _sender(first(headers, "from"))
    tag = _TAG.search(subject)
    return ParsedMail(
        message_id=_message_id(first(headers, "message-id")) or _fallback_id(root, original),
        in_reply_to=next(iter(_ids(first(headers, "in-reply-to"))), None),
        references=_references(first(headers, "references")),
        from_name=from_name,
        from_address=from_address,
        subject=subject,
        text=clean_text(new_text(original, TEXT_LIMIT)),
        original=original,
        attachments=tuple(_attachments(raw, root, body)),
        contact_tag=int(tag.group(1)) if tag else None,
        date=_date(first(headers, "date")),
        skip_reason=classify(headers),
    )


def _best_body(raw: bytes, part: Part) -> Part | None:
    """Like EmailMessage.get_body: plain text preferred among alternatives unless it is empty."""
    if not part.children:
        return part if part.is_body else None
    if part.content_type != "multipart/alternative":
        return next((b for child in part.children if (b := _best_body(raw, child)) is not None), None)
    found = [b for child in part.children if (b := _best_body(raw, child)) is not None]
    for candidate in found:
        if candidate.content_type == "text/plain" and not _blank(raw, candidate):
            return candidate
    html = [candidate for candidate in found if candidate.content_type == "text/html"]
    return next(iter(html or found), None)


def _blank(raw: bytes, part: Part) -> bool:
    # A huge part is not blank; decoding it twice just to find that out is not worth it.
    if part.end - part.start > 65536:
        return False
    return not _body_text(raw, part).strip()


def _body_text(raw: bytes, part: Part) -> str:
    text = decode_bytes(part.payload(raw), part.param("charset"))
    if part.content_type == "text/html":
        return html_to_text(text)
    if (part.param("format") or "").lower() == "flowed":
        return _unflow(text, delsp=(part.param("delsp") or "").lower() == "yes")
    return text


def _unflow(text: str, *, delsp: bool) -> str:
    """Join format=flowed soft line breaks (RFC 3676) so paragraphs and attributions are whole again."""
    lines: list[str] = []
    paragraph: list[str] = []
    depth = 0
    for raw_line in text.split("\n"):
        line = raw_line.rstrip("\r")
        line_depth = len(line) - len(line.lstrip(">"))
        content = line[line_depth:]
        content = content.removeprefix(" ")  # space-stuffing
        if paragraph and line_depth != depth:
            lines.append(_quoted(depth, "".join(paragraph)))
            paragraph = []
        depth = line_depth
        if content.endswith(" ") and content != "-- ":
            paragraph.append(content[:-1] if delsp else content)
            continue
        paragraph.append(content)
        lines.append(_quoted(depth, "".join(paragraph)))
        paragraph = []
    if paragraph:
        lines.append(_quoted(depth, "".join(paragraph)))
    return "\n".join(lines)


def _quoted(depth: int, text: str) -> str:
    if not depth:
        return text
    return f"{'>' * depth} {text}" if text else ">" * depth


def _attachments(raw: bytes, root: Part, body: Part | None) -> list[tuple[str, int]]:
    found: list[tuple[str, int]] = []
    for part in walk(root):
        if part.children or part is body:
            continue
        name = part.filename
        if name is None and part.disposition == "attachment":
            name = "message.eml" if part.content_type == "message/rfc822" else "attachment"
        if name is not None:
            found.append((clean_text(name, single_line=True) or "attachment", part.size(raw)))
    return found


def _sender(value: str | None) -> tuple[str | None, str | None]:
    if not value:
        return None, None
    pairs = getaddresses([value[:_MAX_FROM]])  # the parser is slow on long input; a sender is short
    name, address = next(((n, a) for n, a in pairs if a), pairs[0] if pairs else ("", ""))
    name = clean_text(decode_words(name), single_line=True).strip("\"' ")
    try:
        email = normalise_email(address).value
    except InvalidIdentity:
        email = None
    if not name and email is None and address and "@" not in address:
        name = clean_text(address, single_line=True)  # `From: Anna`
    return (name if name and name.lower() != email else None), email


def _message_id(value: str | None) -> str | None:
    if value is None:
        return None
    if match := _ID.search(value):
        return match.group(1)
    token = value.strip().strip("<>")
    return token if 0 < len(token) <= 255 and not any(c.isspace() or c in "<>" for c in token) else None


def _ids(value: str | None) -> list[str]:
    return _ID.findall(value) if value else []


def _references(value: str | None) -> tuple[str, ...]:
    ids = list(dict.fromkeys(_ids(value)))
    if len(ids) > MAX_REFERENCES:
        ids = [ids[0], *ids[-(MAX_REFERENCES - 1) :]]  # the thread's root and its latest replies
    return tuple(ids)


def _fallback_id(root: Part, original: str) -> str:
    """Stable for one message however it is fetched; the text keeps header-less mails apart."""
    digest = hashlib.sha256()
    for name in _HASHED_HEADERS:
        value = " ".join((first(root.headers, name) or "").split())
        digest.update(f"{name}:{value}\n".encode("utf-8", errors="surrogatepass"))
    digest.update(b"\n")
    digest.update(original.encode("utf-8", errors="surrogatepass"))
    return digest.hexdigest()


def _date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, OverflowError, IndexError):
        return None
    # "-0000" means UTC with the sender's zone unknown, which Python returns as a naive datetime.
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
