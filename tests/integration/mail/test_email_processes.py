"""Real `handoff-bot serve` and `worker` processes reading a real mailbox: cards, metrics, clean logs."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp

from handoff_bot.intake.email.mailbox import Mailbox
from tests.e2e.test_processes import free_port, process, slack_env, wait_ready
from tests.fakes.slack_server import FakeSlack
from tests.integration.mail import mails
from tests.integration.mail.helpers import deliver, unprocessed
from tests.integration.mail.test_email_app import imap_url


async def test_a_worker_process_takes_mail_in_and_posts_the_card_with_clean_logs(
    tmp_path: Path, mailbox: Mailbox
) -> None:
    async with FakeSlack() as slack:
        env = {**slack_env(slack, tmp_path), "HANDOFF_IMAP_URL": imap_url(mailbox)}
        await deliver(mailbox, mails.mail(subject="Worker mail", sender="Kees <kees@klant.example>"))
        async with process("worker", env=env, cwd=tmp_path) as proc:
            cards = await slack.wait_for_messages("C0CONTACTS", 1)
            assert "Worker mail" in str(cards[0].blocks)
            for _ in range(100):
                if not await unprocessed(mailbox):
                    break
                await asyncio.sleep(0.1)
            assert await unprocessed(mailbox) == []
        assert proc.stdout is not None
        logs = (await proc.stdout.read()).decode()
    assert "email: polling imap://127.0.0.1:" in logs
    password = mailbox.password.get_secret_value()
    assert password not in logs and "kees@klant.example" not in logs and "Worker mail" not in logs


async def test_serve_counts_mail_in_its_metrics(tmp_path: Path, mailbox: Mailbox) -> None:
    async with FakeSlack() as slack:
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        env = {**slack_env(slack, tmp_path), "HANDOFF_IMAP_URL": imap_url(mailbox)}
        await deliver(mailbox, mails.mail(), mails.fixture("auto_reply_nl.eml"))
        async with process("serve", "--port", str(port), env=env, cwd=tmp_path) as proc:
            await wait_ready(url, proc)
            await slack.wait_for_messages("C0CONTACTS", 1)
            async with aiohttp.ClientSession() as http:
                for _ in range(200):
                    async with http.get(f"{url}/metrics") as response:
                        metrics = await response.text()
                    if 'handoff_email_skipped_total{reason="auto_reply"} 1.0' in metrics:
                        break
                    await asyncio.sleep(0.1)
        assert 'handoff_email_received_total{outcome="created"} 1.0' in metrics
        assert 'handoff_email_skipped_total{reason="auto_reply"} 1.0' in metrics
        assert 'handoff_contacts_received_total{channel="email",source="email"} 1.0' in metrics
