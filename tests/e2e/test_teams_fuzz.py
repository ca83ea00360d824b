"""POST /api/messages under validly authenticated garbage: every field the bot reads, every invoke.

Each activity carries a real Bot Framework JWT from the local issuer, so what is tested is the bot, not
the token check. Whatever arrives: no 5xx, no turn that ends in an incident, nothing stored half, and
afterwards the outbox still delivers an ordinary contact to the fake Bot Connector.
"""

from __future__ import annotations

import copy
import json
import os
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from handoff_bot import keys
from handoff_bot.platforms.teams.actions import Verb, action_data, dialog_data
from handoff_bot.storage.models import (
    ContactRow,
    CustomerRow,
    OutboxRow,
    PersonIdentityRow,
    PersonRow,
    QuestionRow,
    TimelineRow,
)
from tests.e2e import teams_flows as tf
from tests.e2e.teams_harness import CHANNEL, MARIEKE, PIET, TeamsHarness, teams_app

LONG = os.environ.get("HANDOFF_FAULTS") == "long"  # `make bench` runs the long versions
EXAMPLES = 300 if LONG else 20
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
ROOT = "1759881511856"
ALLOWED = {200, 201, 400, 401, 413, 415}
STRANGER = ("29:1stranger", "99999999-9999-4999-8999-999999999999", "Stranger", "nobody@example.org")

JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)
HOSTILE = st.sampled_from(
    [
        "<at>Marieke</at>",
        "**b** _i_",
        "{{DATE(2026-01-01T00:00:00Z)}}",
        "\x00\x07\x1b[2J",
        "\u202eevil",
        "😀",
        "ask \x000\x00 hi",
        "\x001\x00",
    ]
)
TEXT = st.text(max_size=40) | HOSTILE | st.just("x" * 5000)
IDS = st.integers(min_value=-5, max_value=2**70) | st.sampled_from([1, 2, 3])
REFS = (
    st.builds("v1:c:{}".format, IDS)
    | st.builds("v1:q:{}".format, IDS)
    | st.builds("v1:p:{}".format, IDS)
    | st.sampled_from(["v1:c:", "v2:c:1", "v1:x:1", "v1:c:1:2", "v1:c:²", "v0:c:1"])
    | TEXT
)
VERBS = st.sampled_from([v.value for v in Verb]) | st.sampled_from(["contact.delete", ""]) | TEXT
INVOKES = st.sampled_from(
    [
        "adaptiveCard/action",
        "task/fetch",
        "task/submit",
        "composeExtension/fetchTask",
        "composeExtension/submitAction",
        "composeExtension/query",
        "signin/verifyState",
        "config/fetch",
        "healthCheck",
        "",
    ]
) | st.text(max_size=20)
INPUTS = st.dictionaries(
    st.sampled_from(
        [
            "answer",
            "question",
            "known",
            "colleague",
            "note",
            "outcome",
            "name",
            "phone",
            "email",
            "company",
            "subject",
            "body",
            "channel",
            "callback",
            "mine",
            "again",
            "msteams",
        ]
    ),
    TEXT | REFS | JSONISH,
    max_size=5,
)
USERS = st.sampled_from([MARIEKE, PIET, STRANGER])
SHAPES = ["execute", "fetch", "submit", "card_message", "mention", "chat", "install", "extension"]
TOP_FIELDS = [
    "type",
    "name",
    "value",
    "replyToId",
    "channelData",
    "entities",
    "from",
    "conversation",
    "recipient",
    "text",
    "textFormat",
    "attachments",
    "channelId",
    "action",
    "membersAdded",
    "membersRemoved",
    "locale",
    "timestamp",
]
CHANNEL_DATA_FIELDS = ["tenant", "team", "channel", "settings", "teamsChannelId", "teamsTeamId", "eventType"]


class Desk:
    """The harness plus what the fuzzing must never cause: turn errors (incidents)."""

    def __init__(self, h: TeamsHarness) -> None:
        self.h, self.root = h, ""
        self.incidents: list[str] = []
        adapter = h.client.app[keys.TEAMS].adapter
        on_error = adapter.on_turn_error

        async def recorded(turn: Any, error: Exception) -> None:
            self.incidents.append(f"{type(error).__name__}: {error}")
            await on_error(turn, error)

        adapter.on_turn_error = recorded

    async def send(self, activity: dict[str, Any] | bytes, **headers: str) -> int:
        h = self.h
        raw = activity if isinstance(activity, bytes) else json.dumps(activity).encode()
        self.incidents.clear()
        response = await h.client.post(
            "/api/messages",
            data=raw,
            headers={"Content-Type": "application/json", "Authorization": h.auth(), **headers},
        )
        body = await response.read()
        assert response.status in ALLOWED, (response.status, body[:300], _short(raw))
        assert self.incidents == [], (self.incidents, _short(raw))
        return response.status


def _short(raw: bytes) -> str:
    """An activity for an assertion message, long strings cut (hypothesis finds 5000-character ones)."""
    return re.sub(r"(.)\1{20,}", lambda m: f"{m.group(1)}×{len(m.group(0))}", raw.decode("utf-8", "replace"))[
        :1500
    ]


@pytest.fixture
async def desk(tmp_path: Path) -> AsyncIterator[Desk]:
    async with teams_app(f"sqlite+aiosqlite:///{tmp_path / 'fuzz.db'}") as h:
        await h.install()
        for subject in ("Oven broke down", "Invoice wrong"):
            await h.post_contact(subject=subject)
        await h.deliver()
        first = await h.card_ref(1)
        # A claim and a question exist, so refs to real contacts and questions can be forged against.
        await tf.ok(await h.send(tf.execute(h, action_data(Verb.CONTACT_CLAIM, 1), MARIEKE, root=ROOT)))
        ask = dialog_data(Verb.CONTACT_ASK, 1)
        await tf.ok(await h.send(tf.task(h, "task/submit", ask, MARIEKE, root=ROOT, known="v1:p:2")))
        await h.deliver()
        desk = Desk(h)
        desk.root = first.message_id
        yield desk
        await h.deliver()
        await assert_nothing_half_done(h)
        await assert_still_delivers(h)


async def assert_nothing_half_done(h: TeamsHarness) -> None:
    """Every contact whole (customer, received event), every question between two people, every
    person with a name and a Teams identity, and no outbox row that failed in an unexpected way."""
    async with h.client.app[keys.UOW].sessions() as s:
        contacts = list((await s.execute(select(ContactRow.id, ContactRow.customer_id))).all())
        customers = set((await s.scalars(select(CustomerRow.id))).all())
        received = set(
            (await s.scalars(select(TimelineRow.contact_id).where(TimelineRow.kind == "received"))).all()
        )
        people = {p.id: p for p in (await s.scalars(select(PersonRow))).all()}
        identified = set((await s.scalars(select(PersonIdentityRow.person_id))).all())
        questions = list((await s.scalars(select(QuestionRow))).all())
        surprises = list(
            await s.scalars(select(OutboxRow.last_error).where(OutboxRow.last_error.contains("unexpected")))
        )
    for contact_id, customer_id in contacts:
        assert customer_id in customers and contact_id in received, contact_id
    for person in people.values():
        assert person.display_name.strip() and person.id in identified, person.id
    for question in questions:
        assert question.text.strip() and {question.asker_id, question.colleague_id} <= set(people)
    assert surprises == []


async def assert_still_delivers(h: TeamsHarness) -> None:
    """An ordinary contact after the garbage still becomes a card in the channel."""
    created = await h.post_contact(subject="After the storm")
    await h.deliver()
    card = await h.card(created["id"])
    assert "After the storm" in json.dumps(card.card)
    assert h.connector.threads(CHANNEL)[-1].id == card.id


def shaped(desk: Desk, shape: str, user: tuple[str, str, str, str], verb: str, ref: str, inputs: Any) -> Any:
    h, root = desk.h, desk.root
    data = {"verb": verb, "ref": ref, **(inputs if isinstance(inputs, dict) else {})}
    if shape == "execute":
        return tf.execute(h, data, user, root=root)
    if shape in ("fetch", "submit"):
        return tf.task(h, f"task/{shape}", data, user, root=root)
    if shape == "card_message":
        return tf.submit_message(h, data, user, root=root)
    if shape == "mention":
        text = f"ask <at>{user[2]}</at> {inputs if isinstance(inputs, str) else 'where?'}"
        return tf.thread_message(h, text, MARIEKE, root=root, mentions=[user])
    if shape == "chat":
        return tf.chat(h, str(inputs)[:200] if inputs else "mine", user)
    if shape == "install":
        return h.installation()
    activity = tf.task(h, "composeExtension/submitAction", data, user, root=root)
    activity["value"] = {
        "commandId": "logContact",
        "data": {**data, "verb": verb},
        "messagePayload": {"id": ref, "body": {"content": str(inputs)[:500]}},
    }
    return activity


@FUZZ
@given(
    shape=st.sampled_from(SHAPES),
    user=USERS,
    verb=VERBS,
    ref=REFS,
    inputs=INPUTS | TEXT,
    junk=st.data(),
)
async def test_any_activity_with_a_valid_token_is_answered_without_a_server_error(
    desk: Desk, shape: str, user: Any, verb: str, ref: str, inputs: Any, junk: Any
) -> None:
    activity = shaped(desk, shape, user, verb, ref, inputs)
    overrides = junk.draw(st.dictionaries(st.sampled_from(TOP_FIELDS), JSONISH, max_size=2), label="top")
    activity.update(overrides)
    if isinstance(activity.get("channelData"), dict):
        activity["channelData"] = {
            **activity["channelData"],
            **junk.draw(st.dictionaries(st.sampled_from(CHANNEL_DATA_FIELDS), JSONISH, max_size=2), "data"),
        }
    for key in junk.draw(st.lists(st.sampled_from(TOP_FIELDS), max_size=2), label="dropped"):
        activity.pop(key, None)
    await desk.send(activity)
    await desk.h.deliver()


@FUZZ
@given(name=INVOKES, value=JSONISH | INPUTS, user=USERS)
async def test_invokes_of_any_name_and_value_are_refused_or_answered(
    desk: Desk, name: str, value: Any, user: Any
) -> None:
    activity = tf.task(desk.h, "task/fetch", {}, user, root=desk.root)
    activity["name"], activity["value"] = name, value
    await desk.send(activity)


@FUZZ
@given(
    action=st.fixed_dictionaries(
        {},
        optional={
            "type": st.sampled_from(["Action.Execute", "Action.Submit", "Action.OpenUrl"]) | JSONISH,
            "verb": VERBS | JSONISH,
            "data": INPUTS | JSONISH,
            "id": JSONISH,
        },
    ),
    trigger=JSONISH,
    user=USERS,
)
async def test_forged_adaptive_card_actions(
    desk: Desk, action: dict[str, Any], trigger: Any, user: Any
) -> None:
    activity = tf.execute(desk.h, action_data(Verb.CONTACT_CLAIM, 1), user, root=desk.root)
    activity["value"] = {"action": action, "trigger": trigger}
    await desk.send(activity)
    await desk.h.deliver()


@FUZZ
@given(
    entities=st.lists(
        JSONISH
        | st.fixed_dictionaries(
            {"type": st.just("mention")},
            optional={"text": TEXT, "mentioned": JSONISH | st.fixed_dictionaries({"id": TEXT, "name": TEXT})},
        ),
        max_size=4,
    ),
    text=TEXT,
)
async def test_mentions_pointing_nowhere(desk: Desk, entities: list[Any], text: str) -> None:
    h = desk.h
    activity = tf.thread_message(h, f"ask <at>Nobody</at> {text}", MARIEKE, root=desk.root, mentions=[])
    activity["entities"] = [activity["entities"][0], *entities]
    await desk.send(activity)
    await h.deliver()


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        (b"", "application/json", 400),
        (b"not json", "application/json", 400),
        (b"\xff\xfe\x00garbage\x80", "application/json", 400),
        ('{"type": "message", "text": "caf\xe9"}'.encode("latin-1"), "application/json", 400),
        (b"[" * 5000 + b"]" * 5000, "application/json", 400),
        (b'{"type":' * 3000 + b"1" + b"}" * 3000, "application/json", 400),
        (b"null", "application/json", 400),
        (b"[]", "application/json", 400),
        (b'"message"', "application/json", 400),
        (b'{"type": "message"}', "text/plain", 415),
        (b'{"type": "message"}', "application/x-www-form-urlencoded", 415),
        (b"x" * (1024 * 1024), "application/json", 413),
    ],
)
async def test_bodies_that_are_not_activities(
    desk: Desk, body: bytes, content_type: str, status: int
) -> None:
    assert await desk.send(body, **{"Content-Type": content_type}) == status


async def test_a_large_but_legal_activity_is_read_by_the_adapter_not_cut_by_the_api_limit(desk: Desk) -> None:
    """The intake API's 64 KB limit is app-wide; a Teams message action on a long message is bigger."""
    h = desk.h
    activity = shaped(desk, "extension", PIET, "contact.log", "msg-1", {"name": "Anna"})
    activity["value"]["messagePayload"]["body"]["content"] = "<p>" + "long mail " * 12_000 + "</p>"
    assert len(json.dumps(activity)) > 100_000
    assert await desk.send(activity) == 200
    await h.deliver()
    assert any("Anna" in json.dumps(m.card) for m in h.connector.threads(CHANNEL))


async def test_an_activity_without_a_sender_is_refused_and_changes_nothing(desk: Desk) -> None:
    h = desk.h
    too_long = {"id": "29:" + "u" * 300, "name": "U"}  # could not be stored (a 500 on PostgreSQL)
    for sender in (
        None,
        {},
        {"name": "Marieke"},
        {"id": ""},
        too_long,
        {"id": "29:1short", "aadObjectId": "a" * 300},
    ):
        activity = tf.execute(h, action_data(Verb.CONTACT_RELEASE, 1), MARIEKE, root=desk.root)
        activity["from"] = sender
        assert await desk.send(activity) == 400
    async with h.client.app[keys.UOW]() as tx:
        assert (await tx.contacts.get(1)).claimed_by is not None  # still Marieke's


async def test_channel_data_of_the_wrong_shape_is_read_as_absent(desk: Desk) -> None:
    h = desk.h
    for data in ({"tenant": "x"}, {"tenant": {"id": "t"}, "team": "x", "channel": 5}, {"channel": [1]}):
        activity = tf.execute(h, action_data(Verb.CONTACT_CLAIM, 2), PIET, root=desk.root)
        activity["channelData"] = data
        assert await desk.send(activity) == 200


async def test_an_unknown_invoke_is_a_400_not_a_501(desk: Desk) -> None:
    activity = tf.task(desk.h, "composeExtension/query", {}, PIET, root=desk.root)
    assert await desk.send(activity) == 400


async def test_a_service_url_the_token_was_not_issued_for_is_refused(desk: Desk) -> None:
    """The token's `serviceurl` claim must be the activity's serviceUrl, or replies could be steered."""
    h = desk.h
    before = len(h.connector.calls)
    activity = tf.execute(h, action_data(Verb.CONTACT_CLAIM, 2), PIET, root=desk.root)
    activity["serviceUrl"] = "https://evil.example/"
    response = await h.send(activity, authorization=h.auth())
    assert response.status == 401
    # A token issued for another serviceUrl does not fit the real one either.
    other = h.issuer.header(h.app_id, "https://evil.example/")  # type: ignore[union-attr]
    assert (
        await h.send(
            tf.execute(h, action_data(Verb.CONTACT_CLAIM, 2), PIET, root=desk.root), authorization=other
        )
    ).status == 401
    async with h.client.app[keys.UOW]() as tx:
        assert (await tx.contacts.get(2)).claimed_by is None
    assert len(h.connector.calls) == before
    assert copy.deepcopy(desk.incidents) == []


async def test_a_chunked_body_without_a_length_is_cut_off_at_the_limit(desk: Desk) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"type": "message", "text": "'
        for _ in range(40):
            yield b"x" * 8192  # 320 KB in all, more than the adapter's 256 KB
        yield b'"}'

    h = desk.h
    response = await h.client.post(
        "/api/messages",
        data=chunks(),
        headers={"Content-Type": "application/json", "Authorization": h.auth()},
    )
    assert response.status == 413
