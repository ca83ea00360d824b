"""An in-memory unit of work for fast service tests: dict tables with the SQL store's guarantees.

What the SQL adapter guarantees, this one does too, so a service test here means the same thing:
- changes are visible to other units of work only after `commit()`; leaving without it discards them;
- `save` of a contact or question is guarded by its version (ConcurrentUpdate on a lost race),
  re-checked at commit against whatever others committed meanwhile;
- unique keys: (source, external_id) of contacts, (kind, value) of customer identities,
  a person's email and (platform, user_id);
- the outbox fans `fan_out` effects out to one row per platform, keyed like SqlOutboxWriter.
Objects handed out are copies: mutating one without `save` changes nothing stored.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from types import TracebackType
from typing import Any, Self

from handoff_bot.domain.contacts import Contact, ContactStatus
from handoff_bot.domain.context import EarlierContact
from handoff_bot.domain.customers import Customer, Identity
from handoff_bot.domain.errors import ConcurrentUpdate, NotFound
from handoff_bot.domain.events import EventKind, TimelineEvent
from handoff_bot.domain.mail import Direction, MailMessage
from handoff_bot.domain.people import Person
from handoff_bot.domain.questions import Question, QuestionStatus
from handoff_bot.services.ports import Clock, Committed, Effect


@dataclass(frozen=True)
class OutboxRow:
    """One row as SqlOutboxWriter would insert it."""

    kind: str
    platform: str | None
    payload: dict[str, Any]
    key: str | None
    due_at: datetime


@dataclass(frozen=True)
class CommitRecord:
    """What one committed unit of work wrote to the timeline and the outbox."""

    events: tuple[TimelineEvent, ...]
    effects: tuple[Effect, ...]
    rows: tuple[OutboxRow, ...]


@dataclass
class MemoryState:
    """The committed 'database' shared by every unit of work of one factory."""

    customers: dict[int, Customer] = field(default_factory=dict)
    contacts: dict[int, Contact] = field(default_factory=dict)
    people: dict[int, Person] = field(default_factory=dict)
    questions: dict[int, Question] = field(default_factory=dict)
    timeline: list[TimelineEvent] = field(default_factory=list)
    outbox: list[OutboxRow] = field(default_factory=list)
    commits: list[CommitRecord] = field(default_factory=list)
    mail: dict[str, MailMessage] = field(default_factory=dict)  # by message id (unique)
    # Like database sequences: ids handed out by a rolled-back transaction are not reused.
    ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))


class _Versioned:
    """Pending writes of one table with a version column, checked at save and again at commit."""

    def __init__(self, entity: str) -> None:
        self.entity = entity
        self.read_versions: dict[int, int] = {}

    def check_save(self, key: int, current: int, offered: int) -> None:
        if offered != current:
            raise ConcurrentUpdate(entity=self.entity, key=key)
        self.read_versions.setdefault(key, current)

    def check_commit(self, committed: dict[int, Any]) -> None:
        for key, version in self.read_versions.items():
            if key in committed and committed[key].version != version:
                raise ConcurrentUpdate(entity=self.entity, key=key)


class MemoryCustomers:
    def __init__(self, state: MemoryState) -> None:
        self._state = state
        self.pending: dict[int, Customer] = {}

    def _view(self) -> dict[int, Customer]:
        return {**self._state.customers, **self.pending}

    async def get(self, customer_id: int) -> Customer:
        found = self._view().get(customer_id)
        if found is None:
            raise NotFound(entity="customer", key=customer_id)
        return copy.deepcopy(found)

    async def find_by_identities(self, identities: Sequence[Identity]) -> list[Customer]:
        wanted = set(identities)
        return [copy.deepcopy(c) for _, c in sorted(self._view().items()) if c.identities & wanted]

    async def add(self, customer: Customer) -> Customer:
        customer.id = next(self._state.ids)
        self._write(customer)
        return customer

    async def add_many(self, customers: Sequence[Customer]) -> None:
        for customer in customers:
            await self.add(customer)

    async def save(self, customer: Customer) -> None:
        assert customer.id is not None
        stored = self._view().get(customer.id)
        if stored is None:
            raise NotFound(entity="customer", key=customer.id)
        # Like the SQL store, saving adds identities and never removes one.
        self._write(replace(copy.deepcopy(customer), identities=stored.identities | customer.identities))

    async def forget(self, customer_id: int) -> None:
        stored = self._view().get(customer_id)
        if stored is not None:
            self.pending[customer_id] = replace(copy.deepcopy(stored), identities=set())

    def _write(self, customer: Customer) -> None:
        assert customer.id is not None
        _check_identities(self._view(), customer)
        self.pending[customer.id] = copy.deepcopy(customer)

    def check_commit(self) -> None:
        for customer in self.pending.values():
            _check_identities(self._state.customers, customer)


def _check_identities(table: dict[int, Customer], customer: Customer) -> None:
    for other in table.values():
        if other.id != customer.id and other.identities & customer.identities:
            raise ConcurrentUpdate(entity="customer_identity", key=customer.id)


class MemoryContacts:
    def __init__(self, state: MemoryState, people: MemoryPeople) -> None:
        self._state, self.people = state, people
        self.pending: dict[int, Contact] = {}
        self.versions = _Versioned("contact")

    def _view(self) -> dict[int, Contact]:
        return {**self._state.contacts, **self.pending}

    async def get(self, contact_id: int) -> Contact:
        found = self._view().get(contact_id)
        if found is None:
            raise NotFound(entity="contact", key=contact_id)
        return copy.deepcopy(found)

    async def get_for(self, contact_id: int, person_id: int) -> Contact:
        await self.people.get(person_id)
        return await self.get(contact_id)

    async def by_external_id(self, source: str, external_id: str) -> Contact | None:
        for contact in self._view().values():
            if (contact.source, contact.external_id) == (source, external_id):
                return copy.deepcopy(contact)
        return None

    async def add(self, contact: Contact) -> Contact:
        _check_external_id(self._view(), contact)
        contact.id, contact.version = next(self._state.ids), 1
        self.pending[contact.id] = copy.deepcopy(contact)
        return contact

    async def add_many(self, contacts: Sequence[Contact]) -> list[Contact]:
        return [await self.add(contact) for contact in contacts]

    async def save(self, contact: Contact) -> None:
        assert contact.id is not None
        current = self._view().get(contact.id)
        if current is None:
            raise ConcurrentUpdate(entity="contact", key=contact.id)
        # The live view: a colleague's commit since our read shows here, as in UPDATE … WHERE version.
        self.versions.check_save(contact.id, current.version, contact.version)
        contact.version += 1
        self.pending[contact.id] = copy.deepcopy(contact)

    def check_commit(self) -> None:
        self.versions.check_commit(self._state.contacts)
        for contact in self.pending.values():
            others = {k: v for k, v in self._state.contacts.items() if k != contact.id}
            _check_external_id(others, contact)

    async def earlier_for_customer(
        self, customer_id: int, before_contact_id: int, limit: int
    ) -> list[EarlierContact]:
        rows = [c for k, c in self._view().items() if c.customer_id == customer_id and k < before_contact_id]
        rows.sort(key=lambda c: (c.received_at, c.id or 0), reverse=True)
        return [
            EarlierContact(
                c.id or 0,
                c.received_at,
                c.channel,
                c.subject,
                c.status,
                c.resolved_by or c.claimed_by,
                c.resolved_at,
                c.outcome,
            )
            for c in rows[:limit]
        ]

    async def count_for_customer(self, customer_id: int, before_contact_id: int) -> int:
        return sum(
            1 for k, c in self._view().items() if c.customer_id == customer_id and k < before_contact_id
        )

    async def page(self, status: ContactStatus | None, limit: int, before_id: int | None) -> list[Contact]:
        rows = [
            c
            for k, c in sorted(self._view().items(), reverse=True)
            if (status is None or c.status is status) and (before_id is None or k < before_id)
        ]
        return [copy.deepcopy(c) for c in rows[:limit]]

    async def received_between(self, since: datetime, until: datetime) -> list[Contact]:
        rows = sorted(
            (c for c in self._view().values() if since <= c.received_at < until),
            key=lambda c: (c.received_at, c.id or 0),
        )
        return [copy.deepcopy(c) for c in rows[:200]]

    async def for_customer(self, customer_id: int) -> list[Contact]:
        return [copy.deepcopy(c) for _, c in sorted(self._view().items()) if c.customer_id == customer_id]

    async def resolved_before(self, moment: datetime, limit: int) -> list[Contact]:
        rows = sorted(
            (
                c
                for c in self._view().values()
                if c.status is ContactStatus.RESOLVED
                and c.resolved_at is not None
                and c.resolved_at < moment
                and c.redacted_at is None
            ),
            key=lambda c: (c.resolved_at or moment, c.id or 0),
        )
        return [copy.deepcopy(c) for c in rows[:limit]]

    async def newest_for_customer(self, customer_id: int) -> Contact | None:
        rows = sorted(
            (c for c in self._view().values() if c.customer_id == customer_id),
            key=lambda c: (c.received_at, c.id or 0),
        )
        return copy.deepcopy(rows[-1]) if rows else None

    async def unresolved(self, limit: int) -> list[Contact]:
        rows = sorted(
            (c for c in self._view().values() if c.status is not ContactStatus.RESOLVED),
            key=lambda c: (c.received_at, c.id or 0),
        )
        return [copy.deepcopy(c) for c in rows[:limit]]


def _check_external_id(table: dict[int, Contact], contact: Contact) -> None:
    if contact.external_id is None:
        return
    for other in table.values():
        if (other.source, other.external_id) == (contact.source, contact.external_id):
            raise ConcurrentUpdate(entity="contact", key=(contact.source, contact.external_id))


class MemoryPeople:
    def __init__(self, state: MemoryState) -> None:
        self._state = state
        self.pending: dict[int, Person] = {}

    def _view(self) -> dict[int, Person]:
        return {**self._state.people, **self.pending}

    async def get(self, person_id: int) -> Person:
        found = self._view().get(person_id)
        if found is None:
            raise NotFound(entity="person", key=person_id)
        return copy.deepcopy(found)

    async def get_many(self, person_ids: Sequence[int]) -> dict[int, Person]:
        view = self._view()
        return {i: copy.deepcopy(view[i]) for i in person_ids if i in view}

    async def by_email(self, email: str) -> Person | None:
        return self._first(p for p in self._view().values() if p.email == email.lower())

    async def by_identity(self, platform: str, user_id: str) -> Person | None:
        return self._first(p for p in self._view().values() if p.identities.get(platform) == user_id)

    async def add(self, person: Person) -> Person:
        person.id = next(self._state.ids)
        self._write(person)
        return person

    async def save(self, person: Person) -> None:
        assert person.id is not None
        stored = self._view().get(person.id)
        if stored is None:
            raise NotFound(entity="person", key=person.id)
        self._write(replace(copy.deepcopy(person), identities={**stored.identities, **person.identities}))

    async def all(self) -> list[Person]:
        return [copy.deepcopy(p) for p in sorted(self._view().values(), key=lambda p: p.display_name)]

    def _write(self, person: Person) -> None:
        _check_person(self._view(), person)
        assert person.id is not None
        self.pending[person.id] = copy.deepcopy(person)

    def check_commit(self) -> None:
        for person in self.pending.values():
            _check_person(self._state.people, person)

    @staticmethod
    def _first(found: Iterable[Person]) -> Person | None:
        return next((copy.deepcopy(p) for p in found), None)


def _check_person(table: dict[int, Person], person: Person) -> None:
    mine = set(person.identities.items())
    for other in table.values():
        if other.id == person.id:
            continue
        if person.email is not None and other.email == person.email:
            raise ConcurrentUpdate(entity="person", key=person.email)
        if mine & set(other.identities.items()):
            raise ConcurrentUpdate(entity="person_identity", key=person.id)


class MemoryQuestions:
    def __init__(self, state: MemoryState) -> None:
        self._state = state
        self.pending: dict[int, Question] = {}
        self.versions = _Versioned("question")

    def _view(self) -> dict[int, Question]:
        return {**self._state.questions, **self.pending}

    async def get(self, question_id: int) -> Question:
        found = self._view().get(question_id)
        if found is None:
            raise NotFound(entity="question", key=question_id)
        return copy.deepcopy(found)

    async def add(self, question: Question) -> Question:
        question.id, question.version = next(self._state.ids), 1
        self.pending[question.id] = copy.deepcopy(question)
        return question

    async def save(self, question: Question) -> None:
        assert question.id is not None
        current = self._view().get(question.id)
        if current is None:
            raise ConcurrentUpdate(entity="question", key=question.id)
        self.versions.check_save(question.id, current.version, question.version)
        question.version += 1
        self.pending[question.id] = copy.deepcopy(question)

    async def for_contact(self, contact_id: int) -> list[Question]:
        return [copy.deepcopy(q) for _, q in sorted(self._view().items()) if q.contact_id == contact_id]

    async def open_questions(self, limit: int) -> list[Question]:
        rows = sorted(
            (q for q in self._view().values() if q.status is QuestionStatus.OPEN), key=lambda q: q.asked_at
        )
        return [copy.deepcopy(q) for q in rows[:limit]]

    async def open_for(self, colleague_id: int) -> list[Question]:
        return [
            copy.deepcopy(q)
            for _, q in sorted(self._view().items())
            if q.colleague_id == colleague_id and q.status is QuestionStatus.OPEN
        ]

    def check_commit(self) -> None:
        self.versions.check_commit(self._state.questions)


class MemoryTimeline:
    def __init__(self, state: MemoryState) -> None:
        self._state = state
        self.appended: list[TimelineEvent] = []

    async def append(self, event: TimelineEvent) -> TimelineEvent:
        stored = replace(event, data=copy.deepcopy(event.data), id=next(self._state.ids))
        self.appended.append(stored)
        return stored

    async def append_many(self, events: Sequence[TimelineEvent]) -> list[TimelineEvent]:
        return [await self.append(event) for event in events]

    async def for_contact(self, contact_id: int) -> list[TimelineEvent]:
        events = [e for e in [*self._state.timeline, *self.appended] if e.contact_id == contact_id]
        return sorted(events, key=lambda e: (e.at, e.id or 0))

    async def scrub(self, contact_id: int, keys: Sequence[str]) -> None:
        def clean(e: TimelineEvent) -> TimelineEvent:
            if e.contact_id != contact_id:
                return e
            return replace(e, data={k: v for k, v in e.data.items() if k not in keys})

        self._state.timeline[:] = [clean(e) for e in self._state.timeline]
        self.appended[:] = [clean(e) for e in self.appended]

    async def between(self, kind: EventKind, since: datetime, until: datetime) -> list[TimelineEvent]:
        events = [
            e for e in [*self._state.timeline, *self.appended] if e.kind is kind and since <= e.at < until
        ]
        return sorted(events, key=lambda e: (e.at, e.id or 0))


class MemoryMail:
    """Mails by message id; storing an id twice is a ConcurrentUpdate, as the unique key makes it."""

    def __init__(self, state: MemoryState) -> None:
        self._state = state
        self.pending: dict[str, MailMessage] = {}

    def _all(self) -> list[MailMessage]:
        return sorted([*self._state.mail.values(), *self.pending.values()], key=lambda m: m.id or 0)

    async def get(self, message_id: str) -> MailMessage | None:
        return self.pending.get(message_id) or self._state.mail.get(message_id)

    async def contact_for(self, message_ids: Sequence[str]) -> int | None:
        wanted = set(message_ids)
        found = [m for m in self._all() if m.message_id in wanted]
        return found[-1].contact_id if found else None

    async def add(self, message: MailMessage) -> MailMessage:
        if await self.get(message.message_id) is not None:
            raise ConcurrentUpdate(entity="email_message", key=None)
        stored = replace(message, id=next(self._state.ids))
        self.pending[message.message_id] = stored
        return stored

    async def latest_in(self, contact_id: int) -> MailMessage | None:
        found = [m for m in self._all() if m.contact_id == contact_id and m.direction is Direction.IN]
        return found[-1] if found else None

    async def for_contact(self, contact_id: int) -> list[MailMessage]:
        return [m for m in self._all() if m.contact_id == contact_id]

    async def forget(self, contact_id: int) -> None:
        for table in (self._state.mail, self.pending):
            for key, m in list(table.items()):
                if m.contact_id == contact_id:
                    table[key] = replace(m, address=None, subject="", original="", attachments=())

    def check_commit(self) -> None:
        if any(key in self._state.mail for key in self.pending):
            raise ConcurrentUpdate(entity="email_message", key=None)


class MemoryOutbox:
    """The fan-out of SqlOutboxWriter: one row per platform, the key prefixed with the platform."""

    def __init__(self, platforms: Sequence[str], clock: Clock) -> None:
        self._platforms, self._clock = platforms, clock
        self.effects: list[Effect] = []
        self.rows: list[OutboxRow] = []

    async def enqueue(self, effect: Effect) -> None:
        self.effects.append(effect)
        targets: Sequence[str | None] = self._platforms if effect.fan_out else (None,)
        for platform in targets:
            key = f"{platform}:{effect.key}" if platform and effect.key else effect.key
            payload = copy.deepcopy(effect.payload)
            self.rows.append(
                OutboxRow(effect.kind, platform, payload, key, effect.due_at or self._clock.now())
            )


class FakeUnitOfWork:
    def __init__(self, factory: FakeUnitOfWorkFactory) -> None:
        self._factory = factory
        self._committed = False

    async def __aenter__(self) -> Self:
        state = self._factory.state
        self._factory.entered += 1
        self._committed = False
        self.people, self.questions = MemoryPeople(state), MemoryQuestions(state)
        self.customers, self.contacts = MemoryCustomers(state), MemoryContacts(state, self.people)
        self.timeline = MemoryTimeline(state)
        self.outbox = MemoryOutbox(self._factory.platforms, self._factory.clock)
        self.mail = MemoryMail(state)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if not self._committed:
            self._factory.rollbacks += 1
        # Pending writes die with this object: nothing reaches the shared state without commit().

    async def commit(self) -> None:
        factory = self._factory
        for hook in factory.take_before_commit_hooks():
            await hook()
        if factory.conflicts > 0:
            factory.conflicts -= 1
            raise ConcurrentUpdate(entity="transaction", key=None)
        self.contacts.check_commit()
        self.questions.check_commit()
        self.customers.check_commit()
        self.people.check_commit()
        self.mail.check_commit()
        state = factory.state
        state.mail.update(self.mail.pending)
        state.customers.update(self.customers.pending)
        state.contacts.update(self.contacts.pending)
        state.people.update(self.people.pending)
        state.questions.update(self.questions.pending)
        state.timeline.extend(self.timeline.appended)
        state.outbox.extend(self.outbox.rows)
        state.commits.append(
            CommitRecord(tuple(self.timeline.appended), tuple(self.outbox.effects), tuple(self.outbox.rows))
        )
        self._committed = True
        now = factory.clock.now()
        due = sum(1 for r in self.outbox.rows if r.due_at <= now)
        done = Committed(list(self.timeline.appended), len(self.outbox.rows), due)
        for listener in factory.listeners:
            listener(done)


Hook = Callable[[], Awaitable[object]]


class FakeUnitOfWorkFactory:
    """Hands out FakeUnitOfWork over one shared MemoryState.

    `conflicts = n` makes the next n commits fail with ConcurrentUpdate (as an SQL commit does on a
    unique-key collision); `before_next_commit(hook)` runs `await hook()` just before the next commit,
    which is how a test lets a colleague's transaction slip in between our read and our write.
    """

    def __init__(self, *, clock: Clock, platforms: Sequence[str] = ("fake",)) -> None:
        self.clock, self.platforms = clock, tuple(platforms)
        self.state = MemoryState()
        self.listeners: list[Callable[[Committed], None]] = []
        self.conflicts = 0
        self.entered = 0
        self.rollbacks = 0
        self._hooks: list[Hook] = []

    def __call__(self) -> FakeUnitOfWork:
        return FakeUnitOfWork(self)

    def before_next_commit(self, hook: Hook) -> None:
        self._hooks.append(hook)

    def take_before_commit_hooks(self) -> list[Hook]:
        hooks, self._hooks = self._hooks, []
        return hooks

    @property
    def commits(self) -> list[CommitRecord]:
        return self.state.commits

    @property
    def outbox(self) -> list[OutboxRow]:
        return self.state.outbox

    @property
    def timeline(self) -> list[TimelineEvent]:
        return self.state.timeline
