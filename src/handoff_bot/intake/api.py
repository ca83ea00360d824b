"""The intake HTTP API: POST /api/contacts to record a contact, GET to read them back."""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import logging
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


def authenticate(request: web.Request) -> str:
    """The source name whose token was presented. Compares against every token in constant time."""
    header = request.headers.get("Authorization", "")
    scheme, _, presented = header.partition(" ")
    tokens = request.app[keys.SETTINGS].intake_tokens
    found = None
    if scheme.lower() == "bearer" and presented:
        for name, token in tokens.items():
            if hmac.compare_digest(presented.strip().encode(), token.get_secret_value().encode()):
                found = name
    if found is None:
        detail = "a valid bearer token is required" if tokens else "no intake tokens are configured"
        raise Problem(401, detail, headers={"WWW-Authenticate": 'Bearer realm="handoff-bot"'})
    return found


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


def _field_errors(exc: ValidationError) -> list[dict[str, str]]:
    errors = []
    for error in exc.errors(include_url=False, include_input=False):
        field = ".".join(str(p) for p in error["loc"]) or "body"
        message = "unknown field" if error["type"] == "extra_forbidden" else error["msg"]
        errors.append({"field": field, "message": message})
    return errors


def _aware(value: datetime | None, request: web.Request) -> datetime | None:
    """A time without an offset is local time in the configured zone."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=request.app[keys.SETTINGS].tz)
    return value.astimezone(UTC)


def _received_at(value: datetime | None, request: web.Request) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=request.app[keys.SETTINGS].tz)
    value = value.astimezone(UTC)
    if value > request.app[keys.CLOCK].now() + FUTURE_SLACK:
        raise Problem(
            422, "the contact is invalid", errors=[{"field": "received_at", "message": "lies in the future"}]
        )
    return value


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
        raise Problem(
            422,
            "the contact is invalid",
            errors=[{"field": "external_id", "message": "at most 200 characters"}],
        )
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
            callback_before=_aware(body.callback_before, request),
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
    if not raw.isdigit() or len(raw) > 18:
        raise Problem(404, f"contact {raw[:40]!r} does not exist")
    details = await contact_details(int(raw), uow=request.app[keys.UOW])
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
    if prefix != "b" or not number.isdigit() or len(number) > 18:
        raise Problem(
            422, "the query is invalid", errors=[{"field": "cursor", "message": "not a cursor we issued"}]
        )
    return int(number)


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
        if not text.isdigit() or not 1 <= int(text) <= LIMIT_MAX:
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
