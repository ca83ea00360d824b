"""Every Slack entry point under validly signed garbage: events, clicks, submissions, commands, shortcuts.

Whatever arrives: no 500 (bolt's answer to a listener that crashed), no contact stored half, and the
worker delivers whatever the requests left behind without an unexpected failure.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from handoff_bot import keys
from handoff_bot.platforms.slack.actions import ActionId, ViewId
from handoff_bot.storage.models import ContactRow, CustomerRow, OutboxRow, TimelineRow
from tests.e2e import faults
from tests.e2e.slack_harness import CHANNEL, JOOP, MARIEKE, PIET, Harness, slack_app
from tests.fakes import slack_signing as ss

EXAMPLES = 400 if faults.LONG else 25
FUZZ = settings(
    max_examples=EXAMPLES,
    derandomize=not faults.LONG,  # the same examples in `make test`; new ones in every `make bench`
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)
HOSTILE = st.sampled_from(
    [
        "<!channel>",
        "<!here|here>",
        "<@U0MARIEKE>",
        "<#C0CONTACTS>",
        "*b* _i_ ~s~ `c`",
        "\x00\x07\x1b[2J",
        "\u202eevil",
    ]
)
TEXT = st.text(max_size=60) | HOSTILE | st.just("x" * 5000)
USERS = st.sampled_from([MARIEKE, PIET, JOOP, "U0NOBODY", "", "W123", "USLACKBOT"]) | st.text(max_size=12)
IDS = st.integers(min_value=-5, max_value=2**63) | st.sampled_from([1, 2, 3])
VALUES = (
    st.builds("v1:c:{}".format, IDS)
    | st.builds("v1:q:{}".format, IDS)
    | st.sampled_from(["v1:c:", "v2:c:1", "v1:x:1", "v1:c:1:2", "v1:c:²"])
    | TEXT
)
ACTIONS = st.sampled_from([a.value for a in ActionId]) | st.text(max_size=20)
VIEWS = st.sampled_from([v.value for v in ViewId]) | st.text(max_size=20)
FIELDS = ["colleague", "question", "note", "outcome", "answer", "name", "phone", "email", "subject", "body"]
STATES = st.dictionaries(
    st.sampled_from(FIELDS) | st.text(max_size=10),
    st.builds(ss.plain_text_input, TEXT | st.none())
    | st.builds(ss.users_select, USERS | st.none())
    | st.builds(ss.static_select, st.sampled_from(["phone", "email", "web", "fax"]) | st.text(max_size=8))
    | JSONISH.filter(lambda v: isinstance(v, dict) and "type" not in v),
    max_size=6,
)


def mutated(payload: dict[str, Any], overrides: dict[str, Any], dropped: list[str]) -> dict[str, Any]:
    """The payload with some top-level fields replaced by junk and some left out."""
    out = {**payload, **overrides}
    for key in dropped:
        out.pop(key, None)
    return out


def overrides_of(payload_keys: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    return st.dictionaries(st.sampled_from(payload_keys), JSONISH, max_size=2)


@pytest.fixture
async def desk(tmp_path: Path) -> AsyncIterator[Harness]:
    async with slack_app(f"sqlite+aiosqlite:///{tmp_path / 'fuzz.db'}") as h:
        for _ in range(2):
            await h.post_contact()
        await h.deliver()
        await h.ask(1, MARIEKE, PIET, "Is the oven under warranty?")
        yield h
        await h.deliver()
        await assert_nothing_half_done(h)


async def assert_nothing_half_done(h: Harness) -> None:
    """Every contact is whole (customer, received event, a card to post), no worker surprise."""
    async with h.client.app[keys.UOW].sessions() as s:
        contacts = list((await s.execute(select(ContactRow.id, ContactRow.customer_id))).all())
        customers = set((await s.scalars(select(CustomerRow.id))).all())
        received = set(
            (await s.scalars(select(TimelineRow.contact_id).where(TimelineRow.kind == "received"))).all()
        )
        surprises = await s.scalar(
            select(func.count()).select_from(OutboxRow).where(OutboxRow.last_error.contains("unexpected"))
        )
    for contact_id, customer_id in contacts:
        assert customer_id in customers and contact_id in received, contact_id
        h.card(contact_id)  # exactly one card in the channel
    assert surprises == 0


async def send(h: Harness, body: bytes, content_type: str) -> None:
    response = await h.send(body, content_type)
    assert response.status < 500, (response.status, body[:300])


@FUZZ
@given(
    action=ACTIONS,
    value=VALUES,
    user=USERS,
    channel=st.sampled_from([CHANNEL, "D0NOWHERE", ""]) | st.text(max_size=10),
    junk=st.data(),
)
async def test_block_actions(
    desk: Harness, action: str, value: str, user: str, channel: str, junk: Any
) -> None:
    ts = desk.card(1).ts
    payload = ss.block_actions(action, user=user or "U0X", channel=channel, message_ts=ts, value=value)
    keys_ = ["actions", "user", "channel", "container", "message", "team", "trigger_id", "type"]
    payload = mutated(payload, junk.draw(overrides_of(keys_)), junk.draw(st.lists(st.sampled_from(keys_))))
    await send(desk, ss.interaction_body(payload), ss.FORM)


@FUZZ
@given(callback=VIEWS, metadata=VALUES | JSONISH.map(str), state=STATES, user=USERS, junk=st.data())
async def test_view_submissions(
    desk: Harness, callback: str, metadata: str, state: dict[str, Any], user: str, junk: Any
) -> None:
    view = {"type": "modal", "callback_id": callback, "private_metadata": metadata}
    payload = ss.view_submission(view, state, user=user or "U0X")
    keys_ = ["view", "user", "team", "type", "trigger_id"]
    payload = mutated(payload, junk.draw(overrides_of(keys_)), junk.draw(st.lists(st.sampled_from(keys_))))
    await send(desk, ss.interaction_body(payload), ss.FORM)
    await desk.deliver()


@FUZZ
@given(
    kind=st.sampled_from(["message", "app_mention", "app_home_opened", "reaction_added"])
    | st.text(max_size=10),
    fields=st.fixed_dictionaries(
        {},
        optional={
            "text": TEXT | JSONISH,
            "user": USERS | JSONISH,
            "channel": st.sampled_from([CHANNEL, "D0X"]) | JSONISH,
            "channel_type": st.sampled_from(["im", "channel", "group"]) | JSONISH,
            "ts": st.sampled_from(["1.1", "1700000000.000100", ""]) | JSONISH,
            "thread_ts": st.sampled_from(["1.1", "0"]) | JSONISH,
            "subtype": st.sampled_from(["bot_message", "message_changed", "message_deleted"]) | JSONISH,
            "bot_id": JSONISH,
            "blocks": JSONISH,
            "tab": st.sampled_from(["home", "messages"]),
        },
    ),
    envelope=st.dictionaries(
        st.sampled_from(["event_id", "team_id", "type", "authorizations"]), JSONISH, max_size=2
    ),
)
async def test_events(desk: Harness, kind: str, fields: dict[str, Any], envelope: dict[str, Any]) -> None:
    import json

    body = json.loads(ss.event_body({"type": kind, **fields}))
    await send(desk, json.dumps({**body, **envelope}).encode(), ss.JSON_TYPE)
    await desk.deliver()


@FUZZ
@given(
    text=st.sampled_from(["", "help", "mine", "open", "ask", "log", "open 1", "mine ²"]) | TEXT,
    user=USERS,
    channel=st.sampled_from([CHANNEL, "D0X", ""]) | st.text(max_size=10),
)
async def test_slash_commands(desk: Harness, text: str, user: str, channel: str) -> None:
    await send(desk, ss.slash_command_body("/handoff", text, user_id=user, channel_id=channel), ss.FORM)


@FUZZ
@given(
    callback=st.sampled_from(["log_contact", "handoff_message"]) | st.text(max_size=15),
    user=USERS,
    message=st.fixed_dictionaries(
        {"ts": st.sampled_from(["1.1", ""]) | JSONISH},
        optional={"text": TEXT | JSONISH, "user": USERS | JSONISH, "blocks": JSONISH, "files": JSONISH},
    ),
    global_=st.booleans(),
)
async def test_shortcuts(
    desk: Harness, callback: str, user: str, message: dict[str, Any], global_: bool
) -> None:
    payload = (
        ss.global_shortcut(callback, user=user or "U0X")
        if global_
        else ss.message_action(callback, user=user or "U0X", channel=CHANNEL, message=message)
    )
    await send(desk, ss.interaction_body(payload), ss.FORM)


@FUZZ
@given(body=st.binary(max_size=300) | st.text(max_size=300).map(str.encode), form=st.booleans())
async def test_garbage_bodies(desk: Harness, body: bytes, form: bool) -> None:
    await send(desk, body if not form else b"payload=" + body, ss.FORM if form else ss.JSON_TYPE)


async def test_someone_slack_will_not_describe_is_still_served(desk: Harness) -> None:
    # users.info answers user_not_found for people from another workspace (Slack Connect).
    body = ss.slash_command_body("/handoff", "mine", user_id="U0ELSEWHERE", channel_id=CHANNEL)
    assert (await desk.send(body, ss.FORM)).status == 200
    assert desk.slack.calls_to("users.info")[-1]["user"] == "U0ELSEWHERE"
