"""GET /api/customers/{id}/export and DELETE /api/customers/{id}: a customer's GDPR rights, for systems."""

from __future__ import annotations

import logging

from aiohttp import web

from handoff_bot import keys
from handoff_bot.intake.api import authenticate, parse_id
from handoff_bot.intake.problems import Problem
from handoff_bot.services.privacy import erase_customer, export_customer

log = logging.getLogger(__name__)


def _customer_id(request: web.Request) -> int:
    raw = request.match_info["customer_id"]
    customer_id = parse_id(raw)
    if customer_id is None:
        raise Problem(404, f"customer {raw[:40]!r} does not exist")
    return customer_id


async def export_route(request: web.Request) -> web.Response:
    source = authenticate(request)
    customer_id = _customer_id(request)
    data = await export_customer(customer_id, uow=request.app[keys.UOW])
    log.info("customer %s exported by %s", customer_id, source)
    return web.json_response(
        data, headers={"Content-Disposition": f'attachment; filename="customer-{customer_id}.json"'}
    )


async def erase_route(request: web.Request) -> web.Response:
    source = authenticate(request)
    customer_id = _customer_id(request)
    erasure = await erase_customer(
        customer_id, by=f"api:{source}", uow=request.app[keys.UOW], clock=request.app[keys.CLOCK]
    )
    log.info("customer %s erased by api:%s (%s contacts)", customer_id, source, erasure.contacts)
    return web.json_response(
        {"customer_id": customer_id, "contacts": erasure.contacts, "already_erased": erasure.already_erased}
    )


def register(app: web.Application) -> None:
    app.router.add_get("/api/customers/{customer_id}/export", export_route)
    app.router.add_delete("/api/customers/{customer_id}", erase_route)
