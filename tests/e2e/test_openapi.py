"""GET /api/openapi.json describes exactly the /api/ routes, from the models that validate them;
schemathesis then throws generated and invalid requests at a real `serve` process."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings

from handoff_bot.app import build_app
from handoff_bot.config import load_settings
from handoff_bot.intake import openapi, schemas
from tests.e2e.conftest import Api
from tests.e2e.served import BIN, free_port

METHODS = {"get", "post", "put", "patch", "delete"}


def routes() -> set[tuple[str, str]]:
    app = build_app(load_settings(database_url="sqlite+aiosqlite:///unused.db"), run_worker=False)
    found = set()
    for route in app.router.routes():
        path = route.resource.canonical if route.resource else ""
        # /api/messages is the Bot Framework's endpoint (Teams), not part of the intake API.
        if path.startswith("/api/") and path != "/api/messages" and route.method.lower() in METHODS:
            found.add((route.method.lower(), path))
    return found


def test_the_document_describes_every_api_route_and_nothing_else() -> None:
    doc = openapi.document()
    described = {(method, path) for path, ops in doc["paths"].items() for method in ops}
    assert described == routes()
    assert doc["openapi"] == "3.1.0"


def test_bodies_are_the_models_the_code_validates_with() -> None:
    components = openapi.document()["components"]["schemas"]
    request = schemas.ContactIn.model_json_schema(ref_template="#/components/schemas/{model}")
    assert components["CustomerIn"] == request.pop("$defs")["CustomerIn"]
    assert components["ContactIn"] == request
    post = openapi.document()["paths"]["/api/contacts"]["post"]
    assert post["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ContactIn"
    }


async def test_it_is_served_without_a_token(api: Api) -> None:
    response = await api.client.get("/api/openapi.json")
    assert response.status == 200
    assert await response.json() == openapi.document()


# ---------------------------------------------------------------------- schemathesis

TOKEN = "schema-token-0123456789abcdef"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real server process (schemathesis speaks plain blocking HTTP)."""
    workdir = tmp_path_factory.mktemp("schemathesis")
    port = free_port()
    env = {
        "PATH": os.environ["PATH"],
        "HANDOFF_DATABASE_URL": f"sqlite+aiosqlite:///{workdir / 'schema.db'}",
        "HANDOFF_INTAKE_TOKENS": f"crm={TOKEN}",
        "HANDOFF_LOG_LEVEL": "WARNING",
    }
    log = (workdir / "serve.log").open("wb")
    proc = subprocess.Popen(
        [str(BIN), "serve", "--port", str(port)], env=env, cwd=workdir, stdout=log, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{url}/readyz", timeout=5).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            assert proc.poll() is None, (workdir / "serve.log").read_text()
            time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(30)
        log.close()


schema = schemathesis.openapi.from_dict(openapi.document())


@pytest.mark.slow
@schema.parametrize()
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_the_api_keeps_its_published_promises(case: Any, served: str) -> None:
    """No 500s, answers in the documented shapes and statuses, invalid requests refused.

    Schema-valid requests may still be refused with 422: a real email address, a phone number and
    times not in the future are rules JSON Schema cannot say, so that one check is left out.
    """
    case.call_and_validate(
        base_url=served,
        headers={"Authorization": f"Bearer {TOKEN}"},
        excluded_checks=[schemathesis.checks.positive_data_acceptance],
    )
