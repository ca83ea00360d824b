"""Block Kit rendering: customer text is harmless, limits hold for any input, actions follow the state."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from handoff_bot.domain.contacts import Channel, Contact, ContactStatus
from handoff_bot.domain.context import EarlierContact, build_context
from handoff_bot.domain.customers import Customer, Identity, IdentityKind
from handoff_bot.domain.events import EventKind, TimelineEvent
from handoff_bot.domain.people import Person
from handoff_bot.domain.questions import Question, QuestionStatus
from handoff_bot.i18n.catalogue import Catalogue
from handoff_bot.platforms.cards import CardBuilder, PersonRef, compose
from handoff_bot.platforms.slack import blocks
from handoff_bot.platforms.slack.actions import ActionId, contact_ref, decode, question_ref

AMS = ZoneInfo("Europe/Amsterdam")
T0 = datetime(2026, 11, 23, 9, 42, tzinfo=UTC)
MARIEKE = Person(1, "Marieke", "marieke@example.org", None, {"slack": "U0MARIEKE"})
PIET = Person(2, "Piet <script>", "piet@example.org", None, {})  # only on Teams
HOSTILE = "<!channel> <@U999> *bold* _it_ ~s~ `code` &amp; <https://evil.example|click> <!subteam^S1>"


def details(
    *,
    status: ContactStatus = ContactStatus.OPEN,
    body: str = "Two crates broke.",
    subject: str = "Order",
    name: str | None = "Anna Jansen",
    earlier: int = 0,
    owner: int | None = None,
    questions: tuple[Question, ...] = (),
):
    from handoff_bot.services.views import ContactDetails

    contact = Contact(42, 7, Channel.PHONE, subject, body, T0, "api", status=status)
    if status is not ContactStatus.OPEN:
        contact.claimed_by, contact.claimed_at = 1, T0 + timedelta(minutes=5)
    if status is ContactStatus.RESOLVED:
        contact.resolved_by, contact.resolved_at, contact.outcome = 1, T0 + timedelta(hours=1), "Refunded"
    customer = Customer(
        7,
        name,
        "Bakkerij Jansen",
        owner,
        {Identity(IdentityKind.PHONE, "+31612345678"), Identity(IdentityKind.EMAIL, "a@b.nl")},
    )
    history = [
        EarlierContact(
            40 - i,
            T0 - timedelta(days=10 + i),
            Channel.EMAIL,
            "old",
            ContactStatus.RESOLVED,
            1,
            T0 - timedelta(days=10 + i),
            "done",
        )
        for i in range(earlier)
    ]
    context = build_context(7, owner, history)
    return ContactDetails(contact, customer, questions, (), context, earlier, {1: MARIEKE, 2: PIET})


def all_strings(payload: object) -> list[str]:
    if isinstance(payload, str):
        return [payload]
    if isinstance(payload, dict):
        return [s for v in payload.values() for s in all_strings(v)]
    if isinstance(payload, list):
        return [s for v in payload for s in all_strings(v)]
    return []


def mrkdwn_texts(payload: dict[str, Any]) -> list[str]:
    found = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if node.get("type") == "mrkdwn":
                found.append(node["text"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(payload["blocks"])
    return [*found, payload["text"]]


def check_limits(payload: dict[str, Any]) -> None:
    assert len(payload["blocks"]) <= 50
    total = 0
    for block in payload["blocks"]:
        if block["type"] == "section":
            assert len(block["text"]["text"]) <= 3000
        if block["type"] == "header":
            assert len(block["text"]["text"]) <= 150
        if block["type"] == "context":
            assert len(block["elements"]) <= 10
        for button in block.get("elements", []):
            if button.get("type") == "button":
                assert len(button["value"]) <= 2000 and len(button["text"]["text"]) <= 75
        total += sum(len(s) for s in all_strings(block))
    assert total < 12000
    assert len(payload["text"]) <= 4000
    json.dumps(payload)  # serialisable


def builder(language: str = "en") -> CardBuilder:
    return CardBuilder(Catalogue(language), AMS)


def test_open_card_offers_claim_ask_resolve_and_carries_only_the_contact_id_as_metadata() -> None:
    payload = blocks.card_message(builder().card(details()), "[shortened]")
    actions = next(b for b in payload["blocks"] if b["type"] == "actions")["elements"]
    assert [a["action_id"] for a in actions] == ["contact.claim", "contact.ask", "contact.resolve"]
    assert {a["value"] for a in actions} == {"v1:c:42"}
    assert actions[0]["style"] == "primary"
    assert payload["metadata"] == {"event_type": "handoff_contact_card", "event_payload": {"contact_id": 42}}
    text = json.dumps(payload)
    assert "10:42" in text  # 09:42 UTC shown in Amsterdam time
    assert "First contact from this customer" in text


def test_claimed_card_mentions_the_claimant_and_offers_release_and_transfer() -> None:
    payload = blocks.card_message(builder().card(details(status=ContactStatus.CLAIMED)), "")
    status = [b for b in payload["blocks"] if b["type"] == "section"][-1]["text"]["text"]
    assert status == "🟡 Claimed by <@U0MARIEKE> since 10:47"
    actions = [a["action_id"] for b in payload["blocks"] if b["type"] == "actions" for a in b["elements"]]
    assert actions == ["contact.resolve", "contact.ask", "contact.transfer", "contact.release"]


def test_resolved_card_in_dutch_shows_outcome_and_offers_reopen() -> None:
    payload = blocks.card_message(builder("nl").card(details(status=ContactStatus.RESOLVED)), "")
    text = json.dumps(payload, ensure_ascii=False)
    assert "Afgerond door <@U0MARIEKE>: Refunded" in text
    assert "Telefoon" in text
    actions = [a["text"]["text"] for b in payload["blocks"] if b["type"] == "actions" for a in b["elements"]]
    assert actions == ["Heropenen"]


def test_history_line_names_the_last_handler_without_pinging_them() -> None:
    payload = blocks.card_message(builder().card(details(earlier=3)), "")
    text = json.dumps(payload)
    assert "3 earlier contacts, last on 13 Nov by Marieke (resolved)" in text
    assert "Usual contact person: <@U0MARIEKE>" in text  # the most recent resolver is the owner
    assert text.count("<@U0MARIEKE>") == 1


def test_customer_text_cannot_ping_or_format_anything() -> None:
    payload = blocks.card_message(builder().card(details(body=HOSTILE, subject=HOSTILE, name=HOSTILE)), "")
    for text in mrkdwn_texts(payload):
        assert "<!" not in text and "<@U999>" not in text and "<http" not in text
    # Customer text only ever appears inside plain_text objects, which Slack never parses.
    for block in payload["blocks"]:
        if block["type"] in ("header", "section") and HOSTILE[:10] in block["text"]["text"]:
            assert block["text"]["type"] == "plain_text"


def test_names_of_people_without_slack_accounts_are_escaped() -> None:
    line = compose(
        Catalogue("en").template("thread.transferred"), name=PersonRef.of(MARIEKE), to=PersonRef.of(PIET)
    )
    assert blocks.mrkdwn(line) == "<@U0MARIEKE> transferred this contact to Piet &lt;script&gt;"


def test_a_very_long_body_is_trimmed_with_a_note_and_stays_within_limits() -> None:
    payload = blocks.card_message(builder().card(details(body="é" * 200_000)), "[shortened]")
    check_limits(payload)
    body = payload["blocks"][2]["text"]["text"]
    assert body.endswith("[shortened]") and len(body) <= 3000


@settings(max_examples=60, deadline=None)
@given(
    body=st.text(max_size=20_000),
    subject=st.text(max_size=1200),
    name=st.text(max_size=300),
    answer=st.text(max_size=4000),
)
def test_any_input_renders_within_slack_limits(body: str, subject: str, name: str, answer: str) -> None:
    question = Question(5, 42, 1, 2, answer or "q", T0, QuestionStatus.ANSWERED, answer, 2, T0)
    card = builder().card(details(body=body, subject=subject, name=name or None, questions=(question,) * 8))
    check_limits(blocks.card_message(card, "[shortened]"))
    event = TimelineEvent(42, EventKind.ANSWERED, T0, 2, {"question_id": 5}, 9)
    line = builder().thread_line(details(questions=(question,)), event)
    assert line is not None
    check_limits(blocks.thread_message(line, 42, 9))


def test_question_dm_offers_answer_until_answered() -> None:
    open_q = Question(5, 42, 1, 2, "Is the oven under warranty?", T0)
    view = builder().question(details(questions=(open_q,)), open_q)
    payload = blocks.question_message(view)
    assert payload["blocks"][-1]["elements"][0]["action_id"] == ActionId.QUESTION_ANSWER.value
    assert payload["blocks"][-1]["elements"][0]["value"] == "v1:q:5"
    answered = Question(
        5, 42, 1, 2, "Is the oven under warranty?", T0, QuestionStatus.ANSWERED, "Yes, 2 years", 2, T0
    )
    payload = blocks.question_message(builder().question(details(questions=(answered,)), answered))
    assert all(b["type"] != "actions" for b in payload["blocks"])
    assert "Answered by Piet &lt;script&gt;: Yes, 2 years" in json.dumps(payload)


def test_button_values_decode_only_what_we_issued() -> None:
    assert decode(contact_ref(42), "c") == 42
    assert decode(question_ref(7), "q") == 7
    for bad in ("v1:c:42", "v2:c:1", "v1:c:0", "v1:c:-1", "v1:c:1 ", "1", None, 42, "v1:c:" + "9" * 30):
        assert decode(bad, "q") is None
    assert decode("v1:q:7", "c") is None
