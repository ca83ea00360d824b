"""The intake API over HTTP on SQLite and PostgreSQL: its contract, idempotency, errors storing nothing."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.exc import OperationalError

from handoff_bot.domain.errors import AlreadyClaimed
from handoff_bot.intake.problems import problems
from tests.e2e.conftest import API_TOKEN, AUTH, WEB_TOKEN, Api

NOTHING = {"contacts": 0, "customers": 0, "customer_identities": 0, "timeline_events": 0, "outbox": 0}
CONTACT = {"channel": "phone", "customer": {"name": "Anna Jansen", "phone": "06-12345678"}, "subject": "Oven"}


async def test_a_new_contact_is_created_and_can_be_read_back(api: Api) -> None:
    status, body = await api.post(
        {**CONTACT, "body": "It stopped heating.", "received_at": "2026-11-20T10:42:00"}
    )
    assert status == 201
    assert body == {"id": 1, "status": "open", "customer_id": 1, "url": "/api/contacts/1"}
    response = await api.client.get("/api/contacts/1", headers=AUTH)
    contact = await response.json()
    assert (
        contact["source"] == "crm"
        and contact["channel"] == "phone"
        and contact["body"] == "It stopped heating."
    )
    assert contact["received_at"] == "2026-11-20T09:42:00Z"  # a time without offset is Amsterdam time
    assert contact["customer"]["identities"] == [{"kind": "phone", "value": "+31612345678"}]
    assert [e["kind"] for e in contact["timeline"]] == ["received"]
    assert contact["context"] == {
        "earlier_count": 0,
        "earlier": [],
        "relationship_owner": None,
        "owner_is_explicit": False,
    }


async def test_three_spellings_of_one_phone_number_are_one_customer(api: Api) -> None:
    ids = set()
    for phone in ("06-12345678", "+31 6 1234 5678", "0031612345678"):
        status, body = await api.post({"channel": "phone", "customer": {"phone": phone}})
        assert status == 201
        ids.add(body["customer_id"])
    assert ids == {1}
    contact = await (await api.client.get("/api/contacts/3", headers=AUTH)).json()
    assert contact["context"]["earlier_count"] == 2


async def test_same_external_id_returns_the_same_contact_with_200(api: Api) -> None:
    first = await api.post({**CONTACT, "external_id": "crm-7731"})
    again = await api.post({**CONTACT, "external_id": "crm-7731", "subject": "changed"})
    assert first == (201, {"id": 1, "status": "open", "customer_id": 1, "url": "/api/contacts/1"})
    assert again == (200, first[1])
    by_header = await api.post(CONTACT, **{"Idempotency-Key": "form-1"})
    by_header_again = await api.post(CONTACT, **{"Idempotency-Key": "form-1"})
    assert by_header[0] == 201 and by_header_again == (200, by_header[1])
    # Another source may use the same external id for its own contact.
    other = await api.client.post(
        "/api/contacts",
        json={**CONTACT, "external_id": "crm-7731"},
        headers={"Authorization": f"Bearer {WEB_TOKEN}"},
    )
    assert other.status == 201
    assert (await api.stored())["contacts"] == 3


async def test_twenty_identical_requests_at_once_create_one_contact(api: Api) -> None:
    results = await asyncio.gather(*(api.post({**CONTACT, "external_id": "burst-1"}) for _ in range(20)))
    statuses = sorted(status for status, _ in results)
    assert statuses == [200] * 19 + [201]
    assert {body["id"] for _, body in results} == {1}
    assert (await api.stored())["contacts"] == 1 and (await api.stored())["customers"] == 1


async def test_listing_filters_by_status_and_pages_with_a_cursor(api: Api) -> None:
    for i in range(5):
        await api.post({**CONTACT, "external_id": f"x{i}"})
    seen: list[int] = []
    cursor = None
    while True:
        query = "/api/contacts?status=open&limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = await (await api.client.get(query, headers=AUTH)).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [5, 4, 3, 2, 1]
    claimed = await (await api.client.get("/api/contacts?status=claimed", headers=AUTH)).json()
    assert claimed == {"items": [], "next_cursor": None}


def problem_of(body: Any) -> dict[str, Any]:
    assert isinstance(body, dict) and {"type", "title", "status", "detail"} <= set(body)
    return body


@pytest.mark.parametrize(
    ("status", "headers", "raw", "field"),
    [
        (401, {"Content-Type": "application/json"}, json.dumps(CONTACT), None),
        (
            401,
            {"Authorization": "Bearer wrong-token-0000000000", "Content-Type": "application/json"},
            json.dumps(CONTACT),
            None,
        ),
        (
            401,
            {"Authorization": f"Basic {API_TOKEN}", "Content-Type": "application/json"},
            json.dumps(CONTACT),
            None,
        ),
        (415, {**AUTH, "Content-Type": "text/plain"}, json.dumps(CONTACT), None),
        (
            413,
            {**AUTH, "Content-Type": "application/json"},
            json.dumps({**CONTACT, "body": "x" * 70_000}),
            None,
        ),
        (400, {**AUTH, "Content-Type": "application/json"}, '{"channel": "phone",', None),
        (400, {**AUTH, "Content-Type": "application/json"}, "[1, 2, 3]", None),
        (400, {**AUTH, "Content-Type": "application/json"}, "\xff\xfe", None),
        (
            422,
            {**AUTH, "Content-Type": "application/json"},
            json.dumps({**CONTACT, "channel": "fax"}),
            "channel",
        ),
        (
            422,
            {**AUTH, "Content-Type": "application/json"},
            json.dumps({"channel": "phone", "customer": {}}),
            "customer",
        ),
        (
            422,
            {**AUTH, "Content-Type": "application/json"},
            json.dumps({"channel": "email", "customer": {"email": "not an address"}}),
            "customer.email",
        ),
        (
            422,
            {**AUTH, "Content-Type": "application/json"},
            json.dumps({"channel": "phone", "customer": {"phone": "12"}}),
            "customer.phone",
        ),
        (
            422,
            {**AUTH, "Content-Type": "application/json"},
            json.dumps({**CONTACT, "subject": 42}),
            "subject",
        ),
        (
            422,
            {**AUTH, "Content-Type": "application/json"},
            json.dumps({**CONTACT, "colour": "red"}),
            "colour",
        ),
        (
            422,
            {**AUTH, "Content-Type": "application/json"},
            json.dumps({**CONTACT, "received_at": "2999-01-01T00:00:00Z"}),
            "received_at",
        ),
        (
            422,
            {**AUTH, "Content-Type": "application/json"},
            json.dumps({**CONTACT, "received_at": "yesterday"}),
            "received_at",
        ),
        (
            422,
            {**AUTH, "Content-Type": "application/json"},
            json.dumps({"customer": {"name": "A"}}),
            "channel",
        ),
        *[
            (422, {**AUTH, "Content-Type": "application/json"}, json.dumps(body), field)
            for body, field in [
                ({**CONTACT, "received_at": "0001-01-01T00:00:00+01:00"}, "received_at"),  # year 0 in UTC
                ({**CONTACT, "received_at": "9999-12-31T23:59:59-12:00"}, "received_at"),  # year 10000
                ({**CONTACT, "received_at": 1700000000}, "received_at"),  # not ISO-8601
                ({**CONTACT, "callback_before": "0001-01-01T00:00:00"}, "callback_before"),
                ({"channel": "chat", "customer": {"name": "\ud800"}}, "customer.name"),
                ({"\ud800": 1, **CONTACT}, "(object)"),
                ({"channel": "chat", "customer": {"name": " \u0000\t "}}, "customer"),
                ({**CONTACT, "external_id": "x" * 201}, "external_id"),
                ({**CONTACT, "subject": "x" * 1001}, "subject"),
                ({**CONTACT, "customer": {"name": "A", "extra": 1}}, "customer.extra"),
                ({**CONTACT, "customer": ["Anna"]}, "customer"),
            ]
        ],
    ],
)
async def test_every_error_is_a_clear_problem_and_stores_nothing(
    api: Api, status: int, headers: dict[str, str], raw: str, field: str | None
) -> None:
    response = await api.client.post(
        "/api/contacts", data=raw.encode("utf-8", "surrogateescape"), headers=headers
    )
    assert response.status == status
    assert response.headers["Content-Type"].startswith("application/problem+json")
    body = problem_of(await response.json(content_type=None))
    assert body["status"] == status and body["detail"]
    if status == 401:
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    if field is not None:
        assert field in [e["field"] for e in body["errors"]]
    assert await api.stored() == NOTHING


async def test_a_chunked_body_over_the_limit_is_refused(api: Api) -> None:
    async def chunks() -> Any:
        for _ in range(100):
            yield b" " * 1024

    response = await api.client.post(
        "/api/contacts", data=chunks(), headers={**AUTH, "Content-Type": "application/json"}
    )
    assert response.status == 413
    assert await api.stored() == NOTHING


async def test_reads_need_the_token_and_unknown_things_are_404(api: Api) -> None:
    assert (await api.client.get("/api/contacts/1")).status == 401
    paths = ["1", "0", "abc", "9" * 40, "2147483648", "\u00b2", "\u0663"]  # beyond int32; "²", Arabic 3
    for path in [f"/api/contacts/{p}" for p in paths] + ["/api/nothing-here"]:
        response = await api.client.get(path, headers=AUTH)
        assert response.status == 404 and problem_of(await response.json(content_type=None))["status"] == 404
    bad = await api.client.get("/api/contacts?status=lost&limit=0&cursor=zzz", headers=AUTH)
    assert bad.status == 422
    assert {e["field"] for e in (await bad.json(content_type=None))["errors"]} == {"status", "limit"}
    for query in ("limit=\u00b2", "limit=" + "9" * 5000, "limit=201"):
        assert (await api.client.get(f"/api/contacts?{query}", headers=AUTH)).status == 422
    huge = base64.urlsafe_b64encode(b"b:999999999999").decode()
    for cursor in ("zzz", huge, base64.urlsafe_b64encode("b:\u00b2".encode()).decode()):
        assert (await api.client.get(f"/api/contacts?cursor={cursor}", headers=AUTH)).status == 422
    wrong_method = await api.client.delete("/api/contacts", headers=AUTH)
    assert wrong_method.status == 405 and "POST" in wrong_method.headers["Allow"]
    assert await api.stored() == NOTHING


async def test_authorization_bytes_that_are_not_utf8_are_refused_with_401(api: Api) -> None:
    body = json.dumps(CONTACT).encode()
    reader, writer = await asyncio.open_connection(api.client.host, api.client.port)
    writer.write(
        b"POST /api/contacts HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        b"Authorization: Bearer \xff\xfe\xed\xa0\x80\r\nContent-Type: application/json\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    )
    answer = await reader.read()
    writer.close()
    assert answer.startswith(b"HTTP/1.1 401 ")
    assert await api.stored() == NOTHING


async def test_tokens_never_reach_the_log(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    await api.post(CONTACT)
    await api.client.post(
        "/api/contacts", json=CONTACT, headers={"Authorization": "Bearer wrong-but-secret-9999"}
    )
    assert API_TOKEN not in caplog.text and "wrong-but-secret-9999" not in caplog.text


async def test_odd_but_valid_text_is_stored_cleanly(api: Api) -> None:
    raw = (
        '{"channel": "chat", "customer": {"name": "Zoë \\u0000Ünal"}, '
        '"subject": "<!channel> \\u202e hi", "body": "line1\\r\\nline2\\u0007"}'
    )
    response = await api.client.post(
        "/api/contacts", data=raw, headers={**AUTH, "Content-Type": "application/json"}
    )
    assert response.status == 201
    contact = await (await api.client.get("/api/contacts/1", headers=AUTH)).json()
    assert contact["customer"]["name"] == "Zoë Ünal" and contact["body"] == "line1\nline2"
    assert contact["subject"] == "<!channel> \u202e hi"  # stored as written; renderers escape it


ODD_TEXT = st.text(max_size=40) | st.sampled_from(["\ud800", "a\udfffb", "\x00", " \t ", "\u202e", "²"])
TIMES = st.datetimes(timezones=st.none() | st.timezones()).map(lambda d: d.isoformat())
JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | ODD_TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)
CUSTOMERS = st.fixed_dictionaries(
    {},
    optional={
        "name": ODD_TEXT | st.integers(),
        "email": st.text(max_size=40) | st.emails(),
        "phone": st.text(alphabet="+0123456789 -()", max_size=20) | st.none(),
        "handle": st.text(max_size=30),
        "network": st.text(max_size=12),
        "company": st.text(max_size=30),
        "extra": JSONISH,
    },
)
BODIES = (
    st.fixed_dictionaries(
        {},
        optional={
            "channel": st.sampled_from(
                ["phone", "email", "chat", "social", "web", "walk_in", "other", "fax", ""]
            )
            | JSONISH,
            "customer": CUSTOMERS | JSONISH,
            "subject": st.text(max_size=80) | JSONISH,
            "body": st.text(max_size=200),
            "external_id": st.text(max_size=30) | st.integers(),
            "received_at": st.text(max_size=30) | TIMES | JSONISH,
            "callback_before": TIMES,
        },
    )
    | JSONISH
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=BODIES)
async def test_no_input_produces_a_500_or_a_partial_contact(api: Api, body: Any) -> None:
    before = await api.stored()
    status, answer = await api.post(body)
    assert status in (200, 201, 400, 422), answer
    after = await api.stored()
    if status == 201:
        assert after["contacts"] == before["contacts"] + 1
    else:
        assert after == before


async def test_the_translator_maps_conflicts_outages_and_surprises(caplog: pytest.LogCaptureFixture) -> None:
    """Errors that valid input cannot provoke, raised by routes under the real middleware."""

    async def surprise(request: web.Request) -> web.Response:
        raise RuntimeError("secret detail 4711")

    async def conflict(request: web.Request) -> web.Response:
        raise AlreadyClaimed(contact_id=1, by=2)

    async def outage(request: web.Request) -> web.Response:
        raise OperationalError("SELECT 1", {}, ConnectionRefusedError())

    app = web.Application(middlewares=[problems])
    for path, route in (("/api/surprise", surprise), ("/api/conflict", conflict), ("/api/outage", outage)):
        app.router.add_get(path, route)
    app.router.add_get("/elsewhere", surprise)
    caplog.set_level(logging.INFO)
    async with TestClient(TestServer(app)) as client:
        failed = await client.get("/api/surprise")
        body = await failed.json(content_type=None)
        assert failed.status == 500 and body["incident"] in body["detail"]
        assert "secret" not in json.dumps(body)  # the user sees the incident id, the log has the rest
        logged = next(r for r in caplog.records if body["incident"] in r.getMessage())
        assert logged.exc_info is not None and "secret detail 4711" in caplog.text
        refused = await client.get("/api/conflict")
        assert refused.status == 409 and (await refused.json(content_type=None))["status"] == 409
        down = await client.get("/api/outage")
        assert down.status == 503 and down.headers["Retry-After"]
        assert down.headers["Content-Type"].startswith("application/problem+json")
        outside = await client.get("/elsewhere")  # not /api/: aiohttp's own answer, no problem document
        assert outside.status == 500 and not outside.headers["Content-Type"].startswith("application/problem")
