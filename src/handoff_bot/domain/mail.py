"""Email messages that belong to a contact: the customer's mails in, the bot's acknowledgements out."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime


class Direction(enum.StrEnum):
    IN = "in"
    OUT = "out"


@dataclass(frozen=True)
class MailMessage:
    """One mail of a contact's thread. `message_id` is unique: a mail is stored (and so handled) once."""

    message_id: str  # without <>; a header hash when the mail had none
    contact_id: int
    direction: Direction
    at: datetime
    address: str | None = None  # the customer's address: sender of a mail in, recipient of one out
    subject: str = ""
    references: tuple[str, ...] = ()  # the mail's own References (In-Reply-To first when not in them)
    original: str = ""  # the whole body as text, quoted history included
    attachments: tuple[tuple[str, int], ...] = field(default_factory=tuple)  # (filename, bytes)
    id: int | None = None
