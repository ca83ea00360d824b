"""The intake HTTP API: POST /api/contacts to record a contact, GET to read them back."""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import logging
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web
from pydantic import ValidationError

from handoff_bot import keys
from handoff_bot.domain.contacts import ContactStatus
from handoff_bot.intake.problems import Problem, problems
from handoff_bot.intake.render import contact_json, contact_summary
from handoff_bot.intake.schemas import ContactIn
from handoff_bot.services.commands import CustomerDetails, ReceiveContact
from handoff_bot.services.contacts import receive_contact
from handoff_bot.services.views import contact_details, list_contacts

log = logging.getLogger(__name__)
MAX_BODY = 64 * 1024
FUTURE_SLACK = timedelta(minutes=5)
LIMIT_MAX = 200
ID_MAX = 2**31 - 1  # ids are 32-bit integers in PostgreSQL; a bigger one cannot name a row
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
_ID = re.compile(r"[0-9]{1,10}")  # ASCII only: str.isdigit() also accepts "²", which int() refuses
_LIMIT = re.compile(r"[0-9]{1,3}")


def authenticate(request: web.Request) -> str:
    """The source name whose token was presented. Compares against every token in constant time."""
    header = request.headers.get("Authorization", "")
    scheme, _, presented = header.partition(" ")
    tokens = request.app[keys.SETTINGS].intake_tokens
    found = None
    # Header bytes that are not UTF-8 arrive as surrogate escapes; surrogatepass keeps them comparable.
    given = presented.strip().encode("utf-8", "surrogatepass")
    if scheme.lower() == "bearer" and given:
        for name, token in tokens.items():
            if hmac.compare_digest(given, token.get_secret_value().encode()):
                found = name
    if found is None:
        detail = "a valid bearer token is required" if tokens else "no intake tokens are configured"
        raise Problem(401, detail, headers={"WWW-Authenticate": 'Bearer realm="handoff-bot"'})
    return found


def parse_id(raw: str) -> int | None:
    """The row id a URL segment names, or None when it cannot name any row."""
    if not _ID.fullmatch(raw):
        return None
    value = int(raw)
    return value if 1 <= value <= ID_MAX else None


async def _read_capped(request: web.Request) -> bytes:
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise Problem(413, "the request body is larger than 64 KiB")
    chunks: list[bytes] = []
    size = 0
    while chunk := await request.content.read(16 * 1024):
        size += len(chunk)
        if size > MAX_BODY:  # chunked bodies have no Content-Length to check up front
            raise Problem(413, "the request body is larger than 64 KiB")
        chunks.append(chunk)
    return b"".join(chunks)


def _invalid(field: str, message: str) -> Problem:
    return Problem(422, "the contact is invalid", errors=[{"field": field, "message": message}])


def _field_errors(exc: ValidationError) -> list[dict[str, str]]:
    errors = []
    for error in exc.errors(include_url=False, include_input=False):
        # An empty location is the object itself (e.g. a key pydantic cannot read); "body" is a field.
        field = ".".join(str(p) for p in error["loc"]) or "(object)"
        if error["type"] == "extra_forbidden":
            message = "unknown field"
        elif error["type"] == "string_unicode":
            message = "not valid Unicode (a lone surrogate such as \\ud800)"
        else:
            message = error["msg"]
        errors.append({"field": field, "message": message})
    return errors


def _instant(value: datetime | None, field: str, request: web.Request) -> datetime | None:
    """The moment in UTC; a time without an offset is local time in the configured zone."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=request.app[keys.SETTINGS].tz)
    try:
        moment = value.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+01:00 is in year 0 in UTC
        raise _invalid(field, "lies outside the years 1970 to 9999") from None
    if moment < EARLIEST:
        raise _invalid(field, "lies outside the years 1970 to 9999")
    return moment


def _received_at(value: datetime | None, request: web.Request) -> datetime | None:
    moment = _instant(value, "received_at", request)
    if moment is not None and moment > request.app[keys.CLOCK].now() + FUTURE_SLACK:
        raise _invalid("received_at", "lies in the future")
    return moment


async def post_contact(request: web.Request) -> web.Response:
    source = authenticate(request)
    if request.content_type != "application/json":
        raise Problem(415, "send the contact as application/json")
    raw = await _read_capped(request)
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise Problem(400, f"the body is not valid JSON ({type(exc).__name__})") from None
    if not isinstance(data, dict):
        raise Problem(400, "the body must be a JSON object")
    try:
        body = ContactIn.model_validate(data)
    except ValidationError as exc:
        raise Problem(422, "the contact is invalid", errors=_field_errors(exc)) from None
    external_id = body.external_id or request.headers.get("Idempotency-Key") or None
    if external_id is not None and len(external_id) > 200:
        raise _invalid("external_id", "at most 200 characters")
    c = body.customer
    settings = request.app[keys.SETTINGS]
    received = await receive_contact(
        ReceiveContact(
            channel=body.channel,
            source=source,
            customer=CustomerDetails(c.name, c.company, c.email, c.phone, c.handle, c.network),
            subject=body.subject,
            body=body.body,
            external_id=external_id,
            received_at=_received_at(body.received_at, request),
            callback_before=_instant(body.callback_before, "callback_before", request),
        ),
        uow=request.app[keys.UOW],
        clock=request.app[keys.CLOCK],
        region=settings.phone_region,
        reminders=request.app[keys.REMINDERS],
    )
    contact = received.contact
    assert contact.id is not None
    path = f"/api/contacts/{contact.id}"
    url = f"{settings.public_url.rstrip('/')}{path}" if settings.public_url else path
    payload = {
        "id": contact.id,
        "status": contact.status.value,
        "customer_id": contact.customer_id,
        "url": url,
    }
    if received.created:
        log.info("contact %s received from %s via %s", contact.id, source, contact.channel.value)
        return web.json_response(payload, status=201, headers={"Location": url})
    return web.json_response(payload, status=200)


async def get_contact(request: web.Request) -> web.Response:
    authenticate(request)
    raw = request.match_info["contact_id"]
    contact_id = parse_id(raw)
    if contact_id is None:
        raise Problem(404, f"contact {raw[:40]!r} does not exist")
    details = await contact_details(contact_id, uow=request.app[keys.UOW])
    settings = request.app[keys.SETTINGS]
    return web.json_response(contact_json(details, settings.tz))


def _cursor(value: int | None) -> str | None:
    return base64.urlsafe_b64encode(f"b:{value}".encode()).decode().rstrip("=") if value else None


def _parse_cursor(token: str) -> int:
    try:
        decoded = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        decoded = ""
    prefix, _, number = decoded.partition(":")
    before = parse_id(number) if prefix == "b" else None
    if before is None:
        raise Problem(
            422, "the query is invalid", errors=[{"field": "cursor", "message": "not a cursor we issued"}]
        )
    return before


async def list_contacts_route(request: web.Request) -> web.Response:
    authenticate(request)
    query = request.query
    errors: list[dict[str, str]] = []
    status = None
    if "status" in query:
        try:
            status = ContactStatus(query["status"])
        except ValueError:
            errors.append({"field": "status", "message": "one of open, claimed, resolved"})
    limit = 50
    if "limit" in query:
        text = query["limit"]
        if not _LIMIT.fullmatch(text) or not 1 <= int(text) <= LIMIT_MAX:
            errors.append({"field": "limit", "message": f"a whole number from 1 to {LIMIT_MAX}"})
        else:
            limit = int(text)
    if errors:
        raise Problem(422, "the query is invalid", errors=errors)
    before = _parse_cursor(query["cursor"]) if query.get("cursor") else None
    page = await list_contacts(uow=request.app[keys.UOW], status=status, limit=limit, before_id=before)
    settings = request.app[keys.SETTINGS]
    items: list[dict[str, Any]] = [contact_summary(c, settings.tz) for c in page.items]
    return web.json_response({"items": items, "next_cursor": _cursor(page.next_before_id)})


def register(app: web.Application) -> None:
    """Add the /api/contacts routes and the problem+json translator for /api/."""
    app.middlewares.append(problems)
    app.router.add_post("/api/contacts", post_contact)
    app.router.add_get("/api/contacts", list_contacts_route)
    app.router.add_get("/api/contacts/{contact_id}", get_contact)
