"""Nothing falls through the cracks: reminders on a controllable clock, through API, Slack and worker."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from handoff_bot import keys
from handoff_bot.clock import ManualClock
from handoff_bot.outbox.timers import register_timers
from handoff_bot.outbox.worker import OutboxWorker
from handoff_bot.storage.db import session_factory
from handoff_bot.storage.outbox import OutboxStore
from tests.conftest import Database
from tests.e2e.slack_harness import CHANNEL, MARIEKE, PIET, Harness, click, command, event, slack_app
from tests.fakes import slack_signing as ss
from tests.fakes.slack_server import FakeSlack

AMS = ZoneInfo("Europe/Amsterdam")


def at(year: int, month: int, day: int, hour: int, minute: int) -> ManualClock:
    return ManualClock(datetime(year, month, day, hour, minute, tzinfo=AMS))


def db(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'handoff.db'}"


async def tick(h: Harness, clock: ManualClock, **delta: float) -> None:
    clock.advance(**delta)
    await h.deliver()


def channel_posts(h: Harness) -> list[str]:
    """Top-level messages in the contacts channel that are not cards (digests, summaries)."""
    return [m.text for m in h.slack.messages_in(CHANNEL) if not m.metadata]


async def test_unclaimed_contact_is_reminded_then_escalated_and_claiming_stops_it(tmp_path: Path) -> None:
    clock = at(2026, 11, 23, 10, 0)  # a Monday morning
    async with slack_app(db(tmp_path), clock=clock) as h:
        cid = (await h.post_contact())["id"]
        await h.deliver()
        await tick(h, clock, minutes=9, seconds=59)
        assert h.thread_texts(cid) == []
        await tick(h, clock, seconds=1)
        assert h.thread_texts(cid) == [
            "<!here>, this customer is still waiting for someone to pick it up. Can you claim it?"
        ]
        assert "Overdue" not in h.card_text(cid)
        await tick(h, clock, minutes=10)
        assert h.thread_texts(cid)[-1] == "<!here>, this contact is now overdue — nobody has claimed it yet."
        assert "Overdue — waiting since 10:00" in h.card_text(cid)
        await tick(h, clock, hours=3)
        assert len(h.thread_texts(cid)) == 2  # two steps, then quiet

        other = (await h.post_contact(customer={"name": "Kees"}))["id"]
        await h.deliver()
        await tick(h, clock, minutes=5)
        await h.click("contact.claim", other, MARIEKE)
        await tick(h, clock, hours=1)
        assert h.thread_texts(other) == ["<@U0MARIEKE> claimed this contact"]


async def test_the_relationship_owner_is_reminded_instead_of_everyone(tmp_path: Path) -> None:
    clock = at(2026, 11, 23, 10, 0)
    async with slack_app(db(tmp_path), clock=clock, slack_onduty_mention="S0FRONTDESK") as h:
        first = (await h.post_contact())["id"]
        await h.deliver()
        await h.click("contact.resolve", first, PIET)
        await h.interact(
            ss.view_submission(h.last_view(), {"outcome": ss.plain_text_input("Done")}, user=PIET)
        )
        second = (await h.post_contact())["id"]
        await h.deliver()
        stranger = (await h.post_contact(customer={"name": "New customer"}))["id"]
        await tick(h, clock, minutes=10)
        assert h.thread_texts(second)[-1].startswith("<@U0PIET>, this customer is still waiting")
        assert h.thread_texts(stranger)[-1].startswith(
            "<!subteam^S0FRONTDESK>, this customer is still waiting"
        )


async def test_clocks_count_office_time_only_across_a_weekend_with_one_digest(tmp_path: Path) -> None:
    clock = at(2026, 11, 20, 17, 25)  # Friday, five minutes before closing
    async with slack_app(db(tmp_path), clock=clock) as h:
        friday = (await h.post_contact(subject="Friday caller"))["id"]
        await h.deliver()
        await tick(h, clock, hours=17)  # Saturday 10:25
        saturday = (await h.post_contact(subject="Saturday mail", customer={"email": "zat@example.org"}))[
            "id"
        ]
        sunday_clock = clock.advance(hours=24)
        sunday = (await h.post_contact(subject="Sunday chat", customer={"email": "zon@example.org"}))["id"]
        await h.deliver()
        assert "arrived outside office hours" in h.card_text(saturday)
        assert "arrived outside office hours" not in h.card_text(friday)
        assert h.thread_texts(friday) == [] and sunday_clock
        clock.set(datetime(2026, 11, 23, 8, 30, tzinfo=AMS))  # Monday opening
        await h.deliver()
        digests = channel_posts(h)
        assert len(digests) == 1
        assert digests[0].startswith("Good morning! 2 contact(s) came in since closing (Fri 20 Nov 17:30)")
        digest = h.slack.messages_in(CHANNEL)[-1]
        listed = str(digest.blocks)
        assert (
            f"#{saturday} Phone, Sat 21 Nov 10:25>" in listed
            and f"#{sunday} Phone, Sun 22 Nov 10:25>" in listed
        )
        assert f"#{friday} " not in listed and listed.count("slack.com/archives") == 2
        # Channel-wide posts carry no customer data: they cannot be edited per customer on erasure.
        assert "Saturday mail" not in listed and "zat@example.org" not in listed
        await tick(h, clock, minutes=4)  # Friday's 5 office minutes + 4 = 9
        assert h.thread_texts(friday) == []
        await tick(h, clock, minutes=1)
        assert len(h.thread_texts(friday)) == 1
        assert len(h.thread_texts(saturday)) == 0 and len(h.thread_texts(sunday)) == 0
        await tick(h, clock, minutes=5)
        assert len(h.thread_texts(saturday)) == 1 and len(h.thread_texts(sunday)) == 1
        assert len(channel_posts(h)) == 1  # the digest went out once


async def test_public_holidays_and_closed_dates_are_not_office_time(tmp_path: Path) -> None:
    clock = at(2026, 12, 23, 17, 25)  # Wednesday; 24 Dec closed by setting, 25-26 Dec are Dutch holidays
    async with slack_app(db(tmp_path), clock=clock, closed_dates="2026-12-24") as h:
        cid = (await h.post_contact())["id"]
        await h.deliver()
        for day in (24, 25, 26, 27):
            clock.set(datetime(2026, 12, day, 16, 0, tzinfo=AMS))
            await h.deliver()
            assert h.thread_texts(cid) == [], day
        clock.set(datetime(2026, 12, 28, 8, 35, tzinfo=AMS))  # Monday: 5 minutes left + 5 = reminder
        await h.deliver()
        assert len(h.thread_texts(cid)) == 1


async def test_unanswered_question_nudges_the_colleague_then_tells_the_asker(tmp_path: Path) -> None:
    clock = at(2026, 11, 23, 10, 0)
    async with slack_app(db(tmp_path), clock=clock) as h:
        cid = (await h.post_contact())["id"]
        await h.deliver()
        await h.click("contact.claim", cid, MARIEKE)
        await h.ask(cid, MARIEKE, PIET, "Which oven model is it?")
        dm = h.slack.messages_in(h.slack.dm_channel_of(PIET))[0]
        await tick(h, clock, minutes=15)
        nudge = h.slack.thread(dm.channel, dm.ts)
        assert [m.text for m in nudge] == [
            "Friendly reminder: Marieke is still waiting for your answer. Just reply here."
        ]
        await tick(h, clock, minutes=15)
        to_asker = h.slack.messages_in(h.slack.dm_channel_of(MARIEKE))
        assert [m.text for m in to_asker] == [
            "Piet hasn't answered your question yet: Which oven model is it?"
        ]
        button = to_asker[0].blocks[-1]["elements"][0]
        assert button["action_id"] == "question.ask_again"
        press = click(
            "question.ask_again",
            button["value"],
            user=MARIEKE,
            channel=to_asker[0].channel,
            message_ts=to_asker[0].ts,
        )
        assert (await h.interact(press)).status == 200
        form = h.last_view()
        assert form["callback_id"] == "view.ask" and form["private_metadata"] == f"v1:c:{cid}"
        question_block = next(b for b in form["blocks"] if b.get("block_id") == "question")
        assert question_block["element"]["initial_value"] == "Which oven model is it?"
        await tick(h, clock, hours=2)
        assert (
            len(h.slack.thread(dm.channel, dm.ts)) == 1 and len(h.slack.messages_in(to_asker[0].channel)) == 1
        )


async def test_an_answer_before_the_reminder_stops_it(tmp_path: Path) -> None:
    clock = at(2026, 11, 23, 10, 0)
    async with slack_app(db(tmp_path), clock=clock) as h:
        cid = (await h.post_contact())["id"]
        await h.deliver()
        await h.ask(cid, MARIEKE, PIET, "?")
        dm = h.slack.messages_in(h.slack.dm_channel_of(PIET))[0]
        reply = {
            "type": "message",
            "channel": dm.channel,
            "channel_type": "im",
            "user": PIET,
            "text": "Yes",
            "ts": "1700000000.000900",
            "thread_ts": dm.ts,
            "event_ts": "1700000000.000900",
        }
        await h.send(*event(reply))
        await tick(h, clock, hours=1)
        assert (
            h.slack.thread(dm.channel, dm.ts) == []
            and h.slack.messages_in(h.slack.dm_channel_of(MARIEKE)) == []
        )


async def test_callback_promise_reminds_the_claimant_and_a_miss_shows(tmp_path: Path) -> None:
    clock = at(2026, 11, 23, 13, 0)
    async with slack_app(db(tmp_path), clock=clock) as h:
        cid = (await h.post_contact(callback_before="2026-11-23T15:00:00"))["id"]
        await h.deliver()
        assert "call back before 15:00" in h.card_text(cid)
        await h.click("contact.claim", cid, MARIEKE)
        clock.set(datetime(2026, 11, 23, 14, 49, tzinfo=AMS))
        await h.deliver()
        assert h.slack.messages_in(h.slack.dm_channel_of(MARIEKE)) == []
        await tick(h, clock, minutes=1)
        dms = h.slack.messages_in(h.slack.dm_channel_of(MARIEKE))
        assert [m.text for m in dms] == ["Marieke, we promised to call this customer back before 15:00."]
        await tick(h, clock, minutes=10)
        assert (
            h.thread_texts(cid)[-1]
            == "<@U0MARIEKE>, the promised callback before 15:00 has not happened yet."
        )
        assert "callback before 15:00 was missed" in h.card_text(cid)


async def test_end_of_day_summary_lists_what_is_still_open(tmp_path: Path) -> None:
    clock = at(2026, 11, 23, 9, 0)
    async with slack_app(db(tmp_path), clock=clock) as h:
        from handoff_bot.services.reminders import schedule_summary

        await schedule_summary(uow=h.client.app[keys.UOW], clock=clock, policy=h.client.app[keys.REMINDERS])
        first = (await h.post_contact(subject="Oven", customer={"name": "Anna"}))["id"]
        await h.post_contact(subject="Invoice", customer={"name": "Kees"})
        await h.deliver()
        await tick(h, clock, minutes=6)
        await h.click("contact.claim", first, MARIEKE)
        clock.set(datetime(2026, 11, 23, 17, 30, tzinfo=AMS))
        await h.deliver()
        summary = [
            m for m in h.slack.messages_in(CHANNEL) if not m.metadata and m.text.startswith("End of the day")
        ]
        assert len(summary) == 1
        assert summary[0].text == (
            "End of the day: 2 contact(s) still open, 0 question(s) waiting. "
            "Today contacts were claimed after 6 min (median)."
        )
        body = str(summary[0].blocks)
        assert "📞 #1 Phone — Marieke" in body and "📞 #2 Phone — nobody yet" in body
        assert "Oven" not in body and "Anna" not in body
        clock.set(datetime(2026, 11, 24, 17, 30, tzinfo=AMS))  # tomorrow's was scheduled by today's
        await h.deliver()
        assert sum(1 for m in h.slack.messages_in(CHANNEL) if m.text.startswith("End of the day")) == 2


async def test_timers_survive_a_restart(tmp_path: Path) -> None:
    clock = at(2026, 11, 23, 10, 0)
    async with FakeSlack() as slack:
        async with slack_app(db(tmp_path), clock=clock, slack=slack) as h:
            cid = (await h.post_contact())["id"]
            await h.deliver()
        clock.advance(minutes=11)
        async with slack_app(db(tmp_path), clock=clock, slack=slack) as h:
            await h.deliver()
            assert len(h.thread_texts(cid)) == 1


async def test_two_workers_racing_fire_each_reminder_once(database: Database) -> None:
    clock = at(2026, 11, 23, 10, 0)
    options = (
        {"connect_args": {"server_settings": {"search_path": database.schema}}} if database.schema else None
    )
    async with slack_app(database.url, clock=clock, engine_options=options) as h:
        ids = [
            (await h.post_contact(external_id=f"race-{i}", customer={"name": f"C{i}"}))["id"]
            for i in range(5)
        ]
        await h.deliver()
        engine = database.engine()
        try:
            app = h.client.app
            second = OutboxWorker(
                OutboxStore(session_factory(engine), clock), app[keys.HANDLERS], clock, worker_id="second"
            )
            register_timers(app[keys.HANDLERS], uow=app[keys.UOW], clock=clock, policy=app[keys.REMINDERS])
            for _ in range(2):
                clock.advance(minutes=10)
                await asyncio.gather(h.worker.drain(), second.drain(), h.worker.drain(), second.drain())
            for cid in ids:
                texts = h.thread_texts(cid)
                assert len(texts) == 2, texts
                assert "overdue" in texts[1]
        finally:
            await engine.dispose()


def test_office_hours_are_read_from_the_setting() -> None:
    from handoff_bot.config import load_settings

    hours = load_settings(
        office_hours="mon-fri 08:30-12:00, 13:00-17:30; sat 10:00-14:00", holidays_country=""
    ).office_hours_calendar()
    lunch = datetime(2026, 11, 23, 12, 30, tzinfo=AMS)
    assert not hours.is_open(lunch) and hours.next_opening(lunch) == datetime(2026, 11, 23, 13, 0, tzinfo=AMS)
    assert hours.add(datetime(2026, 11, 23, 11, 55, tzinfo=AMS), 10) == datetime(
        2026, 11, 23, 13, 5, tzinfo=AMS
    )
    saturday = datetime(2026, 11, 28, 9, 0, tzinfo=AMS)
    assert hours.next_opening(saturday) == datetime(2026, 11, 28, 10, 0, tzinfo=AMS)


async def test_a_callback_promise_logged_in_slack_shows_on_the_card(tmp_path: Path) -> None:
    clock = at(2026, 11, 23, 10, 0)
    async with slack_app(db(tmp_path), clock=clock) as h:
        await h.send(*command("", user=MARIEKE))
        form = h.last_view()
        values = {
            "channel": {"type": "static_select", "selected_option": {"value": "phone"}},
            "name": ss.plain_text_input("Kees"),
            "callback": {"type": "timepicker", "selected_time": "09:00"},
        }
        past = await h.interact(ss.view_submission(form, values, user=MARIEKE))
        assert (await past.json())["errors"] == {"callback": "That time has already passed today"}
        values["callback"] = {"type": "timepicker", "selected_time": "15:00"}
        assert (await h.interact(ss.view_submission(form, values, user=MARIEKE))).status == 200
        await h.deliver()
        assert "call back before 15:00" in h.card_text(1)
