"""Shared steps of the email tests: drop mail into the test mailbox, run a poller, read what was stored."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from handoff_bot.clock import ManualClock
from handoff_bot.intake.email.imap import open_session
from handoff_bot.intake.email.mailbox import Mailbox
from handoff_bot.intake.email.poller import DONE_KEYWORD, MailPoller, PollerOptions
from handoff_bot.metrics import Metrics
from handoff_bot.storage.models import ContactRow, EmailMessageRow
from handoff_bot.storage.uow import SqlUnitOfWorkFactory


async def deliver(mailbox: Mailbox, *raws: bytes, folder: str = "INBOX") -> None:
    """IMAP APPEND, as the mail server's delivery would put the mail there."""
    async with open_session(mailbox) as session:
        for raw in raws:
            await session.append(raw, folder)


async def unprocessed(mailbox: Mailbox, folder: str = "INBOX") -> list[int]:
    async with open_session(mailbox) as session:
        await session.select(folder)
        return await session.search("UNDELETED", "UNKEYWORD", DONE_KEYWORD)


async def count(mailbox: Mailbox, folder: str) -> int:
    async with open_session(mailbox) as session:
        await session.select(folder)
        return len(await session.search("ALL"))


def poller(
    mailbox: Mailbox,
    uow: SqlUnitOfWorkFactory,
    clock: ManualClock,
    metrics: Metrics | None = None,
    **options: Any,
) -> MailPoller:
    return MailPoller(mailbox, uow=uow, clock=clock, metrics=metrics, options=PollerOptions(**options))


async def contacts(uow: SqlUnitOfWorkFactory) -> list[ContactRow]:
    async with uow.sessions() as s:
        return list((await s.scalars(select(ContactRow).order_by(ContactRow.id))).all())


async def email_rows(uow: SqlUnitOfWorkFactory) -> list[EmailMessageRow]:
    async with uow.sessions() as s:
        return list((await s.scalars(select(EmailMessageRow).order_by(EmailMessageRow.id))).all())


async def contact_count(uow: SqlUnitOfWorkFactory) -> int:
    async with uow.sessions() as s:
        return int(await s.scalar(select(func.count()).select_from(ContactRow)) or 0)
