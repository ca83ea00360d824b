"""One queue across Slack and Teams: both configured, one database, one worker, real protocols."""

from __future__ import annotations

import json
from typing import Any

from handoff_bot import keys
from handoff_bot.platforms.teams.actions import Verb, action_data, dialog_data
from handoff_bot.services.commands import EnsurePerson
from handoff_bot.services.people import ensure_person
from handoff_bot.storage.chat_messages import ChatMessages
from tests.conftest import Database
from tests.e2e import slack_harness as sh
from tests.e2e import teams_flows as tf
from tests.e2e.cross_harness import SANNE, Both, both_app
from tests.e2e.slack_harness import MARIEKE as SLACK_MARIEKE
from tests.e2e.slack_harness import PIET as SLACK_PIET
from tests.e2e.teams_harness import MARIEKE as TEAMS_MARIEKE
from tests.fakes import slack_signing as ss


def _engine(database: Database) -> dict[str, Any]:
    if database.schema is None:
        return {}
    return {"connect_args": {"server_settings": {"search_path": database.schema}}}


async def _people(b: Both) -> dict[str, Any]:
    async with b.slack.client.app[keys.UOW]() as tx:
        return {p.display_name: p for p in await tx.people.all()}


def _block(view: dict[str, Any], block_id: str) -> dict[str, Any] | None:
    return next((blk for blk in view["blocks"] if blk.get("block_id") == block_id), None)


def _options(view: dict[str, Any]) -> dict[str, str]:
    """The Teams-only colleagues Slack's form offers: name → opaque person value."""
    block = _block(view, "colleague_other")
    assert block is not None, "no picker for colleagues on Teams"
    return {o["text"]["text"]: o["value"] for o in block["element"]["options"]}


async def test_the_slack_ask_form_offers_colleagues_who_are_only_on_teams(database: Database) -> None:
    async with both_app(database.url, engine_options=_engine(database)) as b:
        # Sanne has only ever used Teams; Joop is in the people list but on no chat platform at all.
        await tf.ok(await b.teams.send(tf.chat(b.teams, "my contacts", SANNE)))
        await ensure_person(EnsurePerson("Joop", "joop@example.org"), uow=b.slack.client.app[keys.UOW])
        contact = await b.slack.post_contact(subject="Oven broke down")
        cid = contact["id"]
        await b.deliver()

        assert (await b.slack.click("contact.ask", cid, SLACK_MARIEKE)).status == 200
        view = b.slack.last_view()
        assert _block(view, "colleague") is not None  # Slack's own user picker stays
        offered = _options(view)
        assert list(offered) == ["Sanne"]  # not Joop (unreachable), not the Slack users (Slack's own picker)

        both = await b.slack.interact(
            ss.view_submission(
                view,
                {
                    "colleague": ss.users_select(SLACK_PIET),
                    "colleague_other": {
                        "type": "static_select",
                        "selected_option": {"value": offered["Sanne"]},
                    },
                    "question": ss.plain_text_input("Is the oven under warranty?"),
                },
                user=SLACK_MARIEKE,
            )
        )
        assert (await both.json())["errors"] == {
            "colleague_other": "Pick one colleague: in Slack or on Teams, not both."
        }

        asked = await b.slack.interact(
            ss.view_submission(
                view,
                {
                    "colleague_other": {
                        "type": "static_select",
                        "selected_option": {"value": offered["Sanne"]},
                    },
                    "question": ss.plain_text_input("Is the oven under warranty?"),
                },
                user=SLACK_MARIEKE,
            )
        )
        assert asked.status == 200 and await asked.text() == ""
        async with b.slack.client.app[keys.UOW]() as tx:
            [question] = await tx.questions.for_contact(cid)
            timeline = await tx.timeline.for_contact(cid)
        people = await _people(b)
        assert question.colleague_id == people["Sanne"].id
        assert [e.data.get("via") for e in timeline if e.data.get("question_id") == question.id] == ["slack"]
        await b.deliver()
        # Slack sends no DM to someone who is not on Slack.
        assert not b.slack.slack.calls_to("conversations.open")


async def test_asking_someone_on_no_chat_platform_is_refused_with_a_clear_reason(database: Database) -> None:
    async with both_app(database.url, engine_options=_engine(database)) as b:
        joop = await ensure_person(EnsurePerson("Joop", "joop@example.org"), uow=b.slack.client.app[keys.UOW])
        await tf.ok(await b.teams.send(tf.chat(b.teams, "my contacts", SANNE)))
        contact = await b.slack.post_contact(subject="Oven broke down")
        await b.deliver()
        await b.slack.click("contact.ask", contact["id"], SLACK_MARIEKE)
        view = b.slack.last_view()

        forged = await b.slack.interact(
            ss.view_submission(
                view,
                {
                    "colleague_other": {
                        "type": "static_select",
                        "selected_option": {"value": f"v1:p:{joop.id}"},
                    },
                    "question": ss.plain_text_input("Anyone?"),
                },
                user=SLACK_MARIEKE,
            )
        )

        why = "Joop is on neither Slack nor Teams here, so they cannot be reached. Pick someone else."
        assert (await forged.json())["errors"] == {"colleague_other": why}
        async with b.slack.client.app[keys.UOW]() as tx:
            assert await tx.questions.for_contact(contact["id"]) == []


async def test_one_queue_claimed_in_teams_asked_from_slack_answered_in_teams(database: Database) -> None:
    async with both_app(database.url, engine_options=_engine(database)) as b:
        s, t = b.slack, b.teams
        await t.install()
        await tf.ok(await t.send(tf.chat(t, "my contacts", SANNE)))  # Sanne, only on Teams, is known
        cid = (await s.post_contact(subject="Oven broke down", body="It stopped heating."))["id"]
        await b.deliver()

        # Posted to both channels.
        assert "Oven broke down" in s.card_text(cid)
        ref = await t.card_ref(cid)
        assert "Oven broke down" in json.dumps((await t.card(cid)).card)

        # Claimed in Teams by Marieke, who is on both (one person, joined by email): the Slack card shows it.
        claim = action_data(Verb.CONTACT_CLAIM, cid)
        await tf.ok(await t.send(tf.execute(t, claim, TEAMS_MARIEKE, root=ref.message_id)))
        await b.deliver()
        # Slack has not met her yet, so the Slack card names her; Teams mentions her.
        assert "Claimed by Marieke" in s.card_text(cid)
        assert "Claimed by" in json.dumps((await t.card(cid)).card)
        assert s.thread_texts(cid)[-1] == "Marieke claimed this contact"

        # Asked from Slack to Sanne, who is only on Teams: she gets the question in a Teams 1:1 chat.
        await s.click("contact.ask", cid, SLACK_MARIEKE)
        view = s.last_view()
        sanne = _options(view)["Sanne"]
        values = {
            "colleague_other": {"type": "static_select", "selected_option": {"value": sanne}},
            "question": ss.plain_text_input("Is it still under warranty?"),
        }
        assert (await s.interact(ss.view_submission(view, values, user=SLACK_MARIEKE))).status == 200
        await b.deliver()
        [dm] = [
            m for m in t.connector.chat_with(SANNE[1]) if "Is it still under warranty?" in json.dumps(m.card)
        ]
        assert any(e.get("id") == "answer" for e in (dm.card or {})["body"])
        assert not s.slack.calls_to("conversations.open")  # no Slack DM for a Teams-only colleague

        async with s.client.app[keys.UOW]() as tx:
            [question] = await tx.questions.for_contact(cid)
        answer = action_data(Verb.QUESTION_ANSWER, question.id)
        await tf.ok(await t.send(tf.execute(t, answer, SANNE, answer="Yes, until March 2027.")))
        await b.deliver()

        # The answer is in the contact's thread on both platforms, and on both cards. Marieke used Slack
        # meanwhile: she is one person with both identities, so Slack now mentions her.
        people = await _people(b)
        assert people["Marieke"].identities == {"slack": SLACK_MARIEKE, "teams": TEAMS_MARIEKE[1]}
        assert s.thread_texts(cid)[-1] == "Sanne answered <@U0MARIEKE>: Yes, until March 2027."
        teams_line = (await t.thread_texts(cid))[-1]
        assert "Yes, until March 2027." in teams_line and "<at>Marieke</at>" in teams_line
        assert "Yes, until March 2027." in s.card_text(cid)
        assert "Yes, until March 2027." in json.dumps((await t.card(cid)).card)


async def test_from_teams_a_slack_only_colleague_is_asked_in_slack_and_a_colleague_on_both_once(
    sqlite_database: Database,
) -> None:
    async with both_app(sqlite_database.url) as b:
        s, t = b.slack, b.teams
        await t.install()
        # Piet is only on Slack (seen there); Marieke is on both.
        await s.send(*sh.command("mine", user=SLACK_PIET))
        await s.send(*sh.command("mine", user=SLACK_MARIEKE))
        await tf.ok(await t.send(tf.chat(t, "my contacts", TEAMS_MARIEKE)))
        cid = (await s.post_contact(subject="Invoice question"))["id"]
        await b.deliver()
        root = (await t.card_ref(cid)).message_id
        people = await _people(b)

        ask = dialog_data(Verb.CONTACT_ASK, cid)
        form = await tf.ok(await t.send(tf.task(t, "task/fetch", ask, SANNE, root=root)))
        known = next(e for e in form["task"]["value"]["card"]["content"]["body"] if e.get("id") == "known")
        offered = {c["title"]: c["value"] for c in known["choices"]}
        # Slack-only Piet is offered (without Teams presence); Marieke too; not Sanne herself.
        assert "Piet" in offered and any("Marieke" in title for title in offered)
        assert all("Sanne" not in title for title in offered)

        for who, question in (
            (offered["Piet"], "Paid already?"),
            (f"v1:p:{people['Marieke'].id}", "Who sent it?"),
        ):
            done = await tf.ok(
                await t.send(tf.task(t, "task/submit", ask, SANNE, root=root, known=who, question=question))
            )
            assert done["task"]["type"] == "message"
        await b.deliver()

        # Piet: a Slack DM. Marieke (on both, asked from Teams): a Teams 1:1 chat only.
        piet_dm = s.slack.messages_in(s.slack.dm_channel_of(SLACK_PIET))
        assert len(piet_dm) == 1 and "Paid already?" in str(piet_dm[0].blocks)
        assert s.slack.messages_in(s.slack.dm_channel_of(SLACK_MARIEKE)) == []
        marieke_chat = [
            m for m in t.connector.chat_with(TEAMS_MARIEKE[1]) if "Who sent it?" in json.dumps(m.card)
        ]
        assert len(marieke_chat) == 1
        assert people["Marieke"].identities == {"slack": SLACK_MARIEKE, "teams": TEAMS_MARIEKE[1]}


async def test_a_slack_transfer_to_a_teams_only_colleague_reaches_them_in_teams(
    sqlite_database: Database,
) -> None:
    async with both_app(sqlite_database.url) as b:
        s, t = b.slack, b.teams
        await t.install()
        await tf.ok(await t.send(tf.chat(t, "my contacts", SANNE)))
        cid = (await s.post_contact(subject="Quote for a new oven"))["id"]
        await b.deliver()
        await s.click("contact.claim", cid, SLACK_MARIEKE)
        await b.deliver()

        await s.click("contact.transfer", cid, SLACK_MARIEKE)
        view = s.last_view()
        values = {
            "colleague_other": {
                "type": "static_select",
                "selected_option": {"value": _options(view)["Sanne"]},
            },
            "note": ss.plain_text_input("She wants it before Christmas"),
        }
        assert (await s.interact(ss.view_submission(view, values, user=SLACK_MARIEKE))).status == 200
        await b.deliver()

        [note] = [m for m in t.connector.chat_with(SANNE[1]) if "before Christmas" in json.dumps(m.activity)]
        assert "Quote for a new oven" in json.dumps(note.activity)
        assert not s.slack.calls_to("conversations.open")
        assert "Sanne" in s.card_text(cid) and "Claimed by" in json.dumps((await t.card(cid)).card)


async def test_erasing_a_customer_edits_every_copy_on_each_platform_through_its_own_api(
    database: Database,
) -> None:
    """DELETE /api/customers/{id} with both platforms: Slack copies via Slack, Teams copies via Teams."""
    traces = ("Anna", "Jansen", "anna.jansen", "612345678", "Zwolle", "88812", "Bakkerij")
    async with both_app(database.url, engine_options=_engine(database)) as b:
        s, t = b.slack, b.teams
        await t.install()
        await s.send(*sh.command("mine", user=SLACK_PIET))  # Piet: only on Slack
        await tf.ok(await t.send(tf.chat(t, "my contacts", SANNE)))  # Sanne: only on Teams
        customer = {
            "name": "Anna Jansen",
            "email": "anna.jansen@example.org",
            "phone": "06-12345678",
            "company": "Bakkerij Jansen",
        }
        cid = (
            await s.post_contact(
                subject="Oven Zwolle", body="Please call about oven serial 88812.", customer=customer
            )
        )["id"]
        await b.deliver()
        root = (await t.card_ref(cid)).message_id
        await tf.ok(
            await t.send(tf.execute(t, action_data(Verb.CONTACT_CLAIM, cid), TEAMS_MARIEKE, root=root))
        )
        people = await _people(b)
        # From Teams: Sanne gets a Teams 1:1 chat, Piet a Slack DM, both with the customer's summary.
        ask = dialog_data(Verb.CONTACT_ASK, cid)
        for who, question in (
            (people["Sanne"], "Anna Jansen's warranty?"),
            (people["Piet"], "Paid, Zwolle?"),
        ):
            await tf.ok(
                await t.send(
                    tf.task(
                        t,
                        "task/submit",
                        ask,
                        TEAMS_MARIEKE,
                        root=root,
                        known=f"v1:p:{who.id}",
                        question=question,
                    )
                )
            )
        await b.deliver()
        async with s.client.app[keys.UOW]() as tx:
            sanne_q = next(
                q for q in await tx.questions.for_contact(cid) if q.colleague_id == people["Sanne"].id
            )
        answer = action_data(Verb.QUESTION_ANSWER, sanne_q.id)
        await tf.ok(await t.send(tf.execute(t, answer, SANNE, answer="Yes, Anna Jansen has two years left.")))
        await b.deliver()

        refs = await ChatMessages(s.client.app[keys.UOW].sessions).for_contact(cid)
        slack_refs = [r for r in refs if r.platform == "slack"]
        teams_refs = [r for r in refs if r.platform == "teams"]
        assert {r.role for r in slack_refs} >= {"card", "thread_line", "dm"}
        assert {r.role for r in teams_refs} >= {"card", "thread_line", "dm"}

        def slack_text() -> str:  # every message in every channel and DM, as it reads now
            return json.dumps(
                [[m.text, m.blocks] for c in s.slack.channels.values() for m in c.messages.values()],
                ensure_ascii=False,
            )

        def teams_text() -> str:
            return json.dumps([m.activity for ms in t.connector.messages.values() for m in ms])

        before = slack_text() + teams_text()
        assert [x for x in traces if x not in before] == []  # the customer really was in both
        slack_updates = len(s.slack.calls_to("chat.update"))
        teams_updates = len(t.connector.calls_of("update"))

        response = await s.client.delete("/api/customers/1", headers={"Authorization": f"Bearer {sh.TOKEN}"})
        assert response.status == 200
        await b.deliver()

        assert [x for x in traces if x in slack_text()] == []
        assert [x for x in traces if x in teams_text()] == []
        # Each platform edited exactly its own copies, every one of them.
        edited_in_slack = {(c["channel"], c["ts"]) for c in s.slack.calls_to("chat.update")[slack_updates:]}
        assert edited_in_slack == {(r.channel_id, r.message_id) for r in slack_refs}
        edited_in_teams = {
            (c.conversation_id, c.activity_id) for c in t.connector.calls_of("update")[teams_updates:]
        }
        assert edited_in_teams == {(r.channel_id, r.message_id) for r in teams_refs}
        # Slack never saw a Teams id (it would answer channel_not_found), and nothing dead-lettered.
        teams_ids = {r.channel_id for r in teams_refs}
        assert all(c["channel"] not in teams_ids for c in s.slack.calls_to("chat.update"))
        assert await s.client.app[keys.OUTBOX].entries(dead=True) == []
        card_ref = next(r for r in slack_refs if r.role == "card")
        card = s.slack.message(card_ref.channel_id, card_ref.message_id)
        assert "Personal data removed at the customer's request." in json.dumps(card.blocks)
        assert "Personal data removed at the customer's request." in json.dumps((await t.card(cid)).card)
