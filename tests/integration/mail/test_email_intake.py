"""Mail dropped into a real Dovecot mailbox becomes contacts, once, whatever the mail looks like."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError

from handoff_bot.clock import ManualClock
from handoff_bot.domain.contacts import Channel
from handoff_bot.domain.events import EventKind
from handoff_bot.intake.email.imap import ImapSession
from handoff_bot.intake.email.mailbox import Mailbox
from handoff_bot.intake.email.poller import MAX_FAILURES, MailPoller
from handoff_bot.metrics import Metrics
from handoff_bot.storage.db import create_engine, session_factory
from handoff_bot.storage.uow import SqlUnitOfWorkFactory
from tests.integration.mail import mails
from tests.integration.mail.helpers import contacts, count, deliver, email_rows, poller, unprocessed


async def test_a_new_mail_becomes_an_email_contact_and_is_flagged_after_commit(
    mailbox: Mailbox, uow: SqlUnitOfWorkFactory, clock: ManualClock
) -> None:
    raw = mails.mail(
        body="Hello,\n\nOur oven stopped heating.\n\n"
        "On Mon, 23 Nov 2026 at 09:00, Info <info@example.org> wrote:\n> earlier text\n",
        attachments=(("photo.jpg", b"x" * 2048),),
    )
    await deliver(mailbox, raw)
    metrics = Metrics()

    assert await poller(mailbox, uow, clock, metrics).sweep_once() == 1

    [contact] = await contacts(uow)
    assert contact.channel == Channel.EMAIL.value and contact.source == "email"
    assert contact.subject == "Oven broke down"
    assert contact.body == "Hello,\n\nOur oven stopped heating."  # the quoted history is cut off
    async with uow() as tx:
        customer = await tx.customers.get(contact.customer_id)
        [received] = [e for e in await tx.timeline.for_contact(contact.id) if e.kind is EventKind.RECEIVED]
    assert customer.name == "Anna Jansen"
    assert {i.value for i in customer.identities} == {"anna@bakkerij-jansen.nl"}
    assert received.data["files"] == [["photo.jpg", 2048]]
    [stored] = await email_rows(uow)
    assert stored.message_id == mails.message_id_of(raw).strip("<>")
    assert "> earlier text" in stored.original  # the full original is kept
    assert await unprocessed(mailbox) == []
    assert metrics.email_received.labels("created")._value.get() == 1

    # Nothing new: the next sweep handles nothing and creates nothing.
    assert await poller(mailbox, uow, clock).sweep_once() == 0
    assert len(await contacts(uow)) == 1


async def test_auto_replies_bounces_and_list_mail_are_skipped_counted_and_flagged(
    mailbox: Mailbox, uow: SqlUnitOfWorkFactory, clock: ManualClock
) -> None:
    await deliver(
        mailbox,
        mails.fixture("auto_reply_nl.eml"),
        mails.fixture("bounce.eml"),
        mails.fixture("mailing_list.eml"),
        mails.mail(subject="Out of office", headers={"Auto-Submitted": "auto-replied"}),
        mails.mail(sender="MAILER-DAEMON@mx.example.net", subject="Undelivered Mail Returned to Sender"),
        mails.mail(headers={"Precedence": "bulk"}),
    )
    metrics = Metrics()

    assert await poller(mailbox, uow, clock, metrics).sweep_once() == 6

    assert await contacts(uow) == []
    assert await unprocessed(mailbox) == []  # skipped mail is not read again at every sweep
    skipped = {r: metrics.email_skipped.labels(r)._value.get() for r in ("auto_reply", "bounce", "bulk")}
    assert skipped == {"auto_reply": 2, "bounce": 2, "bulk": 2}


async def test_bad_mail_never_stops_the_poller_and_the_good_mail_after_it_is_taken_in(
    mailbox: Mailbox, uow: SqlUnitOfWorkFactory, clock: ManualClock
) -> None:
    huge = mails.mail(
        subject="Scans", body="See the scans attached.", attachments=(("scans.zip", b"\x00" * 20_000_000),)
    )
    await deliver(
        mailbox,
        mails.fixture("bogus_charset.eml"),  # an undecodable charset label
        mails.fixture("broken_boundary.eml"),  # broken MIME
        mails.fixture("no_headers.eml"),  # no From, no Message-ID
        b"\xff\xfe\x00garbage without any structure\r\n\r\n\x00\x01",
        huge,
        mails.mail(subject="The good one", body="Please call me back."),
    )
    metrics = Metrics()

    assert await poller(mailbox, uow, clock, metrics).sweep_once() == 6

    rows = await contacts(uow)
    by_subject = {r.subject: r for r in rows}
    assert "Crème brûlée" in by_subject and "glutenvrij" in by_subject["Crème brûlée"].body
    assert by_subject["The good one"].body == "Please call me back."
    assert by_subject["Scans"].body == "See the scans attached."
    async with uow() as tx:
        events = await tx.timeline.for_contact(by_subject["Scans"].id)
    assert events[0].data["files"][0][0] == "scans.zip" and events[0].data["files"][0][1] >= 20_000_000
    # Mail without a sender has nobody to answer: a logged skip, not a stuck poller.
    assert metrics.email_skipped.labels("no_sender")._value.get() >= 1
    assert len(rows) + metrics.email_skipped.labels("no_sender")._value.get() == 6
    assert await unprocessed(mailbox) == []


class Crash(BaseException):  # not an Exception: the poller must not survive it
    """The process dies: between the commit and the IMAP flag."""


class CrashBeforeFlag(MailPoller):
    async def _mark_done(self, session: ImapSession, uid: int) -> None:
        raise Crash


async def test_a_crash_between_commit_and_flag_creates_no_duplicate_after_restart(
    mailbox: Mailbox, uow: SqlUnitOfWorkFactory, clock: ManualClock
) -> None:
    await deliver(mailbox, mails.mail(subject="Once only"))
    crashing = CrashBeforeFlag(mailbox, uow=uow, clock=clock)
    with pytest.raises(Crash):
        await crashing.sweep_once()
    assert len(await contacts(uow)) == 1  # committed ...
    assert len(await unprocessed(mailbox)) == 1  # ... but not flagged

    metrics = Metrics()
    assert await poller(mailbox, uow, clock, metrics).sweep_once() == 1  # the restarted process

    assert [c.subject for c in await contacts(uow)] == ["Once only"]
    assert metrics.email_received.labels("duplicate")._value.get() == 1
    assert await unprocessed(mailbox) == []


async def test_the_same_mail_twice_in_the_mailbox_or_without_message_id_is_one_contact(
    mailbox: Mailbox, uow: SqlUnitOfWorkFactory, clock: ManualClock
) -> None:
    raw = mails.mail(subject="Sent twice")
    no_id = b"From: Piet <piet@example.net>\r\nSubject: No id\r\n\r\nHello, no Message-ID here.\r\n"
    await deliver(mailbox, raw, raw, no_id, no_id)

    assert await poller(mailbox, uow, clock).sweep_once() == 4

    assert sorted(c.subject for c in await contacts(uow)) == ["No id", "Sent twice"]
    rows = await email_rows(uow)
    assert len(rows) == 2 and len(next(r for r in rows if r.subject == "No id").message_id) == 64


async def test_processed_mail_moves_to_the_done_folder(
    mailbox: Mailbox, uow: SqlUnitOfWorkFactory, clock: ManualClock
) -> None:
    await deliver(mailbox, mails.mail(subject="One"), mails.fixture("auto_reply_nl.eml"))

    assert await poller(mailbox, uow, clock, done_folder="Handled").sweep_once() == 2

    assert [c.subject for c in await contacts(uow)] == ["One"]
    assert await count(mailbox, "INBOX") == 0
    assert await count(mailbox, "Handled") == 2


async def test_pollers_racing_for_the_same_mail_store_it_once(
    mailbox: Mailbox, uow: SqlUnitOfWorkFactory, clock: ManualClock
) -> None:
    """Several processes poll one mailbox: each mail is one contact however they interleave."""
    await deliver(mailbox, *(mails.mail(subject=f"Mail {i}") for i in range(8)))
    metrics = Metrics()

    handled = await asyncio.gather(*(poller(mailbox, uow, clock, metrics).sweep_once() for _ in range(3)))

    assert sum(handled) >= 8
    assert sorted(c.subject for c in await contacts(uow)) == sorted(f"Mail {i}" for i in range(8))
    assert len(await email_rows(uow)) == 8
    assert metrics.email_received.labels("created")._value.get() == 8
    assert await unprocessed(mailbox) == []


class BrokenOn(MailPoller):
    """A bug that hits one particular mail: handling it raises every time."""

    async def _handle(self, session: ImapSession, uid: int) -> None:
        if uid == 1:
            raise ValueError("a bug nobody foresaw")
        await super()._handle(session, uid)


async def test_a_mail_that_keeps_failing_is_left_in_the_mailbox_and_the_others_go_on(
    mailbox: Mailbox, uow: SqlUnitOfWorkFactory, clock: ManualClock
) -> None:
    await deliver(mailbox, mails.mail(subject="Cursed"), mails.mail(subject="Fine"))
    broken = BrokenOn(mailbox, uow=uow, clock=clock)

    await broken.sweep_once()
    await broken.sweep_once()  # tried no more than MAX_FAILURES times in all, then left alone

    assert [c.subject for c in await contacts(uow)] == ["Fine"]
    assert await unprocessed(mailbox) == [1]  # still there, unflagged, for a person or a fixed version
    assert sum(broken.failures.values()) == MAX_FAILURES


async def test_with_the_database_away_mail_stays_unflagged_and_comes_in_once_it_is_back(
    tmp_path: Path, mailbox: Mailbox, uow: SqlUnitOfWorkFactory, clock: ManualClock
) -> None:
    await deliver(mailbox, mails.mail(subject="While the database was away"))
    away = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'missing-dir' / 'handoff.db'}")
    try:
        unreachable = SqlUnitOfWorkFactory(session_factory(away), platforms=("fake",), clock=clock)
        with pytest.raises(OperationalError):
            await MailPoller(mailbox, uow=unreachable, clock=clock).sweep_once()
    finally:
        await away.dispose()
    assert await unprocessed(mailbox) == [1]

    assert await poller(mailbox, uow, clock).sweep_once() == 1
    assert [c.subject for c in await contacts(uow)] == ["While the database was away"]
