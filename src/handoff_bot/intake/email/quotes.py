"""The new part of a reply: quoted history, signatures and "Sent from my iPhone" cut off."""

from __future__ import annotations

import re

_ATTRIBUTIONS = (
    re.compile(r"^\s*On\s.{0,300}\bwrote\s*:$", re.I),  # Gmail, Apple Mail, Thunderbird
    re.compile(r"^\s*Op\s.{0,300}\bheeft\s.{0,300}\bhet volgende geschreven\s*:$", re.I),  # Apple Mail
    re.compile(r"^\s*Op\s.{0,300}\bschreef\s.{0,300}:$", re.I),  # Gmail, Thunderbird
)
_DIGIT = re.compile(r"\d")  # an attribution has a date; "On reflection, I wrote:" does not
_ORIGINAL = re.compile(
    r"^\s*-{2,}\s*(?:original message|oorspronkelijk bericht|origineel bericht)\s*-{2,}\s*$", re.I
)
_FIELD = re.compile(r"^\s*\*?(from|van|sent|date|verzonden|datum|to|aan|cc|bcc|subject|onderwerp)\s*:", re.I)
_FIELD_ROLES = {
    "sent": "date", "date": "date", "verzonden": "date", "datum": "date",
    "to": "to", "aan": "to", "subject": "subject", "onderwerp": "subject",
}  # fmt: skip
_SIGNATURE = re.compile(r"^--\s?$")
_FOOTER = re.compile(
    r"^\s*(?:sent from my\s.{1,40}|sent from (?:outlook|mail|yahoo mail)\b.{0,40}|get outlook for\s.{1,30}"
    r"|(?:verzonden|verstuurd) (?:vanaf|vanuit|met|via) (?:mijn|outlook|e-mail|mail)\b.{0,40}"
    r"|download outlook voor\s.{1,30})$",
    re.I,
)
_SEPARATOR = re.compile(r"^\s*(?:_{5,}|-{5,}|-{2,}\s*\w[\w ]*\s*-{2,})\s*$")
_WINDOW_SLACK = 2000  # room for an attribution that starts just before the limit


def new_text(text: str, limit: int) -> str:
    """`text` up to where a quoted reply, signature or mobile footer starts, at most `limit` characters.

    When nothing would be left, the text itself (cut to `limit`) is returned instead.
    """
    window = text[: limit + _WINDOW_SLACK]
    lines = window.split("\n")
    cut = _first_marker(lines)
    if len(window) == len(text):
        cut = min(cut, _trailing_quote(lines))
    kept = lines[:cut]
    # What introduced the quote ("_____" or "-----Original Message-----" above Outlook's block) goes too.
    while cut < len(lines) and kept and (not kept[-1].strip() or _SEPARATOR.match(kept[-1])):
        kept.pop()
    result = "\n".join(kept).strip()
    return (result or text.strip())[:limit].rstrip()


def _first_marker(lines: list[str]) -> int:
    for index, line in enumerate(lines):
        if _SIGNATURE.match(line) or _ORIGINAL.match(line) or _FOOTER.match(line):
            return index
        if _attribution(line) or _header_block(lines, index):
            return index
        wrapped = index + 1 < len(lines) and line.lstrip()[:3].lower() in {"on ", "op "}
        if wrapped and _attribution(f"{line.rstrip()} {lines[index + 1].strip()}"):  # cut at 78 columns
            return index
    return len(lines)


def _attribution(line: str) -> bool:
    line = line.rstrip()
    return len(line) <= 400 and any(p.match(line) for p in _ATTRIBUTIONS) and bool(_DIGIT.search(line))


def _header_block(lines: list[str], index: int) -> bool:
    """Outlook's quoted header: From/Van followed by Sent, To and Subject lines (in any order)."""
    match = _FIELD.match(lines[index])
    if not match or match.group(1).lower() not in {"from", "van"}:
        return False
    roles: set[str] = set()
    for line in lines[index + 1 : index + 8]:
        field = _FIELD.match(line)
        if not field:
            break
        roles.add(_FIELD_ROLES.get(field.group(1).lower(), "other"))
    return {"date", "to", "subject"} <= roles


def _trailing_quote(lines: list[str]) -> int:
    """Where a block of `>` lines that runs to the end starts; interleaved answers above it stay."""
    cut = len(lines)
    for index in range(len(lines) - 1, -1, -1):
        stripped = lines[index].strip()
        if stripped.startswith(">"):
            cut = index
        elif stripped:
            break
    return cut
