"""Repositories: map rows to domain objects and back. They flush but never commit."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, delete, exists, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from handoff_bot.domain.contacts import Channel, Contact, ContactStatus
from handoff_bot.domain.context import EarlierContact
from handoff_bot.domain.customers import Customer, Identity, IdentityKind
from handoff_bot.domain.errors import ConcurrentUpdate, NotFound
from handoff_bot.domain.events import EventKind, TimelineEvent
from handoff_bot.domain.people import Person
from handoff_bot.domain.questions import Question, QuestionStatus
from handoff_bot.storage import sqlite_bulk
from handoff_bot.storage.models import (
    Base,
    ContactRow,
    CustomerIdentityRow,
    CustomerRow,
    PersonIdentityRow,
    PersonRow,
    QuestionRow,
    TimelineRow,
)


def _now() -> datetime:
    return datetime.now(UTC)


async def flush(session: AsyncSession, entity: str, key: object) -> None:
    """Flush, turning a unique-key collision with a concurrent writer into ConcurrentUpdate."""
    try:
        await session.flush()
    except IntegrityError as exc:
        raise ConcurrentUpdate(entity=entity, key=key) from exc


_CUSTOMERS = Base.metadata.tables["customers"]
_IDENTITIES = Base.metadata.tables["customer_identities"]
_CONTACTS = Base.metadata.tables["contacts"]
_PEOPLE = Base.metadata.tables["people"]
_TIMELINE = Base.metadata.tables["timeline_events"]


# Statements on the intake path are built once: building and keying a statement costs more than running it.
# Customers owning any of the given identities, with all their identities. `kind IN .. AND value IN ..`
# rather than `(kind, value) IN (..)`: SQLite searches the unique (kind, value) index for the former
# and scans the whole table for the latter. The extra pairs it admits are filtered out in Python.
_MATCHING = (
    select(
        _CUSTOMERS.c.id,
        _CUSTOMERS.c.name,
        _CUSTOMERS.c.company,
        _CUSTOMERS.c.owner_id,
        _CUSTOMERS.c.erased_at,
        _IDENTITIES.c.kind,
        _IDENTITIES.c.value,
    )
    .join(_IDENTITIES, _IDENTITIES.c.customer_id == _CUSTOMERS.c.id)
    .where(
        _CUSTOMERS.c.id.in_(
            select(_IDENTITIES.c.customer_id).where(
                _IDENTITIES.c.kind.in_(bindparam("kinds", expanding=True)),
                _IDENTITIES.c.value.in_(bindparam("values", expanding=True)),
            )
        )
    )
    .order_by(_CUSTOMERS.c.id)
)
_ADD_CUSTOMER = insert(_CUSTOMERS).returning(_CUSTOMERS.c.id)
_ADD_IDENTITY = insert(_IDENTITIES)
_ADD_CONTACT = insert(_CONTACTS).returning(_CONTACTS.c.id)
_ADD_EVENT = insert(_TIMELINE).returning(_TIMELINE.c.id)


async def _insert_many(
    session: AsyncSession, table: Any, rows: list[dict[str, Any]], entity: str
) -> list[int]:
    """Insert rows in one statement and return their new ids, in the order the rows were given.

    PostgreSQL returns them from one multi-row INSERT .. RETURNING. SQLite cannot promise that order,
    so SQLAlchemy would send one INSERT per row; instead the ids are taken as SQLite itself would
    assign them (the highest id plus one, and so on), which is safe because every transaction here
    began with BEGIN IMMEDIATE: no other connection can insert until we commit.
    """
    if session.get_bind().dialect.name != "sqlite":
        statement = insert(table).returning(table.c.id, sort_by_parameter_order=True)
        result = await _insert(session, statement, rows, entity, None)
        return list(result.scalars().all())
    db = await sqlite_bulk.connection(session)
    if db is None:
        highest = await session.scalar(select(func.max(table.c.id))) or 0
    else:
        highest = sqlite_bulk.highest_id(db, table)
    ids = list(range(highest + 1, highest + 1 + len(rows)))
    numbered = [{**r, "id": i} for r, i in zip(rows, ids, strict=True)]
    await _insert_plain(session, table, numbered, entity, db)
    return ids


async def _insert_plain(
    session: AsyncSession, table: Any, rows: list[dict[str, Any]], entity: str, db: sqlite3.Connection | None
) -> None:
    """A multi-row INSERT without RETURNING; on SQLite straight through its connection (sqlite_bulk.py)."""
    if db is None:
        await _insert(session, insert(table), rows, entity, None)
        return
    try:
        sqlite_bulk.insert(db, session.get_bind().dialect, table, rows)
    except IntegrityError as exc:
        raise ConcurrentUpdate(entity=entity, key=None) from exc


_QUESTIONS = Base.metadata.tables["questions"]
# The card's read model, built once (every card delivery runs these).
_CUSTOMER_BY_ID = (
    select(
        _CUSTOMERS.c.id,
        _CUSTOMERS.c.name,
        _CUSTOMERS.c.company,
        _CUSTOMERS.c.owner_id,
        _CUSTOMERS.c.erased_at,
        _IDENTITIES.c.kind,
        _IDENTITIES.c.value,
    )
    .outerjoin(_IDENTITIES, _IDENTITIES.c.customer_id == _CUSTOMERS.c.id)
    .where(_CUSTOMERS.c.id == bindparam("id"))
)
_EARLIER = (
    select(_CONTACTS)
    .where(_CONTACTS.c.customer_id == bindparam("customer_id"), _CONTACTS.c.id < bindparam("before"))
    .order_by(_CONTACTS.c.received_at.desc(), _CONTACTS.c.id.desc())
    .limit(bindparam("limit"))
)
_EARLIER_COUNT = select(func.count()).where(
    _CONTACTS.c.customer_id == bindparam("customer_id"), _CONTACTS.c.id < bindparam("before")
)
_EVENTS_OF = (
    select(_TIMELINE)
    .where(_TIMELINE.c.contact_id == bindparam("contact_id"))
    .order_by(_TIMELINE.c.at, _TIMELINE.c.id)
)
_QUESTIONS_OF = (
    select(_QUESTIONS).where(_QUESTIONS.c.contact_id == bindparam("contact_id")).order_by(_QUESTIONS.c.id)
)
_BY_EXTERNAL_ID = select(_CONTACTS).where(
    _CONTACTS.c.source == bindparam("source"), _CONTACTS.c.external_id == bindparam("external_id")
)
_CONTACT_BY_ID = select(_CONTACTS).where(_CONTACTS.c.id == bindparam("id"))
_PERSON_EXISTS = exists().where(_PEOPLE.c.id == bindparam("person"))
# A click's contact and clicker in one round trip, not two (a refused click made four: BEGIN, two
# reads, ROLLBACK).
_CONTACT_FOR_PERSON = select(_CONTACTS, _PERSON_EXISTS.label("person_exists")).where(
    _CONTACTS.c.id == bindparam("id")
)
_SAVE_CONTACT = (
    update(_CONTACTS)
    .where(_CONTACTS.c.id == bindparam("row_id"), _CONTACTS.c.version == bindparam("read_version"))
    .values(
        {
            name: bindparam(name)
            for name in (
                "status",
                "claimed_by",
                "claimed_at",
                "resolved_by",
                "resolved_at",
                "outcome",
                "callback_before",
                "redacted_at",
                "subject",
                "body",
                "version",
            )
        }
    )
)


async def _insert(session: AsyncSession, statement: Any, values: Any, entity: str, key: object) -> Any:
    """Run an insert, turning a unique-key collision with a concurrent writer into ConcurrentUpdate."""
    try:
        return await session.execute(statement, values)
    except IntegrityError as exc:
        raise ConcurrentUpdate(entity=entity, key=key) from exc


@dataclass
class _Loaded:
    """A customer as read in this unit of work, so `save` writes only what changed."""

    fields: tuple[str | None, str | None, int | None, datetime | None]
    identities: set[Identity]


class SqlCustomers:
    def __init__(self, session: AsyncSession) -> None:
        self.s = session
        self._loaded: dict[int, _Loaded] = {}

    def _remember(self, customer: Customer) -> Customer:
        assert customer.id is not None
        fields = (customer.name, customer.company, customer.owner_id, customer.erased_at)
        self._loaded[customer.id] = _Loaded(fields, set(customer.identities))
        return customer

    async def _load(self, rows: Sequence[CustomerRow]) -> list[Customer]:
        ids = [r.id for r in rows]
        if not ids:
            return []
        idents = (
            await self.s.scalars(select(CustomerIdentityRow).where(CustomerIdentityRow.customer_id.in_(ids)))
        ).all()
        by_customer: dict[int, set[Identity]] = {i: set() for i in ids}
        for row in idents:
            by_customer[row.customer_id].add(Identity(IdentityKind(row.kind), row.value))
        return [
            self._remember(Customer(r.id, r.name, r.company, r.owner_id, by_customer[r.id], r.erased_at))
            for r in rows
        ]

    async def get(self, customer_id: int) -> Customer:
        rows = (await self.s.execute(_CUSTOMER_BY_ID, {"id": customer_id})).all()
        if not rows:
            raise NotFound(entity="customer", key=customer_id)
        first = rows[0]
        identities = {Identity(IdentityKind(r.kind), r.value) for r in rows if r.kind is not None}
        return self._remember(
            Customer(first.id, first.name, first.company, first.owner_id, identities, first.erased_at)
        )

    async def find_by_identities(self, identities: Sequence[Identity]) -> list[Customer]:
        """Every customer owning one of the identities, with all their identities: one query."""
        if not identities:
            return []
        wanted = set(identities)
        params = {
            "kinds": sorted({i.kind.value for i in wanted}),
            "values": sorted({i.value for i in wanted}),
        }
        found: dict[int, Customer] = {}
        for row in await self.s.execute(_MATCHING, params):
            customer = found.get(row.id)
            if customer is None:
                customer = found[row.id] = Customer(
                    row.id, row.name, row.company, row.owner_id, set(), row.erased_at
                )
            customer.identities.add(Identity(IdentityKind(row.kind), row.value))
        return [self._remember(c) for c in found.values() if c.identities & wanted]

    async def add(self, customer: Customer) -> Customer:
        values = {
            "name": customer.name,
            "company": customer.company,
            "owner_id": customer.owner_id,
            "erased_at": customer.erased_at,
            "created_at": _now(),
        }
        customer.id = (await _insert(self.s, _ADD_CUSTOMER, values, "customer", None)).scalar_one()
        self._loaded[customer.id] = _Loaded(
            (customer.name, customer.company, customer.owner_id, customer.erased_at), set()
        )
        await self._add_identities(customer.id, customer.identities)
        return customer

    async def add_many(self, customers: Sequence[Customer]) -> None:
        """Store new customers and their identities: two statements however many there are."""
        if not customers:
            return
        now = _now()
        rows = [
            {
                "name": c.name,
                "company": c.company,
                "owner_id": c.owner_id,
                "erased_at": c.erased_at,
                "created_at": now,
            }
            for c in customers
        ]
        for customer, customer_id in zip(
            customers, await _insert_many(self.s, _CUSTOMERS, rows, "customer"), strict=True
        ):
            customer.id = customer_id
            self._remember(customer)
        identities = [
            {"customer_id": c.id, "kind": i.kind.value, "value": i.value}
            for c in customers
            for i in c.sorted_identities()
        ]
        if identities:
            db = await sqlite_bulk.connection(self.s)
            await _insert_plain(self.s, _IDENTITIES, identities, "customer_identity", db)

    async def save(self, customer: Customer) -> None:
        assert customer.id is not None
        loaded = self._loaded.get(customer.id)
        if loaded is None:  # not read in this unit of work: read it now
            await self.get(customer.id)
            loaded = self._loaded[customer.id]
        fields = (customer.name, customer.company, customer.owner_id, customer.erased_at)
        if fields != loaded.fields:
            result = await self.s.execute(
                update(_CUSTOMERS)
                .where(_CUSTOMERS.c.id == customer.id)
                .values(
                    name=customer.name,
                    company=customer.company,
                    owner_id=customer.owner_id,
                    erased_at=customer.erased_at,
                )
            )
            if result.rowcount != 1:  # type: ignore[attr-defined]
                raise NotFound(entity="customer", key=customer.id)
            loaded.fields = fields
        await self._add_identities(customer.id, customer.identities - loaded.identities)

    async def forget(self, customer_id: int) -> None:
        """Remove every identity of a customer (erasure, retention). `save` itself only ever adds."""
        await self.s.execute(
            delete(CustomerIdentityRow).where(CustomerIdentityRow.customer_id == customer_id)
        )
        if customer_id in self._loaded:
            self._loaded[customer_id].identities = set()

    async def _add_identities(self, customer_id: int, identities: set[Identity]) -> None:
        if not identities:
            return
        rows = [
            {"customer_id": customer_id, "kind": i.kind.value, "value": i.value}
            for i in sorted(identities, key=lambda i: (i.kind.value, i.value))
        ]
        await _insert(self.s, _ADD_IDENTITY, rows, "customer_identity", customer_id)
        self._loaded[customer_id].identities |= identities


def _contact(row: Any) -> Contact:
    """A contact from its row: an ORM ContactRow or a Core row of the contacts table."""
    return Contact(
        id=row.id,
        customer_id=row.customer_id,
        channel=Channel(row.channel),
        subject=row.subject,
        body=row.body,
        received_at=row.received_at,
        source=row.source,
        external_id=row.external_id,
        status=ContactStatus(row.status),
        claimed_by=row.claimed_by,
        claimed_at=row.claimed_at,
        resolved_by=row.resolved_by,
        resolved_at=row.resolved_at,
        outcome=row.outcome,
        callback_before=row.callback_before,
        redacted_at=row.redacted_at,
        version=row.version,
    )


class SqlContacts:
    def __init__(self, session: AsyncSession) -> None:
        self.s = session

    async def get(self, contact_id: int) -> Contact:
        row = (await self.s.execute(_CONTACT_BY_ID, {"id": contact_id})).first()
        if row is None:
            raise NotFound(entity="contact", key=contact_id)
        return _contact(row)

    async def get_for(self, contact_id: int, person_id: int) -> Contact:
        row = (await self.s.execute(_CONTACT_FOR_PERSON, {"id": contact_id, "person": person_id})).first()
        if row is not None and row.person_exists:
            return _contact(row)
        # No row says nothing about the person: ask (only on this path), so they are named first.
        if row is None and await self.s.scalar(select(_PERSON_EXISTS), {"person": person_id}):
            raise NotFound(entity="contact", key=contact_id)
        raise NotFound(entity="person", key=person_id)

    async def by_external_id(self, source: str, external_id: str) -> Contact | None:
        row = (await self.s.execute(_BY_EXTERNAL_ID, {"source": source, "external_id": external_id})).first()
        return _contact(row) if row else None

    async def add(self, contact: Contact) -> Contact:
        values = {
            "customer_id": contact.customer_id,
            "channel": contact.channel.value,
            "subject": contact.subject,
            "body": contact.body,
            "received_at": contact.received_at,
            "source": contact.source,
            "external_id": contact.external_id,
            "status": contact.status.value,
            "callback_before": contact.callback_before,
            "version": 1,
            "created_at": _now(),
        }
        key = (contact.source, contact.external_id)
        contact.id = (await _insert(self.s, _ADD_CONTACT, values, "contact", key)).scalar_one()
        contact.version = 1
        return contact

    async def add_many(self, contacts: Sequence[Contact]) -> list[Contact]:
        """Store new contacts in one statement; a repeated (source, external id) fails them all."""
        if not contacts:
            return []
        now = _now()
        rows = [
            {
                "customer_id": c.customer_id,
                "channel": c.channel.value,
                "subject": c.subject,
                "body": c.body,
                "received_at": c.received_at,
                "source": c.source,
                "external_id": c.external_id,
                "status": c.status.value,
                "callback_before": c.callback_before,
                "version": 1,
                "created_at": now,
            }
            for c in contacts
        ]
        for contact, contact_id in zip(
            contacts, await _insert_many(self.s, _CONTACTS, rows, "contact"), strict=True
        ):
            contact.id, contact.version = contact_id, 1
        return list(contacts)

    async def save(self, contact: Contact) -> None:
        # The version check is the database-side guard: of concurrent writers only one matches.
        result = await self.s.execute(
            _SAVE_CONTACT,
            {
                "row_id": contact.id,
                "read_version": contact.version,
                "status": contact.status.value,
                "claimed_by": contact.claimed_by,
                "claimed_at": contact.claimed_at,
                "resolved_by": contact.resolved_by,
                "resolved_at": contact.resolved_at,
                "outcome": contact.outcome,
                "callback_before": contact.callback_before,
                "redacted_at": contact.redacted_at,
                "subject": contact.subject,
                "body": contact.body,
                "version": contact.version + 1,
            },
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise ConcurrentUpdate(entity="contact", key=contact.id)
        contact.version += 1

    async def earlier_for_customer(
        self, customer_id: int, before_contact_id: int, limit: int
    ) -> list[EarlierContact]:
        params = {"customer_id": customer_id, "before": before_contact_id, "limit": limit}
        rows = (await self.s.execute(_EARLIER, params)).all()
        return [
            EarlierContact(
                r.id,
                r.received_at,
                Channel(r.channel),
                r.subject,
                ContactStatus(r.status),
                r.resolved_by or r.claimed_by,
                r.resolved_at,
                r.outcome,
            )
            for r in rows
        ]

    async def count_for_customer(self, customer_id: int, before_contact_id: int) -> int:
        params = {"customer_id": customer_id, "before": before_contact_id}
        return int(await self.s.scalar(_EARLIER_COUNT, params) or 0)

    async def page(self, status: ContactStatus | None, limit: int, before_id: int | None) -> list[Contact]:
        query = select(ContactRow).order_by(ContactRow.id.desc()).limit(limit)
        if status is not None:
            query = query.where(ContactRow.status == status.value)
        if before_id is not None:
            query = query.where(ContactRow.id < before_id)
        return [_contact(r) for r in (await self.s.scalars(query)).all()]

    async def received_between(self, since: datetime, until: datetime) -> list[Contact]:
        query = (
            select(ContactRow)
            .where(ContactRow.received_at >= since, ContactRow.received_at < until)
            .order_by(ContactRow.received_at, ContactRow.id)
            .limit(200)
        )
        return [_contact(r) for r in (await self.s.scalars(query)).all()]

    async def for_customer(self, customer_id: int) -> list[Contact]:
        query = select(ContactRow).where(ContactRow.customer_id == customer_id).order_by(ContactRow.id)
        return [_contact(r) for r in (await self.s.scalars(query)).all()]

    async def resolved_before(self, moment: datetime, limit: int) -> list[Contact]:
        query = (
            select(ContactRow)
            .where(
                ContactRow.status == ContactStatus.RESOLVED.value,
                ContactRow.resolved_at < moment,
                ContactRow.redacted_at.is_(None),
            )
            .order_by(ContactRow.resolved_at, ContactRow.id)
            .limit(limit)
        )
        return [_contact(r) for r in (await self.s.scalars(query)).all()]

    async def newest_for_customer(self, customer_id: int) -> Contact | None:
        row = await self.s.scalar(
            select(ContactRow)
            .where(ContactRow.customer_id == customer_id)
            .order_by(ContactRow.received_at.desc(), ContactRow.id.desc())
            .limit(1)
        )
        return _contact(row) if row else None

    async def unresolved(self, limit: int) -> list[Contact]:
        query = (
            select(ContactRow)
            .where(ContactRow.status != ContactStatus.RESOLVED.value)
            .order_by(ContactRow.received_at, ContactRow.id)
            .limit(limit)
        )
        return [_contact(r) for r in (await self.s.scalars(query)).all()]


_PERSON_IDENTITIES = Base.metadata.tables["person_identities"]
# A person with their platform identities, in one query (clicks look people up on every request).
_PERSON_COLUMNS = select(
    _PEOPLE.c.id,
    _PEOPLE.c.display_name,
    _PEOPLE.c.email,
    _PEOPLE.c.location,
    _PERSON_IDENTITIES.c.platform,
    _PERSON_IDENTITIES.c.user_id,
).outerjoin(_PERSON_IDENTITIES, _PERSON_IDENTITIES.c.person_id == _PEOPLE.c.id)
_PERSON_BY_ID = _PERSON_COLUMNS.where(_PEOPLE.c.id == bindparam("id"))
_PEOPLE_BY_ID = _PERSON_COLUMNS.where(_PEOPLE.c.id.in_(bindparam("ids", expanding=True)))
_PERSON_BY_IDENTITY = _PERSON_COLUMNS.where(
    _PEOPLE.c.id.in_(
        select(_PERSON_IDENTITIES.c.person_id).where(
            _PERSON_IDENTITIES.c.platform == bindparam("platform"),
            _PERSON_IDENTITIES.c.user_id == bindparam("user_id"),
        )
    )
)


def _people(rows: Any) -> dict[int, Person]:
    found: dict[int, Person] = {}
    for row in rows:
        person = found.get(row.id)
        if person is None:
            person = found[row.id] = Person(row.id, row.display_name, row.email, row.location, {})
        if row.platform is not None:
            person.identities[row.platform] = row.user_id
    return found


class SqlPeople:
    def __init__(self, session: AsyncSession) -> None:
        self.s = session

    async def _load(self, rows: Sequence[PersonRow]) -> list[Person]:
        ids = [r.id for r in rows]
        idents = (
            await self.s.scalars(select(PersonIdentityRow).where(PersonIdentityRow.person_id.in_(ids)))
        ).all()
        by_person: dict[int, dict[str, str]] = {i: {} for i in ids}
        for ident in idents:
            by_person[ident.person_id][ident.platform] = ident.user_id
        return [Person(r.id, r.display_name, r.email, r.location, by_person[r.id]) for r in rows]

    async def get(self, person_id: int) -> Person:
        found = _people(await self.s.execute(_PERSON_BY_ID, {"id": person_id}))
        if person_id not in found:
            raise NotFound(entity="person", key=person_id)
        return found[person_id]

    async def get_many(self, person_ids: Sequence[int]) -> dict[int, Person]:
        if not person_ids:
            return {}
        if len(person_ids) == 1:
            return _people(await self.s.execute(_PERSON_BY_ID, {"id": person_ids[0]}))
        return _people(await self.s.execute(_PEOPLE_BY_ID, {"ids": list(person_ids)}))

    async def by_email(self, email: str) -> Person | None:
        row = await self.s.scalar(select(PersonRow).where(PersonRow.email == email.lower()))
        return (await self._load([row]))[0] if row else None

    async def by_identity(self, platform: str, user_id: str) -> Person | None:
        found = _people(await self.s.execute(_PERSON_BY_IDENTITY, {"platform": platform, "user_id": user_id}))
        return next(iter(found.values()), None)

    async def all(self) -> list[Person]:
        rows = (await self.s.scalars(select(PersonRow).order_by(PersonRow.display_name))).all()
        return await self._load(rows)

    async def add(self, person: Person) -> Person:
        row = PersonRow(
            display_name=person.display_name, email=person.email, location=person.location, created_at=_now()
        )
        self.s.add(row)
        await flush(self.s, "person", person.email)
        person.id = row.id
        await self._sync_identities(person)
        return person

    async def save(self, person: Person) -> None:
        row = await self.s.get(PersonRow, person.id)
        if row is None:
            raise NotFound(entity="person", key=person.id)
        row.display_name, row.email, row.location = person.display_name, person.email, person.location
        await self._sync_identities(person)

    async def _sync_identities(self, person: Person) -> None:
        assert person.id is not None
        rows = {
            r.platform: r
            for r in (
                await self.s.scalars(
                    select(PersonIdentityRow).where(PersonIdentityRow.person_id == person.id)
                )
            ).all()
        }
        for platform, user_id in sorted(person.identities.items()):
            if platform in rows:
                rows[platform].user_id = user_id
            else:
                self.s.add(PersonIdentityRow(person_id=person.id, platform=platform, user_id=user_id))
        await flush(self.s, "person_identity", person.id)


def _question(row: Any) -> Question:
    """A question from its row: an ORM QuestionRow or a Core row of the questions table."""
    return Question(
        id=row.id,
        contact_id=row.contact_id,
        asker_id=row.asker_id,
        colleague_id=row.colleague_id,
        text=row.text,
        asked_at=row.asked_at,
        status=QuestionStatus(row.status),
        answer=row.answer,
        answered_by=row.answered_by,
        answered_at=row.answered_at,
        version=row.version,
    )


class SqlQuestions:
    def __init__(self, session: AsyncSession) -> None:
        self.s = session

    async def get(self, question_id: int) -> Question:
        row = await self.s.get(QuestionRow, question_id, populate_existing=True)
        if row is None:
            raise NotFound(entity="question", key=question_id)
        return _question(row)

    async def add(self, question: Question) -> Question:
        row = QuestionRow(
            contact_id=question.contact_id,
            asker_id=question.asker_id,
            colleague_id=question.colleague_id,
            text=question.text,
            status=question.status.value,
            asked_at=question.asked_at,
            version=1,
        )
        self.s.add(row)
        await flush(self.s, "question", None)
        question.id = row.id
        return question

    async def save(self, question: Question) -> None:
        result = await self.s.execute(
            update(QuestionRow)
            .where(QuestionRow.id == question.id, QuestionRow.version == question.version)
            .values(
                status=question.status.value,
                answer=question.answer,
                answered_by=question.answered_by,
                answered_at=question.answered_at,
                text=question.text,
                version=question.version + 1,
            )
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise ConcurrentUpdate(entity="question", key=question.id)
        question.version += 1

    async def for_contact(self, contact_id: int) -> list[Question]:
        return [_question(r) for r in await self.s.execute(_QUESTIONS_OF, {"contact_id": contact_id})]

    async def open_questions(self, limit: int) -> list[Question]:
        rows = (
            await self.s.scalars(
                select(QuestionRow)
                .where(QuestionRow.status == QuestionStatus.OPEN.value)
                .order_by(QuestionRow.asked_at)
                .limit(limit)
            )
        ).all()
        return [_question(r) for r in rows]

    async def open_for(self, colleague_id: int) -> list[Question]:
        rows = (
            await self.s.scalars(
                select(QuestionRow)
                .where(
                    QuestionRow.colleague_id == colleague_id, QuestionRow.status == QuestionStatus.OPEN.value
                )
                .order_by(QuestionRow.id)
            )
        ).all()
        return [_question(r) for r in rows]


class SqlTimeline:
    def __init__(self, session: AsyncSession) -> None:
        self.s = session
        self.appended: list[TimelineEvent] = []

    async def append(self, event: TimelineEvent) -> TimelineEvent:
        values = {
            "contact_id": event.contact_id,
            "kind": event.kind.value,
            "actor_id": event.actor_id,
            "at": event.at,
            "data": event.data,
        }
        result = await _insert(self.s, _ADD_EVENT, values, "timeline_event", event.contact_id)
        stored = TimelineEvent(
            event.contact_id, event.kind, event.at, event.actor_id, event.data, result.scalar_one()
        )
        self.appended.append(stored)
        return stored

    async def append_many(self, events: Sequence[TimelineEvent]) -> list[TimelineEvent]:
        if not events:
            return []
        rows = [
            {
                "contact_id": e.contact_id,
                "kind": e.kind.value,
                "actor_id": e.actor_id,
                "at": e.at,
                "data": e.data,
            }
            for e in events
        ]
        ids = await _insert_many(self.s, _TIMELINE, rows, "timeline_event")
        stored = [
            TimelineEvent(e.contact_id, e.kind, e.at, e.actor_id, e.data, event_id)
            for e, event_id in zip(events, ids, strict=True)
        ]
        self.appended.extend(stored)
        return stored

    async def for_contact(self, contact_id: int) -> list[TimelineEvent]:
        rows = await self.s.execute(_EVENTS_OF, {"contact_id": contact_id})
        return [TimelineEvent(r.contact_id, EventKind(r.kind), r.at, r.actor_id, r.data, r.id) for r in rows]

    async def scrub(self, contact_id: int, keys: Sequence[str]) -> None:
        """Drop free-text fields (notes, outcomes) from a contact's events; the events themselves stay."""
        rows = (await self.s.scalars(select(TimelineRow).where(TimelineRow.contact_id == contact_id))).all()
        for row in rows:
            if any(k in row.data for k in keys):
                row.data = {k: v for k, v in row.data.items() if k not in keys}

    async def between(self, kind: EventKind, since: datetime, until: datetime) -> list[TimelineEvent]:
        rows = (
            await self.s.scalars(
                select(TimelineRow)
                .where(TimelineRow.kind == kind.value, TimelineRow.at >= since, TimelineRow.at < until)
                .order_by(TimelineRow.at, TimelineRow.id)
            )
        ).all()
        return [TimelineEvent(r.contact_id, EventKind(r.kind), r.at, r.actor_id, r.data, r.id) for r in rows]
