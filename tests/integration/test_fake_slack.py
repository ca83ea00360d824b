"""The fake Slack Web API and the signed-request builders behave like Slack's documented protocol.

Checked through the real clients: slack_sdk's AsyncWebClient talks to the fake, slack_sdk's
SignatureVerifier and slack_bolt's AsyncApp accept the builders' requests.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import aiohttp
import pytest
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from tests.fakes import slack_signing as ss
from tests.fakes.slack_server import DEFAULT_TOKEN, FakeSlack

FIXTURES = Path(__file__).parent.parent / "fixtures" / "slack"
ROOT = Path(__file__).parents[2]
SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
CHANNEL, OTHER = "C0CONTACTS", "C0OTHER"
ANNA, PIET = "U0ANNA", "U0PIET"
CARD_META = {"event_type": "contact_card", "event_payload": {"contact_id": 42}}


class Ticker:
    """A time source the test moves by hand (rate limits and trigger expiry without sleeping)."""

    def __init__(self) -> None:
        self.t = 1_795_000_000.0

    def __call__(self) -> float:
        return self.t


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def card(contact_id: int = 42) -> list[dict[str, Any]]:
    return [
        {"type": "section", "block_id": "summary", "text": {"type": "mrkdwn", "text": "*Anna Jansen* belde"}},
        {
            "type": "actions",
            "block_id": "contact",
            "elements": [
                {
                    "type": "button",
                    "action_id": "contact.claim",
                    "text": {"type": "plain_text", "text": "Ik pak het op"},
                    "value": f"v1:c:{contact_id}",
                    "style": "primary",
                }
            ],
        },
    ]


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    async with FakeSlack() as slack:
        slack.add_channel(CHANNEL, "klantcontact")
        slack.add_channel(OTHER)
        slack.add_user(ANNA, "Anna", "anna@example.org", "Anna de Vries")
        slack.add_user(PIET, "Piet", "piet@example.org", tz="America/New_York")
        yield slack


@pytest.fixture
def client(fake: FakeSlack) -> AsyncWebClient:
    return AsyncWebClient(token=fake.token, base_url=fake.url)


def bolt_request(body: bytes, content_type: str, secret: str) -> AsyncBoltRequest:
    headers: dict[str, str | Sequence[str]] = {**ss.signed_headers(secret, body, content_type)}
    return AsyncBoltRequest(body=body.decode(), headers=headers)


async def error_of(call: Any) -> SlackApiError:
    with pytest.raises(SlackApiError) as caught:
        await call
    return caught.value


# ---------------------------------------------------------------------- signing


def test_sign_reproduces_the_documented_signature() -> None:
    vector = fixture("request_signing_test_vector.json")
    body = (FIXTURES / vector["body_file"]).read_bytes()
    headers = ss.sign(vector["signing_secret"], body, int(vector["x_slack_request_timestamp"]))
    assert headers == {
        "X-Slack-Request-Timestamp": vector["x_slack_request_timestamp"],
        "X-Slack-Signature": vector["expected_x_slack_signature"],
    }


def test_every_builder_body_passes_slack_sdks_verifier() -> None:
    verifier = SignatureVerifier(SECRET)
    bodies = [
        ss.interaction_body(ss.global_shortcut("contact.new", user=ANNA)),
        ss.event_body(ss.message_event("hallo", user=ANNA, channel="D0ANNA")),
        ss.slash_command_body("/handoff", "help", user_id=ANNA, channel_id=CHANNEL),
    ]
    for body in bodies:
        assert verifier.is_valid_request(body, ss.sign(SECRET, body))
        stale = ss.sign(SECRET, body, int(time.time()) - 6 * 60)
        assert not verifier.is_valid_request(body, stale)


# ---------------------------------------------------------------------- payload shapes


def keys(value: dict[str, Any]) -> set[str]:
    return set(value)


def test_block_actions_has_every_field_of_the_documented_example(fake: FakeSlack) -> None:
    doc = fixture("block_actions_message.strict.json")
    message = {"type": "message", "ts": "1548261231.000200", "text": "", "blocks": card()}
    ours = ss.block_actions("contact.claim", user=ANNA, channel=CHANNEL, message=message)
    assert keys(doc) <= keys(ours)
    assert keys(doc["actions"][0]) <= keys(ours["actions"][0])
    assert keys(doc["user"]) <= keys(ours["user"])
    assert ours["container"] == {
        "type": "message",
        "message_ts": "1548261231.000200",
        "channel_id": CHANNEL,
        "is_ephemeral": False,
    }
    action = ours["actions"][0]
    assert (action["block_id"], action["value"], action["text"]["text"]) == (
        "contact",
        "v1:c:42",
        "Ik pak het op",
    )
    with pytest.raises(LookupError):
        ss.block_actions("contact.resolve", user=ANNA, channel=CHANNEL, message=message)


def test_home_tab_click_has_every_field_of_the_documented_example() -> None:
    doc = fixture("block_actions_home_tab.json")
    home = {"id": "V0HOME", "type": "home", "blocks": card()}
    ours = ss.view_block_actions(home, "contact.claim", user=ANNA)
    assert keys(doc) <= keys(ours)
    assert keys(doc["view"]) <= keys(ours["view"])
    assert ours["container"] == {"type": "view", "view_id": "V0HOME"}


def test_view_submission_state_has_slacks_shape_for_each_input() -> None:
    doc = fixture("view_submission.strict.json")
    opened = {"id": "V0ASK", "type": "modal", "callback_id": "ask", "private_metadata": "v1:c:42"}
    values = {
        "multiline": {"mlvalue": ss.plain_text_input("This is my example inputted value")},
        "target_channel": {"target_select": ss.conversations_select("C123B12DE")},
        "colleague": ss.users_select(PIET),
        "reason": ss.static_select("callback", "Terugbellen"),
        "when": ss.datetimepicker(1_795_000_000),
        "at": ss.timepicker("14:30"),
        "on": ss.datepicker("2026-11-23"),
        "flags": ss.checkboxes("urgent", ("vip", "VIP")),
    }
    ours = ss.view_submission(opened, values, user=ANNA)
    assert keys(doc) <= keys(ours)
    assert keys(doc["view"]) - {"response_urls"} <= keys(ours["view"])
    state = ours["view"]["state"]["values"]
    assert {k: state[k] for k in ("multiline", "target_channel")} == doc["view"]["state"]["values"]
    assert state["colleague"] == {"colleague": {"type": "users_select", "selected_user": PIET}}
    assert state["reason"]["reason"]["selected_option"]["value"] == "callback"
    assert state["when"]["when"] == {"type": "datetimepicker", "selected_date_time": 1_795_000_000}
    assert state["at"]["at"]["selected_time"] == "14:30"
    assert [o["value"] for o in state["flags"]["flags"]["selected_options"]] == ["urgent", "vip"]
    assert ours["view"]["private_metadata"] == "v1:c:42"
    closed = ss.view_closed(opened, user=ANNA)
    assert keys(fixture("view_closed.strict.json")) <= keys(closed)


def test_events_have_every_field_of_the_documented_examples() -> None:
    mention_doc = fixture("event_callback_app_mention.strict.json")
    body = json.loads(ss.event_body(ss.app_mention(f"<@{ss.BOT_USER_ID}> help", user=ANNA, channel=CHANNEL)))
    assert keys(mention_doc) <= keys(body)
    assert keys(mention_doc["authorizations"][0]) <= keys(body["authorizations"][0])
    assert keys(mention_doc["event"]) <= keys(body["event"])
    assert "." in body["event"]["event_ts"]  # the docs' example lacks the dot; Slack's real ones have it

    channel_doc = fixture("event_callback_message_channels.strict.json")["event"]
    plain = ss.message_event("hallo", user=ANNA, channel=CHANNEL)
    assert keys(channel_doc) <= keys(plain)
    assert plain["channel_type"] == "channel"

    reply = ss.message_event("ik bel haar", user=ANNA, channel="D0ANNA", thread_ts="1795000000.000001")
    assert reply["channel_type"] == "im"
    assert reply["thread_ts"] != reply["ts"]
    assert "subtype" not in reply  # replies arrive without message_replied over the Events API


def test_shortcuts_and_commands_have_every_field_of_the_documented_examples() -> None:
    doc = fixture("message_action_message_shortcut.strict.json")
    message = {"type": "message", "user": ANNA, "ts": "1516229207.000133", "text": "Bel me terug"}
    ours = ss.message_action("contact.from_message", user=PIET, channel=CHANNEL, message=message)
    assert keys(doc) <= keys(ours)
    assert keys(fixture("shortcut_global.json")) <= keys(ss.global_shortcut("contact.new", user=ANNA))

    documented = parse_qs(
        (FIXTURES / "slash_command_signed_body_example.txt").read_text(), keep_blank_values=True
    )
    body = ss.slash_command_body("/handoff", "", user_id=ANNA, channel_id=CHANNEL)
    ours_fields = parse_qs(body.decode(), keep_blank_values=True)
    assert set(documented) <= set(ours_fields)
    assert ours_fields["command"] == ["/handoff"]
    assert ours_fields["text"] == [""]


async def test_bolt_accepts_and_routes_every_kind_of_signed_request(fake: FakeSlack) -> None:
    seen: list[str] = []
    app = AsyncApp(
        client=AsyncWebClient(token=fake.token, base_url=fake.url),
        signing_secret=SECRET,
        process_before_response=True,
    )

    @app.action("contact.claim")
    async def claim(ack: Any, body: dict[str, Any]) -> None:
        await ack()
        seen.append(f"click {body['actions'][0]['value']}")

    @app.view("ask")
    async def submit(ack: Any, view: dict[str, Any]) -> None:
        await ack()
        seen.append(f"submit {view['state']['values']['colleague']['colleague']['selected_user']}")

    @app.event("app_mention")
    async def mention(event: dict[str, Any]) -> None:
        seen.append(f"mention {event['user']}")

    @app.event("message")
    async def message(event: dict[str, Any]) -> None:
        seen.append(f"message {event['channel_type']}")

    @app.command("/handoff")
    async def command(ack: Any, command: dict[str, Any], respond: Any) -> None:
        await ack()
        await respond("Zo werkt het")
        seen.append(f"command {command['text']}")

    @app.shortcut("contact.new")
    async def shortcut(ack: Any) -> None:
        await ack()
        seen.append("shortcut")

    posted = await AsyncWebClient(token=fake.token, base_url=fake.url).chat_postMessage(
        channel=CHANNEL, text="Anna belde", blocks=card(), metadata=CARD_META
    )
    on_card = fake.message_json(CHANNEL, posted["ts"])
    click = ss.block_actions("contact.claim", user=ANNA, channel=CHANNEL, message=on_card)
    submission = ss.view_submission({"callback_id": "ask"}, {"colleague": ss.users_select(PIET)}, user=ANNA)
    mention_event = ss.app_mention(f"<@{ss.BOT_USER_ID}> hoi", user=ANNA, channel=CHANNEL)
    dm_reply = ss.message_event("ja", user=ANNA, channel="D0ANNA", thread_ts=posted["ts"])
    hook = fake.response_url()
    requests = [
        (ss.FORM, ss.interaction_body(click)),
        (ss.FORM, ss.interaction_body(submission)),
        (ss.JSON_TYPE, ss.event_body(mention_event)),
        (ss.JSON_TYPE, ss.event_body(dm_reply)),
        (
            ss.FORM,
            ss.slash_command_body("/handoff", "help", user_id=ANNA, channel_id=CHANNEL, response_url=hook),
        ),
        (ss.FORM, ss.interaction_body(ss.global_shortcut("contact.new", user=ANNA))),
    ]
    for content_type, body in requests:
        response = await app.async_dispatch(bolt_request(body, content_type, SECRET))
        assert response.status == 200, (body, response.body)
    forged = await app.async_dispatch(bolt_request(requests[0][1], ss.FORM, "not-the-secret"))
    assert forged.status == 401
    assert seen == [
        "click v1:c:42",
        f"submit {PIET}",
        f"mention {ANNA}",
        "message im",
        "command help",
        "shortcut",
    ]
    assert fake.calls_to("auth.test"), "bolt learns its bot user from the fake's auth.test"
    assert [r["text"] for r in fake.responses] == ["Zo werkt het"]


# ---------------------------------------------------------------------- messages over slack_sdk


async def test_post_with_blocks_and_metadata_then_update(fake: FakeSlack, client: AsyncWebClient) -> None:
    posted = await client.chat_postMessage(
        channel=CHANNEL, text="Anna belde", blocks=card(), metadata=CARD_META
    )
    assert posted["ok"] and posted["channel"] == CHANNEL
    seconds, counter = posted["ts"].split(".")
    assert len(seconds) == 10 and len(counter) == 6
    assert posted["message"]["metadata"] == CARD_META
    assert posted["message"]["bot_id"] == ss.BOT_ID

    updated = await client.chat_update(
        channel=CHANNEL, ts=posted["ts"], text="Piet pakt het op", blocks=[section("*Piet* pakt het op")]
    )
    assert updated["ts"] == posted["ts"]
    now = fake.message(CHANNEL, posted["ts"])
    assert (now.text, now.blocks) == ("Piet pakt het op", [section("*Piet* pakt het op")])
    assert now.metadata is None, "Slack keeps metadata only when an update sends it again"
    assert [e["text"] for e in now.edits] == ["Anna belde"]
    assert [m.ts for m in fake.messages_in(CHANNEL)] == [posted["ts"]]

    missing = await error_of(client.chat_update(channel=CHANNEL, ts="1795000000.999999", text="x"))
    assert missing.response["error"] == "message_not_found"


async def test_form_encoded_calls_decode_json_fields(fake: FakeSlack, client: AsyncWebClient) -> None:
    await client.api_call(
        "chat.postMessage",
        data={
            "channel": CHANNEL,
            "text": "hoi",
            "blocks": json.dumps(card()),
            "metadata": json.dumps(CARD_META),
        },
    )
    (message,) = fake.messages_in(CHANNEL)
    assert message.blocks == card() and message.metadata == CARD_META
    assert fake.calls_to("chat.postMessage")[0]["blocks"] == card()
    assert fake.calls[-1].headers["Authorization"] == "<redacted>"
    assert "token" not in fake.calls[-1].params


async def test_history_returns_metadata_only_when_asked(fake: FakeSlack, client: AsyncWebClient) -> None:
    first = await client.chat_postMessage(channel=CHANNEL, text="eerste", metadata=CARD_META)
    second = await client.chat_postMessage(channel=CHANNEL, text="tweede")
    await client.chat_postMessage(channel=CHANNEL, thread_ts=first["ts"], text="in de draad")

    history = await client.conversations_history(channel=CHANNEL, include_all_metadata=True)
    doc = fixture("conversations_history_response_with_metadata.json")
    assert keys(doc) - {"response_metadata"} <= keys(history.data)  # type: ignore[arg-type]
    assert [m["ts"] for m in history["messages"]] == [second["ts"], first["ts"]]  # newest first, no replies
    assert history["messages"][1]["metadata"] == CARD_META
    assert history["messages"][1]["reply_count"] == 1

    plain = await client.conversations_history(channel=CHANNEL)
    assert all("metadata" not in m for m in plain["messages"])


async def test_history_pages_with_cursors(client: AsyncWebClient) -> None:
    sent = [(await client.chat_postMessage(channel=CHANNEL, text=str(n)))["ts"] for n in range(5)]
    first = await client.conversations_history(channel=CHANNEL, limit=2)
    assert [m["text"] for m in first["messages"]] == ["4", "3"] and first["has_more"]
    second = await client.conversations_history(
        channel=CHANNEL, limit=2, cursor=first["response_metadata"]["next_cursor"]
    )
    assert [m["text"] for m in second["messages"]] == ["2", "1"]
    newer = await client.conversations_history(channel=CHANNEL, oldest=sent[2])
    assert [m["text"] for m in newer["messages"]] == ["4", "3"]


async def test_threads_and_broadcast_replies(fake: FakeSlack, client: AsyncWebClient) -> None:
    parent = await client.chat_postMessage(channel=CHANNEL, text="kaart", metadata=CARD_META)
    reply = await client.chat_postMessage(channel=CHANNEL, thread_ts=parent["ts"], text="Piet pakt het op")
    person = fake.post_as(ANNA, CHANNEL, "ik help mee", thread_ts=parent["ts"])
    loud = await client.chat_postMessage(
        channel=CHANNEL, thread_ts=parent["ts"], text="opgelost", reply_broadcast=True
    )

    assert [m.ts for m in fake.thread(CHANNEL, parent["ts"])] == [reply["ts"], person.ts, loud["ts"]]
    assert [m.ts for m in fake.messages_in(CHANNEL)] == [parent["ts"], loud["ts"]]
    replies = await client.conversations_replies(channel=CHANNEL, ts=parent["ts"], include_all_metadata=True)
    head, *rest = replies["messages"]
    assert head["ts"] == parent["ts"] and head["reply_count"] == 3 and head["metadata"] == CARD_META
    assert head["reply_users"] == [ss.BOT_USER_ID, ANNA]
    assert all(m["thread_ts"] == parent["ts"] and m["parent_user_id"] == ss.BOT_USER_ID for m in rest)
    missing = await error_of(client.chat_postMessage(channel=CHANNEL, thread_ts="1.000001", text="x"))
    assert missing.response["error"] == "thread_not_found"


async def test_direct_messages_use_a_stable_dm_channel(fake: FakeSlack, client: AsyncWebClient) -> None:
    opened = await client.conversations_open(users=ANNA)
    again = await client.conversations_open(users=ANNA)
    dm = fake.dm_channel_of(ANNA)
    assert opened["channel"]["id"] == again["channel"]["id"] == dm and dm.startswith("D")
    assert again["already_open"] is True
    assert fake.dm_channel_of(PIET) != dm

    await client.chat_postMessage(channel=dm, text="Vraag van Piet")
    await client.chat_postMessage(channel=ANNA, text="naar Slackbot")
    assert [m.text for m in fake.messages_in(dm)] == ["Vraag van Piet"]
    assert [m.text for m in fake.messages_in(ANNA)] == ["naar Slackbot"]

    unknown = await error_of(client.conversations_open(users="U0NOBODY"))
    assert unknown.response["error"] == "user_not_found"
    never_opened = await error_of(client.chat_postMessage(channel=fake.dm_channel_of(PIET), text="x"))
    assert never_opened.response["error"] == "channel_not_found"


async def test_users_info_and_lookup_by_email(client: AsyncWebClient) -> None:
    info = await client.users_info(user=ANNA)
    user = info["user"]
    assert (user["id"], user["real_name"], user["tz"]) == (ANNA, "Anna de Vries", "Europe/Amsterdam")
    profile = user["profile"]
    assert (profile["email"], profile["real_name"], profile["display_name"]) == (
        "anna@example.org",
        "Anna de Vries",
        "Anna",
    )
    assert (await client.users_info(user=PIET))["user"]["tz_offset"] in (-5 * 3600, -4 * 3600)
    found = await client.users_lookupByEmail(email="PIET@example.org")
    assert found["user"]["id"] == PIET
    assert (await error_of(client.users_info(user="U0NOBODY"))).response["error"] == "user_not_found"
    missing = await error_of(client.users_lookupByEmail(email="nobody@example.org"))
    assert missing.response["error"] == "users_not_found"


async def test_ephemeral_delete_and_everything_the_fake_holds(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    ephemeral = await client.chat_postEphemeral(channel=CHANNEL, user=ANNA, text="Alleen voor jou: 06-1234")
    assert ephemeral["message_ts"]
    posted = await client.chat_postMessage(channel=CHANNEL, text="kaart", blocks=[section("Bel 06-5678")])
    await client.views_open(trigger_id=ss.new_trigger_id(), view=modal("Vraag 06-9999"))

    texts = fake.all_texts()
    assert {"Alleen voor jou: 06-1234", "Bel 06-5678", "Vraag 06-9999"} <= set(texts)
    assert "Vraag 06-9999" not in fake.all_texts(CHANNEL)
    assert [e.text for e in fake.ephemerals_for(ANNA)] == ["Alleen voor jou: 06-1234"]

    await client.chat_delete(channel=CHANNEL, ts=posted["ts"])
    assert "Bel 06-5678" not in fake.all_texts()
    assert fake.messages_in(CHANNEL) == []


# ---------------------------------------------------------------------- errors and faults


async def test_tokens_channels_and_methods_are_checked(fake: FakeSlack) -> None:
    wrong = AsyncWebClient(token="xoxb-not-the-token", base_url=fake.url)
    assert (await error_of(wrong.auth_test())).response["error"] == "invalid_auth"
    anonymous = AsyncWebClient(base_url=fake.url)
    assert (await error_of(anonymous.auth_test())).response["error"] == "not_authed"

    client = AsyncWebClient(token=fake.token, base_url=fake.url)
    assert (await client.auth_test())["user_id"] == ss.BOT_USER_ID
    assert (await error_of(client.api_call("chat.teleport"))).response["error"] == "unknown_method"
    missing = await error_of(client.chat_postMessage(channel="C0NOWHERE", text="x"))
    assert missing.response["error"] == "channel_not_found"
    fake.add_channel("C0UNINVITED", member=False)
    uninvited = await error_of(client.chat_postMessage(channel="C0UNINVITED", text="x"))
    assert uninvited.response["error"] == "not_in_channel"
    empty = await error_of(client.api_call("chat.postMessage", json={"channel": CHANNEL}))
    assert empty.response["error"] == "no_text"


def buttons(n: int, value: str = "v1:c:1") -> dict[str, Any]:
    def button(i: int) -> dict[str, Any]:
        return {
            "type": "button",
            "action_id": f"a{i}",
            "text": {"type": "plain_text", "text": "Klik"},
            "value": value,
        }

    return {"type": "actions", "elements": [button(i) for i in range(n)]}


@pytest.mark.parametrize(
    ("blocks", "text", "error"),
    [
        ([section("x")] * 51, "x", "invalid_blocks"),
        ([section("x" * 3001)], "x", "invalid_blocks"),
        ([buttons(1, "v" * 2001)], "x", "invalid_blocks"),
        ([{"type": "header", "text": {"type": "mrkdwn", "text": "x"}}], "x", "invalid_blocks"),
        ([section("x" * 2500)] * 5, "x", "msg_blocks_too_long"),
        (None, "x" * 40_001, "msg_too_long"),
    ],
    ids=["51 blocks", "section 3001", "button value 2001", "mrkdwn header", "13k block text", "text 40001"],
)
async def test_block_kit_limits_are_refused(
    client: AsyncWebClient, blocks: list[dict[str, Any]] | None, text: str, error: str
) -> None:
    refused = await error_of(client.chat_postMessage(channel=CHANNEL, text=text, blocks=blocks))
    assert refused.response.status_code == 200
    assert refused.response["error"] == error


async def test_block_kit_limits_are_inclusive(fake: FakeSlack, client: AsyncWebClient) -> None:
    await client.chat_postMessage(channel=CHANNEL, text="x", blocks=[section("x" * 200)] * 50)
    await client.chat_postMessage(
        channel=CHANNEL, text="x", blocks=[section("x" * 3000), buttons(25, "v" * 2000)]
    )
    assert len(fake.messages_in(CHANNEL)) == 2
    refused = await error_of(client.chat_postMessage(channel=CHANNEL, text="x", blocks=[section("x" * 3001)]))
    assert "[json-pointer:/blocks/0/text/text]" in refused.response["errors"][0]


async def test_rate_limit_fault_surfaces_as_429_with_retry_after(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    fake.fail_next("chat.postMessage", status=429, retry_after=7)
    limited = await error_of(client.chat_postMessage(channel=CHANNEL, text="x"))
    assert limited.response.status_code == 429
    assert limited.response.headers["Retry-After"] == "7"
    assert limited.response.data == {"ok": False, "error": "ratelimited"}
    assert (await client.chat_postMessage(channel=CHANNEL, text="x"))["ok"]
    assert [c.status for c in fake.calls] == [429, 200]


async def test_server_errors_error_answers_and_outages(fake: FakeSlack, client: AsyncWebClient) -> None:
    fake.fail_next("chat.update", status=503)
    fake.fail_next("chat.postMessage", error="channel_not_found", times=2)
    assert (
        await error_of(client.chat_update(channel=CHANNEL, ts="1.1", text="x"))
    ).response.status_code == 503
    for _ in range(2):
        answer = await error_of(client.chat_postMessage(channel=CHANNEL, text="x"))
        assert (answer.response.status_code, answer.response["error"]) == (200, "channel_not_found")

    fake.outage()
    down = await error_of(client.users_info(user=ANNA))
    assert (down.response.status_code, down.response["error"]) == (503, "service_unavailable")
    fake.recover()
    assert (await client.users_info(user=ANNA))["ok"]
    assert fake.messages_in(CHANNEL) == []


async def test_a_hanging_call_times_out_the_client_but_still_takes_effect(fake: FakeSlack) -> None:
    fake.fail_next("chat.postMessage", hang=30)
    headers = {"Authorization": f"Bearer {fake.token}"}
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=0.2)) as http:
        with pytest.raises(TimeoutError):
            await http.post(
                f"{fake.url}chat.postMessage", json={"channel": CHANNEL, "text": "traag"}, headers=headers
            )
    assert fake.messages_in(CHANNEL) == []
    fake.release()
    await fake.wait_for_messages(CHANNEL, 1, within=5)
    assert fake.messages_in(CHANNEL)[0].text == "traag"


async def test_per_channel_rate_limit_is_a_token_bucket() -> None:
    ticker = Ticker()
    async with FakeSlack(rate_per_channel=1, burst=2, now=ticker) as fake:
        fake.add_channel(CHANNEL)
        fake.add_channel(OTHER)
        client = AsyncWebClient(token=fake.token, base_url=fake.url)
        for _ in range(2):
            await client.chat_postMessage(channel=CHANNEL, text="burst")
        limited = await error_of(client.chat_postMessage(channel=CHANNEL, text="te snel"))
        assert (limited.response.status_code, limited.response.headers["Retry-After"]) == (429, "1")
        assert (await client.chat_postMessage(channel=OTHER, text="ander kanaal"))["ok"]
        assert (
            await client.chat_update(channel=CHANNEL, ts=fake.messages_in(CHANNEL)[0].ts, text="bijgewerkt")
        )["ok"]

        ticker.t += 1
        assert (await client.chat_postMessage(channel=CHANNEL, text="weer"))["ok"]
        assert (
            await error_of(client.chat_postMessage(channel=CHANNEL, text="x"))
        ).response.status_code == 429
        ticker.t += 10  # a quiet spell refills the bucket only up to the burst
        for _ in range(2):
            await client.chat_postMessage(channel=CHANNEL, text="burst")
        assert (
            await error_of(client.chat_postMessage(channel=CHANNEL, text="x"))
        ).response.status_code == 429
        assert [m.text for m in fake.messages_in(CHANNEL)] == [
            "bijgewerkt",
            "burst",
            "weer",
            "burst",
            "burst",
        ]


# ---------------------------------------------------------------------- views and triggers


def modal(text: str = "Wie moet dit weten?", callback_id: str = "ask") -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": callback_id,
        "title": {"type": "plain_text", "text": "Vraag een collega"},
        "submit": {"type": "plain_text", "text": "Vraag"},
        "private_metadata": "v1:c:42",
        "blocks": [section(text)],
    }


async def test_views_open_update_and_publish(fake: FakeSlack, client: AsyncWebClient) -> None:
    opened = (await client.views_open(trigger_id=ss.new_trigger_id(), view=modal()))["view"]
    assert (
        opened["id"].startswith("V") and opened["callback_id"] == "ask" and opened["state"] == {"values": {}}
    )
    assert fake.last_view()["private_metadata"] == "v1:c:42"

    updated = await client.views_update(view_id=opened["id"], hash=opened["hash"], view=modal("Bijgewerkt"))
    assert updated["view"]["id"] == opened["id"] and updated["view"]["blocks"] == [section("Bijgewerkt")]
    stale = await error_of(client.views_update(view_id=opened["id"], hash=opened["hash"], view=modal()))
    assert stale.response["error"] == "hash_conflict"
    assert (await error_of(client.views_update(view_id="V0GONE", view=modal()))).response[
        "error"
    ] == "not_found"

    home = {"type": "home", "blocks": [section("Jouw contacten")]}
    first = (await client.views_publish(user_id=ANNA, view=home))["view"]
    second = (await client.views_publish(user_id=ANNA, view=home))["view"]
    assert first["id"] == second["id"] and fake.home_of(ANNA) is not None
    too_long = modal() | {"private_metadata": "x" * 3001}
    refused = await error_of(client.views_open(trigger_id=ss.new_trigger_id(), view=too_long))
    assert refused.response["error"] == "invalid_arguments"


async def test_strict_triggers_work_once_within_three_seconds() -> None:
    ticker = Ticker()
    async with FakeSlack(strict_triggers=True, now=ticker) as fake:
        client = AsyncWebClient(token=fake.token, base_url=fake.url)
        trigger = fake.issue_trigger_id()
        assert (await client.views_open(trigger_id=trigger, view=modal()))["ok"]
        reused = await error_of(client.views_open(trigger_id=trigger, view=modal()))
        assert reused.response["error"] == "exchanged_trigger_id"

        late = fake.issue_trigger_id()
        ticker.t += 3.5
        assert (await error_of(client.views_open(trigger_id=late, view=modal()))).response["error"] == (
            "expired_trigger_id"
        )
        made_up = await error_of(client.views_open(trigger_id=ss.new_trigger_id(), view=modal()))
        assert made_up.response["error"] == "invalid_trigger_id"


# ---------------------------------------------------------------------- its own process


async def test_runs_as_its_own_process_with_a_control_api() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.fakes.slack_server", "--port", "0", "--rate", "50",
        "--channel", CHANNEL, "--user", f"{ANNA}:Anna:anna@example.org",
        cwd=ROOT, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode().strip()
        url = line.removeprefix("FAKE_SLACK_URL=")
        client = AsyncWebClient(token=DEFAULT_TOKEN, base_url=url)
        await client.chat_postMessage(channel=CHANNEL, text="van buiten", metadata=CARD_META)
        assert (await client.users_info(user=ANNA))["user"]["profile"]["email"] == "anna@example.org"
        control = url.removesuffix("/api/")
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{control}/_fake/messages", params={"channel": CHANNEL}) as response:
                (message,) = await response.json()
            async with http.get(f"{control}/_fake/stats") as response:
                stats = await response.json()
        assert (message["text"], message["metadata"]) == ("van buiten", CARD_META)
        assert stats["calls"]["chat.postMessage"] == 1
    finally:
        proc.terminate()
        assert await asyncio.wait_for(proc.wait(), 10) == 0
