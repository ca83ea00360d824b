"""Teams delivery end to end: API → outbox → fake Bot Connector, for every outbox kind."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from handoff_bot import keys
from handoff_bot.clock import ManualClock
from handoff_bot.domain.people import Person
from handoff_bot.platforms.teams.actions import Verb, action_data
from handoff_bot.services.commands import (
    AnswerQuestion,
    AskQuestion,
    ClaimContact,
    EnsurePerson,
    SetCustomerOwner,
    TransferContact,
)
from handoff_bot.services.contacts import claim_contact, transfer_contact
from handoff_bot.services.people import ensure_person, set_customer_owner
from handoff_bot.services.questions import answer_question, ask_question
from handoff_bot.storage.models import OutboxRow
from tests.conftest import Database
from tests.e2e import teams_flows as tf
from tests.e2e.teams_harness import CHANNEL, MARIEKE, PIET, TENANT, TOKEN, TeamsHarness, teams_app
from tests.fakes.bot_connector import FakeConnector

MONDAY = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # 10:00 in Amsterdam, office hours
AMSTERDAM = ZoneInfo("Europe/Amsterdam")


def options(database: Database) -> dict[str, Any]:
    if database.schema is None:
        return {}
    return {"connect_args": {"server_settings": {"search_path": database.schema}}}


async def person(h: TeamsHarness, who: tuple[str, str, str, str]) -> Person:
    return await ensure_person(
        EnsurePerson(who[2], who[3], identities=(("teams", who[1]),)), uow=h.client.app[keys.UOW]
    )


async def rows(h: TeamsHarness) -> list[OutboxRow]:
    async with h.client.app[keys.UOW].sessions() as s:
        return list((await s.scalars(select(OutboxRow).where(OutboxRow.platform == "teams"))).all())


def everything(connector: FakeConnector) -> str:
    """What Teams shows now: every message's current content."""
    return json.dumps([m.activity for msgs in connector.messages.values() for m in msgs], ensure_ascii=False)


async def test_a_contact_becomes_a_thread_with_its_card(database: Database) -> None:
    async with teams_app(database.url, engine_options=options(database)) as h:
        await h.install()
        created = await h.post_contact(
            subject="Order 1182 arrived damaged",
            body="Two crates broken <at>Marieke</at> **urgent** [click](https://evil.example)",
            customer={"name": "Anna Jansen", "phone": "06-12345678"},
        )
        await h.deliver()

        card = await h.card(created["id"])
        content = card.card
        assert content is not None and content["type"] == "AdaptiveCard" and content["version"] == "1.5"
        shown = json.dumps(content, ensure_ascii=False)
        assert "Order 1182 arrived damaged" in shown and "Anna Jansen" in shown
        # Customer text cannot mention, format or link.
        assert "<at>Marieke</at>" not in shown
        # The body is a TextRun: shown literally, so its markdown and link do nothing.
        [body] = [e for e in content["body"] if "crates" in json.dumps(e)]
        assert body["type"] == "RichTextBlock" and body["inlines"][0]["type"] == "TextRun"
        assert "entities" not in content.get("msteams", {})
        assert [a["title"] for a in content["actions"]] == ["Claim", "Ask a colleague", "Resolve"]
        assert h.connector.threads(CHANNEL) == [card]
        [thread] = h.connector.calls_of("thread")
        assert thread.authorization == "Bearer fake-bot-token"
        assert thread.body is not None and thread.body["channelData"]["channel"]["id"] == CHANNEL


async def test_a_state_change_updates_the_card_in_place_and_adds_a_thread_line(database: Database) -> None:
    async with teams_app(database.url, engine_options=options(database)) as h:
        await h.install()
        created = await h.post_contact(subject="Callback please")
        await h.deliver()
        marieke = await person(h, MARIEKE)
        assert marieke.id is not None

        await claim_contact(
            ClaimContact(created["id"], marieke.id),
            uow=h.client.app[keys.UOW],
            clock=h.client.app[keys.CLOCK],
        )
        await h.deliver()

        card = await h.card(created["id"])
        assert len(card.edits) == 1
        assert "Claimed by" in json.dumps(card.card) and "Release" in json.dumps(card.card)
        assert len(h.connector.threads(CHANNEL)) == 1  # updated, not posted again
        ref = await h.card_ref(created["id"])
        [line] = h.connector.thread(ref.channel_id)
        assert "<at>Marieke</at>" in line.text
        assert line.activity["entities"] == [
            {
                "type": "mention",
                "text": "<at>Marieke</at>",
                "mentioned": {"id": MARIEKE[1], "name": "Marieke"},
            }
        ]
        [put] = h.connector.calls_of("update")
        assert put.conversation_id == ref.channel_id and put.activity_id == ref.message_id


async def test_the_relationship_owner_is_mentioned_in_the_thread(sqlite_database: Database) -> None:
    async with teams_app(sqlite_database.url) as h:
        await h.install()
        first = await h.post_contact(subject="First")
        piet = await person(h, PIET)
        await set_customer_owner(SetCustomerOwner(first["customer_id"], piet.id), uow=h.client.app[keys.UOW])
        second = await h.post_contact(subject="Second")
        await h.deliver()

        texts = await h.thread_texts(second["id"])
        assert len(texts) == 1 and "<at>Piet</at>" in texts[0]


async def test_a_question_goes_to_the_colleague_in_a_one_to_one_chat(database: Database) -> None:
    async with teams_app(database.url, engine_options=options(database)) as h:
        await h.install()
        created = await h.post_contact(subject="Which price?")
        await h.deliver()
        marieke, piet = await person(h, MARIEKE), await person(h, PIET)
        assert marieke.id is not None and piet.id is not None
        uow, clock = h.client.app[keys.UOW], h.client.app[keys.CLOCK]

        question = await ask_question(
            AskQuestion(created["id"], marieke.id, piet.id, "Is the 2025 price still valid?"),
            uow=uow,
            clock=clock,
        )
        await h.deliver()

        [create] = h.connector.calls_of("create")
        assert create.body is not None and create.body["channelData"] == {"tenant": {"id": TENANT}}
        [dm] = h.connector.chat_with(PIET[1])
        assert dm.card is not None
        assert "Is the 2025 price still valid?" in json.dumps(dm.card)
        assert any(e.get("id") == "answer" for e in dm.card["body"])
        assert any("asked" in t for t in await h.thread_texts(created["id"]))

        assert question.id is not None
        await answer_question(AnswerQuestion(question.id, piet.id, "Yes, until March"), uow=uow, clock=clock)
        await h.deliver()

        [dm] = h.connector.chat_with(PIET[1])
        assert len(dm.edits) == 1 and not any(e.get("id") == "answer" for e in (dm.card or {})["body"])
        assert any("Yes, until March" in t for t in await h.thread_texts(created["id"]))
        assert "Yes, until March" in json.dumps((await h.card(created["id"])).card)


async def test_a_transfer_sends_the_colleague_the_details_without_buttons(sqlite_database: Database) -> None:
    async with teams_app(sqlite_database.url) as h:
        await h.install()
        created = await h.post_contact(subject="Moving house", customer={"name": "Anna Jansen"})
        await h.deliver()
        marieke, piet = await person(h, MARIEKE), await person(h, PIET)
        assert marieke.id is not None and piet.id is not None
        uow, clock = h.client.app[keys.UOW], h.client.app[keys.CLOCK]
        await claim_contact(ClaimContact(created["id"], marieke.id), uow=uow, clock=clock)

        await transfer_contact(
            TransferContact(created["id"], marieke.id, piet.id, "she prefers mornings"), uow=uow, clock=clock
        )
        await h.deliver()

        [dm] = h.connector.chat_with(PIET[1])
        assert dm.card is not None and "actions" not in dm.card
        shown = json.dumps(dm.card, ensure_ascii=False)
        assert "she prefers mornings" in shown and "Anna Jansen" in shown


async def test_a_new_one_to_one_chat_is_made_in_the_bots_own_tenant_not_the_last_team_seen(
    sqlite_database: Database,
) -> None:
    async with teams_app(sqlite_database.url) as h:
        await h.install()
        created = await h.post_contact(subject="Which price?")
        await h.deliver()
        # Later the bot is added to a team of another organisation (its newest channel reference).
        elsewhere = h.installation(channel="19:partner@thread.tacv2", team="19:partner@thread.tacv2")
        elsewhere["channelData"]["tenant"] = {"id": "0f6c1d2e-partner-tenant"}
        await tf.ok(await h.send(elsewhere))
        marieke, piet = await person(h, MARIEKE), await person(h, PIET)
        assert marieke.id is not None and piet.id is not None

        await ask_question(
            AskQuestion(created["id"], marieke.id, piet.id, "Is the 2025 price still valid?"),
            uow=h.client.app[keys.UOW],
            clock=h.client.app[keys.CLOCK],
        )
        await h.deliver()

        [create] = h.connector.calls_of("create")
        assert create.body is not None and create.body["channelData"] == {"tenant": {"id": TENANT}}
        [dm] = h.connector.chat_with(PIET[1])
        assert "Is the 2025 price still valid?" in json.dumps(dm.card)


async def test_throttling_is_retried_after_retry_after_and_posts_once(sqlite_database: Database) -> None:
    clock = ManualClock(MONDAY)
    async with teams_app(sqlite_database.url, clock=clock) as h:
        await h.install()
        h.connector.fail_next(429, retry_after="30", kind="thread")
        created = await h.post_contact(subject="Busy day")

        await h.deliver()

        assert h.connector.threads(CHANNEL) == []
        [card_row] = [r for r in await rows(h) if r.kind == "card.post"]
        assert card_row.status == "pending" and card_row.attempts == 0  # waiting our turn is no failure
        assert "throttled" in (card_row.last_error or "")
        assert (card_row.due_at - clock.now()).total_seconds() >= 30

        clock.advance(seconds=35)
        await h.deliver()

        assert len(h.connector.threads(CHANNEL)) == 1
        assert (await h.card(created["id"])).card is not None


async def test_a_crash_between_post_and_record_does_not_post_twice(sqlite_database: Database) -> None:
    clock = ManualClock(MONDAY)
    async with teams_app(sqlite_database.url, clock=clock) as h:
        await h.install()
        created = await h.post_contact(subject="Once only")
        store = h.worker.store
        real_complete = store.complete
        failures: list[int] = []

        async def database_gone(message: Any, completion: Any = None) -> bool:
            if message.kind == "card.post" and not failures:
                failures.append(message.id)
                raise ConnectionError("database went away after the post")
            return await real_complete(message, completion)

        store.complete = database_gone  # type: ignore[method-assign]
        with pytest.raises(ConnectionError):
            await h.deliver()
        assert len(h.connector.threads(CHANNEL)) == 1

        clock.advance(seconds=120)  # the lease runs out; the row is delivered again
        await h.deliver()

        assert failures and len(h.connector.threads(CHANNEL)) == 1
        assert (await h.card(created["id"])).id == h.connector.threads(CHANNEL)[0].id


async def test_after_dying_mid_post_the_card_is_posted_again_and_the_new_one_is_kept_up_to_date(
    sqlite_database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    """Teams has no history to look in: a card that may show twice beats a contact nobody sees."""
    clock = ManualClock(MONDAY)
    async with FakeConnector(token="fake-bot-token", tenant=TENANT).running() as connector:
        async with teams_app(sqlite_database.url, clock=clock, connector=connector) as h:
            await h.install()
            created = await h.post_contact(subject="Once only")
            store = h.worker.store

            async def dies(message: Any, completion: Any = None) -> bool:
                raise ConnectionError("the process is killed")

            store.complete = dies  # type: ignore[method-assign]
            with pytest.raises(ConnectionError):
                await h.deliver()
        assert len(connector.threads(CHANNEL)) == 1

        async with teams_app(sqlite_database.url, clock=clock, connector=connector) as again:
            clock.advance(seconds=120)
            with caplog.at_level(logging.WARNING, logger="handoff_bot.platforms.teams.delivery"):
                await again.deliver()

            [card_row] = [r for r in await rows(again) if r.kind == "card.post"]
            assert card_row.status == "done"
            first, second = connector.threads(CHANNEL)
            card = await again.card(created["id"])
            assert card.id == second.id
            assert any("may show it twice" in r.getMessage() for r in caplog.records)

            # The card that is recorded is the one kept up to date.
            claim = action_data(Verb.CONTACT_CLAIM, created["id"])
            await tf.ok(await again.send(tf.execute(again, claim, MARIEKE, root=card.id)))
            await again.deliver()
            assert "Claimed by" in json.dumps((await again.card(created["id"])).card)
            assert first.edits == []


async def test_a_post_teams_did_but_answered_too_late_is_posted_again_with_a_warning(
    sqlite_database: Database, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No answer is not a refusal: the outcome is unknown, the row is retried and says it may double."""
    from handoff_bot.platforms.teams import auth

    monkeypatch.setattr(auth, "CONNECTOR_TIMEOUT", 0.5)
    clock = ManualClock(MONDAY)
    async with teams_app(sqlite_database.url, clock=clock) as h:
        await h.install()
        created = await h.post_contact(subject="Slow Teams")
        h.connector.answer_late(3.0, kind="thread")

        await h.deliver()
        [card_row] = [r for r in await rows(h) if r.kind == "card.post"]
        assert card_row.status == "pending" and card_row.attempts == 1
        await h.connector.wait_for(lambda: len(h.connector.threads(CHANNEL)) == 1)  # Teams did post it

        clock.advance(seconds=300)
        with caplog.at_level(logging.WARNING, logger="handoff_bot.platforms.teams.delivery"):
            await h.deliver()

        assert len(h.connector.threads(CHANNEL)) == 2
        assert (await h.card(created["id"])).id == h.connector.threads(CHANNEL)[1].id
        assert any("may show it twice" in r.getMessage() for r in caplog.records)


async def test_a_refusal_is_no_unknown_outcome_and_posts_once_without_a_warning(
    sqlite_database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    clock = ManualClock(MONDAY)
    async with teams_app(sqlite_database.url, clock=clock) as h:
        await h.install()
        await h.post_contact(subject="Teams says later")
        h.connector.fail_next(502, kind="thread")

        await h.deliver()
        clock.advance(seconds=300)
        with caplog.at_level(logging.WARNING, logger="handoff_bot.platforms.teams.delivery"):
            await h.deliver()

        assert len(h.connector.threads(CHANNEL)) == 1
        assert not any("may show it twice" in r.getMessage() for r in caplog.records)


async def test_erasure_edits_every_teams_copy(database: Database) -> None:
    async with teams_app(database.url, engine_options=options(database)) as h:
        await h.install()
        created = await h.post_contact(
            subject="Anna's order", body="Anna Jansen, 06-12345678", customer={"name": "Anna Jansen"}
        )
        await h.deliver()
        marieke, piet = await person(h, MARIEKE), await person(h, PIET)
        assert marieke.id is not None and piet.id is not None
        uow, clock = h.client.app[keys.UOW], h.client.app[keys.CLOCK]
        await claim_contact(ClaimContact(created["id"], marieke.id), uow=uow, clock=clock)
        await ask_question(
            AskQuestion(created["id"], marieke.id, piet.id, "Anna again?"), uow=uow, clock=clock
        )
        await h.deliver()
        assert "Anna" in everything(h.connector)

        response = await h.client.delete(
            f"/api/customers/{created['customer_id']}", headers={"Authorization": f"Bearer {TOKEN}"}
        )
        assert response.status in (200, 202, 204), await response.text()
        await h.deliver()

        shown = everything(h.connector)
        assert "Anna" not in shown and "12345678" not in shown, shown
        assert "Personal data removed" in shown
        assert all(r.status == "done" for r in await rows(h))


async def test_the_opening_digest_is_a_channel_post_without_customer_data(sqlite_database: Database) -> None:
    async with teams_app(sqlite_database.url) as h:
        await h.install()
        created = await h.post_contact(
            subject="Overnight", customer={"name": "Anna Jansen"}, received_at="2026-11-23T20:00:00+01:00"
        )
        # After hours: the contact schedules the next opening's digest, long due on the system clock.
        await h.deliver()

        card = await h.card(created["id"])
        [digest] = [m for m in h.connector.threads(CHANNEL) if m.id != card.id]
        shown = json.dumps(digest.activity, ensure_ascii=False)
        assert f"#{created['id']}" in shown and "came in since closing" in shown
        assert "Anna" not in shown and "Overnight" not in shown


async def test_without_a_channel_the_card_waits_until_one_is_chosen(sqlite_database: Database) -> None:
    clock = ManualClock(MONDAY)
    async with teams_app(sqlite_database.url, clock=clock, teams_contacts_channel=None) as h:
        await h.install()
        created = await h.post_contact(subject="Where do I go?")
        await h.deliver()

        [card_row] = [r for r in await rows(h) if r.kind == "card.post"]
        assert card_row.status == "pending" and "use this channel" in (card_row.last_error or "")
        assert h.connector.calls_of("thread") == []

        await h.client.app[keys.TEAMS].deps.use_channel(CHANNEL)
        clock.advance(seconds=90)
        await h.deliver()

        assert (await h.card(created["id"])).card is not None


async def test_anonymous_mode_delivers_without_tokens(sqlite_database: Database) -> None:
    async with teams_app(sqlite_database.url, anonymous=True) as h:
        await h.install()
        created = await h.post_contact(subject="Local test")
        await h.deliver()

        assert (await h.card(created["id"])).card is not None
        assert {c.authorization for c in h.connector.calls} == {None}


async def test_the_end_of_day_summary_lists_what_is_open_without_customer_data(
    sqlite_database: Database,
) -> None:
    from handoff_bot.services.reminders import fire_summary

    clock = ManualClock(MONDAY)
    async with teams_app(sqlite_database.url, clock=clock) as h:
        await h.install()
        created = await h.post_contact(subject="Still open", customer={"name": "Anna Jansen"})
        await h.deliver()
        app = h.client.app

        closing = datetime(2026, 11, 23, 17, 30, tzinfo=AMSTERDAM)
        clock.set(closing)
        assert await fire_summary(
            closing.isoformat(), uow=app[keys.UOW], clock=clock, policy=app[keys.REMINDERS]
        )
        await h.deliver()

        card = await h.card(created["id"])
        [summary] = [m for m in h.connector.threads(CHANNEL) if m.id != card.id]
        shown = json.dumps(summary.activity, ensure_ascii=False)
        assert f"#{created['id']}" in shown and "Anna" not in shown and "Still open" not in shown


async def test_an_unclaimed_reminder_mentions_the_channel_when_nobody_owns_the_customer(
    sqlite_database: Database,
) -> None:
    clock = ManualClock(MONDAY)
    async with teams_app(sqlite_database.url, clock=clock) as h:
        await h.install()
        created = await h.post_contact(subject="Nobody picks this up")
        await h.deliver()

        clock.advance(minutes=11)
        await h.deliver()

        [reminder] = h.connector.thread((await h.card_ref(created["id"])).channel_id)
        assert reminder.text.startswith("<at>everyone in this channel</at>, this customer is still waiting")
        assert reminder.activity["entities"] == [
            {
                "type": "mention",
                "text": "<at>everyone in this channel</at>",
                "mentioned": {"id": CHANNEL, "name": "everyone in this channel", "type": "channel"},
            }
        ]
