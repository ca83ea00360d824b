"""Mail that must not become a contact: bounces, automatic replies and list or bulk mail."""

from __future__ import annotations

import re
from collections.abc import Iterable
from email.message import Message

from handoff_bot.intake.email.charsets import decode_words

BOUNCE = "bounce"
AUTO_REPLY = "auto_reply"
BULK = "bulk"

_DAEMON = re.compile(r"(?:^|[\s<\"'])(?:mailer-daemon|postmaster)(?:@|[\s>\"']|$)", re.I)
_AUTO_SUBJECT = re.compile(
    r"^\s*(?:automatic reply|automatisch antwoord|auto[- ]?reply|autoreply|auto[- ]?response"
    r"|out of (?:the )?office|afwezig\w*|abwesenheitsnotiz)\b",
    re.I,
)


def classify(headers: Iterable[tuple[str, str]]) -> str | None:
    """Why a mail with these (name, value) headers must not become a contact, or None when it may."""
    fields: dict[str, str] = {}
    for name, value in headers:
        fields.setdefault(name.strip().lower(), value)
    report = _report_type(fields.get("content-type"))
    if report == "delivery-status" or _DAEMON.search(fields.get("from", "")):
        return BOUNCE
    if report == "disposition-notification" or _automatic(fields):
        return AUTO_REPLY  # read receipts included: nobody wrote them
    precedence = _token(fields.get("precedence"))
    if precedence in {"bulk", "list", "junk"} or "list-id" in fields or "list-unsubscribe" in fields:
        return BULK
    return None


def _automatic(fields: dict[str, str]) -> bool:
    submitted = _token(fields.get("auto-submitted"))
    return (
        submitted not in {None, "", "no"}
        or "x-autoreply" in fields
        or "x-autorespond" in fields
        or _token(fields.get("precedence")) == "auto_reply"
        or bool(_AUTO_SUBJECT.match(decode_words(fields.get("subject", ""))))
    )


def _report_type(content_type: str | None) -> str | None:
    if content_type is None:
        return None
    params = Message()
    params["content-type"] = content_type
    if params.get_content_type() != "multipart/report":
        return None
    try:
        value = params.get_param("report-type")
    except (ValueError, LookupError):
        return None
    return value.strip().lower() if isinstance(value, str) else None


def _token(value: str | None) -> str | None:
    return value.split(";", 1)[0].strip().lower() if value is not None else None
