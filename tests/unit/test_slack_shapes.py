"""The shape guard in front of bolt accepts every documented Slack payload and names what is wrong."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlencode

import pytest

from handoff_bot.platforms.slack import shapes

FIXTURES = Path(__file__).parent.parent / "fixtures" / "slack"
DOCUMENTED = [
    "block_actions_home_tab.json",
    "block_actions_message.strict.json",
    "event_callback_app_mention.strict.json",
    "event_callback_message_channels.strict.json",
    "event_callback_message_replied_thread.strict.json",
    "event_callback_reaction_added.json",
    "message_action_message_shortcut.strict.json",
    "shortcut_global.json",
    "url_verification.json",
    "view_closed.strict.json",
]


@pytest.mark.parametrize("name", DOCUMENTED)
def test_documented_payloads_pass(name: str) -> None:
    body = json.loads((FIXTURES / name).read_text())
    assert shapes.problem(body) is None


def test_a_submission_without_the_user_is_refused() -> None:
    # The documented example leaves `user` empty; Slack always sends who submitted, and we need it.
    body = json.loads((FIXTURES / "view_submission.strict.json").read_text())
    assert shapes.problem(body) == "$.user.id"
    assert shapes.problem({**body, "user": {"id": "U1"}}) is None


def test_a_documented_slash_command_passes_as_the_form_it_is() -> None:
    raw = (FIXTURES / "slash_command_signed_body_example.txt").read_text().strip().encode()
    parsed = shapes.parse(raw, "application/x-www-form-urlencoded")
    assert parsed is not None and parsed["command"] and shapes.problem(parsed) is None
    assert shapes.problem({**parsed, "user_id": ""}) == "$.user_id"


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"actions": None}, "$.actions"),
        ({"view": None, "type": None}, "$.view"),
        ({"actions": [{"action_id": 7}]}, "$.actions[0].action_id"),
        ({"user": "U1"}, "$.user.id"),
        ({"user": {"id": True}}, "$.user.id"),
        ({"trigger_id": ""}, "$.trigger_id"),
        ({"channel": ["C1"]}, "$.channel"),
        ({"message": {"ts": 1.5}}, "$.message.ts"),
    ],
)
def test_wrong_types_are_named(change: dict[str, object], where: str) -> None:
    body = json.loads((FIXTURES / "block_actions_message.strict.json").read_text())
    assert shapes.problem({**body, **change}) == where


def test_unreadable_bodies_are_none() -> None:
    assert shapes.parse(b"\x80\xff", "application/json") is None
    assert shapes.parse(b"[1, 2]", "application/json") is None
    assert (
        shapes.parse(urlencode({"payload": "{not json"}).encode(), "application/x-www-form-urlencoded")
        is None
    )
