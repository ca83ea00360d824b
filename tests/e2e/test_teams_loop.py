"""The Teams handoff loop through HTTP with real Bot Framework tokens against the fake Bot Connector."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from handoff_bot import keys
from handoff_bot.domain.contacts import ContactStatus
from handoff_bot.platforms.teams.actions import Verb, action_data, dialog_data
from tests.conftest import Database
from tests.e2e import teams_flows as tf
from tests.e2e.teams_harness import MARIEKE, PIET, TeamsHarness, teams_app

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


def card_texts(card: dict[str, Any]) -> str:
    return json.dumps(card, ensure_ascii=False)


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


def _engine(database: Database) -> dict[str, Any]:
    if database.schema is None:
        return {}
    return {"connect_args": {"server_settings": {"search_path": database.schema}}}
