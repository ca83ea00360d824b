"""The timeline: an append-only log of what happened to a contact, and by whom."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


class EventKind(enum.StrEnum):
    RECEIVED = "received"
    POSTED = "posted"
    CLAIMED = "claimed"
    RELEASED = "released"
    TRANSFERRED = "transferred"
    ASKED = "asked"
    ANSWERED = "answered"
    QUESTION_CANCELLED = "question_cancelled"
    RESOLVED = "resolved"
    REOPENED = "reopened"
    REMINDED = "reminded"
    NOTE = "note"
    FOLLOW_UP = "follow_up"  # the customer wrote again in the contact's thread (a reply by email)
    REDACTED = "redacted"  # personal data removed: records when and why (and by whom), never what


@dataclass(frozen=True)
class TimelineEvent:
    contact_id: int
    kind: EventKind
    at: datetime
    actor_id: int | None = None
    data: dict[str, Any] = field(default_factory=dict)
    id: int | None = None
