"""Reading `@Handoff ask @colleague …` and the other Teams commands from text + mention entities."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from botbuilder.schema import Activity

from handoff_bot.platforms.teams.intents import Command, Mention, parse

BOT = "28:0b6fe6d1-fece-44f7-9a48-56465e2d5ab8"
PIET = "29:1piet"
FIXTURE = Path(__file__).parents[1] / "fixtures" / "teams" / "teams_channel_message_thread_reply_real.json"


def mention(user_id: str, name: str, aad: str | None = None) -> dict[str, object]:
    mentioned = {"id": user_id, "name": name, **({"aadObjectId": aad} if aad else {})}
    return {"type": "mention", "mentioned": mentioned, "text": f"<at>{name}</at>"}


def test_ask_names_the_mentioned_colleague_from_the_entities_and_keeps_the_question() -> None:
    text = "<at>Handoff</at> ask <at>Piet Jansen</at> is the oven still under warranty?\n Until when?"
    entities = [mention(BOT, "Handoff"), mention(PIET, "Piet Jansen", "aad-piet"), {"type": "clientInfo"}]

    intent = parse(text, entities, BOT)

    assert intent.command is Command.ASK
    assert intent.colleague == Mention(PIET, "Piet Jansen", "aad-piet")
    assert intent.text == "is the oven still under warranty?\nUntil when?"


def test_ask_in_dutch_with_a_colon_and_html_from_the_teams_client() -> None:
    text = "<p><at>Handoff</at>&nbsp;vraag <at>Piet</at>: klopt &lt;dit&gt; &amp; dat?</p>"
    intent = parse(text, [mention(BOT, "Handoff"), mention(PIET, "Piet")], BOT)
    assert (intent.command, intent.colleague, intent.text) == (
        Command.ASK,
        Mention(PIET, "Piet"),
        "klopt <dit> & dat?",
    )


def test_a_name_typed_without_a_mention_entity_is_not_a_colleague() -> None:
    """Only Teams' entities say who is meant: `<at>` text without an entity cannot pick anyone."""
    intent = parse("<at>Handoff</at> ask <at>Piet</at> anything?", [mention(BOT, "Handoff")], BOT)
    assert intent.command is Command.ASK and intent.colleague is None


def test_asking_nobody_or_the_bot_itself_gives_no_colleague() -> None:
    assert parse("<at>Handoff</at> ask", [mention(BOT, "Handoff")], BOT).colleague is None
    intent = parse("<at>Handoff</at> ask <at>Handoff</at> why?", [mention(BOT, "Handoff")] * 2, BOT)
    assert intent.colleague is None


def test_the_same_name_twice_maps_each_tag_to_its_own_entity() -> None:
    text = "<at>Handoff</at> ask <at>Piet</at> does <at>Piet</at> know?"
    other = "29:1other-piet"
    intent = parse(text, [mention(BOT, "Handoff"), mention(PIET, "Piet"), mention(other, "Piet")], BOT)
    assert intent.colleague is not None and intent.colleague.user_id == PIET
    assert intent.text == "does Piet know?"


@pytest.mark.parametrize(
    ("text", "command"),
    [
        ("<at>Handoff</at> use this channel", Command.USE_CHANNEL),
        ("<at>Handoff</at> Gebruik dit kanaal.", Command.USE_CHANNEL),
        ("my contacts", Command.MINE),
        ("<at>Handoff</at> mijn contacten", Command.MINE),
        ("open contacts", Command.OPEN),
        ("Open", Command.OPEN),
        ("log a contact", Command.LOG),
        ("nieuw contact", Command.LOG),
        ("help", Command.HELP),
        ("Yes, until March 2027.", Command.TEXT),
        ("", Command.TEXT),
    ],
)
def test_commands_in_english_and_dutch(text: str, command: Command) -> None:
    assert parse(text, [mention(BOT, "Handoff")], BOT).command is command


def test_a_plain_message_keeps_its_text_for_the_answer() -> None:
    intent = parse("Yes,&nbsp;until <b>March</b> 2027.", [], None)
    assert (intent.command, intent.text) == (Command.TEXT, "Yes, until March 2027.")


def test_the_real_channel_payload_read_through_botbuilder_objects() -> None:
    activity = Activity().deserialize(json.loads(FIXTURE.read_text()))
    intent = parse(activity.text, activity.entities, activity.recipient.id)
    assert (intent.command, intent.text, intent.colleague) == (Command.TEXT, "reply to thread", None)


@pytest.mark.parametrize("text", ["ask \x005\x00 hi", "hello \x000\x00", "\x000\x00"])
def test_a_typed_mention_marker_is_only_text(text: str) -> None:
    """parse() marks mentions with NUL-delimited indexes; a sender's own NULs used to raise IndexError."""
    intent = parse(text, [], None)
    assert intent.colleague is None and "\x00" not in intent.text
