"""Hostile and oversized customer text through the API and the Teams dialogs, judged by what the fake
Bot Connector received: every card, thread line and 1:1 message is valid Adaptive Card 1.5 (or plain
markdown text), within Teams' size limits, and nothing in it can mention anyone, format, link or run a
template function.
"""

from __future__ import annotations

import json
import re
from typing import Any

import jsonschema
from sqlalchemy import func, select

from handoff_bot import keys
from handoff_bot.platforms.teams import cards
from handoff_bot.platforms.teams.actions import Verb, action_data, dialog_data, person_ref
from handoff_bot.services.commands import EnsurePerson
from handoff_bot.services.people import ensure_person
from handoff_bot.storage.models import ContactRow, CustomerRow, OutboxRow
from tests.conftest import Database
from tests.e2e import teams_flows as tf
from tests.e2e.teams_harness import MARIEKE, PIET, TOKEN, TeamsHarness, teams_app
from tests.fakes.adaptive_cards import adaptive_card_schema, strip_teams_keys
from tests.unit.teams_card_cases import all_strings
from tests.unit.test_teams_cards import ACTIVE_MARKUP, markdown_strings

ROOT = "1759881511856"
TEAMS_MESSAGE_MAX = 28 * 1024  # Teams refuses bigger messages; our cards aim for CARD_BUDGET
# Nobody is called "Everyone" or "General": a tag with these names can only come from customer text.
HOSTILE = (
    "<at>Everyone</at> <at>General</at> &lt;at&gt;x&lt;/at&gt; **bold** _it_ ~~s~~ `code` "
    "[click](https://evil.example) <b>b</b><script>alert(1)</script><img src=x onerror=alert(1)> "
    "{{DATE(2026-01-01T00:00:00Z, SHORT)}} {{TIME(2026-01-01T00:00:00Z)}} \x00\x07\x1b[31m\x7f "
    "\u202eevil\u202c 😀👩‍👩‍👧 " + "W" * 400 + "\n# heading\n- item\n1. first\n> quote\n"
)
CUSTOMER_TAGS = ("<at>Everyone</at>", "<at>General</at>")
HTML_TAG = re.compile(r"<(?!/?at>)[A-Za-z/!]")  # any tag but our own <at>…</at>
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def options(database: Database) -> dict[str, Any]:
    if database.schema is None:
        return {}
    return {"connect_args": {"server_settings": {"search_path": database.schema}}}


async def known(h: TeamsHarness, who: tuple[str, str, str, str]) -> int:
    person = await ensure_person(
        EnsurePerson(who[2], who[3], identities=(("teams", who[1]),)), uow=h.client.app[keys.UOW]
    )
    assert person.id is not None
    return person.id


def sent_activities(h: TeamsHarness) -> list[dict[str, Any]]:
    """Every activity the bot sent: new threads, replies, 1:1 messages, card updates."""
    return [c.activity for c in h.connector.calls if c.activity is not None]


def cards_in(activity: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        a["content"]
        for a in activity.get("attachments") or []
        if a.get("contentType") == "application/vnd.microsoft.card.adaptive"
    ]


def assert_harmless(payload: dict[str, Any], mentions: list[dict[str, Any]], allowed_ids: set[str]) -> None:
    """`payload` (a card or a message) mentions only the people we meant, and nothing else acts."""
    ours = {m["text"] for m in mentions}
    assert {m["mentioned"]["id"] for m in mentions} <= allowed_ids, mentions
    raw = json.dumps(_without_input_values(payload), ensure_ascii=False)
    for tag in CUSTOMER_TAGS:
        assert tag not in raw
    assert "{{" not in raw and "&lt;" not in raw.replace("&\u2060lt;", "")
    for s in all_strings(_without_input_values(payload)):
        for tag in re.findall(r"<at>.*?</at>", s, flags=re.DOTALL):
            assert tag in ours, (tag, s[:200])
        assert HTML_TAG.search(s) is None, s[:300]
        assert CONTROL.search(s) is None, repr(s[:300])
    for s in markdown_strings(payload):
        assert ACTIVE_MARKUP.search(s) is None, s[:300]


def _without_input_values(payload: object) -> object:
    """Input values are edited text, never parsed as markdown or mentions: they may hold anything."""
    if isinstance(payload, dict):
        is_input = str(payload.get("type", "")).startswith("Input.")
        return {k: _without_input_values(v) for k, v in payload.items() if not (is_input and k == "value")}
    if isinstance(payload, list):
        return [_without_input_values(v) for v in payload]
    return payload


def check_card(card: dict[str, Any], validator: Any, allowed_ids: set[str]) -> None:
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(strip_teams_keys(card))]
    assert errors == [], errors[:5]
    assert card["version"] == "1.5"
    assert cards.size(card) <= cards.CARD_BUDGET
    assert_harmless(card, card.get("msteams", {}).get("entities", []), allowed_ids)


async def test_hostile_text_everywhere_reaches_teams_inert_valid_and_small(database: Database) -> None:
    schema = adaptive_card_schema()
    validator = jsonschema.validators.validator_for(schema)(schema)
    allowed = {MARIEKE[1], PIET[1]}
    answered: list[dict[str, Any]] = []  # what clickers saw in invoke answers (cards and dialogs)

    async with teams_app(database.url, engine_options=options(database)) as h:
        await h.install()
        piet = await known(h, PIET)
        # Through the API: as much hostile text as its 64 KB limit lets through, in every field.
        created = await h.post_contact(
            subject=HOSTILE[:900],
            body=HOSTILE * (40_000 // len(HOSTILE)),  # ~55 KB once JSON-escaped
            customer={"name": HOSTILE[:200], "company": HOSTILE[:200], "phone": "06-12345678"},
        )
        first = int(created["id"])
        # A 200 KB body does not fit the API: refused whole, nothing stored.
        too_big = await h.client.post(
            "/api/contacts",
            json={"channel": "phone", "customer": {"name": "A"}, "body": "x" * 200_000},
            headers={"Authorization": f"Bearer {TOKEN}"},
        )
        assert too_big.status == 413
        # Through the Teams log dialog (a forged submit is not held to the form's maxLength):
        # a 200 KB body and names far longer than the database columns.
        logged = await tf.ok(
            await h.send(
                tf.task(
                    h,
                    "task/submit",
                    dialog_data(Verb.CONTACT_LOG),
                    PIET,
                    root=ROOT,
                    name=HOSTILE * 3,
                    company=HOSTILE * 3,
                    subject=HOSTILE * 3,
                    body=(HOSTILE * (200_000 // len(HOSTILE))),
                    mine="mine",
                )
            )
        )
        assert logged["task"]["type"] == "message", logged
        second = first + 1
        await h.deliver()

        answered.append(
            await tf.ok(
                await h.send(tf.execute(h, action_data(Verb.CONTACT_CLAIM, first), MARIEKE, root=ROOT))
            )
        )
        ask = dialog_data(Verb.CONTACT_ASK, first)
        answered.append(
            await tf.ok(
                await h.send(
                    tf.task(
                        h, "task/submit", ask, MARIEKE, root=ROOT, known=person_ref(piet), question=HOSTILE
                    )
                )
            )
        )
        await h.deliver()
        answered.append(
            await tf.ok(
                await h.send(tf.execute(h, action_data(Verb.QUESTION_ANSWER, 1), PIET, answer=HOSTILE))
            )
        )
        transfer = dialog_data(Verb.CONTACT_TRANSFER, first)
        answered.append(
            await tf.ok(
                await h.send(
                    tf.task(
                        h, "task/submit", transfer, MARIEKE, root=ROOT, known=person_ref(piet), note=HOSTILE
                    )
                )
            )
        )
        resolve = dialog_data(Verb.CONTACT_RESOLVE, second)
        answered.append(
            await tf.ok(
                await h.send(tf.task(h, "task/submit", resolve, PIET, root=ROOT, outcome=HOSTILE * 20))
            )
        )
        # A refilled dialog shows the hostile values back (as input values, which are never parsed).
        answered.append(
            await tf.ok(
                await h.send(
                    tf.task(h, "task/submit", dialog_data(Verb.CONTACT_LOG), PIET, root=ROOT, subject=HOSTILE)
                )
            )
        )
        await h.deliver()

        activities = sent_activities(h)
        kinds = {c.kind for c in h.connector.calls}
        assert {"thread", "reply", "update", "create"} <= kinds, kinds
        # 1:1 chats (a:…) got the question and the transfer.
        assert any(c.conversation_id.startswith("a:") and c.activity for c in h.connector.calls)
        card_count = 0
        for activity in activities:
            assert len(json.dumps(activity)) <= TEAMS_MESSAGE_MAX, len(json.dumps(activity))
            for card in cards_in(activity):
                card_count += 1
                check_card(card, validator, allowed)
            if activity.get("text"):
                assert_harmless(
                    {"type": "TextBlock", "text": activity["text"]}, activity.get("entities") or [], allowed
                )
        assert card_count >= 6  # two contact cards and their updates, the question and transfer DMs
        for answer in answered:
            value = answer.get("value") if "task" not in answer else answer["task"]["value"]
            if isinstance(value, dict) and value.get("type") == "AdaptiveCard":
                check_card(value, validator, allowed)
            elif isinstance(value, dict) and "card" in value:
                check_card(value["card"]["content"], validator, allowed)
        # The customer's words survived, only neutralised: the card still says them.
        shown = json.dumps((await h.card(first)).card, ensure_ascii=False)
        assert "evil.example" in shown and "Everyone" in shown

        async with h.client.app[keys.UOW].sessions() as s:
            names = list((await s.scalars(select(CustomerRow.name))).all())
            contacts = await s.scalar(select(func.count()).select_from(ContactRow))
            dead = list(
                (await s.scalars(select(OutboxRow.last_error).where(OutboxRow.status == "dead"))).all()
            )
        assert contacts == 2 and all(n is not None and len(n) <= 200 for n in names)
        assert dead == []
