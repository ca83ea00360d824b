"""The Teams handoff loop through HTTP with real Bot Framework tokens against the fake Bot Connector."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

import aiohttp

from handoff_bot import keys
from handoff_bot.clock import ManualClock
from handoff_bot.domain.contacts import ContactStatus
from handoff_bot.platforms.teams.actions import Verb, action_data, dialog_data
from handoff_bot.platforms.teams.graph import GraphClient
from handoff_bot.platforms.teams.tokens import AppCredentials, TokenProvider
from handoff_bot.services.commands import EnsurePerson
from handoff_bot.services.people import ensure_person
from tests.conftest import Database
from tests.e2e import teams_flows as tf
from tests.e2e.teams_harness import CHANNEL, MARIEKE, PIET, TeamsHarness, teams_app
from tests.fakes.entra import CLIENT_ID, CLIENT_SECRET, GRAPH_SCOPE, FakeEntra
from tests.fakes.entra import TENANT as ENTRA_TENANT
from tests.fakes.graph import FakeGraph

CLICKERS = [
    (f"29:1clicker{i}", f"00000000-0000-4000-8000-00000000000{i}", f"Clicker {i}", f"clicker{i}@example.org")
    for i in range(6)
]
ROOT = "1759881511856"


async def contact(h: TeamsHarness, **body: Any) -> int:
    created = await h.post_contact(subject="Oven broke down", body="It stopped heating this morning.", **body)
    return int(created["id"])


async def stored(h: TeamsHarness, contact_id: int) -> Any:
    async with h.client.app[keys.UOW]() as tx:
        return await tx.contacts.get(contact_id)


def card_texts(card: dict[str, Any] | None) -> str:
    return json.dumps(card, ensure_ascii=False)


def body_of(card: dict[str, Any] | None) -> list[dict[str, Any]]:
    assert card is not None, "not a card"
    body: list[dict[str, Any]] = card["body"]
    return body


async def test_of_six_people_clicking_claim_at_once_one_wins_and_the_others_are_told_who(
    database: Database,
) -> None:
    async with teams_app(database.url, engine_options=_engine(database)) as h:
        for user in CLICKERS:
            h.connector.add_user(*user)
        await h.install()
        cid = await contact(h)
        claim = action_data(Verb.CONTACT_CLAIM, cid)

        responses = await asyncio.gather(*(h.send(tf.execute(h, claim, u, root=ROOT)) for u in CLICKERS))

        bodies = [await tf.ok(r) for r in responses]
        cards = [b for b in bodies if b["type"] == "application/vnd.microsoft.card.adaptive"]
        told = [b["value"] for b in bodies if b["type"] == "application/vnd.microsoft.activity.message"]
        assert len(cards) == 1 and len(told) == 5, bodies
        contact_now = await stored(h, cid)
        winner = next(u for u in CLICKERS if u[2] in card_texts(cards[0]["value"]))
        assert contact_now.status is ContactStatus.CLAIMED
        async with h.client.app[keys.UOW]() as tx:
            assert (await tx.people.get(contact_now.claimed_by)).display_name == winner[2]
        assert told == [f"Already claimed by {winner[2]}"] * 5
        # The clicker's card shows the claim and offers what the claimant can do next.
        assert "Release" in card_texts(cards[0]["value"]) and "contact.claim" not in card_texts(
            cards[0]["value"]
        )


async def test_release_and_reopen_by_clicks_and_a_stale_button_is_explained(database: Database) -> None:
    async with teams_app(database.url, engine_options=_engine(database)) as h:
        await h.install()
        cid = await contact(h)
        await tf.ok(await h.send(tf.execute(h, action_data(Verb.CONTACT_CLAIM, cid), MARIEKE, root=ROOT)))

        refused = await tf.ok(
            await h.send(tf.execute(h, action_data(Verb.CONTACT_RELEASE, cid), PIET, root=ROOT))
        )
        released = await tf.ok(
            await h.send(tf.execute(h, action_data(Verb.CONTACT_RELEASE, cid), MARIEKE, root=ROOT))
        )
        garbage = await tf.ok(
            await h.send(tf.execute(h, {"verb": "contact.claim", "ref": "v1:c:0"}, PIET, root=ROOT))
        )

        assert (
            refused["value"] == "Only Marieke can do that: they claimed it" or "Marieke" in refused["value"]
        )
        assert released["type"] == "application/vnd.microsoft.card.adaptive"
        assert (await stored(h, cid)).status is ContactStatus.OPEN
        assert garbage["type"] == "application/vnd.microsoft.activity.message"


async def test_ask_a_colleague_in_a_dialog_with_the_people_we_know(database: Database) -> None:
    async with teams_app(database.url, engine_options=_engine(database)) as h:
        await h.install()
        cid = await contact(h)
        # Piet is known (he clicked before); the dialog offers him, and not Marieke herself.
        await tf.ok(await h.send(tf.execute(h, action_data(Verb.CONTACT_CLAIM, cid), PIET, root=ROOT)))
        await tf.ok(await h.send(tf.execute(h, action_data(Verb.CONTACT_RELEASE, cid), PIET, root=ROOT)))
        ask = dialog_data(Verb.CONTACT_ASK, cid)

        fetched = await tf.ok(await h.send(tf.task(h, "task/fetch", ask, MARIEKE, root=ROOT)))
        form = fetched["task"]["value"]["card"]["content"]
        known = next(e for e in form["body"] if e.get("id") == "known")
        piet_value = next(c["value"] for c in known["choices"] if "Piet" in c["title"])
        assert all("Marieke" not in c["title"] for c in known["choices"])

        empty = await tf.ok(
            await h.send(tf.task(h, "task/submit", ask, MARIEKE, root=ROOT, known=piet_value))
        )
        done = await tf.ok(
            await h.send(
                tf.task(
                    h,
                    "task/submit",
                    ask,
                    MARIEKE,
                    root=ROOT,
                    known=piet_value,
                    question="Still under warranty?",
                )
            )
        )

        assert empty["task"]["type"] == "continue"  # the form again: the question is missing
        assert done == {
            "task": {
                "type": "message",
                "value": "Asked Piet. The answer will appear in the contact's thread.",
            }
        }
        async with h.client.app[keys.UOW]() as tx:
            [question] = await tx.questions.for_contact(cid)
            piet = await tx.people.get(question.colleague_id)
        assert (question.text, piet.display_name) == ("Still under warranty?", "Piet")


async def test_the_ask_dialog_opens_without_presence_when_graph_is_slow(sqlite_database: Database) -> None:
    class SlowGraph:
        async def presences(self, aad_object_ids: Any) -> dict[str, Any]:
            await asyncio.sleep(120)  # Graph hangs
            return {}

    async with teams_app(sqlite_database.url) as h:
        await h.install()
        cid = await contact(h)
        await tf.ok(await h.send(tf.execute(h, action_data(Verb.CONTACT_CLAIM, cid), PIET, root=ROOT)))
        h.client.app[keys.TEAMS].deps.presence = SlowGraph()

        fetched = await asyncio.wait_for(
            h.send(tf.task(h, "task/fetch", dialog_data(Verb.CONTACT_ASK, cid), MARIEKE, root=ROOT)), 60
        )

        form = (await tf.ok(fetched))["task"]["value"]["card"]["content"]
        known = next(e for e in form["body"] if e.get("id") == "known")
        assert [c["title"] for c in known["choices"] if "Piet" in c["title"]]  # offered, without presence


def _engine(database: Database) -> dict[str, Any]:
    if database.schema is None:
        return {}
    return {"connect_args": {"server_settings": {"search_path": database.schema}}}


async def test_transfer_and_resolve_in_dialogs(database: Database) -> None:
    async with teams_app(database.url, engine_options=_engine(database)) as h:
        await h.install()
        cid = await contact(h)
        await tf.ok(await h.send(tf.chat(h, "my contacts", PIET)))  # Piet is known
        await tf.ok(await h.send(tf.execute(h, action_data(Verb.CONTACT_CLAIM, cid), MARIEKE, root=ROOT)))
        transfer = dialog_data(Verb.CONTACT_TRANSFER, cid)
        form = (await tf.ok(await h.send(tf.task(h, "task/fetch", transfer, MARIEKE, root=ROOT))))["task"]
        known = next(e for e in form["value"]["card"]["content"]["body"] if e.get("id") == "known")
        piet = next(c["value"] for c in known["choices"] if "Piet" in c["title"])

        nobody = await tf.ok(await h.send(tf.task(h, "task/submit", transfer, MARIEKE, root=ROOT, note="x")))
        moved = await tf.ok(
            await h.send(
                tf.task(h, "task/submit", transfer, MARIEKE, root=ROOT, known=piet, note="Call her at 3")
            )
        )
        resolve = dialog_data(Verb.CONTACT_RESOLVE, cid)
        not_hers = await tf.ok(
            await h.send(tf.task(h, "task/submit", resolve, MARIEKE, root=ROOT, outcome="done"))
        )
        resolved = await tf.ok(
            await h.send(tf.task(h, "task/submit", resolve, PIET, root=ROOT, outcome="Refund"))
        )

        # The form again, with the reason under the picker.
        assert "Choose a colleague from the list" in json.dumps(nobody)
        assert moved == {"task": {"type": "message", "value": "Transferred to Piet."}}
        assert not_hers["task"]["value"] == "Only Piet, who has this contact, can do that"
        assert resolved == {"task": {"type": "message", "value": f"Contact #{cid} is resolved."}}
        now = await stored(h, cid)
        assert (now.status, now.outcome) == (ContactStatus.RESOLVED, "Refund")


async def test_log_a_contact_from_the_bot_command(database: Database) -> None:
    async with teams_app(database.url, engine_options=_engine(database)) as h:
        await h.install()
        await tf.ok(await h.send(tf.chat(h, "log a contact", MARIEKE)))
        [offer] = tf.replies_to(h, MARIEKE)
        button = offer["attachments"][0]["content"]["actions"][0]
        assert button["data"]["msteams"] == {"type": "task/fetch"}

        form = await tf.ok(await h.send(tf.task(h, "task/fetch", button["data"], MARIEKE, root=ROOT)))
        assert form["task"]["value"]["card"]["content"]["body"][0]["id"] == "channel"
        nobody = await tf.ok(
            await h.send(tf.task(h, "task/submit", button["data"], MARIEKE, root=ROOT, subject="?"))
        )
        bad_phone = await tf.ok(
            await h.send(
                tf.task(h, "task/submit", button["data"], MARIEKE, root=ROOT, name="Ed", phone="abc")
            )
        )
        logged = await tf.ok(
            await h.send(
                tf.task(
                    h,
                    "task/submit",
                    button["data"],
                    MARIEKE,
                    root=ROOT,
                    channel="walk_in",
                    name="Ed Visser",
                    subject="Wants a quote",
                    mine="mine",
                )
            )
        )

        assert nobody["task"]["type"] == "continue" and bad_phone["task"]["type"] == "continue"
        assert logged["task"]["type"] == "message"
        cid = int(logged["task"]["value"].split("#")[1].split(" ")[0])
        now = await stored(h, cid)
        assert (now.channel.value, now.subject, now.source, now.status) == (
            "walk_in",
            "Wants a quote",
            "teams",
            ContactStatus.CLAIMED,
        )


async def test_my_and_open_contacts_and_a_plain_answer_in_the_one_to_one_chat(database: Database) -> None:
    async with teams_app(database.url, engine_options=_engine(database)) as h:
        await h.install()
        cid = await contact(h)
        await tf.ok(await h.send(tf.chat(h, "my contacts", PIET)))
        nothing_open = await tf.ok(await h.send(tf.chat(h, "Yes, until March 2027.", PIET)))
        assert nothing_open is None
        assert "no open question" in tf.replies_to(h, PIET)[-1]["text"]

        ask = dialog_data(Verb.CONTACT_ASK, cid)
        form = (await tf.ok(await h.send(tf.task(h, "task/fetch", ask, MARIEKE, root=ROOT))))["task"]
        known = next(e for e in form["value"]["card"]["content"]["body"] if e.get("id") == "known")
        piet = next(c["value"] for c in known["choices"] if "Piet" in c["title"])
        await tf.ok(
            await h.send(tf.task(h, "task/submit", ask, MARIEKE, root=ROOT, known=piet, question="Warranty?"))
        )

        await tf.ok(await h.send(tf.chat(h, "open contacts", PIET)))
        desk = json.dumps(tf.replies_to(h, PIET)[-1]["attachments"][0]["content"], ensure_ascii=False)
        assert f"#{cid}" in desk and "Anna Jansen" in desk

        await tf.ok(await h.send(tf.chat(h, "Yes, until March 2027.", PIET)))

        assert (
            tf.replies_to(h, PIET)[-1]["text"] == f"Thanks, your answer is in the thread of contact #{cid}."
        )
        async with h.client.app[keys.UOW]() as tx:
            [question] = await tx.questions.for_contact(cid)
        assert (question.answer, question.status.value) == ("Yes, until March 2027.", "answered")


async def test_use_this_channel_needs_a_team_owner(database: Database) -> None:
    async with teams_app(database.url, engine_options=_engine(database)) as h:
        await h.install()
        configured = await h.send(h.channel_message("use this channel"))
        assert configured.status in (200, 201)
        assert "TEAMS_CONTACTS_CHANNEL" in tf.replies_in_thread(h, ROOT)[-1]["text"]
    async with teams_app(database.url, engine_options=_engine(database), teams_contacts_channel=None) as h:
        await h.install()
        await h.send(h.channel_message("use this channel"))
        # No Graph permission to read team owners: nobody may pick the channel, and the reason is given.
        assert "TeamMember.Read.All" in tf.replies_in_thread(h, ROOT)[-1]["text"]
        assert await h.client.app[keys.TEAMS].deps.contacts_channel() is None


GROUP = "2b4d6f80-1a3c-4e5f-9a7b-8c9d0e1f2a3b"  # the team's Microsoft 365 group (Graph's team id)
JAN_AAD = "9e8d7c6b-5a49-4382-9170-6f5e4d3c2b1a"  # in the organisation, not in the team


async def test_a_team_owner_chooses_the_contacts_channel_and_the_dialog_shows_presence(
    sqlite_database: Database,
) -> None:
    """Ownership and presence are read from (fake) Graph with a token really acquired by msal over TLS."""
    async with (
        FakeEntra() as entra,
        FakeGraph(lambda token: entra.valid(token, GRAPH_SCOPE)) as graph,
        aiohttp.ClientSession() as session,
        teams_app(sqlite_database.url, teams_contacts_channel=None) as h,
    ):
        graph.add_user(MARIEKE[1], "Marieke", MARIEKE[3], "Available")
        graph.add_user(PIET[1], "Piet", PIET[3], "DoNotDisturb")
        graph.teams[GROUP] = {MARIEKE[1]: ["owner"], PIET[1]: []}
        tokens = TokenProvider.for_app(
            AppCredentials(CLIENT_ID, CLIENT_SECRET, ENTRA_TENANT, login_url=entra.url),
            GRAPH_SCOPE,
            verify=entra.ca_file,
        )
        deps = h.client.app[keys.TEAMS].deps
        deps.presence = deps.owners = deps.directory = GraphClient(session, tokens, graph.url)
        await h.install()

        def in_team(text: str, user: tf.User) -> dict[str, Any]:
            activity = h.channel_message(text, user=user)
            activity["channelData"]["team"]["aadGroupId"] = GROUP
            return activity

        await h.send(in_team("use this channel", PIET))
        assert (
            tf.replies_in_thread(h, ROOT)[-1]["text"] == "Only a team owner can choose the contacts channel."
        )
        assert await deps.contacts_channel() is None
        await h.send(in_team("use this channel", MARIEKE))
        assert tf.replies_in_thread(h, ROOT)[-1]["text"] == "New contacts will be posted in this channel."
        assert await deps.contacts_channel() == CHANNEL

        cid = await contact(h)
        await tf.ok(await h.send(tf.chat(h, "my contacts", PIET)))
        fetched = await tf.ok(
            await h.send(tf.task(h, "task/fetch", dialog_data(Verb.CONTACT_ASK, cid), MARIEKE, root=ROOT))
        )
        known = next(e for e in fetched["task"]["value"]["card"]["content"]["body"] if e.get("id") == "known")
        assert [c["title"] for c in known["choices"]] == ["🔴 Piet · busy"]

        # Jan, imported with his email, is not in this team: picked org-wide, Graph names him and the
        # email joins him to the person we know (no duplicate), who can now be asked on Teams.
        jan = await ensure_person(EnsurePerson("Jan", "jan@example.org"), uow=h.client.app[keys.UOW])
        graph.add_user(JAN_AAD, "Jan Bakker", "Jan@example.org")
        ask = dialog_data(Verb.CONTACT_ASK, cid)
        done = await tf.ok(
            await h.send(
                tf.task(h, "task/submit", ask, MARIEKE, root=ROOT, colleague=JAN_AAD, question="Stock?")
            )
        )
        assert done["task"]["value"] == "Asked Jan. The answer will appear in the contact's thread."
        async with h.client.app[keys.UOW]() as tx:
            joined = await tx.people.get(jan.id or 0)
            [question] = await tx.questions.for_contact(cid)
        assert joined.identities == {"teams": JAN_AAD} and question.colleague_id == jan.id


async def test_hand_off_a_teams_message_with_the_message_action(sqlite_database: Database) -> None:
    async with teams_app(sqlite_database.url) as h:
        await h.install()
        payload = {
            "id": "1759881599999",
            "body": {
                "contentType": "html",
                "content": "<p>Customer <b>Ed</b> called: boiler &amp; taps leak</p>",
            },
        }

        def extension(name: str, **value: Any) -> dict[str, Any]:
            activity = h.activity("adaptiveCard_action_invoke_personal_real", name=name)
            activity["value"] = {
                "commandId": "logContact",
                "commandContext": "message",
                "messagePayload": payload,
                **value,
            }
            return tf.in_thread(h, activity, MARIEKE, ROOT)

        form = await tf.ok(await h.send(extension("composeExtension/fetchTask")))
        body = form["task"]["value"]["card"]["content"]["body"]
        assert (
            next(e for e in body if e.get("id") == "body")["value"]
            == "Customer Ed called: boiler & taps leak"
        )
        assert next(e for e in body if e.get("id") == "channel")["value"] == "chat"
        submit = form["task"]["value"]["card"]["content"]["actions"][0]["data"]
        inputs = {"channel": "chat", "name": "Ed", "body": "Customer Ed called: boiler & taps leak"}

        first = await tf.ok(
            await h.send(extension("composeExtension/submitAction", data={**submit, **inputs}))
        )
        again = await tf.ok(
            await h.send(extension("composeExtension/submitAction", data={**submit, **inputs}))
        )

        assert first == again  # the same message handed off twice is one contact
        cid = int(first["task"]["value"].split("#")[1].split(" ")[0])
        now = await stored(h, cid)
        assert (now.external_id, now.body, now.source) == ("teams:1759881599999", inputs["body"], "teams")


async def test_the_whole_loop_in_teams(database: Database) -> None:
    """Contact → card → claim → ask (dialog and @mention) → 1:1 questions → answers in the thread → transfer
    → resolve; every step through /api/messages with real tokens, every chat effect through the outbox."""
    async with teams_app(database.url, engine_options=_engine(database)) as h:
        await h.install()
        cid = await contact(h)
        await h.deliver()
        ref = await h.card_ref(cid)
        root, thread = ref.message_id, ref.channel_id
        assert [a["title"] for a in ((await h.card(cid)).card or {})["actions"]] == [
            "Claim",
            "Ask a colleague",
            "Resolve",
        ]

        claimed = await tf.ok(
            await h.send(tf.execute(h, action_data(Verb.CONTACT_CLAIM, cid), MARIEKE, root=root))
        )
        assert "Claimed by" in card_texts(claimed["value"])
        await h.deliver()
        assert "Claimed by" in card_texts((await h.card(cid)).card)  # everyone's copy, updated in place
        assert "<at>Marieke</at>" in (await h.thread_texts(cid))[-1]

        # Ask Piet in the dialog (he is found with Teams' people picker: an Entra object id).
        ask = dialog_data(Verb.CONTACT_ASK, cid)
        await tf.ok(
            await h.send(
                tf.task(h, "task/submit", ask, MARIEKE, root=root, colleague=PIET[1], question="Warranty?")
            )
        )
        # …and again inline, with an @mention in the card's thread.
        mention = tf.thread_message(
            h, "ask <at>Piet</at> and the invoice date?", MARIEKE, root=root, mentions=[PIET]
        )
        await tf.ok(await h.send(mention))
        await h.deliver()
        texts = await h.thread_texts(cid)
        assert any("asked" in t and "Warranty?" in t for t in texts)
        assert any("asked" in t and "and the invoice date?" in t for t in texts)
        chat = h.connector.chat_with(PIET[1])
        assert [json.dumps(m.card) for m in chat if "Warranty?" in json.dumps(m.card)]
        assert len(chat) == 2 and all(any(e.get("id") == "answer" for e in body_of(m.card)) for m in chat)

        # Piet answers the first on its card (Action.Execute in his 1:1 chat)…
        async with h.client.app[keys.UOW]() as tx:
            first, _ = sorted(await tx.questions.for_contact(cid), key=lambda q: q.id)
        answered = await tf.ok(
            await h.send(
                tf.execute(h, action_data(Verb.QUESTION_ANSWER, first.id), PIET, answer="Until March 2027.")
            )
        )
        assert answered["type"] == "application/vnd.microsoft.card.adaptive"
        assert not any(e.get("id") == "answer" for e in answered["value"]["body"])
        # …and, with only one question left open, the second by simply writing in the chat.
        await tf.ok(await h.send(tf.chat(h, "Invoice of 12 May.", PIET)))
        await h.deliver()

        lines = h.connector.thread(thread)
        answer = next(m for m in lines if "Until March 2027." in m.text)
        assert "<at>Marieke</at>" in answer.text  # the asker is @mentioned with the answer
        assert {"id": MARIEKE[1], "name": "Marieke"} in [e["mentioned"] for e in answer.activity["entities"]]
        assert any("Invoice of 12 May." in m.text for m in lines)
        card_now = card_texts((await h.card(cid)).card)
        assert "Until March 2027." in card_now and "Invoice of 12 May." in card_now
        questions = h.connector.chat_with(PIET[1])[:2]
        assert all(m.edits and not any(e.get("id") == "answer" for e in body_of(m.card)) for m in questions)

        # Transfer to Piet, who resolves it.
        transfer = dialog_data(Verb.CONTACT_TRANSFER, cid)
        await tf.ok(
            await h.send(
                tf.task(h, "task/submit", transfer, MARIEKE, root=root, colleague=PIET[1], note="Call at 3")
            )
        )
        await h.deliver()
        assert any("Call at 3" in json.dumps(m.activity) for m in h.connector.chat_with(PIET[1]))
        resolve = dialog_data(Verb.CONTACT_RESOLVE, cid)
        await tf.ok(
            await h.send(tf.task(h, "task/submit", resolve, PIET, root=root, outcome="Replaced the oven"))
        )
        await h.deliver()

        final = (await h.card(cid)).card
        assert (await stored(h, cid)).status is ContactStatus.RESOLVED
        assert "Replaced the oven" in card_texts(final)
        assert "Replaced the oven" in (await h.thread_texts(cid))[-1]
        assert [a["title"] for a in (final or {}).get("actions", [])] == ["Reopen"]


async def test_action_submit_in_a_channel_claims_and_a_refusal_is_answered_in_the_thread(
    sqlite_database: Database,
) -> None:
    """Older clients send Action.Submit: a message with `value`; the bot cannot return a card to it."""
    async with teams_app(sqlite_database.url) as h:
        await h.install()
        cid = await contact(h)
        await h.deliver()
        root = (await h.card_ref(cid)).message_id
        claim = action_data(Verb.CONTACT_CLAIM, cid)

        first = await h.send(tf.submit_message(h, claim, MARIEKE, root=root))
        second = await h.send(tf.submit_message(h, claim, PIET, root=root))
        await h.deliver()

        assert first.status in (200, 201) and second.status in (200, 201)
        assert (await stored(h, cid)).claimed_by is not None
        replies = [r.get("text") for r in tf.replies_in_thread(h, root)]
        assert "Already claimed by Marieke" in replies
        assert "Claimed by" in card_texts((await h.card(cid)).card)


async def test_mention_refusals_are_answered_in_the_thread(sqlite_database: Database) -> None:
    async with teams_app(sqlite_database.url) as h:
        await h.install()
        cid = await contact(h)
        await h.deliver()
        root = (await h.card_ref(cid)).message_id

        await h.send(tf.thread_message(h, "ask <at>Marieke</at> me?", MARIEKE, root=root, mentions=[MARIEKE]))
        await h.send(tf.thread_message(h, "ask Piet by name?", MARIEKE, root=root, mentions=[]))
        await h.send(
            tf.thread_message(h, "ask <at>Piet</at> hello?", MARIEKE, root="1700000000000", mentions=[PIET])
        )

        mine = [r.get("text") for r in tf.replies_in_thread(h, root)]
        assert mine[-2:] == [
            "You can't ask yourself; pick a colleague",
            "Mention the colleague and write the question: @Handoff ask @colleague your question.",
        ]
        elsewhere = tf.replies_in_thread(h, "1700000000000")
        assert [r.get("text") for r in elsewhere] == [
            "Ask from inside a contact's thread, so the answer lands in the customer's story."
        ]
        async with h.client.app[keys.UOW]() as tx:
            assert await tx.questions.for_contact(cid) == []


async def test_with_several_open_questions_a_plain_reply_is_not_guessed_and_dutch_is_spoken(
    sqlite_database: Database,
) -> None:
    async with teams_app(sqlite_database.url, language="nl") as h:
        await h.install()
        cid = await contact(h)
        await tf.ok(await h.send(tf.chat(h, "mijn contacten", PIET)))
        async with h.client.app[keys.UOW]() as tx:
            piet = next(p for p in await tx.people.all() if p.display_name == "Piet")
        ask = dialog_data(Verb.CONTACT_ASK, cid)
        for question in ("Eerste vraag?", "Tweede vraag?"):
            done = await tf.ok(
                await h.send(
                    tf.task(
                        h, "task/submit", ask, MARIEKE, root=ROOT, known=f"v1:p:{piet.id}", question=question
                    )
                )
            )
            assert (
                done["task"]["value"]
                == "Piet is gevraagd. Het antwoord verschijnt in de draad van het contact."
            )

        await tf.ok(await h.send(tf.chat(h, "Ja hoor.", PIET)))

        assert tf.replies_to(h, PIET)[-1]["text"] == (
            "Er staan 2 vragen voor je open: beantwoord elke vraag op zijn eigen kaart."
        )
        async with h.client.app[keys.UOW]() as tx:
            assert all(q.answer is None for q in await tx.questions.for_contact(cid))


async def test_ask_someone_else_refills_the_unanswered_question_for_its_asker(
    sqlite_database: Database,
) -> None:
    clock = ManualClock(datetime(2026, 11, 23, 9, 0, tzinfo=UTC))  # Monday 10:00 in Amsterdam
    async with teams_app(sqlite_database.url, clock=clock) as h:
        await h.install()
        cid = await contact(h)
        await h.deliver()
        root = (await h.card_ref(cid)).message_id
        ask = dialog_data(Verb.CONTACT_ASK, cid)
        await tf.ok(
            await h.send(
                tf.task(h, "task/submit", ask, MARIEKE, root=root, colleague=PIET[1], question="Model?")
            )
        )
        await h.deliver()
        clock.advance(minutes=31)  # 15 office minutes: Piet is nudged; 30: Marieke is told
        await h.deliver()

        told = [m for m in h.connector.chat_with(MARIEKE[1]) if m.card]
        assert len(told) == 1 and "Model?" in card_texts(told[0].card)
        button = (told[0].card or {})["actions"][0]
        mine = await tf.ok(await h.send(tf.task(h, "task/fetch", button["data"], MARIEKE, root=root)))
        theirs = await tf.ok(await h.send(tf.task(h, "task/fetch", button["data"], PIET, root=root)))

        def question_box(form: dict[str, Any]) -> dict[str, Any]:
            body = form["task"]["value"]["card"]["content"]["body"]
            return next(e for e in body if e.get("id") == "question")

        assert question_box(mine).get("value") == "Model?"
        assert "value" not in question_box(theirs)  # someone else's question is not shown to them
