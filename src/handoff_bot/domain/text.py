"""Cleaning of text that comes from outside (customers, platforms) before it is stored."""

from __future__ import annotations

import re
import unicodedata

# C0/C1 control characters except tab and newline; NUL in particular breaks PostgreSQL text.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")


def clean_text(value: str, *, single_line: bool = False) -> str:
    """Return `value` safe to store: NFC, no control characters or lone surrogates, trimmed."""
    text = _SURROGATE.sub("\ufffd", value)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL.sub("", text)
    text = unicodedata.normalize("NFC", text)
    if single_line:
        text = " ".join(text.split())
    return text.strip()
