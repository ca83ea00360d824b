"""The tables. Domain objects are mapped to and from these rows in the repositories."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from handoff_bot.storage.types import UTCDateTime

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime(), dict[str, Any]: JSON()}


class PersonRow(Base):
    __tablename__ = "people"
    id: Mapped[int] = mapped_column(primary_key=True)
    display_name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(254), unique=True)
    location: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime]


class PersonIdentityRow(Base):
    __tablename__ = "person_identities"
    __table_args__ = (UniqueConstraint("platform", "user_id"), UniqueConstraint("person_id", "platform"))
    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    platform: Mapped[str] = mapped_column(String(20))
    user_id: Mapped[str] = mapped_column(String(200))


class CustomerRow(Base):
    __tablename__ = "customers"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str | None] = mapped_column(String(200))
    company: Mapped[str | None] = mapped_column(String(200))
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    erased_at: Mapped[datetime | None]
    created_at: Mapped[datetime]


class CustomerIdentityRow(Base):
    __tablename__ = "customer_identities"
    # One identity belongs to one customer: the unique key is what makes matching race-safe.
    __table_args__ = (UniqueConstraint("kind", "value"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(10))
    value: Mapped[str] = mapped_column(String(300))


class ContactRow(Base):
    __tablename__ = "contacts"
    # Intake idempotency: one contact per (source, external id). NULL external ids never collide.
    __table_args__ = (
        UniqueConstraint("source", "external_id"),
        Index("ix_contacts_status_id", "status", "id"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    channel: Mapped[str] = mapped_column(String(20))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime]
    source: Mapped[str] = mapped_column(String(100))
    external_id: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20))
    claimed_by: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    claimed_at: Mapped[datetime | None]
    resolved_by: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    resolved_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(Text)
    callback_before: Mapped[datetime | None]
    redacted_at: Mapped[datetime | None]
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime]


class QuestionRow(Base):
    __tablename__ = "questions"
    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), index=True)
    asker_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    colleague_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    text: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20))
    answer: Mapped[str | None] = mapped_column(Text)
    answered_by: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    asked_at: Mapped[datetime]
    answered_at: Mapped[datetime | None]
    version: Mapped[int] = mapped_column(Integer, default=1)


class TimelineRow(Base):
    __tablename__ = "timeline_events"
    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(30))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    at: Mapped[datetime]
    data: Mapped[dict[str, Any]]


_PENDING, _DEAD = text("status = 'pending'"), text("status = 'dead'")


class OutboxRow(Base):
    __tablename__ = "outbox"
    __table_args__ = (
        # Partial indexes over the rows still to do (pending) or to look at (dead): done rows, the bulk
        # of the table, stay out of them. They also leave PostgreSQL one sensible index per query while
        # the table has no statistics yet (a new install, a burst after a quiet spell): with full
        # (status, due_at) and (key, status) indexes it probed the lease's "first pending row of this
        # key" through the status index, reading every pending row per candidate (O(n²): 150 ms a
        # lease at 1,000 pending rows).
        Index(
            "ix_outbox_pending_due", "lane", "due_at", "id", postgresql_where=_PENDING, sqlite_where=_PENDING
        ),
        Index("ix_outbox_pending_key", "key", "id", postgresql_where=_PENDING, sqlite_where=_PENDING),
        Index("ix_outbox_dead", "id", postgresql_where=_DEAD, sqlite_where=_DEAD),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(50))
    platform: Mapped[str | None] = mapped_column(String(20))
    payload: Mapped[dict[str, Any]]
    key: Mapped[str | None] = mapped_column(String(200))
    dedupe_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    status: Mapped[str] = mapped_column(String(10))  # pending | done | dead
    due_at: Mapped[datetime]
    # Leased in lane order: URGENT (someone waits for it on screen) before NORMAL, then by due time.
    lane: Mapped[int] = mapped_column(SmallInteger, default=1, server_default="1")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    leased_by: Mapped[str | None] = mapped_column(String(100))
    lease_until: Mapped[datetime | None]
    created_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]


class ChatMessageRow(Base):
    """Every message the bot posted anywhere, so it can be updated (or erased) later."""

    __tablename__ = "chat_messages"
    __table_args__ = (Index("ix_chat_messages_contact_role", "contact_id", "platform", "role"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[str] = mapped_column(String(20))
    role: Mapped[str] = mapped_column(String(20))  # card | thread_line | dm
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), index=True)
    question_id: Mapped[int | None] = mapped_column(ForeignKey("questions.id", ondelete="CASCADE"))
    person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    channel_id: Mapped[str] = mapped_column(String(300))
    message_id: Mapped[str] = mapped_column(String(300))
    thread_id: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime]


class EmailMessageRow(Base):
    """Every mail of a contact's thread. The unique message id is what makes email intake exactly-once."""

    __tablename__ = "email_messages"
    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[str] = mapped_column(String(300), unique=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), index=True)
    direction: Mapped[str] = mapped_column(String(3))  # in | out
    at: Mapped[datetime]
    address: Mapped[str | None] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(300))
    thread_refs: Mapped[str] = mapped_column(Text)  # its References: message ids separated by spaces
    original: Mapped[str] = mapped_column(Text)
    attachments: Mapped[dict[str, Any]]  # {"files": [[name, size], ...]}


class ProcessedEventRow(Base):
    """Platform event ids already handled: Slack retries an event up to three times."""

    __tablename__ = "processed_events"
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    at: Mapped[datetime]


class TeamsConversationRow(Base):
    """A Teams conversation the bot may post to later: a channel, a personal (1:1) chat or a group chat."""

    __tablename__ = "teams_conversations"
    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[str] = mapped_column(String(500), unique=True)
    kind: Mapped[str] = mapped_column(String(20))  # channel | personal | group
    tenant_id: Mapped[str | None] = mapped_column(String(100))
    service_url: Mapped[str] = mapped_column(String(500))
    team_id: Mapped[str | None] = mapped_column(String(300), index=True)
    channel_id: Mapped[str | None] = mapped_column(String(300))
    user_id: Mapped[str | None] = mapped_column(String(300))
    aad_object_id: Mapped[str | None] = mapped_column(String(100), index=True)
    reference: Mapped[dict[str, Any]]
    updated_at: Mapped[datetime]


class TeamsSettingRow(Base):
    """Teams choices made in Teams itself (the contacts channel picked with `@Handoff use this channel`)."""

    __tablename__ = "teams_settings"
    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[str] = mapped_column(String(500))
    updated_at: Mapped[datetime]
