"""What every platform's delivery reads from a contact's timeline: one event, and where a step was taken."""

from __future__ import annotations

from handoff_bot.domain.events import TimelineEvent
from handoff_bot.services.views import ContactDetails


def event_of(details: ContactDetails, event_id: object) -> TimelineEvent | None:
    return next((e for e in details.timeline if e.id == event_id), None)


def via_of(event: TimelineEvent | None) -> str | None:
    """The platform an ask or transfer was made on (services.reach picks the DM's platform by it)."""
    via = event.data.get("via") if event else None
    return via if isinstance(via, str) else None


def asked_via(details: ContactDetails, question_id: int) -> str | None:
    asked = (e for e in details.timeline if e.data.get("question_id") == question_id and "via" in e.data)
    return via_of(next(asked, None))
