"""The acknowledgement: claimed email contacts answer the customer once, in Dutch or English, threaded."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from handoff_bot import keys
from handoff_bot.clock import ManualClock
from handoff_bot.domain.events import EventKind
from handoff_bot.intake.email.mailbox import Mailbox
from handoff_bot.services.effects import EMAIL_ACK
from handoff_bot.storage.models import OutboxRow
from tests.e2e.slack_harness import MARIEKE, Harness, slack_app
from tests.integration.mail import mails, smtp_sink
from tests.integration.mail.helpers import contacts, deliver, email_rows, poller

AFTERNOON = datetime(2026, 11, 23, 13, 5, tzinfo=UTC)  # 14:05 in Amsterdam


@pytest.fixture
def sink() -> Iterator[smtp_sink.Sink]:
    with smtp_sink.running() as running:
        yield running


async def _claim(h: Harness, contact_id: int) -> None:
    response = await h.click("contact.claim", contact_id, MARIEKE)
    assert response.status == 200
    await h.deliver()


async def test_a_claimed_email_contact_gets_one_threaded_acknowledgement_in_dutch(
    tmp_path: Path, mailbox: Mailbox, sink: smtp_sink.Sink
) -> None:
    clock = ManualClock(AFTERNOON)
    async with slack_app(
        f"sqlite+aiosqlite:///{tmp_path / 'h.db'}",
        clock=clock,
        language="nl",
        ack_email=True,
        smtp_url=sink.url,
        smtp_from="Bakkerij Service <service@bakkerij.example>",
    ) as h:
        uow = h.client.app[keys.UOW]
        await deliver(
            mailbox,
            mails.mail(
                sender="Mevr. A. Jansen <anna@bakkerij-jansen.nl>",
                subject="Oven kapot",
                message_id="<m1@bakkerij-jansen.nl>",
                references="<m0@bakkerij-jansen.nl>",
            ),
        )
        await poller(mailbox, uow, clock).sweep_once()
        await h.deliver()
        await _claim(h, 1)

        [ack] = sink.messages()
        assert sink.received[0][1] == ["anna@bakkerij-jansen.nl"]
        assert ack["Subject"] == "Re: Oven kapot [#1]"
        assert ack["In-Reply-To"] == "<m1@bakkerij-jansen.nl>"
        assert ack["References"] == "<m0@bakkerij-jansen.nl> <m1@bakkerij-jansen.nl>"
        assert ack["Auto-Submitted"] == "auto-replied"
        assert ack["From"] == "Bakkerij Service <service@bakkerij.example>"
        body = ack.get_content().replace("\r\n", "\n")
        assert body.startswith(
            "Goedemiddag mevrouw A. Jansen,\n\n"
            "Hartelijk dank voor uw e-mail over “Oven kapot”. Marieke neemt contact met u op.\n\n"
            "Met vriendelijke groet,\nBakkerij Service"
        )

        # Released and claimed again: the customer is not told twice.
        response = await h.click("contact.release", 1, MARIEKE)
        assert response.status == 200
        await h.deliver()
        await _claim(h, 1)
        assert len(sink.received) == 1

        # Their answer to the acknowledgement lands in the same contact.
        await deliver(
            mailbox,
            mails.mail(
                sender="anna@bakkerij-jansen.nl",
                subject="Re: Oven kapot [#1]",
                body="Dank u, ik ben vanmiddag thuis.",
                in_reply_to=ack["Message-ID"],
            ),
        )
        await poller(mailbox, uow, clock).sweep_once()
        assert len(await contacts(uow)) == 1
        async with uow() as tx:
            kinds = [e.kind for e in await tx.timeline.for_contact(1)]
        assert kinds.count(EventKind.FOLLOW_UP) == 1
        assert [r.direction for r in await email_rows(uow)] == ["in", "out", "in"]


async def test_without_ack_email_a_claim_sends_nothing_and_the_row_completes(
    tmp_path: Path, mailbox: Mailbox, sink: smtp_sink.Sink
) -> None:
    clock = ManualClock(AFTERNOON)
    async with slack_app(f"sqlite+aiosqlite:///{tmp_path / 'h.db'}", clock=clock, smtp_url=sink.url) as h:
        uow = h.client.app[keys.UOW]
        await deliver(mailbox, mails.mail())
        await poller(mailbox, uow, clock).sweep_once()
        await h.deliver()
        await _claim(h, 1)
        assert sink.received == []
        async with uow.sessions() as s:
            statuses = (await s.scalars(select(OutboxRow.status).where(OutboxRow.kind == EMAIL_ACK))).all()
        assert statuses == ["done"]


async def test_an_unreachable_smtp_server_is_retried_not_lost(tmp_path: Path, mailbox: Mailbox) -> None:
    clock = ManualClock(AFTERNOON)
    with smtp_sink.running() as gone:
        url = gone.url
    async with slack_app(
        f"sqlite+aiosqlite:///{tmp_path / 'h.db'}",
        clock=clock,
        ack_email=True,
        smtp_url=url,
        smtp_from="service@bakkerij.example",
    ) as h:
        uow = h.client.app[keys.UOW]
        await deliver(mailbox, mails.mail())
        await poller(mailbox, uow, clock).sweep_once()
        await h.deliver()
        await _claim(h, 1)
        async with uow.sessions() as s:
            row = await s.scalar(select(OutboxRow).where(OutboxRow.kind == EMAIL_ACK))
        assert row is not None and row.status == "pending" and row.attempts == 1
        assert "unreachable" in (row.last_error or "")
