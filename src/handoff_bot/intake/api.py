"""The intake HTTP API: POST/GET /api/contacts. (Being built.)"""

from __future__ import annotations

from aiohttp import web

MAX_BODY = 64 * 1024


def register(app: web.Application) -> None:
    """Add the /api/contacts routes."""
