"""Read side for "my desk": the lists behind /handoff mine, /handoff open and the App Home tab."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handoff_bot.domain.contacts import Channel, ContactStatus
from handoff_bot.domain.questions import QuestionStatus
from handoff_bot.storage.models import ContactRow, CustomerRow, QuestionRow


@dataclass(frozen=True)
class ContactLine:
    contact_id: int
    channel: Channel
    customer: str
    subject: str
    received_at: datetime
    status: ContactStatus


@dataclass(frozen=True)
class QuestionLine:
    question_id: int
    contact_id: int
    text: str
    asked_at: datetime


@dataclass(frozen=True)
class Desk:
    mine: tuple[ContactLine, ...]
    open: tuple[ContactLine, ...]
    waiting_for_me: tuple[QuestionLine, ...]
    asked_by_me: tuple[QuestionLine, ...]


async def _contacts(s: AsyncSession, *where: ColumnElement[bool], limit: int) -> tuple[ContactLine, ...]:
    rows = (
        await s.execute(
            select(ContactRow, CustomerRow)
            .join(CustomerRow, CustomerRow.id == ContactRow.customer_id)
            .where(*where)
            .order_by(ContactRow.received_at, ContactRow.id)
            .limit(limit)
        )
    ).all()
    return tuple(
        ContactLine(
            c.id,
            Channel(c.channel),
            cu.name or cu.company or f"#{cu.id}",
            c.subject,
            c.received_at,
            ContactStatus(c.status),
        )
        for c, cu in rows
    )


async def _questions(s: AsyncSession, *where: ColumnElement[bool], limit: int) -> tuple[QuestionLine, ...]:
    rows = (
        await s.scalars(
            select(QuestionRow)
            .where(QuestionRow.status == QuestionStatus.OPEN.value, *where)
            .order_by(QuestionRow.asked_at)
            .limit(limit)
        )
    ).all()
    return tuple(QuestionLine(q.id, q.contact_id, q.text, q.asked_at) for q in rows)


async def load_desk(
    sessions: async_sessionmaker[AsyncSession], person_id: int | None, limit: int = 20
) -> Desk:
    """Oldest first: what has waited longest is what needs someone now."""
    async with sessions() as s:
        queue = await _contacts(s, ContactRow.status == ContactStatus.OPEN.value, limit=limit)
        if person_id is None:
            return Desk((), queue, (), ())
        mine = await _contacts(
            s,
            ContactRow.status == ContactStatus.CLAIMED.value,
            ContactRow.claimed_by == person_id,
            limit=limit,
        )
        waiting = await _questions(s, QuestionRow.colleague_id == person_id, limit=limit)
        asked = await _questions(s, QuestionRow.asker_id == person_id, limit=limit)
    return Desk(mine, queue, waiting, asked)
