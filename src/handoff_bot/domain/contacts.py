"""A customer contact and the rules for who may do what with it."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from handoff_bot.domain.errors import (
    AlreadyClaimed,
    AlreadyResolved,
    NotClaimant,
    NotClaimed,
    NotResolved,
    TransferToSelf,
)
from handoff_bot.domain.events import EventKind, TimelineEvent


class Channel(enum.StrEnum):
    PHONE = "phone"
    EMAIL = "email"
    CHAT = "chat"
    SOCIAL = "social"
    WEB = "web"
    WALK_IN = "walk_in"
    OTHER = "other"


class ContactStatus(enum.StrEnum):
    OPEN = "open"
    CLAIMED = "claimed"
    RESOLVED = "resolved"


@dataclass
class Contact:
    id: int | None
    customer_id: int
    channel: Channel
    subject: str
    body: str
    received_at: datetime
    source: str
    external_id: str | None = None
    status: ContactStatus = ContactStatus.OPEN
    claimed_by: int | None = None
    claimed_at: datetime | None = None
    resolved_by: int | None = None
    resolved_at: datetime | None = None
    outcome: str | None = None
    callback_before: datetime | None = None  # "call back before 15:00", promised to the customer
    redacted_at: datetime | None = None  # personal data removed (erasure or retention); statistics remain
    # Optimistic concurrency: storage writes only if the version it read is still current.
    version: int = 1

    def _event(self, kind: EventKind, at: datetime, actor: int | None, **data: object) -> TimelineEvent:
        assert self.id is not None, "a contact must be stored before it can change"
        return TimelineEvent(contact_id=self.id, kind=kind, at=at, actor_id=actor, data=dict(data))

    def received(self) -> TimelineEvent:
        return self._event(
            EventKind.RECEIVED, self.received_at, None, channel=self.channel.value, source=self.source
        )

    def claim(self, person_id: int, at: datetime) -> TimelineEvent:
        if self.status is ContactStatus.RESOLVED:
            raise AlreadyResolved(contact_id=self._id, by=self.resolved_by)
        if self.status is ContactStatus.CLAIMED:
            assert self.claimed_by is not None
            raise AlreadyClaimed(contact_id=self._id, by=self.claimed_by)
        self.status, self.claimed_by, self.claimed_at = ContactStatus.CLAIMED, person_id, at
        waited = max(0.0, (at - self.received_at).total_seconds())
        # The channel lets effects decide on channel-specific follow-ups (an email acknowledgement).
        return self._event(
            EventKind.CLAIMED, at, person_id, waited_seconds=waited, channel=self.channel.value
        )

    def release(self, person_id: int, at: datetime) -> TimelineEvent:
        self._require_claimant(person_id)
        self.status, self.claimed_by, self.claimed_at = ContactStatus.OPEN, None, None
        return self._event(EventKind.RELEASED, at, person_id)

    def transfer(self, person_id: int, to_person_id: int, note: str, at: datetime) -> TimelineEvent:
        """The claimant hands the contact, with a note, to a named colleague who becomes claimant."""
        self._require_claimant(person_id)
        if to_person_id == person_id:
            raise TransferToSelf(contact_id=self._id)
        self.claimed_by, self.claimed_at = to_person_id, at
        return self._event(EventKind.TRANSFERRED, at, person_id, to=to_person_id, note=note)

    def resolve(self, person_id: int, outcome: str | None, at: datetime) -> TimelineEvent:
        """Anyone may resolve an open contact; a claimed one only its claimant."""
        if self.status is ContactStatus.RESOLVED:
            raise AlreadyResolved(contact_id=self._id, by=self.resolved_by)
        if self.status is ContactStatus.CLAIMED and self.claimed_by != person_id:
            assert self.claimed_by is not None
            raise NotClaimant(contact_id=self._id, claimant=self.claimed_by)
        self.status, self.resolved_by, self.resolved_at = ContactStatus.RESOLVED, person_id, at
        self.outcome = outcome or None
        return self._event(EventKind.RESOLVED, at, person_id, outcome=self.outcome)

    def reopen(self, person_id: int | None, at: datetime) -> TimelineEvent:
        if self.status is not ContactStatus.RESOLVED:
            raise NotResolved(contact_id=self._id)
        self.status = ContactStatus.OPEN
        self.claimed_by = self.claimed_at = None
        self.resolved_by = self.resolved_at = None
        self.outcome = None
        return self._event(EventKind.REOPENED, at, person_id)

    def _require_claimant(self, person_id: int) -> None:
        if self.status is ContactStatus.RESOLVED:
            raise AlreadyResolved(contact_id=self._id, by=self.resolved_by)
        if self.status is not ContactStatus.CLAIMED:
            raise NotClaimed(contact_id=self._id)
        if self.claimed_by != person_id:
            assert self.claimed_by is not None
            raise NotClaimant(contact_id=self._id, claimant=self.claimed_by)

    @property
    def _id(self) -> int:
        assert self.id is not None
        return self.id
