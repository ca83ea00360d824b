"""Teams conversation references: where the bot may post proactively, kept across restarts."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, case, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handoff_bot.storage.models import TeamsConversationRow, TeamsSettingRow

CHANNEL, PERSONAL, GROUP = "channel", "personal", "group"
CONTACTS_CHANNEL = "contacts_channel"


@dataclass(frozen=True)
class TeamsConversation:
    """One conversation; `reference` is the serialised Bot Framework ConversationReference."""

    conversation_id: str
    kind: str
    service_url: str
    tenant_id: str | None = None
    team_id: str | None = None
    channel_id: str | None = None
    user_id: str | None = None
    aad_object_id: str | None = None
    reference: dict[str, Any] = field(default_factory=dict)


def _conversation(row: TeamsConversationRow) -> TeamsConversation:
    return TeamsConversation(
        row.conversation_id,
        row.kind,
        row.service_url,
        row.tenant_id,
        row.team_id,
        row.channel_id,
        row.user_id,
        row.aad_object_id,
        dict(row.reference),
    )


class TeamsConversations:
    """Each method is its own short transaction (called from turns and deliveries, not use cases)."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions

    async def save(self, conversation: TeamsConversation) -> None:
        """Insert or refresh (service urls move; a reinstalled bot gets a new reference)."""
        try:
            await self._save(conversation)
        except IntegrityError:
            await self._save(conversation)  # a concurrent turn inserted it first: now it is an update

    async def _save(self, conversation: TeamsConversation) -> None:
        async with self.sessions() as s, s.begin():
            row = await s.scalar(
                select(TeamsConversationRow)
                .where(TeamsConversationRow.conversation_id == conversation.conversation_id)
                .with_for_update()
            )
            if row is None:
                row = TeamsConversationRow(conversation_id=conversation.conversation_id)
                s.add(row)
            row.kind = conversation.kind
            row.service_url = conversation.service_url
            # A later activity may lack what an earlier one carried (e.g. the team id): keep what we knew.
            row.tenant_id = conversation.tenant_id or row.tenant_id
            row.team_id = conversation.team_id or row.team_id
            row.channel_id = conversation.channel_id or row.channel_id
            row.user_id = conversation.user_id or row.user_id
            row.aad_object_id = conversation.aad_object_id or row.aad_object_id
            row.reference = conversation.reference
            row.updated_at = datetime.now(UTC)

    async def get(self, conversation_id: str) -> TeamsConversation | None:
        async with self.sessions() as s:
            row = await s.scalar(
                select(TeamsConversationRow).where(TeamsConversationRow.conversation_id == conversation_id)
            )
        return _conversation(row) if row else None

    async def channel(self, channel_id: str) -> TeamsConversation | None:
        async with self.sessions() as s:
            row = await s.scalar(
                select(TeamsConversationRow)
                .where(
                    TeamsConversationRow.kind == CHANNEL,
                    (TeamsConversationRow.channel_id == channel_id)
                    | (TeamsConversationRow.conversation_id == channel_id),
                )
                .order_by(TeamsConversationRow.updated_at.desc())
                .limit(1)
            )
        return _conversation(row) if row else None

    async def any_channel(self, tenant_id: str | None = None) -> TeamsConversation | None:
        """The most recently seen channel (of `tenant_id` when one of its channels is known): its
        service url and tenant reach every channel and user of that tenant."""
        order: list[ColumnElement[Any]] = [TeamsConversationRow.updated_at.desc()]
        if tenant_id:
            order.insert(0, case((TeamsConversationRow.tenant_id == tenant_id, 0), else_=1))
        async with self.sessions() as s:
            row = await s.scalar(
                select(TeamsConversationRow)
                .where(TeamsConversationRow.kind == CHANNEL)
                .order_by(*order)
                .limit(1)
            )
        return _conversation(row) if row else None

    async def personal(
        self, *, user_id: str | None = None, aad_object_id: str | None = None
    ) -> TeamsConversation | None:
        """The 1:1 chat with a Teams user, by their Teams id (29:…) or Entra object id."""
        if not user_id and not aad_object_id:
            return None
        match = (
            TeamsConversationRow.user_id == user_id
            if user_id
            else TeamsConversationRow.aad_object_id == aad_object_id
        )
        if user_id and aad_object_id:
            match = match | (TeamsConversationRow.aad_object_id == aad_object_id)
        async with self.sessions() as s:
            row = await s.scalar(
                select(TeamsConversationRow)
                .where(TeamsConversationRow.kind == PERSONAL, match)
                .order_by(TeamsConversationRow.updated_at.desc())
                .limit(1)
            )
        return _conversation(row) if row else None

    async def remove(self, conversation_id: str) -> None:
        async with self.sessions() as s, s.begin():
            await s.execute(
                delete(TeamsConversationRow).where(TeamsConversationRow.conversation_id == conversation_id)
            )

    async def remove_team(self, team_id: str) -> int:
        """The bot was removed from a team: forget its channels. Returns how many were forgotten."""
        async with self.sessions() as s, s.begin():
            result = await s.execute(
                delete(TeamsConversationRow).where(TeamsConversationRow.team_id == team_id)
            )
            return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def setting(self, key: str) -> str | None:
        async with self.sessions() as s:
            return await s.scalar(select(TeamsSettingRow.value).where(TeamsSettingRow.key == key))

    async def set_setting(self, key: str, value: str) -> None:
        async with self.sessions() as s, s.begin():
            row = await s.get(TeamsSettingRow, key, with_for_update=True)
            if row is None:
                s.add(TeamsSettingRow(key=key, value=value, updated_at=datetime.now(UTC)))
            else:
                row.value, row.updated_at = value, datetime.now(UTC)

    async def delete_setting(self, key: str) -> None:
        async with self.sessions() as s, s.begin():
            await self.delete_setting_in(s, key)

    @staticmethod
    async def delete_setting_in(session: AsyncSession, key: str) -> None:
        """Inside another transaction (an outbox completion)."""
        await session.execute(delete(TeamsSettingRow).where(TeamsSettingRow.key == key))
