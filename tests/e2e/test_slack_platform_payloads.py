"""Slack's own documentation payloads (copied into tests/fixtures/slack) against our endpoint."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.e2e.slack_harness import MARIEKE, slack_app
from tests.fakes import slack_signing as ss

FIXTURES = Path(__file__).parent.parent / "fixtures" / "slack"


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def db(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'handoff.db'}"


def test_our_signature_reproduces_slacks_worked_example() -> None:
    vector = fixture("request_signing_test_vector.json")
    body = (FIXTURES / vector["body_file"]).read_bytes()
    headers = ss.sign(vector["signing_secret"], body, int(vector["x_slack_request_timestamp"]))
    assert headers["X-Slack-Signature"] == vector["expected_x_slack_signature"]


async def test_url_verification_echoes_the_challenge(tmp_path: Path) -> None:
    async with slack_app(db(tmp_path)) as h:
        doc = fixture("url_verification.json")
        response = await h.send(json.dumps(doc).encode(), "application/json")
        assert response.status == 200
        assert doc["challenge"] in await response.text()


async def test_unknown_buttons_commands_and_events_are_acknowledged_without_retries(tmp_path: Path) -> None:
    async with slack_app(db(tmp_path)) as h:
        before = len(h.slack.calls)
        assert (await h.interact(fixture("block_actions_message.strict.json"))).status == 200
        body = (FIXTURES / "slash_command_signed_body_example.txt").read_bytes()  # /weather is not ours
        assert (await h.send(body, "application/x-www-form-urlencoded")).status == 200
        event = fixture("event_callback_reaction_added.json")
        assert (await h.send(json.dumps(event).encode(), "application/json")).status == 200
        assert [c.method for c in h.slack.calls[before:]] in ([], ["auth.test"])


async def test_documented_message_shortcut_opens_the_log_form_with_the_message(tmp_path: Path) -> None:
    async with slack_app(db(tmp_path)) as h:
        shortcut = {
            **fixture("message_action_message_shortcut.strict.json"),
            "callback_id": "handoff_message",
        }
        assert (await h.interact(shortcut)).status == 200
        view = h.last_view()
        assert view["callback_id"] == "view.log_contact"
        body_block = next(b for b in view["blocks"] if b.get("block_id") == "body")
        assert body_block["element"]["initial_value"].startswith("World's smallest big cat!")
        origin = json.loads(view["private_metadata"])
        assert origin == {"channel": "D0LFFBKLZ", "ts": "1516229207.000133"}


async def test_documented_global_shortcut_opens_the_log_form(tmp_path: Path) -> None:
    async with slack_app(db(tmp_path)) as h:
        shortcut = {**fixture("shortcut_global.json"), "callback_id": "log_contact"}
        assert (await h.interact(shortcut)).status == 200
        assert h.last_view()["callback_id"] == "view.log_contact"
        assert h.slack.calls_to("views.open")[-1]["trigger_id"] == shortcut["trigger_id"]


async def test_documented_app_mention_without_a_command_gets_help(tmp_path: Path) -> None:
    async with slack_app(db(tmp_path)) as h:
        doc = fixture("event_callback_app_mention.strict.json")
        doc["event"]["user"] = MARIEKE
        h.slack.add_channel(doc["event"]["channel"])  # the documented example's channel
        assert (await h.send(json.dumps(doc).encode(), "application/json")).status == 200
        await h.deliver()
        assert h.ephemerals_for(MARIEKE) == [
            "Write `@Handoff ask @colleague your question` in a contact's thread."
        ]
