"""The ports the use cases depend on. Adapters (storage, platforms, clocks) implement them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import Any, Protocol, Self

from handoff_bot.domain.contacts import Contact, ContactStatus
from handoff_bot.domain.context import EarlierContact
from handoff_bot.domain.customers import Customer, Identity
from handoff_bot.domain.events import EventKind, TimelineEvent
from handoff_bot.domain.people import Person
from handoff_bot.domain.questions import Question


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware (UTC)."""
        ...


@dataclass(frozen=True)
class Effect:
    """A side effect to perform outside the transaction, written to the outbox inside it.

    `fan_out` effects become one outbox row per configured chat platform; the others (timers)
    one row. `key` orders rows: a row waits until earlier rows with the same key are done.
    """

    kind: str
    payload: dict[str, Any]
    key: str | None = None
    due_at: datetime | None = None
    fan_out: bool = True
    # At most one row per dedupe key ever (per platform): "the digest for Monday's opening" fires once
    # however many after-hours contacts asked for it, and however many instances run.
    dedupe: str | None = None


class CustomerRepository(Protocol):
    async def get(self, customer_id: int) -> Customer: ...
    async def find_by_identities(self, identities: Sequence[Identity]) -> list[Customer]: ...
    async def add(self, customer: Customer) -> Customer: ...
    async def save(self, customer: Customer) -> None: ...
    async def forget(self, customer_id: int) -> None: ...


class ContactRepository(Protocol):
    async def get(self, contact_id: int) -> Contact: ...
    async def by_external_id(self, source: str, external_id: str) -> Contact | None: ...
    async def add(self, contact: Contact) -> Contact: ...
    async def save(self, contact: Contact) -> None:
        """Write if nobody changed the contact since it was read, else raise ConcurrentUpdate."""
        ...

    async def earlier_for_customer(
        self, customer_id: int, before_contact_id: int, limit: int
    ) -> list[EarlierContact]: ...
    async def count_for_customer(self, customer_id: int, before_contact_id: int) -> int: ...
    async def page(
        self, status: ContactStatus | None, limit: int, before_id: int | None
    ) -> list[Contact]: ...
    async def received_between(self, since: datetime, until: datetime) -> list[Contact]: ...
    async def unresolved(self, limit: int) -> list[Contact]: ...
    async def for_customer(self, customer_id: int) -> list[Contact]: ...
    async def resolved_before(self, moment: datetime, limit: int) -> list[Contact]: ...
    async def newest_for_customer(self, customer_id: int) -> Contact | None: ...


class PersonRepository(Protocol):
    async def get(self, person_id: int) -> Person: ...
    async def get_many(self, person_ids: Sequence[int]) -> dict[int, Person]: ...
    async def by_email(self, email: str) -> Person | None: ...
    async def by_identity(self, platform: str, user_id: str) -> Person | None: ...
    async def add(self, person: Person) -> Person: ...
    async def save(self, person: Person) -> None: ...
    async def all(self) -> list[Person]: ...


class QuestionRepository(Protocol):
    async def get(self, question_id: int) -> Question: ...
    async def add(self, question: Question) -> Question: ...
    async def save(self, question: Question) -> None: ...
    async def for_contact(self, contact_id: int) -> list[Question]: ...
    async def open_questions(self, limit: int) -> list[Question]: ...


class TimelineRepository(Protocol):
    async def append(self, event: TimelineEvent) -> TimelineEvent: ...
    async def for_contact(self, contact_id: int) -> list[TimelineEvent]: ...
    async def between(self, kind: EventKind, since: datetime, until: datetime) -> list[TimelineEvent]: ...
    async def scrub(self, contact_id: int, keys: Sequence[str]) -> None: ...


class OutboxWriter(Protocol):
    async def enqueue(self, effect: Effect) -> None: ...


class UnitOfWork(Protocol):
    """One transaction. Leaving the `async with` block without `commit()` rolls back."""

    # Read-only members, so an implementation may narrow them to its own repository classes.
    @property
    def customers(self) -> CustomerRepository: ...
    @property
    def contacts(self) -> ContactRepository: ...
    @property
    def people(self) -> PersonRepository: ...
    @property
    def questions(self) -> QuestionRepository: ...
    @property
    def timeline(self) -> TimelineRepository: ...
    @property
    def outbox(self) -> OutboxWriter: ...

    async def __aenter__(self) -> Self: ...
    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...
    async def commit(self) -> None: ...


class UnitOfWorkFactory(Protocol):
    def __call__(self) -> UnitOfWork: ...


@dataclass
class Committed:
    """What a committed unit of work did; observers (metrics, the worker's wake-up) get it."""

    events: list[TimelineEvent] = field(default_factory=list)
    outbox_rows: int = 0
    due_rows: int = 0  # of which due now (timers for later need no worker woken)


@dataclass(frozen=True)
class OutboxMessage:
    """One leased outbox row as a handler sees it."""

    id: int
    kind: str
    platform: str | None
    payload: dict[str, Any]
    key: str | None
    attempts: int  # including this one
    due_at: datetime
    lease: str
