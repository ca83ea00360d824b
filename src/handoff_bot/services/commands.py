"""Commands: what a caller asks a use case to do, already type-checked by the edge that built them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from handoff_bot.domain.contacts import Channel


@dataclass(frozen=True)
class CustomerDetails:
    name: str | None = None
    company: str | None = None
    email: str | None = None
    phone: str | None = None
    handle: str | None = None
    network: str | None = None

    def has_identity_or_name(self) -> bool:
        return any((self.name, self.email, self.phone, self.handle))


@dataclass(frozen=True)
class ReceiveContact:
    channel: Channel
    source: str
    customer: CustomerDetails
    subject: str = ""
    body: str = ""
    external_id: str | None = None
    received_at: datetime | None = None
    callback_before: datetime | None = None


@dataclass(frozen=True)
class ClaimContact:
    contact_id: int
    person_id: int


@dataclass(frozen=True)
class ReleaseContact:
    contact_id: int
    person_id: int


@dataclass(frozen=True)
class TransferContact:
    contact_id: int
    person_id: int
    to_person_id: int
    note: str = ""
    via: str | None = None  # the platform the transfer was made on (where the colleague is told first)


@dataclass(frozen=True)
class ResolveContact:
    contact_id: int
    person_id: int
    outcome: str | None = None


@dataclass(frozen=True)
class ReopenContact:
    contact_id: int
    person_id: int | None


@dataclass(frozen=True)
class AskQuestion:
    contact_id: int
    asker_id: int
    colleague_id: int
    text: str
    via: str | None = None  # the platform the question was asked on (where the colleague is asked first)


@dataclass(frozen=True)
class AnswerQuestion:
    question_id: int
    person_id: int
    text: str


@dataclass(frozen=True)
class CancelQuestion:
    question_id: int
    person_id: int


@dataclass(frozen=True)
class EnsurePerson:
    """Find or create the person behind a platform user or an imported row."""

    display_name: str
    email: str | None = None
    location: str | None = None
    identities: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class SetCustomerOwner:
    customer_id: int
    owner_id: int | None
