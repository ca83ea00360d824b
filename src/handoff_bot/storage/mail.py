"""The mails of each contact's thread, unique by Message-ID."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from handoff_bot.domain.mail import Direction, MailMessage
from handoff_bot.storage.models import EmailMessageRow
from handoff_bot.storage.repositories import flush

_IDS_PER_QUERY = 200


def _message(row: EmailMessageRow) -> MailMessage:
    files = row.attachments.get("files", []) if isinstance(row.attachments, dict) else []
    return MailMessage(
        message_id=row.message_id,
        contact_id=row.contact_id,
        direction=Direction(row.direction),
        at=row.at,
        address=row.address,
        subject=row.subject,
        references=tuple(row.thread_refs.split()),
        original=row.original,
        attachments=tuple((str(name), int(size)) for name, size in files),
        id=row.id,
    )


class SqlMail:
    def __init__(self, session: AsyncSession) -> None:
        self.s = session

    async def get(self, message_id: str) -> MailMessage | None:
        row = await self.s.scalar(select(EmailMessageRow).where(EmailMessageRow.message_id == message_id))
        return _message(row) if row else None

    async def contact_for(self, message_ids: Sequence[str]) -> int | None:
        """The contact of the newest stored mail among these ids (a reply's In-Reply-To, References)."""
        ids = list(dict.fromkeys(message_ids))[:_IDS_PER_QUERY]
        if not ids:
            return None
        return await self.s.scalar(
            select(EmailMessageRow.contact_id)
            .where(EmailMessageRow.message_id.in_(ids))
            .order_by(EmailMessageRow.id.desc())
            .limit(1)
        )

    async def add(self, message: MailMessage) -> MailMessage:
        """Raises ConcurrentUpdate when the message id is stored already (by us or a racing poller)."""
        row = EmailMessageRow(
            message_id=message.message_id,
            contact_id=message.contact_id,
            direction=message.direction.value,
            at=message.at,
            address=message.address,
            subject=message.subject,
            thread_refs=" ".join(message.references),
            original=message.original,
            attachments={"files": [[name, size] for name, size in message.attachments]},
        )
        self.s.add(row)
        await flush(self.s, "email_message", None)
        return replace(message, id=row.id)

    async def latest_in(self, contact_id: int) -> MailMessage | None:
        """The customer's newest mail of this contact: what an acknowledgement replies to."""
        row = await self.s.scalar(
            select(EmailMessageRow)
            .where(EmailMessageRow.contact_id == contact_id, EmailMessageRow.direction == Direction.IN.value)
            .order_by(EmailMessageRow.id.desc())
            .limit(1)
        )
        return _message(row) if row else None

    async def for_contact(self, contact_id: int) -> list[MailMessage]:
        rows = await self.s.scalars(
            select(EmailMessageRow)
            .where(EmailMessageRow.contact_id == contact_id)
            .order_by(EmailMessageRow.id)
        )
        return [_message(r) for r in rows.all()]

    async def forget(self, contact_id: int) -> None:
        """Erasure and retention: the texts, address and file names go; the ids stay for dedupe."""
        await self.s.execute(
            update(EmailMessageRow)
            .where(EmailMessageRow.contact_id == contact_id)
            .values(address=None, subject="", original="", attachments={"files": []})
            .execution_options(synchronize_session=False)
        )
