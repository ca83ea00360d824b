"""Real `serve` and `worker` processes with Teams: real JWTs in, real msal tokens out."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, cast

import aiohttp

from handoff_bot.clock import SystemClock
from handoff_bot.domain.contacts import Channel
from handoff_bot.services.commands import CustomerDetails, ReceiveContact
from handoff_bot.services.contacts import receive_contact
from handoff_bot.storage.db import create_engine, session_factory
from handoff_bot.storage.uow import SqlUnitOfWorkFactory
from tests.e2e.teams_harness import APP_ID, APP_PASSWORD, CHANNEL, TENANT, TOKEN, TeamsHarness
from tests.e2e.test_processes import free_port, process, wait_ready
from tests.fakes.bot_connector import FakeConnector
from tests.fakes.bot_tokens import shared_issuer
from tests.fakes.entra import BOT_SCOPE, FakeEntra


def teams_env(tmp_path: Path, entra: FakeEntra) -> dict[str, str]:
    return {
        "HANDOFF_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'handoff.db'}",
        "HANDOFF_INTAKE_TOKENS": f"crm={TOKEN}",
        "MICROSOFT_APP_ID": APP_ID,
        "MICROSOFT_APP_PASSWORD": APP_PASSWORD,
        "MICROSOFT_APP_TENANT_ID": TENANT,
        "MICROSOFT_OPENID_METADATA_URL": shared_issuer().metadata_url,
        "MICROSOFT_LOGIN_URL": entra.url,
        "REQUESTS_CA_BUNDLE": entra.ca_file,  # trust the fake authority's certificate
        "TEAMS_CONTACTS_CHANNEL": CHANNEL,
    }


def entra_checked(connector: FakeConnector, entra: FakeEntra) -> FakeConnector:
    connector.check_token = lambda header: bool(
        header and header.startswith("Bearer ") and entra.valid(header.removeprefix("Bearer "), BOT_SCOPE)
    )
    return connector


async def test_serve_then_worker_post_cards_to_teams_after_a_restart(tmp_path: Path) -> None:
    async with (
        FakeEntra(clients={APP_ID: APP_PASSWORD}, tenants=(TENANT,)) as entra,
        entra_checked(FakeConnector(token=None, tenant=TENANT), entra).running() as connector,
    ):
        env = teams_env(tmp_path, entra)
        activities = TeamsHarness(connector, cast(Any, None), cast(Any, None), shared_issuer(), APP_ID)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        async with process("serve", "--port", str(port), env=env, cwd=tmp_path) as proc:
            await wait_ready(url, proc)
            async with aiohttp.ClientSession() as http:
                headers = {"Content-Type": "application/json", "Authorization": activities.auth()}
                install = json.dumps(activities.installation())
                async with http.post(f"{url}/api/messages", data=install, headers=headers) as response:
                    assert response.status == 201, await response.text()
                forged = {**headers, "Authorization": activities.auth(forged=True)}
                async with http.post(f"{url}/api/messages", data=install, headers=forged) as response:
                    assert response.status == 401
                body = {"channel": "phone", "customer": {"name": "Anna"}, "subject": "Quote please"}
                async with http.post(
                    f"{url}/api/contacts", json=body, headers={"Authorization": f"Bearer {TOKEN}"}
                ) as response:
                    assert response.status == 201
            await connector.wait_for(lambda: len(connector.threads(CHANNEL)) == 1)
        assert "Quote please" in json.dumps(connector.threads(CHANNEL)[0].card)

        # serve is gone; a contact comes in meanwhile; a fresh worker process posts it from stored refs.
        engine = create_engine(env["HANDOFF_DATABASE_URL"])
        uow = SqlUnitOfWorkFactory(session_factory(engine), platforms=("teams",), clock=SystemClock())
        await receive_contact(
            ReceiveContact(Channel.EMAIL, "api", CustomerDetails(name="Kees"), subject="Second"),
            uow=uow,
            clock=SystemClock(),
        )
        await engine.dispose()
        async with process("worker", env=env, cwd=tmp_path):
            await connector.wait_for(lambda: len(connector.threads(CHANNEL)) == 2)
        assert "Second" in json.dumps(connector.threads(CHANNEL)[1].card)
        assert connector.refused == 0
        assert entra.requests["token"] == 2  # one per process, not one per turn
