"""Real `handoff-bot serve` and `handoff-bot worker` processes against the fake Slack server."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp

from handoff_bot.clock import SystemClock
from handoff_bot.domain.contacts import Channel
from handoff_bot.services.commands import CustomerDetails, ReceiveContact
from handoff_bot.services.contacts import receive_contact
from handoff_bot.storage.db import create_engine, session_factory
from handoff_bot.storage.migrate import upgrade_database
from handoff_bot.storage.uow import SqlUnitOfWorkFactory
from tests.fakes.slack_server import FakeSlack

BIN = Path(sys.executable).with_name("handoff-bot")
TOKEN = "crm-token-0123456789abcdef"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@asynccontextmanager
async def process(*argv: str, env: dict[str, str], cwd: Path) -> AsyncIterator[asyncio.subprocess.Process]:
    proc = await asyncio.create_subprocess_exec(
        str(BIN),
        *argv,
        env={"PATH": os.environ["PATH"], **env},
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        yield proc
    finally:
        if proc.returncode is None:
            proc.terminate()
            await asyncio.wait_for(proc.wait(), 20)


async def wait_ready(url: str, proc: asyncio.subprocess.Process) -> None:
    async with aiohttp.ClientSession() as http, asyncio.timeout(60):
        while True:
            assert proc.returncode is None, (await proc.stdout.read()).decode() if proc.stdout else ""
            try:
                async with http.get(f"{url}/readyz") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientConnectionError:
                pass
            await asyncio.sleep(0.1)


def slack_env(slack: FakeSlack, tmp_path: Path) -> dict[str, str]:
    slack.add_channel("C0CONTACTS")
    return {
        "HANDOFF_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'handoff.db'}",
        "HANDOFF_INTAKE_TOKENS": f"crm={TOKEN}",
        "SLACK_BOT_TOKEN": slack.token,
        "SLACK_SIGNING_SECRET": "s" * 32,
        "SLACK_CONTACTS_CHANNEL": "C0CONTACTS",
        "SLACK_API_URL": slack.url,
    }


async def test_serve_accepts_a_contact_and_posts_its_card(tmp_path: Path) -> None:
    async with FakeSlack() as slack:
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        async with process(
            "serve", "--port", str(port), env=slack_env(slack, tmp_path), cwd=tmp_path
        ) as proc:
            await wait_ready(url, proc)
            async with aiohttp.ClientSession() as http:
                body = {
                    "channel": "web",
                    "customer": {"email": "kees@example.org"},
                    "subject": "Quote please",
                }
                async with http.post(
                    f"{url}/api/contacts", json=body, headers={"Authorization": f"Bearer {TOKEN}"}
                ) as response:
                    assert response.status == 201
                cards = await slack.wait_for_messages("C0CONTACTS", 1)
                assert "Quote please" in str(cards[0].blocks)
                async with http.get(f"{url}/metrics") as response:
                    metrics = await response.text()
                assert 'handoff_contacts_received_total{channel="web",source="crm"} 1.0' in metrics
                async with http.get(f"{url}/healthz") as response:
                    assert response.status == 200


async def test_a_separate_worker_process_delivers_slack_cards(tmp_path: Path) -> None:
    async with FakeSlack() as slack:
        env = slack_env(slack, tmp_path)
        engine = create_engine(env["HANDOFF_DATABASE_URL"])
        await upgrade_database(engine)
        uow = SqlUnitOfWorkFactory(session_factory(engine), platforms=("slack",), clock=SystemClock())
        for name in ("Anna", "Kees"):
            await receive_contact(
                ReceiveContact(Channel.PHONE, "api", CustomerDetails(name=name)), uow=uow, clock=SystemClock()
            )
        await engine.dispose()
        async with process("worker", env=env, cwd=tmp_path):
            cards = await slack.wait_for_messages("C0CONTACTS", 2)
        assert sorted(c.metadata["event_payload"]["contact_id"] for c in cards if c.metadata) == [1, 2]
