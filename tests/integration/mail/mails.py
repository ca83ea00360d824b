"""Real-world-shaped mails built for the tests, as raw bytes (what a server would hand over)."""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

FIXTURES = Path(__file__).parent.parent.parent / "fixtures" / "email"


SENT = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # a Monday, 10:00 in Amsterdam


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def mail(
    *,
    subject: str = "Oven broke down",
    body: str = "Hello,\n\nOur oven stopped heating this morning. Can someone call us?\n\nAnna",
    sender: str = "Anna Jansen <anna@bakkerij-jansen.nl>",
    to: str = "info@example.org",
    message_id: str | None = None,
    in_reply_to: str | None = None,
    references: str | None = None,
    headers: dict[str, str] | None = None,
    attachments: tuple[tuple[str, bytes], ...] = (),
) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = format_datetime(SENT)
    msg["Message-ID"] = message_id or make_msgid(domain="bakkerij-jansen.nl")
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
    if references:
        msg["References"] = references
    for name, value in (headers or {}).items():
        msg[name] = value
    msg.set_content(body)
    for filename, data in attachments:
        msg.add_attachment(data, maintype="application", subtype="octet-stream", filename=filename)
    return msg.as_bytes()


def message_id_of(raw: bytes) -> str:
    for line in raw.split(b"\n"):
        if line.lower().startswith(b"message-id:"):
            return line.split(b":", 1)[1].strip().decode()
    raise AssertionError("no Message-ID")
