"""Adaptive Cards for Teams: golden files, the official 1.5 schema, size, escaping, mentions and actions."""

from __future__ import annotations

import json
import os
import re
from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from handoff_bot.domain.contacts import ContactStatus
from handoff_bot.domain.questions import QuestionStatus
from handoff_bot.i18n.catalogue import Catalogue
from handoff_bot.platforms.cards import ON_DUTY, PersonRef, compose
from handoff_bot.platforms.teams import actions, cards, dialogs, text
from handoff_bot.platforms.teams.actions import Verb
from tests.fakes.adaptive_cards import adaptive_card_schema, strip_teams_keys
from tests.unit.teams_card_cases import (
    AAD_MARIEKE,
    CASES,
    COLLEAGUES,
    GOLDEN,
    HOSTILE,
    all_strings,
    builder,
    contact,
    details,
    dialog_card,
    question,
    question_card,
)

UPDATE = os.environ.get("HANDOFF_UPDATE_GOLDEN") == "1"


@pytest.fixture(scope="module")
def validator() -> jsonschema.protocols.Validator:
    schema = adaptive_card_schema()
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


@pytest.mark.parametrize("name", sorted(CASES))
def test_every_card_matches_its_golden_file(name: str) -> None:
    rendered = json.dumps(CASES[name](), indent=2, ensure_ascii=False, sort_keys=True) + "\n"
    path = GOLDEN / f"{name}.json"
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(rendered, encoding="utf-8")
    assert path.exists(), f"no golden file {path.name}: run with HANDOFF_UPDATE_GOLDEN=1 and review it"
    assert rendered == path.read_text(encoding="utf-8")


@pytest.mark.parametrize("name", sorted(CASES))
def test_every_card_is_valid_adaptive_card_1_5(name: str, validator: jsonschema.protocols.Validator) -> None:
    card = CASES[name]()
    assert card["version"] == "1.5"
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(strip_teams_keys(card))]
    assert errors == []


def _broken(change: str) -> dict[str, Any]:
    card: dict[str, Any] = strip_teams_keys(CASES["contact_claimed_question"]())
    if change == "enum":
        card["body"][0]["inlines"][0]["weight"] = "Heavy"
    elif change == "unknown_key":
        card["actions"][0]["verbb"] = "x"
    elif change == "unknown_element":
        card["body"].append({"type": "TextBox", "text": "x"})
    elif change == "teams_keys_left_in":
        card = CASES["contact_claimed_question"]()
    return card


@pytest.mark.parametrize("change", ["enum", "unknown_key", "unknown_element", "teams_keys_left_in"])
def test_the_schema_check_would_catch_a_broken_card(
    change: str, validator: jsonschema.protocols.Validator
) -> None:
    assert validator.is_valid(strip_teams_keys(CASES["contact_claimed_question"]()))
    assert not validator.is_valid(_broken(change))


def test_no_golden_file_is_left_without_a_case() -> None:
    assert sorted(p.stem for p in GOLDEN.glob("*.json")) == sorted(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_every_card_stays_well_under_the_teams_size_limit(name: str) -> None:
    assert cards.size(CASES[name]()) <= cards.CARD_BUDGET


def test_a_huge_contact_is_shortened_to_fit_and_says_so() -> None:
    card = CASES["contact_huge"]()
    assert 8_000 < cards.size(card) <= 20_000 < 28 * 1024
    assert text.escape(Catalogue("en").t("card.body_trimmed")) in all_strings(card)
    raw = cards.contact_card(
        builder().card(details(body="x" * 2000)), trimmed_note="[shortened]"
    )  # fits: nothing trimmed
    assert "[shortened]" not in all_strings(raw)


def _mention_texts(card: dict[str, Any]) -> set[str]:
    return {e["text"] for e in card.get("msteams", {}).get("entities", [])}


# Markup that would take effect: not preceded by our backslash.
ACTIVE_MARKUP = re.compile(r"(?<!\\)(\*\*|(?<!\\)\[click(?<!\\)\]\(|^[ \t]*[#>-] |^\d+\. )", re.MULTILINE)


def markdown_strings(payload: object) -> list[str]:
    """Strings in places where Teams parses markdown: TextBlock text, facts, fallbackText."""
    found: list[str] = []
    if isinstance(payload, dict):
        if payload.get("type") == "TextBlock":
            found.append(payload["text"])
        if "title" in payload and "value" in payload and "type" not in payload:  # a Fact
            found += [payload["title"], payload["value"]]
        if "fallbackText" in payload:
            found.append(payload["fallbackText"])
        for value in payload.values():
            found += markdown_strings(value)
    elif isinstance(payload, list):
        for value in payload:
            found += markdown_strings(value)
    return found


def _without_input_values(payload: object) -> object:
    if isinstance(payload, dict):
        is_input = str(payload.get("type", "")).startswith("Input.")
        return {k: _without_input_values(v) for k, v in payload.items() if not (is_input and k == "value")}
    if isinstance(payload, list):
        return [_without_input_values(v) for v in payload]
    return payload


def test_customer_text_cannot_format_link_or_mention() -> None:
    for name in (
        "contact_hostile",
        "question_hostile",
        "dialog_ask_nobody_known_nl",
        "dialog_log_refilled_nl",
    ):
        card = CASES[name]()
        ours = _mention_texts(card)
        # Input values are edited text, never parsed: they come back exactly as typed.
        for s in all_strings(_without_input_values(card)):
            for tag in re.findall(r"<at>.*?</at>", s):
                assert tag in ours, (name, s)
            assert "{{DATE" not in s, (name, s)
        shown = markdown_strings(card)
        assert any("bold" in s for s in shown) or name != "contact_hostile", name
        for s in shown:
            assert ACTIVE_MARKUP.search(s) is None, (name, s)
    hostile = CASES["contact_hostile"]()
    # The customer wrote Marieke's <at> text: it must not be turned into a mention of her.
    assert not any("<at>Marieke de Vries</at>" in s for s in all_strings(hostile["body"][:5]))


def test_escape_neutralises_markdown_and_tags_but_keeps_the_words() -> None:
    escaped = text.escape(HOSTILE)
    assert "<at>" not in escaped and ACTIVE_MARKUP.search(escaped) is None
    assert ACTIVE_MARKUP.search(HOSTILE) is not None  # the pattern does see raw markup
    assert escaped.replace("\\", "").replace(text.WORD_JOINER, "") == HOSTILE
    assert text.escape("Refund 12.50 - ok.") == "Refund 12.50 - ok."  # ordinary text stays readable


def test_owner_is_mentioned_with_an_entity_and_people_without_teams_by_name() -> None:
    card = contact(details(status=ContactStatus.CLAIMED, questions=(question(),)))
    entities = card["msteams"]["entities"]
    assert {
        "type": "mention",
        "text": "<at>Marieke de Vries</at>",
        "mentioned": {"id": AAD_MARIEKE, "name": "Marieke de Vries"},
    } in entities
    assert card["msteams"]["width"] == "Full"
    strings = all_strings(card["body"])
    assert any("<at>Marieke de Vries</at>" in s for s in strings)
    # Every entity's text appears in the card: Teams rejects entities it cannot match.
    assert all(any(e["text"] in s for s in strings) for e in entities)


def test_thread_line_message_mentions_teams_users_and_escapes_the_rest() -> None:
    marieke = PersonRef(1, "Marieke de Vries", {"teams": AAD_MARIEKE})
    piet = PersonRef(2, "Piet *bold*", {"slack": "U1"})
    line = compose("{asker} asked {colleague}: {question}", asker=marieke, colleague=piet, question=HOSTILE)
    activity = text.message(line)
    assert activity["type"] == "message" and activity["textFormat"] == "markdown"
    assert activity["text"].startswith("<at>Marieke de Vries</at> asked Piet \\*bold\\*: <\u2060at>")
    assert activity["entities"] == [
        {
            "type": "mention",
            "text": "<at>Marieke de Vries</at>",
            "mentioned": {"id": AAD_MARIEKE, "name": "Marieke de Vries"},
        }
    ]


def test_two_people_with_one_name_get_distinct_mentions_and_one_person_one_entity() -> None:
    a, b = PersonRef(1, "Jan", {"teams": "id-a"}), PersonRef(2, "Jan", {"teams": "id-b"})
    activity = text.message((a, " and ", b, " and ", a))
    assert activity["text"] == "<at>Jan</at> and <at>Jan (2)</at> and <at>Jan</at>"
    assert [e["mentioned"]["id"] for e in activity["entities"]] == ["id-a", "id-b"]


def test_on_duty_becomes_a_tag_mention_or_nothing() -> None:
    line = compose("Still open, {target}", target=ON_DUTY)
    tagged = text.message(line, onduty=text.OnDutyMention("tag-1", "Reception"))
    assert tagged["text"] == "Still open, <at>Reception</at>"
    assert tagged["entities"][0]["mentioned"] == {"id": "tag-1", "name": "Reception", "type": "tag"}
    assert text.message(line) == {"type": "message", "textFormat": "markdown", "text": "Still open, "}


def test_a_long_line_is_trimmed_before_escaping() -> None:
    activity = text.message(("*" * 10_000,), limit=100)
    assert activity["text"].endswith("…") and len(activity["text"]) <= 200
    assert not activity["text"].endswith("\\…")


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (
            ContactStatus.OPEN,
            [
                ("Action.Execute", "contact.claim"),
                ("Action.Submit", "contact.ask"),
                ("Action.Submit", "contact.resolve"),
            ],
        ),
        (
            ContactStatus.CLAIMED,
            [
                ("Action.Submit", "contact.resolve"),
                ("Action.Submit", "contact.ask"),
                ("Action.Submit", "contact.transfer"),
                ("Action.Execute", "contact.release"),
            ],
        ),
        (ContactStatus.RESOLVED, [("Action.Execute", "contact.reopen")]),
    ],
)
def test_the_card_offers_exactly_the_views_actions(status: ContactStatus, expected: list[Any]) -> None:
    card = contact(details(status=status))
    got = [(a["type"], a["data"]["verb"]) for a in card["actions"]]
    assert got == expected
    view = builder().card(details(status=status))
    assert [a["title"] for a in card["actions"]] == [a.label for a in view.actions]
    for a in card["actions"]:
        assert actions.decode(a["data"]) == actions.CardActionData(Verb(a["data"]["verb"]), 42, {})
        if a["type"] == "Action.Submit":
            assert a["data"]["msteams"] == {"type": "task/fetch"}
        else:
            assert a["verb"] == a["data"]["verb"]
        assert len(json.dumps(a["data"])) < 100  # tiny: an opaque reference, nothing else
    assert "actions" not in contact(details(redacted=True))


def test_decode_reads_every_activity_shape_we_receive() -> None:
    data = actions.action_data(Verb.CONTACT_CLAIM, 42)
    execute = {
        "action": {"type": "Action.Execute", "verb": "contact.claim", "data": data},
        "trigger": "manual",
    }
    submit = {**actions.dialog_data(Verb.CONTACT_ASK, 42), "question": "Rye?", "known": "v1:p:3"}
    fetch = {"type": "task/fetch", "data": actions.dialog_data(Verb.CONTACT_ASK, 42), "context": {}}
    assert actions.decode(execute) == actions.CardActionData(Verb.CONTACT_CLAIM, 42, {})
    assert actions.decode(submit) == actions.CardActionData(
        Verb.CONTACT_ASK, 42, {"question": "Rye?", "known": "v1:p:3"}
    )
    assert actions.decode(fetch) == actions.CardActionData(Verb.CONTACT_ASK, 42, {})
    answer = {
        "action": {
            "type": "Action.Execute",
            "verb": "question.answer",
            "data": {**actions.action_data(Verb.QUESTION_ANSWER, 9), "answer": "Yes"},
        }
    }
    assert actions.decode(answer) == actions.CardActionData(Verb.QUESTION_ANSWER, 9, {"answer": "Yes"})
    assert actions.decode({"data": actions.action_data(Verb.CONTACT_LOG)}) == actions.CardActionData(
        Verb.CONTACT_LOG, None, {}
    )


@pytest.mark.parametrize(
    "value",
    [
        None,
        "v1:c:42",
        [],
        {},
        {"verb": "contact.claim"},
        {"verb": "contact.claim", "ref": "v1:q:42"},
        {"verb": "contact.claim", "ref": "v2:c:42"},
        {"verb": "contact.claim", "ref": "v1:c:0"},
        {"verb": "contact.claim", "ref": "v1:c:" + "9" * 30},
        {"verb": "contact.delete", "ref": "v1:c:42"},
        {"verb": ["contact.claim"], "ref": "v1:c:42"},
        {"action": {"verb": "question.answer", "data": "x"}},
        {"verb": "contact.claim", "contactId": 42},
    ],
)
def test_decode_refuses_what_we_did_not_produce(value: object) -> None:
    assert actions.decode(value) is None


def test_inputs_that_are_not_strings_are_dropped() -> None:
    got = actions.decode({"verb": "contact.resolve", "ref": "v1:c:1", "outcome": {"x": 1}, "note": "ok"})
    assert got is not None and got.inputs == {"note": "ok"}


def test_question_card_has_the_question_summary_and_an_answer_box_until_answered() -> None:
    card = CASES["question_open"]()
    strings = all_strings(card)
    assert "Do we still have rye bread?" in strings and "Broken delivery" in strings
    assert any("Two crates of bread" in s for s in strings)  # the private contact summary
    box = next(e for e in card["body"] if e["type"] == "Input.Text")
    assert box["id"] == "answer" and box["isRequired"] is True
    assert [(a["type"], a["verb"], a["data"]) for a in card["actions"]] == [
        ("Action.Execute", "question.answer", {"verb": "question.answer", "ref": "v1:q:9"})
    ]
    # The asker is @mentioned in the intro.
    assert card["msteams"]["entities"][0]["mentioned"]["id"] == AAD_MARIEKE
    for closed in ("question_answered", "question_cancelled"):
        done = CASES[closed]()
        assert "actions" not in done and not any(e["type"] == "Input.Text" for e in done["body"])
    answered = all_strings(CASES["question_answered"]())
    assert any("Yes, 12 loaves." in s for s in answered)
    cancelled = all_strings(CASES["question_cancelled"]())
    assert any(Catalogue("en").t("dm.cancelled") in s for s in cancelled)
    assert question(QuestionStatus.CANCELLED).status is QuestionStatus.CANCELLED


def test_ask_dialog_offers_known_colleagues_with_presence_and_the_org_picker() -> None:
    response = dialogs.ask_dialog(Catalogue("en"), "📞 Phone · Anna", 42, COLLEAGUES)
    assert response["task"]["type"] == "continue"
    assert response["task"]["value"]["title"] == Catalogue("en").t("modal.ask.title")
    assert response["task"]["value"]["card"]["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = dialog_card(response)
    known = next(e for e in card["body"] if e.get("id") == "known")
    assert known["style"] == "expanded"
    assert [c["title"] for c in known["choices"]] == [
        "🟢 Marieke de Vries · available",
        "🔴 Jan · busy",
        "🟡 Sanne · away",
        "Piet <\u2060at>Jan<\u2060/at>",
    ]
    assert [c["value"] for c in known["choices"]] == ["v1:p:1", "v1:p:3", "v1:p:4", "v1:p:2"]
    picker = next(e for e in card["body"] if e.get("id") == "colleague")
    assert picker["choices.data"] == {"type": "Data.Query", "dataset": "graph.microsoft.com/users"}
    assert card["actions"][0]["data"] == {"verb": "contact.ask", "ref": "v1:c:42"}
    nl = dialog_card(dialogs.ask_dialog(Catalogue("nl"), "x", 42, COLLEAGUES))
    assert "🟢 Marieke de Vries · beschikbaar" in all_strings(nl)


def test_chosen_colleague_reads_the_picker_or_the_list() -> None:
    guid = "0c5e1f7a-2b3c-4d5e-8f90-123456789abc"
    assert dialogs.chosen_colleague({"colleague": guid, "known": "v1:p:1"}) == dialogs.DirectoryUser(guid)
    assert dialogs.chosen_colleague({"known": "v1:p:1"}) == dialogs.KnownColleague(1)
    assert dialogs.chosen_colleague({"known": "v1:c:1"}) is None
    assert dialogs.chosen_colleague({"colleague": "not-a-guid"}) is None
    assert dialogs.chosen_colleague({}) is None


def test_log_dialog_has_the_slack_form_fields_and_reads_back_like_slack() -> None:
    card = CASES["dialog_log"]()
    ids = [e["id"] for e in card["body"] if "id" in e]
    assert ids == ["channel", "name", "phone", "email", "company", "subject", "body", "callback", "mine"]
    assert card["actions"][0]["data"] == {"verb": "contact.log"}
    got = dialogs.log_values(
        {"channel": "email", "name": " Anna ", "phone": "", "callback": "15:00", "mine": "mine"}
    )
    assert got == {
        "channel": "email",
        "name": "Anna",
        "phone": None,
        "email": None,
        "company": None,
        "subject": None,
        "body": None,
        "callback": "15:00",
        "mine": ["mine"],
    }
    refilled = CASES["dialog_log_refilled_nl"]()
    assert Catalogue("nl").t("modal.log.need_customer") in all_strings(refilled)
    assert next(e for e in refilled["body"] if e.get("id") == "mine")["value"] == "mine"


def test_task_message_and_invoke_envelopes() -> None:
    assert dialogs.task_message("Asked Jan") == {"task": {"type": "message", "value": "Asked Jan"}}
    card = CASES["contact_open"]()
    assert cards.invoke_card_response(card) == {
        "statusCode": 200,
        "type": "application/vnd.microsoft.card.adaptive",
        "value": card,
    }
    assert cards.invoke_message_response("Already claimed by Jan")["type"] == (
        "application/vnd.microsoft.activity.message"
    )
    activity = cards.card_activity(card, "Phone contact #42")
    assert activity["attachments"] == [cards.attachment(card)] and activity["summary"] == "Phone contact #42"


def test_desk_lists_escape_and_cap_their_lines() -> None:
    long = CASES["desk_open_long"]()
    lines = [e["text"] for e in long["body"]]
    assert len([x for x in lines if "#42" in x]) == cards.DESK_LINES
    assert "… and 15 more" in lines
    assert all("<at>" not in x for x in all_strings(long))
    assert all("\\*Jansen\\*" in x and "\\](https" in x for x in lines if "#42" in x)
    empty = all_strings(CASES["desk_empty"]())
    assert Catalogue("en").t("desk.mine.empty") in empty and Catalogue("en").t("desk.open.empty") in empty


def test_transfer_dm_leads_with_the_note_and_has_no_buttons() -> None:
    card = CASES["transfer_dm"]()
    assert "actions" not in card
    first = card["body"][0]
    assert first["type"] == "TextBlock" and first["text"].startswith("<at>Marieke de Vries</at>")
    assert "Please call her back before 15:00" in first["text"]
    texts = {e["text"] for e in card["msteams"]["entities"]}
    assert "<at>Marieke de Vries</at>" in texts
    assert any("Two crates of bread" in s for s in all_strings(card))  # the private details
    huge = CASES["transfer_dm_huge_hostile"]()
    assert cards.size(huge) <= cards.CARD_BUDGET and "actions" not in huge


def test_list_cards_cap_their_lines_to_fit() -> None:
    long = CASES["list_long"]()
    assert cards.size(long) <= cards.CARD_BUDGET
    assert 1 < len(long["body"]) <= 2 * cards.DESK_LINES + 1
    assert [e["text"] for e in CASES["list_empty_nl"]()["body"]] == ["Einde van de dag", "—"]


def test_a_very_long_name_is_trimmed_in_the_mention_and_the_entity() -> None:
    long = PersonRef(1, "Marieke" * 100, {"teams": AAD_MARIEKE})
    activity = text.message((long, " asked"))
    (entity,) = activity["entities"]
    assert len(entity["mentioned"]["name"]) <= text.NAME_MAX
    assert activity["text"] == f"{entity['text']} asked"
    assert text.markdown((long,), None, 50).endswith("…")  # without entities: the name, trimmed


MARKUP = st.sampled_from(
    [
        "<at>",
        "</at>",
        "**",
        "_",
        "~~",
        "`",
        "[",
        "](",
        "\n",
        "\n- ",
        "\n1. ",
        "\n# ",
        "\n> ",
        "{{",
        "&lt;",
        "\\",
        "<",
        ">",
        "&",
        "漢",
        "𝕏",
        " ",
    ]
)
HOSTILE_TEXT = st.lists(st.one_of(MARKUP, st.text(max_size=20)), max_size=60).map("".join)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=HOSTILE_TEXT, subject=HOSTILE_TEXT, name=HOSTILE_TEXT, question_text=HOSTILE_TEXT)
def test_any_customer_text_gives_a_valid_harmless_card(
    body: str, subject: str, name: str, question_text: str, validator: jsonschema.protocols.Validator
) -> None:
    view_details = details(
        body=body,
        subject=subject,
        name=name or None,
        company=name,
        questions=(question(text=question_text or "?"),),
        status=ContactStatus.CLAIMED,
    )
    for card in (contact(view_details), question_card(question(text=question_text or "?"))):
        assert validator.is_valid(strip_teams_keys(card))
        assert cards.size(card) <= cards.CARD_BUDGET
        ours = _mention_texts(card)
        for s in all_strings(_without_input_values(card)):
            assert all(tag in ours for tag in re.findall(r"<at>.*?</at>", s))
        for s in markdown_strings(card):
            assert ACTIVE_MARKUP.search(s) is None


@given(HOSTILE_TEXT)
def test_escape_round_trips_and_never_leaves_a_tag(raw: str) -> None:
    escaped = text.escape(raw)
    assert "<at>" not in escaped and "</at>" not in escaped and "{{" not in escaped
    # Removing our escapes gives back exactly what the customer wrote.
    unescaped = re.sub(r"\\(.)", r"\1", escaped, flags=re.DOTALL).replace(text.WORD_JOINER, "")
    assert unescaped == raw.replace(text.WORD_JOINER, "")
