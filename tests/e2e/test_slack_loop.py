"""The Slack handoff loop end to end: contact in over the API → card → claim → ask → answer in the thread."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.e2e.slack_harness import CHANNEL, JOOP, MARIEKE, PIET, Harness, click, event, form, slack_app
from tests.fakes import slack_signing as ss


def db(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'handoff.db'}"


async def ask_and_answer(h: Harness, contact_id: int) -> None:
    response = await h.click("contact.ask", contact_id, MARIEKE)
    assert response.status == 200
    view = h.last_view()
    assert view["callback_id"] == "view.ask" and view["private_metadata"] == f"v1:c:{contact_id}"
    response = await h.interact(
        ss.view_submission(
            view,
            {
                "colleague": ss.users_select(PIET),
                "question": ss.plain_text_input("Is the oven still under warranty?"),
            },
            user=MARIEKE,
        )
    )
    assert response.status == 200 and await response.text() == ""
    await h.deliver()


async def test_contact_to_answer_in_the_customer_thread(tmp_path: Path) -> None:
    async with slack_app(db(tmp_path)) as h:
        contact = await h.post_contact(subject="Oven broke down", body="It stopped heating this morning.")
        cid = contact["id"]
        await h.deliver()
        card = h.card(cid)
        assert "Oven broke down" in h.card_text(cid) and "Claim" in h.card_text(cid)
        assert card.metadata == {"event_type": "handoff_contact_card", "event_payload": {"contact_id": cid}}

        response = await h.click("contact.claim", cid, MARIEKE)
        assert response.status == 200
        await h.deliver()
        assert "Claimed by <@U0MARIEKE>" in h.card_text(cid)
        assert h.thread_texts(cid) == ["<@U0MARIEKE> claimed this contact"]

        await ask_and_answer(h, cid)
        dm = h.slack.messages_in(h.slack.dm_channel_of(PIET))
        assert len(dm) == 1
        assert "Is the oven still under warranty?" in str(dm[0].blocks)
        assert "question.answer" in str(dm[0].blocks)
        assert h.thread_texts(cid)[-1] == "<@U0MARIEKE> asked <@U0PIET>: Is the oven still under warranty?"

        # Piet answers with a plain reply in the DM's thread.
        reply = {
            "type": "message",
            "channel": dm[0].channel,
            "channel_type": "im",
            "user": PIET,
            "text": "Yes, until March 2027.",
            "ts": "1700000000.000100",
            "thread_ts": dm[0].ts,
            "event_ts": "1700000000.000100",
        }
        body, kind = event(reply, event_id="EvANSWER1")
        assert (await h.send(body, kind)).status == 200
        await h.deliver()
        assert h.thread_texts(cid)[-1] == "<@U0PIET> answered <@U0MARIEKE>: Yes, until March 2027."
        assert "Yes, until March 2027." in h.card_text(cid)
        dm_now = h.slack.messages_in(dm[0].channel)[0]
        assert "question.answer" not in str(dm_now.blocks) and "Answered by <@U0PIET>" in str(dm_now.blocks)

        # Slack retries the same event: no second effect, nobody is told anything.
        retried = await h.send(
            body, kind, headers={"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
        )
        assert retried.status == 200
        await h.deliver()
        assert h.thread_texts(cid).count("<@U0PIET> answered <@U0MARIEKE>: Yes, until March 2027.") == 1
        assert h.ephemerals_for(PIET) == []

        response = await h.click("contact.resolve", cid, MARIEKE)
        view = h.last_view()
        assert view["callback_id"] == "view.resolve"
        await h.interact(
            ss.view_submission(
                view, {"outcome": ss.plain_text_input("Technician booked for Friday")}, user=MARIEKE
            )
        )
        await h.deliver()
        assert "Resolved by <@U0MARIEKE>: Technician booked for Friday" in h.card_text(cid)
        assert "Reopen" in h.card_text(cid) and "contact.claim" not in h.card_text(cid)


async def test_answer_through_the_modal_and_a_second_answer_is_refused(tmp_path: Path) -> None:
    async with slack_app(db(tmp_path)) as h:
        cid = (await h.post_contact())["id"]
        await h.deliver()
        await ask_and_answer(h, cid)
        dm = h.slack.messages_in(h.slack.dm_channel_of(PIET))[0]
        press = click("question.answer", "v1:q:1", user=PIET, channel=dm.channel, message_ts=dm.ts)
        assert (await h.interact(press)).status == 200
        view = h.last_view()
        assert view["callback_id"] == "view.answer"
        await h.interact(
            ss.view_submission(view, {"answer": ss.plain_text_input("Ask Joop, he sold it.")}, user=PIET)
        )
        await h.deliver()
        assert h.thread_texts(cid)[-1] == "<@U0PIET> answered <@U0MARIEKE>: Ask Joop, he sold it."
        late = await h.interact(ss.view_submission(view, {"answer": ss.plain_text_input("again")}, user=PIET))
        errors = (await late.json())["errors"]
        assert errors == {"answer": "This question was already answered by Piet"}


async def test_concurrent_claim_clicks_one_wins_others_are_told_who(tmp_path: Path) -> None:
    async with slack_app(db(tmp_path)) as h:
        cid = (await h.post_contact())["id"]
        await h.deliver()
        users = [MARIEKE, PIET, JOOP]
        responses = await asyncio.gather(*(h.click("contact.claim", cid, u) for u in users))
        assert all(r.status == 200 for r in responses)
        await h.deliver()
        told = {u: h.ephemerals_for(u) for u in users}
        losers = [u for u in users if told[u]]
        assert len(losers) == 2
        winner = next(u for u in users if u not in losers)
        names = {MARIEKE: "Marieke", PIET: "Piet", JOOP: "Joop"}
        assert all(told[u] == [f"Already claimed by {names[winner]}"] for u in losers)
        assert f"Claimed by <@{winner}>" in h.card_text(cid)
        assert h.thread_texts(cid) == [f"<@{winner}> claimed this contact"]


async def test_transfer_hands_the_contact_over_with_a_note_in_a_dm(tmp_path: Path) -> None:
    async with slack_app(db(tmp_path)) as h:
        cid = (await h.post_contact(subject="Invoice question"))["id"]
        await h.deliver()
        await h.click("contact.claim", cid, MARIEKE)
        await h.click("contact.transfer", cid, MARIEKE)
        view = h.last_view()
        assert view["callback_id"] == "view.transfer"
        await h.interact(
            ss.view_submission(
                view,
                {
                    "colleague": ss.users_select(JOOP),
                    "note": ss.plain_text_input("She already paid; check the bank statement"),
                },
                user=MARIEKE,
            )
        )
        await h.deliver()
        assert "Claimed by <@U0JOOP>" in h.card_text(cid)
        assert h.thread_texts(cid)[-1] == (
            "<@U0MARIEKE> transferred this contact to <@U0JOOP>: She already paid; check the bank statement"
        )
        dm = h.slack.messages_in(h.slack.dm_channel_of(JOOP))
        assert (
            len(dm) == 1
            and "check the bank statement" in dm[0].text
            and "Invoice question" in str(dm[0].blocks)
        )
        # Only the claimant may transfer or release; others are told who has it.
        refused = await h.click("contact.release", cid, MARIEKE)
        # Slack's answer does not wait for the note: it comes through the outbox, ahead of other rows.
        assert refused.status == 200 and h.ephemerals_for(MARIEKE) == []
        await h.deliver()
        assert h.ephemerals_for(MARIEKE) == ["Only Joop, who has this contact, can do that"]


async def test_requests_with_a_bad_or_stale_signature_get_401_and_change_nothing(tmp_path: Path) -> None:
    async with slack_app(db(tmp_path)) as h:
        cid = (await h.post_contact())["id"]
        await h.deliver()
        body, kind = form(
            click("contact.claim", f"v1:c:{cid}", user=MARIEKE, channel=CHANNEL, message_ts=h.card(cid).ts)
        )
        assert (await h.send(body, kind, secret="not-the-secret")).status == 401
        assert (await h.send(body, kind, timestamp=1_500_000_000)).status == 401
        unsigned = await h.client.post("/slack/events", data=body, headers={"Content-Type": kind})
        assert unsigned.status == 401
        await h.deliver()
        assert "Claimed by" not in h.card_text(cid) and h.thread_texts(cid) == []


async def test_ask_inline_with_a_mention_in_the_contact_thread(tmp_path: Path) -> None:
    async with slack_app(db(tmp_path)) as h:
        cid = (await h.post_contact())["id"]
        await h.deliver()
        card = h.card(cid)
        mention = {
            "type": "app_mention",
            "user": MARIEKE,
            "channel": CHANNEL,
            "ts": "1700000001.000200",
            "thread_ts": card.ts,
            "event_ts": "1700000001.000200",
            "text": "<@U0HANDOFFBOT> ask <@U0PIET> do we still stock the 30 cm tins?",
        }
        body, kind = event(mention)
        assert (await h.send(body, kind)).status == 200
        await h.deliver()
        assert h.thread_texts(cid)[-1] == "<@U0MARIEKE> asked <@U0PIET>: do we still stock the 30 cm tins?"
        assert len(h.slack.messages_in(h.slack.dm_channel_of(PIET))) == 1
        # Outside a contact thread the bot explains instead of guessing.
        stray = {**mention, "thread_ts": None, "ts": "1700000002.000300"}
        body, kind = event(stray)
        await h.send(body, kind)
        await h.deliver()
        assert h.ephemerals_for(MARIEKE)[-1].startswith("Ask from inside a contact's thread")


async def test_relationship_owner_is_mentioned_in_the_thread_of_a_returning_customer(tmp_path: Path) -> None:
    async with slack_app(db(tmp_path)) as h:
        first = (await h.post_contact())["id"]
        await h.deliver()
        await h.click("contact.resolve", first, PIET)
        await h.interact(
            ss.view_submission(h.last_view(), {"outcome": ss.plain_text_input("Sent a new oven")}, user=PIET)
        )
        second = (await h.post_contact(customer={"name": "A. Jansen", "phone": "+31 6 1234 5678"}))["id"]
        await h.deliver()
        assert (
            h.thread_texts(second)[0] == "<@U0PIET>, your customer Anna Jansen (Bakkerij Jansen) contacted us"
        )
        card = h.card_text(second)
        assert "1 earlier contact" in card and "by Piet (resolved)" in card
        assert "Usual contact person: <@U0PIET>" in card
