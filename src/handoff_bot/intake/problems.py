"""RFC 9457 problem responses, and the one middleware that translates errors at the API edge."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from handoff_bot.domain.errors import DomainError, InvalidIdentity, NotFound

log = logging.getLogger(__name__)
PROBLEM = "application/problem+json"
TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Payload too large",
    415: "Unsupported media type",
    422: "Unprocessable content",
    500: "Internal server error",
    503: "Service unavailable",
}


class Problem(Exception):
    """Raise anywhere in an API handler to answer with a problem document."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        errors: list[dict[str, str]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status, self.detail, self.errors, self.headers = status, detail, errors, headers or {}


def problem_response(
    status: int,
    detail: str,
    *,
    errors: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> web.Response:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        **extra,
    }
    if errors:
        body["errors"] = errors
    return web.json_response(body, status=status, content_type=PROBLEM, headers=headers)


def _database_down(exc: BaseException) -> bool:
    # OSError: a refused or unresolvable connection surfaces unwrapped from the driver.
    if isinstance(exc, (OperationalError, PoolTimeout, OSError, asyncio.TimeoutError)):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
DEADLINE = 10.0  # seconds an API request may take before it is answered 503


@web.middleware
async def problems(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every failure under /api/ becomes a problem document; nothing else is touched."""
    if not request.path.startswith("/api/") or request.path == "/api/messages":
        return await handler(request)
    try:
        # A database behind a network partition would otherwise hold the caller for a minute
        # (the driver's connect timeout); a CRM retries a 503 sooner and without guessing.
        async with asyncio.timeout(DEADLINE):
            return await handler(request)
    except Problem as exc:
        return problem_response(exc.status, exc.detail, errors=exc.errors, headers=exc.headers)
    except web.HTTPException as exc:
        if exc.status == 413:
            return problem_response(413, "the request body is larger than 64 KiB")
        if exc.status < 400:
            raise
        return problem_response(
            exc.status,
            exc.reason or TITLES.get(exc.status, "Error"),
            headers={k: v for k, v in exc.headers.items() if k == "Allow"},
        )
    except NotFound as exc:
        return problem_response(404, f"{exc.entity} {exc.key} does not exist")
    except InvalidIdentity as exc:
        field = "customer" if exc.field == "customer" else f"customer.{exc.field}"
        message = (
            "give at least one of name, email, phone or handle"
            if exc.field == "customer"
            else f"this is not a valid {exc.field}"
        )
        return problem_response(422, "the contact is invalid", errors=[{"field": field, "message": message}])
    except DomainError as exc:
        return problem_response(409, f"refused: {exc.code}")
    except Exception as exc:
        if _database_down(exc):
            log.warning(
                "database unavailable while serving %s %s: %s",
                request.method,
                request.path,
                type(exc).__name__,
            )
            return problem_response(
                503, "the database is unavailable; please try again shortly", headers={"Retry-After": "5"}
            )
        incident = uuid.uuid4().hex[:12]
        log.exception("unexpected error serving %s %s [incident %s]", request.method, request.path, incident)
        return problem_response(500, f"unexpected error; quote incident {incident}", incident=incident)
