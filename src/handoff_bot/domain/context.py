"""Customer context: what a colleague should know before picking up."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from handoff_bot.domain.contacts import Channel, ContactStatus


@dataclass(frozen=True)
class EarlierContact:
    contact_id: int
    received_at: datetime
    channel: Channel
    subject: str
    status: ContactStatus
    handled_by: int | None  # resolver, else current claimant
    resolved_at: datetime | None
    outcome: str | None


@dataclass(frozen=True)
class CustomerContext:
    customer_id: int
    earlier: tuple[EarlierContact, ...]  # newest first
    owner_id: int | None
    owner_is_explicit: bool

    @property
    def last(self) -> EarlierContact | None:
        return self.earlier[0] if self.earlier else None


def build_context(
    customer_id: int, explicit_owner: int | None, earlier: Sequence[EarlierContact]
) -> CustomerContext:
    """The relationship owner is the explicit owner, else whoever most recently resolved a contact."""
    ordered = tuple(sorted(earlier, key=lambda c: (c.received_at, c.contact_id), reverse=True))
    if explicit_owner is not None:
        return CustomerContext(customer_id, ordered, explicit_owner, True)
    resolved = [c for c in ordered if c.status is ContactStatus.RESOLVED and c.handled_by is not None]
    latest = max(resolved, key=lambda c: (c.resolved_at or c.received_at, c.contact_id), default=None)
    return CustomerContext(customer_id, ordered, latest.handled_by if latest else None, False)
