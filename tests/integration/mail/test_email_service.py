"""receive_email on the real databases: raced for one message id, and erased with the customer."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace

import pytest
from pydantic import SecretStr

from handoff_bot.clock import ManualClock
from handoff_bot.domain.errors import InvalidIdentity
from handoff_bot.domain.events import EventKind
from handoff_bot.intake.email.mailbox import Mailbox
from handoff_bot.intake.email.poller import MailPoller, PollerOptions
from handoff_bot.services.mail import MailOutcome, ReceiveEmail, receive_email
from handoff_bot.services.privacy import erase_customer, export_customer
from handoff_bot.storage.uow import SqlUnitOfWorkFactory
from tests.integration.mail.helpers import contacts, email_rows

MAIL = ReceiveEmail(
    message_id="race@bakkerij-jansen.nl",
    subject="Oven broke down",
    text="It stopped heating.",
    from_address="anna@bakkerij-jansen.nl",
    from_name="Anna Jansen",
    original="It stopped heating.\n\n> quoted",
    attachments=(("photo.jpg", 2048),),
)


async def test_twenty_concurrent_receipts_of_one_message_id_make_one_contact(
    uow: SqlUnitOfWorkFactory, clock: ManualClock
) -> None:
    results = await asyncio.gather(*(receive_email(MAIL, uow=uow, clock=clock) for _ in range(20)))

    assert [r.outcome for r in results].count(MailOutcome.CREATED) == 1
    assert {r.outcome for r in results} <= {MailOutcome.CREATED, MailOutcome.DUPLICATE}
    assert len({r.contact_id for r in results}) == 1
    assert len(await contacts(uow)) == 1 and len(await email_rows(uow)) == 1


async def test_concurrent_replies_to_one_contact_each_add_one_line(
    uow: SqlUnitOfWorkFactory, clock: ManualClock
) -> None:
    first = await receive_email(MAIL, uow=uow, clock=clock)
    replies = [
        ReceiveEmail(
            f"reply-{i}@x.nl",
            "Re: Oven",
            f"Reply {i}",
            "anna@bakkerij-jansen.nl",
            in_reply_to=MAIL.message_id,
        )
        for i in range(8)
    ]
    results = await asyncio.gather(*(receive_email(r, uow=uow, clock=clock) for r in replies))

    assert {r.outcome for r in results} == {MailOutcome.FOLLOW_UP}
    assert {r.contact_id for r in results} == {first.contact_id}
    async with uow() as tx:
        kinds = [e.kind for e in await tx.timeline.for_contact(first.contact_id)]
    assert kinds.count(EventKind.FOLLOW_UP) == 8


async def test_a_mail_without_any_sender_is_refused_and_stores_nothing(
    uow: SqlUnitOfWorkFactory, clock: ManualClock
) -> None:
    with pytest.raises(InvalidIdentity):
        await receive_email(
            ReceiveEmail("x@y", "Hi", "text", from_address="not-an-address"), uow=uow, clock=clock
        )
    assert await contacts(uow) == [] and await email_rows(uow) == []


async def test_the_stored_mail_is_exported_and_erased_with_the_customer_but_its_ids_stay(
    uow: SqlUnitOfWorkFactory, clock: ManualClock
) -> None:
    first = await receive_email(MAIL, uow=uow, clock=clock)
    reply = ReceiveEmail(
        "r@x.nl", "Re: Oven", "My phone is 0612345678", MAIL.from_address, in_reply_to=MAIL.message_id
    )
    await receive_email(reply, uow=uow, clock=clock)
    [contact] = await contacts(uow)
    exported = await export_customer(contact.customer_id, uow=uow)
    [emails] = [c["emails"] for c in exported["contacts"]]
    assert [(e["direction"], e["address"], e["text"]) for e in emails] == [
        ("in", "anna@bakkerij-jansen.nl", MAIL.original),
        ("in", "anna@bakkerij-jansen.nl", ""),
    ]
    assert emails[0]["attachments"] == [{"name": "photo.jpg", "bytes": 2048}]

    await erase_customer(contact.customer_id, by="privacy officer", uow=uow, clock=clock)

    rows = await email_rows(uow)
    assert [(r.message_id, r.address, r.original, r.subject) for r in rows] == [
        (MAIL.message_id, None, "", ""),
        ("r@x.nl", None, "", ""),
    ]
    assert all(r.attachments == {"files": []} for r in rows)
    async with uow() as tx:
        events = await tx.timeline.for_contact(first.contact_id)
    assert all("text" not in e.data and "files" not in e.data for e in events)
    # The same mail delivered again is still recognised: erased data does not come back.
    assert (await receive_email(MAIL, uow=uow, clock=clock)).outcome is MailOutcome.DUPLICATE


async def test_a_refused_login_is_logged_without_the_password_and_retried(
    mailbox: Mailbox, uow: SqlUnitOfWorkFactory, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    wrong = replace(mailbox, password=SecretStr("wrong-Secret-42"))
    poller = MailPoller(wrong, uow=uow, clock=clock, options=PollerOptions(timeout=10))
    stop = asyncio.Event()
    caplog.set_level(logging.INFO)
    task = asyncio.create_task(poller.run(stop))
    for _ in range(300):
        if any("unavailable" in r.getMessage() for r in caplog.records):
            break
        await asyncio.sleep(0.1)
    stop.set()
    await asyncio.wait_for(task, timeout=30)

    text = "\n".join(r.getMessage() for r in caplog.records)
    assert f"imap://127.0.0.1:{mailbox.port}/INBOX unavailable (MailboxError)" in text
    assert "wrong-Secret-42" not in text and mailbox.user not in text


async def test_control_characters_in_message_ids_are_stored_safely_and_still_thread(
    uow: SqlUnitOfWorkFactory, clock: ManualClock
) -> None:
    hostile = replace(MAIL, message_id="a\x00b@x.nl")
    first = await receive_email(hostile, uow=uow, clock=clock)
    again = await receive_email(hostile, uow=uow, clock=clock)
    reply = ReceiveEmail("ok@x.nl", "Re", "Reply", MAIL.from_address, references=("a\x00b@x.nl",))
    answered = await receive_email(reply, uow=uow, clock=clock)

    assert again.outcome is MailOutcome.DUPLICATE
    assert answered.outcome is MailOutcome.FOLLOW_UP and answered.contact_id == first.contact_id
    assert all("\x00" not in r.message_id for r in await email_rows(uow))
