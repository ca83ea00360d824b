"""Bytes and encoded header words to text, whatever charset a mail claims to use."""

from __future__ import annotations

import base64
import binascii
import codecs
import quopri
import re

_LABEL = re.compile(r"[a-z0-9][a-z0-9._:+-]{0,39}")
# Labels that mail clients write but mean a superset of (as browsers do): 0x80-0x9f in a mail labelled
# ISO-8859-1 are Windows characters such as € and „, never the C1 controls that ISO-8859-1 names there.
_SUPERSETS = {
    "iso8859-1": "cp1252",
    "iso8859-9": "cp1254",
    "iso8859-11": "cp874",
    "tis-620": "cp874",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "euc_kr": "cp949",
}
# Codecs that reinterpret text instead of decoding it; a bogus label must not change what a mail says.
_NOT_CHARSETS = frozenset({"unicode-escape", "raw-unicode-escape", "undefined", "idna", "punycode"})
_ASCII = bytes(range(128))
_WORD = re.compile(r"=\?([^?\s]{1,75})\?([QqBb])\?([^?]*)\?=")
_NOT_BASE64 = re.compile(rb"[^A-Za-z0-9+/]")


def codec_for(label: str | None) -> str | None:
    """The Python codec for a MIME charset label, or None when the label names nothing usable."""
    if not label:
        return None
    name = label.strip().strip("\"'").lower()
    if not _LABEL.fullmatch(name):
        return None
    try:
        codec = codecs.lookup(name).name
    except LookupError:
        return None
    if codec in _NOT_CHARSETS:
        return None
    return _SUPERSETS.get(codec, codec)


def decode_bytes(data: bytes, label: str | None = None) -> str:
    """Decode with the declared charset, else UTF-8, else Windows-1252/Latin-1; never raises."""
    for codec in (codec_for(label), "utf-8"):
        if codec is None:
            continue
        try:
            return data.decode(codec)
        except (UnicodeError, LookupError):
            continue
    guess = data.decode("utf-8", errors="replace")
    # Mostly UTF-8 with a stray byte (a pasted signature) keeps its UTF-8; Latin-1 text fails on
    # nearly every non-ASCII byte and reads better as Windows-1252.
    if guess.count("\ufffd") * 4 <= len(data.translate(None, _ASCII)):
        return guess
    try:
        return data.decode("cp1252")
    except UnicodeError:
        return data.decode("latin-1")


def decode_words(value: str) -> str:
    """Decode RFC 2047 encoded words (`=?utf-8?q?caf=C3=A9?=`); words split mid-character are joined."""
    if "=?" not in value:
        return value
    out: list[str] = []
    pending = b""
    pending_charset: str | None = None
    pos = 0
    for match in _WORD.finditer(value):
        between = value[pos : match.start()]
        if between and not (pending_charset is not None and between.isspace()):
            if pending_charset is not None:
                out.append(decode_bytes(pending, pending_charset))
                pending, pending_charset = b"", None
            out.append(between)
        charset = match.group(1).split("*", 1)[0].lower()
        data = _word_bytes(match.group(2).lower(), match.group(3))
        if pending_charset is not None and charset != pending_charset:
            out.append(decode_bytes(pending, pending_charset))
            pending = b""
        pending += data
        pending_charset = charset
        pos = match.end()
    if pending_charset is not None:
        out.append(decode_bytes(pending, pending_charset))
    out.append(value[pos:])
    return "".join(out)


def _word_bytes(kind: str, text: str) -> bytes:
    data = text.encode("utf-8", errors="surrogateescape")
    if kind == "q":
        return quopri.decodestring(data.replace(b"_", b" "))
    return base64_bytes(data)


def base64_bytes(data: bytes) -> bytes:
    """Base64 as mail clients send it: stray characters skipped, missing padding forgiven."""
    try:
        return binascii.a2b_base64(data)
    except binascii.Error:
        pass
    clean = _NOT_BASE64.sub(b"", data)
    clean = clean[: len(clean) - len(clean) % 4] if len(clean) % 4 == 1 else clean
    clean += b"=" * (-len(clean) % 4)
    try:
        return base64.b64decode(clean)
    except binascii.Error:
        return b""
