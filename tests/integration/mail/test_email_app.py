"""The whole app with HANDOFF_IMAP_URL set: mail in the mailbox shows up as a card in (fake) Slack."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

from handoff_bot import keys
from handoff_bot.intake.email.mailbox import Mailbox
from tests.e2e.slack_harness import Harness, slack_app
from tests.integration.mail import mails
from tests.integration.mail.dovecot import Dovecot
from tests.integration.mail.helpers import contact_count, count, deliver, unprocessed

WAIT = 60.0  # seconds: generous, the machine is shared; IDLE brings mail in well under a second


def _mrkdwn(blocks: Any) -> str:
    """Every mrkdwn text of a message: where Slack would turn <!channel> into a ping."""
    if isinstance(blocks, dict):
        own = [str(blocks.get("text", ""))] if blocks.get("type") == "mrkdwn" else []
        return " ".join(own + [_mrkdwn(v) for v in blocks.values() if isinstance(v, dict | list)])
    if isinstance(blocks, list):
        return " ".join(_mrkdwn(b) for b in blocks)
    return ""


def imap_url(box: Mailbox) -> str:
    password = quote(box.password.get_secret_value(), safe="")
    return f"imap://{quote(box.user, safe='')}:{password}@{box.host}:{box.port}/{box.folder}"


async def wait_for_contacts(h: Harness, n: int) -> None:
    uow = h.client.app[keys.UOW]
    deadline = time.monotonic() + WAIT
    while await contact_count(uow) < n:
        assert time.monotonic() < deadline, f"no {n} contacts after {WAIT}s"
        await asyncio.sleep(0.1)


async def test_mail_becomes_a_card_in_slack_through_the_running_app(tmp_path: Path, mailbox: Mailbox) -> None:
    # A poll interval far beyond the wait: only IDLE can bring the second mail in on time.
    async with slack_app(
        f"sqlite+aiosqlite:///{tmp_path / 'handoff.db'}",
        imap_url=imap_url(mailbox),
        imap_poll_seconds=3600,
    ) as h:
        await deliver(
            mailbox, mails.mail(subject="Oven <!channel> broke", attachments=(("a.pdf", b"%" * 1500),))
        )
        await wait_for_contacts(h, 1)
        await h.deliver()
        card = h.card_text(1)
        assert "broke" in card and "Anna Jansen" in card and "a.pdf (1.5 kB)" in card
        assert "<!channel>" not in _mrkdwn(h.card(1).blocks)  # customer text never pings

        await deliver(mailbox, mails.mail(subject="Second mail"))
        await wait_for_contacts(h, 2)
    assert await unprocessed(mailbox) == []


async def test_several_mailboxes_are_read_side_by_side(tmp_path: Path, dovecot_server: Dovecot) -> None:
    info, service = dovecot_server.add_user(), dovecot_server.add_user()
    async with slack_app(
        f"sqlite+aiosqlite:///{tmp_path / 'handoff.db'}",
        imap_url=f"{imap_url(info)} {imap_url(service)}",
        imap_done_folder="Verwerkt",
    ) as h:
        await deliver(info, mails.mail(subject="To info@"))
        await deliver(service, mails.mail(subject="To service@", sender="kees@klant.example"))
        await wait_for_contacts(h, 2)
        await h.deliver()
        assert "To info@" in h.card_text(1) + h.card_text(2) and "To service@" in h.card_text(
            1
        ) + h.card_text(2)
    for box in (info, service):
        assert await count(box, "INBOX") == 0 and await count(box, "Verwerkt") == 1
