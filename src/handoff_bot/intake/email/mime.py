"""A mail's MIME tree, as offsets into the raw bytes so a 20 MB attachment is never copied or decoded.

The standard library's feed parser splits every body into line objects (8 to 17 times the message
in memory) and recurses once per nesting level; here only header blocks are parsed line by line.
"""

from __future__ import annotations

import quopri
import re
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import Message

from handoff_bot.intake.email.charsets import base64_bytes, decode_bytes, decode_words

HEADER_LIMIT = 256 * 1024  # a header block beyond this is abuse; the rest counts as body
MAX_DEPTH = 32
MAX_PARTS = 1000
_HEADER = re.compile(rb"[\x21-\x39\x3b-\x7e]{1,200}:")
_FOLD = re.compile(rb"\r?\n|\r")
_GUESS_BOUNDARY = re.compile(rb"^--([^\s]{1,200}?)(?:--)?[ \t]*\r?\n(?i:content-)", re.M)
_WHITESPACE = (b"\n", b"\r", b" ", b"\t", b"=")

Headers = tuple[tuple[str, str], ...]


@dataclass(frozen=True, eq=False)
class Part:
    headers: Headers  # (lower-case name, unfolded value) with 8-bit bytes decoded, encoded words kept
    content_type: str
    params: Message  # Content-Type and Content-Disposition only, for their parameters
    start: int  # the body, still transfer-encoded, is raw[start:end]
    end: int
    children: tuple[Part, ...] = ()

    @property
    def disposition(self) -> str | None:
        return self.params.get_content_disposition()

    @property
    def encoding(self) -> str:
        value = first(self.headers, "content-transfer-encoding") or ""
        return value.split(";", 1)[0].strip().lower()

    def param(self, name: str, header: str = "content-type") -> str | None:
        """A parameter, RFC 2231 and RFC 2047 encodings undone; None when absent or unreadable."""
        try:
            value = self.params.get_param(name, None, header)
        except (ValueError, LookupError):  # e.g. `name*99999…9=` overflows int()
            return None
        if isinstance(value, tuple):
            charset, _language, text = value
            return decode_bytes(text.encode("latin-1", errors="replace"), charset)
        return decode_words(value) if value is not None else None

    @property
    def filename(self) -> str | None:
        name = self.param("filename", "content-disposition") or self.param("name")
        # Old Outlook sends the sender's full path.
        base = re.split(r"[\\/]", name)[-1].strip()[:255] if name else ""
        return base or None

    @property
    def is_body(self) -> bool:
        return (
            self.content_type in {"text/plain", "text/html"}
            and self.disposition != "attachment"
            and self.filename is None
        )

    def size(self, raw: bytes) -> int:
        """The decoded size in bytes; base64 is counted, not decoded."""
        if self.encoding == "base64":
            chars = self.end - self.start - sum(raw.count(c, self.start, self.end) for c in _WHITESPACE)
            return max(chars, 0) * 3 // 4
        if self.encoding == "quoted-printable":
            return len(quopri.decodestring(raw[self.start : self.end]))
        return self.end - self.start

    def payload(self, raw: bytes) -> bytes:
        data = raw[self.start : self.end]
        if self.encoding == "base64":
            return base64_bytes(data)
        if self.encoding == "quoted-printable":
            return quopri.decodestring(data)
        return data


def first(headers: Headers, name: str) -> str | None:
    return next((value for key, value in headers if key == name), None)


def read_message(raw: bytes) -> Part:
    """The MIME tree of `raw`; broken structure degrades to fewer parts, never to an error."""
    return _part(raw, 0, len(raw), "text/plain", 0, [MAX_PARTS])


def walk(part: Part) -> Iterator[Part]:
    yield part
    for child in part.children:
        yield from walk(child)


def _part(raw: bytes, start: int, end: int, default_type: str, depth: int, budget: list[int]) -> Part:
    budget[0] -= 1
    headers, body = _read_headers(raw, start, end)
    params = Message()
    params.set_default_type(default_type)
    for name in ("content-type", "content-disposition"):
        if (value := first(headers, name)) is not None:
            params[name] = value
    content_type = params.get_content_type()
    part = Part(headers, content_type, params, body, end)
    if not content_type.startswith("multipart/"):
        return part
    if depth >= MAX_DEPTH or budget[0] <= 0:
        return Part(headers, "application/octet-stream", params, body, end)
    ranges = _split(raw, body, end, _boundary(params))
    if not ranges:
        # No usable boundary: show whatever the body holds as plain text rather than nothing.
        return Part(headers, "text/plain", Message(), body, end)
    child_type = "message/rfc822" if content_type == "multipart/digest" else "text/plain"
    children: list[Part] = []
    for child_start, child_end in ranges:
        if budget[0] <= 0:
            break
        children.append(_part(raw, child_start, child_end, child_type, depth + 1, budget))
    return Part(headers, content_type, params, body, end, tuple(children))


def _read_headers(raw: bytes, start: int, end: int) -> tuple[Headers, int]:
    """Header fields of the block at `start` and where the body begins (as the feed parser would)."""
    fields: list[tuple[str, list[bytes]]] = []
    limit = min(end, start + HEADER_LIMIT)
    pos = start
    while pos < limit:
        newline = raw.find(b"\n", pos, limit)
        line_end = limit if newline < 0 else newline + 1
        if raw[pos:line_end].strip(b"\r\n") == b"":
            pos = line_end
            break
        if raw[pos : pos + 1] in {b" ", b"\t"} and fields:
            fields[-1][1].append(raw[pos:line_end])
        elif match := _HEADER.match(raw, pos, line_end):
            name = raw[pos : match.end() - 1].decode("ascii").lower()
            fields.append((name, [raw[match.end() : line_end]]))
        elif not (pos == start and raw.startswith(b"From ", pos)):  # an mbox envelope line
            break
        pos = line_end
    headers = tuple((name, _unfold(b"".join(pieces))) for name, pieces in fields)
    return headers, pos


def _unfold(value: bytes) -> str:
    return decode_bytes(_FOLD.sub(b"", value)).strip()


def _boundary(params: Message) -> str | None:
    try:
        value = params.get_param("boundary")
    except (ValueError, LookupError):
        return None
    return value if isinstance(value, str) else None


def _split(raw: bytes, start: int, end: int, boundary: str | None) -> list[tuple[int, int]]:
    if boundary and 0 < len(boundary) <= 200:
        ranges = _ranges(raw, start, end, boundary.strip().encode("utf-8", errors="replace"))
        if ranges:
            return ranges
    # The declared boundary is missing or wrong (hand-built mails, mangling gateways): use the first
    # delimiter-shaped line that is followed by a MIME header.
    guess = _GUESS_BOUNDARY.search(raw, start, min(end, start + 65536))
    return _ranges(raw, start, end, guess.group(1)) if guess else []


def _ranges(raw: bytes, start: int, end: int, boundary: bytes) -> list[tuple[int, int]]:
    """Body ranges between `--boundary` delimiter lines; a missing close delimiter ends at `end`."""
    # Searched from the newline before each delimiter so the regex engine can skip ahead in C.
    delimiter = re.compile(rb"\n--" + re.escape(boundary) + rb"(--)?[ \t]*(?=\r?\n|\r?\Z)")
    ranges: list[tuple[int, int]] = []
    opened: int | None = None
    for match in delimiter.finditer(raw, max(start - 1, 0), end):
        if opened is not None:
            ranges.append((opened, max(opened, _before_newline(raw, opened, match.start() + 1))))
            if len(ranges) >= MAX_PARTS:
                return ranges
        if match.group(1):
            return ranges
        newline = raw.find(b"\n", match.end(), end)
        opened = newline + 1 if newline >= 0 else end
    if opened is not None:
        ranges.append((opened, end))
    return ranges


def _before_newline(raw: bytes, start: int, found: int) -> int:
    """The line break before a delimiter belongs to the delimiter (RFC 2046)."""
    stop = found
    if stop > start and raw[stop - 1 : stop] == b"\n":
        stop -= 1
        if stop > start and raw[stop - 1 : stop] == b"\r":
            stop -= 1
    return stop
