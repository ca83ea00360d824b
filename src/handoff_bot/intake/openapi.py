"""GET /api/openapi.json: the intake API as OpenAPI 3.1, built from the pydantic models it validates with.

Request and answer bodies come from intake/schemas.py, so the document cannot drift from the code; a
test checks that every /api/ route is described and nothing else.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import BaseModel

from handoff_bot.intake import schemas

PROBLEM = "application/problem+json"
MODELS: tuple[type[BaseModel], ...] = (
    schemas.ContactIn,
    schemas.ContactAccepted,
    schemas.ContactPage,
    schemas.ContactDetail,
    schemas.CustomerErased,
    schemas.ProblemOut,
)


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _components() -> dict[str, Any]:
    found: dict[str, Any] = {}
    for model in MODELS:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        found.update(schema.pop("$defs", {}))
        found[model.__name__] = schema
    return found


def _problems(*statuses: int) -> dict[str, Any]:
    why = {
        400: "the body is not a JSON object",
        401: "no valid bearer token",
        404: "no such row",
        413: "the body is larger than 64 KiB",
        415: "the body is not application/json",
        422: "the request is invalid; `errors` names each field",
        503: "the database is unavailable; retry after Retry-After seconds",
    }
    return {
        str(status): {
            "description": why[status],
            "content": {PROBLEM: {"schema": _ref(schemas.ProblemOut)}},
        }
        for status in statuses
    }


def _ok(model: type[BaseModel], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ref(model)}}}


def _id(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "schema": {"type": "integer", "minimum": 1, "maximum": 2**31 - 1},
    }


def document() -> dict[str, Any]:
    """The OpenAPI 3.1 document of every /api/ route (not the chat platforms' webhooks)."""
    secured: list[dict[str, list[str]]] = [{"bearer": []}]
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "handoff-bot intake API",
            "version": "1",
            "description": "Record contacts from phone systems, web forms and CRMs; read them back; "
            "export or erase a customer. Errors are application/problem+json.",
        },
        "components": {
            "schemas": _components(),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "paths": {
            "/api/openapi.json": {
                "get": {
                    "operationId": "openapi",
                    "summary": "This document",
                    "security": [],
                    "responses": {"200": {"description": "OpenAPI 3.1", "content": {"application/json": {}}}},
                }
            },
            "/api/contacts": {
                "post": {
                    "operationId": "receiveContact",
                    "summary": "Record a contact; posting the same external_id again changes nothing",
                    "security": secured,
                    "parameters": [
                        {
                            "name": "Idempotency-Key",
                            "in": "header",
                            "required": False,
                            "schema": {"type": "string", "minLength": 1, "maxLength": 200},
                        }
                    ],
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": _ref(schemas.ContactIn)}},
                    },
                    "responses": {
                        "201": _ok(schemas.ContactAccepted, "recorded"),
                        "200": _ok(schemas.ContactAccepted, "already recorded under this external_id"),
                        **_problems(400, 401, 413, 415, 422, 503),
                    },
                },
                "get": {
                    "operationId": "listContacts",
                    "summary": "Contacts, newest first, a page at a time",
                    "security": secured,
                    "parameters": [
                        {
                            "name": "status",
                            "in": "query",
                            "schema": {"type": "string", "enum": ["open", "claimed", "resolved"]},
                        },
                        {
                            "name": "limit",
                            "in": "query",
                            "schema": {"type": "integer", "minimum": 1, "maximum": 200},
                        },
                        {"name": "cursor", "in": "query", "schema": {"type": "string"}},
                    ],
                    "responses": {"200": _ok(schemas.ContactPage, "one page"), **_problems(401, 422, 503)},
                },
            },
            "/api/contacts/{contact_id}": {
                "get": {
                    "operationId": "getContact",
                    "summary": "One contact with its customer, history and questions",
                    "security": secured,
                    "parameters": [_id("contact_id")],
                    "responses": {
                        "200": _ok(schemas.ContactDetail, "the contact"),
                        **_problems(401, 404, 503),
                    },
                }
            },
            "/api/customers/{customer_id}/export": {
                "get": {
                    "operationId": "exportCustomer",
                    "summary": "Everything stored about one customer (GDPR access)",
                    "security": secured,
                    "parameters": [_id("customer_id")],
                    "responses": {
                        "200": {"description": "the export", "content": {"application/json": {}}},
                        **_problems(401, 404, 503),
                    },
                }
            },
            "/api/customers/{customer_id}": {
                "delete": {
                    "operationId": "eraseCustomer",
                    "summary": "Erase a customer's personal data, here and in chat messages (GDPR erasure)",
                    "security": secured,
                    "parameters": [_id("customer_id")],
                    "responses": {"200": _ok(schemas.CustomerErased, "erased"), **_problems(401, 404, 503)},
                }
            },
        },
    }


async def openapi_route(request: web.Request) -> web.Response:
    return web.json_response(request.app[OPENAPI])


OPENAPI: web.AppKey[dict[str, Any]] = web.AppKey("openapi", dict)


def register(app: web.Application) -> None:
    app[OPENAPI] = document()
    app.router.add_get("/api/openapi.json", openapi_route)
