"""References to every chat message the bot posted, so it can find, update or erase them later."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handoff_bot.storage.models import ChatMessageRow

CARD, THREAD_LINE, DM, CHANNEL_POST = "card", "thread_line", "dm", "channel_post"


@dataclass(frozen=True)
class MessageRef:
    platform: str
    role: str
    channel_id: str
    message_id: str
    thread_id: str | None = None
    contact_id: int | None = None
    question_id: int | None = None
    person_id: int | None = None


def _ref(row: Any) -> MessageRef:
    """A reference from its row: an ORM ChatMessageRow or a Core row of the chat_messages table."""
    return MessageRef(
        row.platform,
        row.role,
        row.channel_id,
        row.message_id,
        row.thread_id,
        row.contact_id,
        row.question_id,
        row.person_id,
    )


_MESSAGES = ChatMessageRow.metadata.tables["chat_messages"]
# Every card update looks its card up: built once.
_CARD_OF = (
    select(_MESSAGES)
    .where(
        _MESSAGES.c.platform == bindparam("platform"),
        _MESSAGES.c.role == CARD,
        _MESSAGES.c.contact_id == bindparam("contact_id"),
    )
    .order_by(_MESSAGES.c.id)
    .limit(1)
)


class ChatMessages:
    """Reads go through their own short session; writes join the outbox completion's transaction."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions

    async def card(self, platform: str, contact_id: int) -> MessageRef | None:
        async with self.sessions() as s:
            row = (await s.execute(_CARD_OF, {"platform": platform, "contact_id": contact_id})).first()
        return _ref(row) if row else None

    async def for_question(self, platform: str, question_id: int, role: str = DM) -> list[MessageRef]:
        async with self.sessions() as s:
            rows = (
                await s.scalars(
                    select(ChatMessageRow)
                    .where(
                        ChatMessageRow.platform == platform,
                        ChatMessageRow.role == role,
                        ChatMessageRow.question_id == question_id,
                    )
                    .order_by(ChatMessageRow.id)
                )
            ).all()
        return [_ref(r) for r in rows]

    async def for_contact(self, contact_id: int) -> list[MessageRef]:
        async with self.sessions() as s:
            rows = (
                await s.scalars(
                    select(ChatMessageRow)
                    .where(ChatMessageRow.contact_id == contact_id)
                    .order_by(ChatMessageRow.id)
                )
            ).all()
        return [_ref(r) for r in rows]

    async def question_for_dm(self, platform: str, channel_id: str, message_id: str) -> int | None:
        """The question whose DM is this message (a reply in its thread answers it)."""
        async with self.sessions() as s:
            return await s.scalar(
                select(ChatMessageRow.question_id)
                .where(
                    ChatMessageRow.platform == platform,
                    ChatMessageRow.role == DM,
                    ChatMessageRow.channel_id == channel_id,
                    ChatMessageRow.message_id == message_id,
                    ChatMessageRow.question_id.is_not(None),
                )
                .limit(1)
            )

    async def contact_for_card(self, platform: str, channel_id: str, message_id: str) -> int | None:
        """The contact whose card is this message (its thread is the customer's story)."""
        async with self.sessions() as s:
            return await s.scalar(
                select(ChatMessageRow.contact_id)
                .where(
                    ChatMessageRow.platform == platform,
                    ChatMessageRow.role == CARD,
                    ChatMessageRow.channel_id == channel_id,
                    ChatMessageRow.message_id == message_id,
                )
                .limit(1)
            )

    @staticmethod
    async def record(session: AsyncSession, ref: MessageRef) -> None:
        session.add(
            ChatMessageRow(
                platform=ref.platform,
                role=ref.role,
                contact_id=ref.contact_id,
                question_id=ref.question_id,
                person_id=ref.person_id,
                channel_id=ref.channel_id,
                message_id=ref.message_id,
                thread_id=ref.thread_id,
                created_at=datetime.now(UTC),
            )
        )
        await session.flush()
