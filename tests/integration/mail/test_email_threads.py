"""Replies stay in their contact's thread (by header or [#id] tag); a reply to a recent case reopens it."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from handoff_bot import keys
from handoff_bot.clock import ManualClock
from handoff_bot.domain.contacts import ContactStatus
from handoff_bot.domain.events import EventKind
from handoff_bot.intake.email.mailbox import Mailbox
from handoff_bot.metrics import Metrics
from handoff_bot.services.commands import EnsurePerson, ResolveContact
from handoff_bot.services.contacts import resolve_contact
from handoff_bot.services.effects import CARD_REFRESH, THREAD_NOTE
from handoff_bot.services.people import ensure_person
from handoff_bot.storage.models import OutboxRow
from handoff_bot.storage.uow import SqlUnitOfWorkFactory
from tests.e2e.slack_harness import slack_app
from tests.integration.mail import mails
from tests.integration.mail.helpers import contacts, deliver, email_rows, poller

ANNA = "Anna Jansen <anna@bakkerij-jansen.nl>"


async def _kinds(uow: SqlUnitOfWorkFactory, contact_id: int) -> list[EventKind]:
    async with uow() as tx:
        return [e.kind for e in await tx.timeline.for_contact(contact_id)]


async def _resolve(uow: SqlUnitOfWorkFactory, clock: ManualClock, contact_id: int) -> None:
    person = await ensure_person(EnsurePerson("Marieke", "marieke@example.org"), uow=uow)
    assert person.id is not None
    await resolve_contact(ResolveContact(contact_id, person.id, "Sent a technician"), uow=uow, clock=clock)


async def test_replies_found_by_in_reply_to_or_references_join_the_contact(
    mailbox: Mailbox, uow: SqlUnitOfWorkFactory, clock: ManualClock
) -> None:
    first = mails.mail(subject="Oven broke down", message_id="<first@bakkerij-jansen.nl>")
    reply = mails.mail(
        subject="Re: Oven broke down",
        body="It is making a noise now too.\n\n"
        "On Mon, 23 Nov 2026 at 10:00, Info <info@example.org> wrote:\n> ok",
        message_id="<second@bakkerij-jansen.nl>",
        in_reply_to="<first@bakkerij-jansen.nl>",
        attachments=(("noise.m4a", b"\x01" * 3000),),
    )
    # Only References, and only the reply (not the first mail) in it: the thread is followed link by link.
    third = mails.mail(
        subject="Re: Re: Oven broke down",
        body="And now it smells.",
        message_id="<third@bakkerij-jansen.nl>",
        references="<unknown@elsewhere> <second@bakkerij-jansen.nl>",
    )
    await deliver(mailbox, first)
    await poller(mailbox, uow, clock).sweep_once()
    clock.advance(minutes=5)
    await deliver(mailbox, reply, third)
    metrics = Metrics()

    assert await poller(mailbox, uow, clock, metrics).sweep_once() == 2

    [contact] = await contacts(uow)
    assert contact.body.startswith("Hello,") and contact.status == ContactStatus.OPEN.value
    assert await _kinds(uow, contact.id) == [EventKind.RECEIVED, EventKind.FOLLOW_UP, EventKind.FOLLOW_UP]
    async with uow() as tx:
        follow_ups = [e for e in await tx.timeline.for_contact(contact.id) if e.kind is EventKind.FOLLOW_UP]
    assert follow_ups[0].data["text"] == "It is making a noise now too."  # no quoted history
    assert follow_ups[0].data["files"] == [["noise.m4a", 3000]]
    assert follow_ups[1].data["text"] == "And now it smells."
    assert [r.contact_id for r in await email_rows(uow)] == [contact.id] * 3
    assert metrics.email_received.labels("follow_up")._value.get() == 2
    async with uow.sessions() as s:
        kinds = (
            await s.scalars(select(OutboxRow.kind).where(OutboxRow.key == f"fake:contact:{contact.id}"))
        ).all()
    assert kinds.count(CARD_REFRESH) == 2 and kinds.count(THREAD_NOTE) == 2


async def test_a_contact_tag_threads_a_reply_only_from_that_customer(
    mailbox: Mailbox, uow: SqlUnitOfWorkFactory, clock: ManualClock
) -> None:
    await deliver(mailbox, mails.mail(subject="Order 1234"))
    await poller(mailbox, uow, clock).sweep_once()
    [contact] = await contacts(uow)
    tag = f"[#{contact.id}]"
    # A client that drops In-Reply-To and References: the tag in the subject still finds the thread.
    await deliver(
        mailbox,
        mails.mail(subject=f"Re: Order 1234 {tag}", body="Any news?", sender="anna@BAKKERIJ-JANSEN.nl"),
        mails.mail(subject=f"Hijack {tag}", body="Not my contact", sender="Mallory <m@evil.example>"),
        mails.mail(subject="Re: [#99999] unknown", body="Old tag", sender=ANNA),
    )

    assert await poller(mailbox, uow, clock).sweep_once() == 3

    rows = await contacts(uow)
    assert [r.subject for r in rows] == ["Order 1234", f"Hijack {tag}", "Re: [#99999] unknown"]
    assert await _kinds(uow, contact.id) == [EventKind.RECEIVED, EventKind.FOLLOW_UP]


async def test_a_reply_to_a_recently_resolved_contact_reopens_it_an_old_one_starts_a_new_contact(
    mailbox: Mailbox, uow: SqlUnitOfWorkFactory, clock: ManualClock
) -> None:
    await deliver(mailbox, mails.mail(message_id="<case-a@x.nl>"), mails.mail(message_id="<case-b@x.nl>"))
    await poller(mailbox, uow, clock).sweep_once()
    a, b = await contacts(uow)
    await _resolve(uow, clock, a.id)
    await _resolve(uow, clock, b.id)
    clock.advance(days=13, hours=23)
    await deliver(mailbox, mails.mail(subject="Re: a", body="It broke again.", in_reply_to="<case-a@x.nl>"))
    await poller(mailbox, uow, clock, reopen_days=14).sweep_once()
    clock.advance(days=1)
    await deliver(mailbox, mails.mail(subject="Re: b", body="Me again.", in_reply_to="<case-b@x.nl>"))
    metrics = Metrics()
    await poller(mailbox, uow, clock, metrics, reopen_days=14).sweep_once()

    rows = {r.id: r for r in await contacts(uow)}
    assert rows[a.id].status == ContactStatus.OPEN.value and rows[a.id].resolved_at is None
    assert (await _kinds(uow, a.id))[-2:] == [EventKind.REOPENED, EventKind.FOLLOW_UP]
    assert rows[b.id].status == ContactStatus.RESOLVED.value  # 15 days: a new case
    [new] = [r for r in rows.values() if r.id not in (a.id, b.id)]
    assert new.subject == "Re: b" and new.body == "Me again." and new.customer_id == b.customer_id
    assert metrics.email_received.labels("created")._value.get() == 1


async def test_a_reply_shows_in_the_slack_thread_and_a_reopen_on_the_card(
    tmp_path: Path, mailbox: Mailbox
) -> None:
    clock = ManualClock(mails.SENT)
    async with slack_app(f"sqlite+aiosqlite:///{tmp_path / 'h.db'}", clock=clock) as h:
        uow = h.client.app[keys.UOW]
        await deliver(mailbox, mails.mail(message_id="<slack-1@x.nl>"))
        await poller(mailbox, uow, clock).sweep_once()
        await h.deliver()
        await deliver(
            mailbox,
            mails.mail(
                subject="Re: Oven broke down",
                body="<!here> It works again, thanks!",
                in_reply_to="<slack-1@x.nl>",
                attachments=(("bon.pdf", b"%" * 12_345),),
            ),
        )
        await poller(mailbox, uow, clock).sweep_once()
        await h.deliver()
        [line] = h.thread_texts(1)
        assert "Anna Jansen wrote again" in line and "It works again, thanks!" in line
        assert "<!here>" not in line and "bon.pdf (12 kB)" in line
        assert "bon.pdf (12 kB)" in h.card_text(1)


async def test_in_minimal_mode_the_thread_says_a_reply_came_without_its_text_or_files(
    tmp_path: Path, mailbox: Mailbox
) -> None:
    clock = ManualClock(mails.SENT)
    async with slack_app(f"sqlite+aiosqlite:///{tmp_path / 'h.db'}", clock=clock, card_detail="minimal") as h:
        uow = h.client.app[keys.UOW]
        await deliver(mailbox, mails.mail(message_id="<min-1@x.nl>", attachments=(("id.pdf", b"1" * 10),)))
        await poller(mailbox, uow, clock).sweep_once()
        await deliver(
            mailbox,
            mails.mail(
                body="My IBAN is NL91ABNA0417164300",
                in_reply_to="<min-1@x.nl>",
                attachments=(("passport.jpg", b"2" * 10),),
            ),
        )
        await poller(mailbox, uow, clock).sweep_once()
        await h.deliver()
        [line] = h.thread_texts(1)
        assert line == "Anna wrote again by email"
        shared = h.card_text(1) + line
        assert "NL91" not in shared and "passport.jpg" not in shared and "id.pdf" not in shared
