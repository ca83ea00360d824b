"""Shared pieces of the fault tests: sizes (short in `make test`, long in `make bench`), a desk of
people on the fake Slack, intake that retries like a CRM would, signed claim clicks, what the DB says."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
from sqlalchemy import select, text
from sqlalchemy.engine import make_url

from handoff_bot.storage.db import create_engine
from handoff_bot.storage.models import ContactRow, PersonIdentityRow, TimelineRow
from tests.fakes import slack_signing as ss
from tests.fakes.slack_server import FakeSlack, Message

LONG = os.environ.get("HANDOFF_FAULTS") == "long"  # `make bench` sets it
CHANNEL = "C0FAULTS"
TOKEN = "fault-token-0123456789abcdef"
SECRET = "fault-signing-secret-0123456789"
CARD_EVENT = "handoff_contact_card"
RETRYABLE = (aiohttp.ClientError, TimeoutError)


def people(fake: FakeSlack, count: int = 20) -> list[str]:
    users = [f"U0DESK{i:03d}" for i in range(count)]
    for user in users:
        fake.add_user(user, f"Desk {user[-3:]}", f"{user.lower()}@faults.example")
    return users


def app_env(fake: FakeSlack, database_url: str, **extra: str) -> dict[str, str]:
    fake.add_channel(CHANNEL)
    return {
        "HANDOFF_DATABASE_URL": database_url,
        "HANDOFF_INTAKE_TOKENS": f"crm={TOKEN}",
        "SLACK_BOT_TOKEN": fake.token,
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_CONTACTS_CHANNEL": CHANNEL,
        "SLACK_API_URL": fake.url,
        "SLACK_POST_RATE": "1000",
        **extra,
    }


def contact(n: int) -> dict[str, Any]:
    return {
        "channel": "phone",
        "customer": {"name": f"Beller {n}", "phone": f"+3161{n:07d}"},
        "subject": f"Terugbellen {n}",
        "external_id": f"fault-{n}",  # a retried request finds the contact it already made
    }


async def intake(http: aiohttp.ClientSession, url: Callable[[], str], n: int, *, within: float = 180) -> int:
    """POST contact `n` until it is accepted (retrying through crashes and 503s); returns its id."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        try:
            async with http.post(
                f"{url()}/api/contacts",
                json=contact(n),
                headers={"Authorization": f"Bearer {TOKEN}"},
                timeout=aiohttp.ClientTimeout(total=15),
            ) as response:
                if response.status in (200, 201):
                    return int((await response.json())["id"])
                assert response.status == 503, (response.status, await response.text())
        except RETRYABLE:
            pass
        assert loop.time() < deadline, f"contact {n} was never accepted"
        await asyncio.sleep(0.1)


async def claim(http: aiohttp.ClientSession, url: str, card: Message, user: str) -> int | None:
    """A signed claim click on `card`; the HTTP status, or None when the request did not get through."""
    contact_id = card_contact(card)
    payload = ss.block_actions(
        "contact.claim", user=user, channel=CHANNEL, message_ts=card.ts, value=f"v1:c:{contact_id}"
    )
    body = ss.interaction_body(payload)
    try:
        async with http.post(
            f"{url}/slack/events",
            data=body,
            headers=ss.signed_headers(SECRET, body, ss.FORM),
            timeout=aiohttp.ClientTimeout(total=15),
        ) as response:
            await response.read()
            return response.status
    except RETRYABLE:
        return None


def card_contact(message: Message) -> int:
    return int((message.metadata or {})["event_payload"]["contact_id"])


def cards(fake: FakeSlack) -> list[Message]:
    return [m for m in fake.messages_in(CHANNEL) if (m.metadata or {}).get("event_type") == CARD_EVENT]


async def claimants(database_url: str, engine_options: dict[str, Any] | None = None) -> dict[int, str]:
    """contact id → the Slack user id of whoever the database says claimed it."""
    engine = create_engine(database_url, **(engine_options or {}))
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                select(ContactRow.id, PersonIdentityRow.user_id)
                .join(PersonIdentityRow, PersonIdentityRow.person_id == ContactRow.claimed_by)
                .where(PersonIdentityRow.platform == "slack")
            )
            return {int(contact_id): str(user) for contact_id, user in rows}
    finally:
        await engine.dispose()


async def timeline_counts(database_url: str, kind: str, *by: str) -> dict[tuple[Any, ...], int]:
    """How many timeline events of `kind` each contact has, keyed by (contact id, *data fields)."""
    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                select(TimelineRow.contact_id, TimelineRow.data).where(TimelineRow.kind == kind)
            )
            counts: dict[tuple[Any, ...], int] = {}
            for contact_id, data in rows:
                key = (int(contact_id), *(data.get(field) for field in by))
                counts[key] = counts.get(key, 0) + 1
            return counts
    finally:
        await engine.dispose()


@asynccontextmanager
async def postgres_database(admin_url: str) -> AsyncIterator[str]:
    """A database of its own (processes cannot be given a schema search path), dropped afterwards."""
    name = f"handoff_fault_{uuid.uuid4().hex[:8]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            await conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
        finally:
            async with admin.connect() as conn:
                await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        await admin.dispose()
