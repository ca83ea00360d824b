"""Slack failing: rate limits, outages, permanent errors and a crash between posting and recording."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError

from handoff_bot import keys
from handoff_bot.clock import ManualClock
from handoff_bot.outbox.worker import Handlers, OutboxWorker
from handoff_bot.platforms.slack.delivery import SlackDelivery
from handoff_bot.platforms.slack.deps import SlackDeps
from handoff_bot.services.ports import Effect, OutboxMessage
from handoff_bot.storage.outbox import Completion, OutboxStore
from tests.e2e.slack_harness import CHANNEL, MARIEKE, Harness, command, event, slack_app
from tests.fakes import slack_signing as ss


def db(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'handoff.db'}"


def manual_worker(h: Harness, handlers: Handlers | None = None) -> tuple[OutboxWorker, ManualClock]:
    """A worker whose clock we move, so waiting for a retry costs no test time."""
    # A little ahead of the app's real clock, so rows the app writes during the test are due at once.
    clock = ManualClock(datetime.now(UTC) + timedelta(seconds=5))
    app = h.client.app
    store = OutboxStore(app[keys.OUTBOX].sessions, clock)
    return OutboxWorker(store, handlers or app[keys.HANDLERS], clock), clock


async def test_rate_limited_posts_wait_for_retry_after_and_are_posted_once(tmp_path: Path) -> None:
    async with slack_app(db(tmp_path)) as h:
        worker, clock = manual_worker(h)
        h.slack.fail_next("chat.postMessage", times=3, status=429, retry_after=30)
        cid = (await h.post_contact())["id"]
        for _ in range(3):
            await worker.drain()
            assert h.slack.messages_in(CHANNEL) == []
            pending = await h.client.app[keys.OUTBOX].entries(dead=False)
            card_row = next(e for e in pending if e.kind == "card.post")
            assert card_row.attempts == 0  # waiting our turn is not a failed attempt
            assert "rate limited" in (card_row.last_error or "")
            assert (card_row.due_at - clock.now()).total_seconds() >= 29
            clock.advance(seconds=31)
            _reset_pause(h)
        await worker.drain()
        assert len(h.slack.messages_in(CHANNEL)) == 1 and h.card(cid)


async def chat_backlog(h: Harness) -> list[str]:
    """Slack deliveries not yet done (reminder timers wait for office time and are not counted)."""
    return [e.kind for e in await h.client.app[keys.OUTBOX].entries(dead=False) if e.platform == "slack"]


def _reset_pause(h: Harness) -> None:
    """The client pauses the lane in real time after a 429; the manual clock already moved past it."""
    delivery = h.client.app[keys.HANDLERS]._platforms["slack"]
    assert isinstance(delivery, SlackDelivery)
    delivery.client._paused_until.clear()


async def test_outage_is_retried_with_backoff_and_nothing_is_lost(tmp_path: Path) -> None:
    async with slack_app(db(tmp_path)) as h:
        worker, clock = manual_worker(h)
        h.slack.fail_next("chat.postMessage", times=4, status=503)
        ids = [(await h.post_contact(external_id=f"crm-{i}"))["id"] for i in range(3)]
        for _ in range(6):
            await worker.drain()
            clock.advance(minutes=10)
        await worker.drain()
        posted = [
            (m.metadata or {}).get("event_payload", {}).get("contact_id")
            for m in h.slack.messages_in(CHANNEL)
        ]
        assert sorted(posted) == ids
        assert await chat_backlog(h) == []


async def test_permanent_errors_are_dead_lettered_with_what_to_fix(tmp_path: Path) -> None:
    async with slack_app(db(tmp_path)) as h:
        h.slack.fail_next("chat.postMessage", times=1, error="not_in_channel")
        await h.post_contact()
        await h.deliver()
        dead = await h.client.app[keys.OUTBOX].entries(dead=True)
        assert [e.kind for e in dead] == ["card.post"]
        assert dead[0].last_error == (
            "slack chat.postMessage failed with not_in_channel: "
            "invite the bot to the channel (/invite @Handoff)"
        )
        assert dead[0].attempts == 1
        # After the fix (invite the bot) an operator retries it and it arrives.
        assert await h.client.app[keys.OUTBOX].requeue(dead[0].id)
        await h.deliver()
        assert len(h.slack.messages_in(CHANNEL)) == 1


async def test_a_private_note_slack_refuses_is_logged_not_dead_lettered(tmp_path: Path) -> None:
    """Someone who clicked and then left the channel cannot be told; an operator can do nothing
    about it either, so the note is dropped with a log line instead of waiting in the dead letters."""
    async with slack_app(db(tmp_path)) as h:
        cid = (await h.post_contact())["id"]
        await h.deliver()
        await h.click("contact.release", cid, MARIEKE)  # not claimed by her: refused, with a note
        h.slack.fail_next("chat.postEphemeral", times=1, error="user_not_in_channel")
        await h.deliver()
        waiting = await h.client.app[keys.OUTBOX].entries(dead=False)
        assert "notice" not in {e.kind for e in waiting}  # neither pending nor dead (timers wait)
        assert h.ephemerals_for(MARIEKE) == []
        # A rate limit is different: the note is retried, and arrives.
        await h.click("contact.release", cid, MARIEKE)
        h.slack.fail_next("chat.postEphemeral", times=1, status=429, retry_after=1)
        worker, clock = manual_worker(h)
        await worker.drain()
        assert h.ephemerals_for(MARIEKE) == []
        clock.advance(seconds=3)
        await worker.drain()
        assert len(h.ephemerals_for(MARIEKE)) == 1


async def test_a_note_is_sent_directly_when_the_outbox_cannot_take_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Notes go through the outbox; when the database refuses the note (often the very trouble being
    reported), the person is told directly rather than left without an answer."""
    async with slack_app(db(tmp_path)) as h:
        cid = (await h.post_contact())["id"]
        await h.deliver()

        async def refuse(_self: SlackDeps, _effect: Effect) -> None:
            raise OperationalError("INSERT INTO outbox", {}, sqlite3.OperationalError("disk I/O error"))

        monkeypatch.setattr(SlackDeps, "_enqueue", refuse)
        assert (await h.click("contact.release", cid, MARIEKE)).status == 200
        assert h.ephemerals_for(MARIEKE) == ["Nobody has claimed this contact yet; claim it first"]


async def test_a_crash_after_posting_does_not_post_the_card_or_thread_line_twice(tmp_path: Path) -> None:
    async with slack_app(db(tmp_path)) as h:
        real = h.client.app[keys.HANDLERS]._platforms["slack"]
        crashed: set[str] = set()

        async def crash_after_posting(message: OutboxMessage) -> Completion | None:
            completion: Completion | None = await real(message)
            if message.kind not in crashed and message.kind in ("card.post", "thread.note"):
                crashed.add(message.kind)
                raise ConnectionResetError("process killed before the commit")  # the post is out, unrecorded
            return completion

        handlers = Handlers()
        handlers.add_platform("slack", crash_after_posting)
        worker, clock = manual_worker(h, handlers)
        cid = (await h.post_contact())["id"]
        await worker.drain()
        clock.advance(minutes=5)
        await worker.drain()
        assert len(h.slack.messages_in(CHANNEL)) == 1
        await h.click("contact.claim", cid, MARIEKE)
        await worker.drain()
        clock.advance(minutes=5)
        await worker.drain()
        assert h.thread_texts(cid) == ["<@U0MARIEKE> claimed this contact"]
        assert "Claimed by <@U0MARIEKE>" in h.card_text(cid)  # the recovered reference is the one updated
        assert h.slack.calls_to("conversations.history") and h.slack.calls_to("conversations.replies")


async def test_the_search_after_a_crash_reaches_past_a_busy_channels_newest_page(tmp_path: Path) -> None:
    """Seen in the kill -9 test: after the crash the channel got more than 100 new messages before
    the lease ran out, the search read only the newest 100, and the card was posted twice."""
    async with slack_app(db(tmp_path)) as h:
        real = h.client.app[keys.HANDLERS]._platforms["slack"]
        crashed: list[int] = []

        async def crash_once_after_posting(message: OutboxMessage) -> Completion | None:
            completion: Completion | None = await real(message)
            if message.kind == "card.post" and not crashed:
                crashed.append(message.id)
                raise ConnectionResetError("process killed before the commit")
            return completion

        handlers = Handlers()
        handlers.add_platform("slack", crash_once_after_posting)
        worker, clock = manual_worker(h, handlers)
        cid = (await h.post_contact())["id"]
        await worker.drain()
        for n in range(450):  # three pages of the search, all newer than the lost card
            h.slack.post_as(MARIEKE, CHANNEL, f"chatter {n}")
        clock.advance(minutes=5)
        await worker.drain()
        cards = [m for m in h.slack.messages_in(CHANNEL) if m.metadata]
        assert len(cards) == 1 and (cards[0].metadata or {})["event_payload"]["contact_id"] == cid
        pages = h.slack.calls_to("conversations.history")
        assert len(pages) == 3 and all(p.get("oldest") for p in pages)


async def test_huge_and_hostile_customer_text_is_posted_safely(tmp_path: Path) -> None:
    async with slack_app(db(tmp_path)) as h:
        hostile = (
            "<!channel> <!here> <@U0MARIEKE> *urgent* " + "Ω€🙂\u202e" * 1_800
        )  # 7,200 characters: more than one Slack section holds
        cid = (
            await h.post_contact(
                subject="<!everyone> call me",
                body=hostile,
                customer={"name": "<@U0PIET> & co", "email": "x@example.org"},
            )
        )["id"]
        await h.deliver()
        card = h.card(cid)
        text = json.dumps([card.text, card.blocks], ensure_ascii=False)
        assert "<!channel>" not in _mrkdwn(card.blocks) and "<!everyone>" not in _mrkdwn(card.blocks)
        assert "<@U0PIET>" not in _mrkdwn(card.blocks)
        assert len(text) < 13_000
        assert await chat_backlog(h) == []
        # The same text in a click's ephemeral or thread never appears as markup either.
        await h.click("contact.claim", cid, MARIEKE)
        await h.deliver()
        assert all("<!" not in line for line in h.thread_texts(cid))


def _mrkdwn(blocks: list[dict[str, object]]) -> str:
    found: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if node.get("type") == "mrkdwn":
                found.append(str(node.get("text")))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(blocks)
    return "\n".join(found)


async def test_slash_commands_home_tab_and_the_log_form(tmp_path: Path) -> None:
    async with slack_app(db(tmp_path)) as h:
        await h.post_contact(subject="Waiting one")
        response = await h.send(*command("open", user=MARIEKE))
        listing = await response.json()
        assert listing["response_type"] == "ephemeral" and "Waiting one" in json.dumps(listing["blocks"])

        assert (await h.send(*command("", user=MARIEKE))).status == 200
        form = h.last_view()
        assert form["callback_id"] == "view.log_contact"
        bad = await h.interact(
            ss.view_submission(form, {"phone": ss.plain_text_input("call me maybe")}, user=MARIEKE)
        )
        assert (await bad.json())["errors"] == {"phone": "That phone number doesn't look right"}
        values = {
            "channel": {"type": "static_select", "selected_option": {"value": "phone"}},
            "name": ss.plain_text_input("Kees de Boer"),
            "phone": ss.plain_text_input("010-1234567"),
            "subject": ss.plain_text_input("Wants a quote"),
            "mine": {"type": "checkboxes", "selected_options": [{"value": "mine"}]},
        }
        ok = await h.interact(ss.view_submission(form, values, user=MARIEKE))
        assert ok.status == 200 and await ok.text() == ""
        await h.deliver()
        mine = await (await h.send(*command("mine", user=MARIEKE))).json()
        assert "Kees de Boer" in json.dumps(mine["blocks"]) and "Wants a quote" in json.dumps(mine["blocks"])

        body, kind = event(
            {
                "type": "app_home_opened",
                "user": MARIEKE,
                "channel": "DHOME",
                "tab": "home",
                "event_ts": "1700000003.000100",
            }
        )
        assert (await h.send(body, kind)).status == 200
        home = h.slack.calls_to("views.publish")[-1]
        assert home["user_id"] == MARIEKE and "Kees de Boer" in json.dumps(home["view"])
