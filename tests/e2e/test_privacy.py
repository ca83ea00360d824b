"""Privacy: erase and export a customer, nightly retention; no trace left in the database or in Slack."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import JSON, String, Text, select

from handoff_bot import keys
from handoff_bot.clock import ManualClock
from handoff_bot.storage.models import Base
from tests.conftest import Database
from tests.e2e.slack_harness import CHANNEL, JOOP, MARIEKE, PIET, TOKEN, Harness, event, slack_app
from tests.fakes import slack_signing as ss

AMS = ZoneInfo("Europe/Amsterdam")
AUTH = {"Authorization": f"Bearer {TOKEN}"}
TRACES = ("Anna", "Jansen", "anna.jansen", "612345678", "Zwolle", "88812", "Bakkerij")


async def database_text(h: Harness) -> str:
    """Every text and JSON column of every table, as one string to search."""
    found: list[str] = []
    async with h.client.app[keys.UOW].sessions() as s:
        for table in Base.metadata.sorted_tables:
            columns = [c for c in table.columns if isinstance(c.type, String | Text | JSON)]
            if columns:
                for row in (await s.execute(select(*columns))).all():
                    found += [json.dumps(v, ensure_ascii=False) for v in row if v is not None]
    return "\n".join(found)


def slack_text(h: Harness) -> str:
    """What Slack shows now: every message's current text and blocks (ephemerals and modals are gone)."""
    messages = [m for channel in h.slack.channels.values() for m in channel.messages.values()]
    return json.dumps([[m.text, m.blocks] for m in messages], ensure_ascii=False)


async def full_story(h: Harness) -> int:
    cid = (
        await h.post_contact(
            subject="Oven Zwolle",
            body="Please call about oven serial 88812.",
            customer={
                "name": "Anna Jansen",
                "email": "anna.jansen@example.org",
                "phone": "06-12345678",
                "company": "Bakkerij Jansen",
            },
        )
    )["id"]
    await h.deliver()
    await h.click("contact.claim", cid, MARIEKE)
    await h.ask(cid, MARIEKE, PIET, "Is Anna's oven under warranty?")
    dm = h.slack.messages_in(h.slack.dm_channel_of(PIET))[0]
    await h.send(
        *event(
            {
                "type": "message",
                "channel": dm.channel,
                "channel_type": "im",
                "user": PIET,
                "text": "Yes, Anna Jansen has two years left.",
                "ts": "1700000000.000100",
                "thread_ts": dm.ts,
                "event_ts": "1700000000.000100",
            }
        )
    )
    await h.click("contact.transfer", cid, MARIEKE)
    await h.interact(
        ss.view_submission(
            h.last_view(),
            {
                "colleague": ss.users_select(JOOP),
                "note": ss.plain_text_input("Anna from Zwolle, very patient"),
            },
            user=MARIEKE,
        )
    )
    await h.click("contact.resolve", cid, JOOP)
    await h.interact(
        ss.view_submission(h.last_view(), {"outcome": ss.plain_text_input("Anna gets a new oven")}, user=JOOP)
    )
    await h.deliver()
    return int(cid)


async def test_erase_leaves_no_trace_in_the_database_or_in_slack(database: Database) -> None:
    options = (
        {"connect_args": {"server_settings": {"search_path": database.schema}}} if database.schema else None
    )
    async with slack_app(database.url, engine_options=options) as h:
        cid = await full_story(h)
        text = await database_text(h) + slack_text(h)
        assert [t for t in TRACES if t not in text] == []  # the test data really was there

        exported = await (await h.client.get("/api/customers/1/export", headers=AUTH)).json()
        assert exported["customer"]["name"] == "Anna Jansen"
        assert {i["value"] for i in exported["customer"]["identities"]} == {
            "anna.jansen@example.org",
            "+31612345678",
        }
        assert exported["contacts"][0]["questions"][0]["answer"] == "Yes, Anna Jansen has two years left."

        response = await h.client.delete("/api/customers/1", headers=AUTH)
        assert response.status == 200
        assert await response.json() == {"customer_id": 1, "contacts": 1, "already_erased": False}
        await h.deliver()
        leftovers = [t for t in TRACES if t in await database_text(h) or t in slack_text(h)]
        assert leftovers == []
        card = h.card(cid)
        assert "Personal data removed at the customer's request." in json.dumps(card.blocks)
        assert all(b["type"] != "actions" for b in card.blocks)
        # What statistics need stays: when, which channel, who handled it.
        details = await (await h.client.get(f"/api/contacts/{cid}", headers=AUTH)).json()
        assert details["channel"] == "phone" and details["resolved_by"]["name"] == "Joop"
        assert details["timeline"][-1]["kind"] == "redacted"
        assert details["timeline"][-1]["data"] == {"reason": "erased", "by": "api:crm"}

        again = await h.client.delete("/api/customers/1", headers=AUTH)
        assert (await again.json())["already_erased"] is True
        await h.deliver()
        assert [t for t in TRACES if t in slack_text(h)] == []
        assert (await h.client.delete("/api/customers/99", headers=AUTH)).status == 404


async def test_retention_removes_old_personal_data_at_night(tmp_path: Path) -> None:
    clock = ManualClock(datetime(2026, 11, 23, 10, 0, tzinfo=AMS))
    async with slack_app(f"sqlite+aiosqlite:///{tmp_path / 'h.db'}", clock=clock, retention_days=30) as h:
        from handoff_bot.services.privacy import schedule_retention

        await schedule_retention(uow=h.client.app[keys.UOW], clock=clock, tz=AMS)
        cid = await full_story(h)
        fresh = (await h.post_contact(subject="Recent", customer={"name": "Kees"}))["id"]
        await h.deliver()
        clock.set(datetime(2026, 12, 22, 3, 0, tzinfo=AMS))  # 29 nights later: too soon
        await h.deliver()
        assert "Anna" in slack_text(h)
        clock.set(datetime(2026, 12, 24, 3, 0, tzinfo=AMS))
        await h.deliver()
        assert [t for t in TRACES if t in await database_text(h) or t in slack_text(h)] == []
        assert "Removed after the retention period." in json.dumps(h.card(cid).blocks)
        assert "Recent" in h.card_text(fresh)  # not resolved: kept
        assert h.slack.messages_in(CHANNEL)


def test_customers_cli_exports_and_erases(tmp_path: Path, capsys, monkeypatch) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'h.db'}"

    async def story() -> None:
        async with slack_app(url) as h:
            await full_story(h)

    asyncio.run(story())
    from handoff_bot.cli import main

    monkeypatch.setenv("HANDOFF_DATABASE_URL", url)
    monkeypatch.chdir(tmp_path)
    assert main(["customers", "export", "--phone", "+31 6 1234 5678"]) == 0
    exported = json.loads(capsys.readouterr().out)
    assert exported["customer"]["name"] == "Anna Jansen"
    assert main(["customers", "erase", "--email", "Anna.Jansen@example.org"]) == 0
    assert "personal data removed from 1 contact(s)" in capsys.readouterr().out
    assert main(["customers", "export", "--id", "1"]) == 0
    assert "Anna" not in capsys.readouterr().out
    assert main(["customers", "erase", "--email", "nobody@example.org"]) == 1


async def test_minimal_cards_keep_details_private_to_the_claimant_and_the_asked(tmp_path: Path) -> None:
    async with slack_app(f"sqlite+aiosqlite:///{tmp_path / 'h.db'}", card_detail="minimal") as h:
        cid = (
            await h.post_contact(
                subject="Oven Zwolle",
                body="Please call about oven serial 88812.",
                customer={"name": "Anna Jansen", "email": "anna.jansen@example.org", "phone": "06-12345678"},
            )
        )["id"]
        await h.deliver()
        shared = json.dumps([h.card(cid).text, h.card(cid).blocks], ensure_ascii=False)
        assert "Phone · Anna" in shared and "Oven Zwolle" in shared
        for private in ("Jansen", "anna.jansen", "612345678", "88812"):
            assert private not in shared, private
        assert "Details are shown to whoever claims this contact." in shared

        await h.click("contact.claim", cid, MARIEKE)
        await h.deliver()  # the private view comes through the outbox, like every chat side effect
        mine = h.slack.ephemerals_for(MARIEKE)
        assert len(mine) == 1
        private_view = json.dumps(mine[0].blocks, ensure_ascii=False)
        assert "+31612345678" in private_view and "88812" in private_view and "Anna Jansen" in private_view

        await h.ask(cid, MARIEKE, PIET, "Warranty?")
        dm = h.slack.messages_in(h.slack.dm_channel_of(PIET))[0]
        assert "88812" in json.dumps(dm.blocks) and "anna.jansen@example.org" in json.dumps(dm.blocks)
        shared_now = json.dumps(h.card(cid).blocks) + json.dumps(
            [m.text for m in h.slack.thread(CHANNEL, h.card(cid).ts)]
        )
        assert "88812" not in shared_now and "612345678" not in shared_now and "Jansen" not in shared_now


async def test_logs_at_info_and_above_hold_ids_only(tmp_path: Path, caplog) -> None:
    import logging

    caplog.set_level(logging.INFO)
    async with slack_app(f"sqlite+aiosqlite:///{tmp_path / 'h.db'}") as h:
        await full_story(h)
        refused = await h.client.post(
            "/api/contacts",
            headers=AUTH,
            json={"channel": "email", "customer": {"name": "Anna Jansen", "email": "anna.jansen@@example"}},
        )
        assert refused.status == 422
        await h.send(
            *event(
                {
                    "type": "app_mention",
                    "user": MARIEKE,
                    "channel": CHANNEL,
                    "text": "<@U0HANDOFFBOT> Anna?",
                    "ts": "1.2",
                    "event_ts": "1.2",
                }
            )
        )
        await h.client.delete("/api/customers/1", headers=AUTH)
        await h.deliver()
    logged = "\n".join(
        r.getMessage() + (r.exc_text or "") for r in caplog.records if r.levelno >= logging.INFO
    )
    assert logged  # something was logged
    assert [t for t in TRACES if t in logged] == []
