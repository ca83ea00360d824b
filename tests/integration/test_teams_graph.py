"""Tokens from a (fake) Entra authority with real msal over TLS, and Graph users and presence with them."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
import pytest

from handoff_bot.config import load_settings
from handoff_bot.i18n.catalogue import Catalogue
from handoff_bot.platforms.teams import dialogs
from handoff_bot.platforms.teams.graph import (
    GraphClient,
    GraphError,
    GraphUser,
    PresenceTarget,
    colleagues_with_presence,
    graph_credentials,
)
from handoff_bot.platforms.teams.presence import Presence
from handoff_bot.platforms.teams.tokens import (
    BOT_FRAMEWORK_SCOPE,
    AppCredentials,
    MsalClientCredentials,
    TokenError,
    TokenProvider,
    graph_scope,
)
from tests.fakes.entra import BOT_SCOPE, CLIENT_ID, CLIENT_SECRET, GRAPH_SCOPE, TENANT, FakeEntra
from tests.fakes.graph import FakeGraph

MARIEKE = "6f1c2a9e-0b1d-4c3e-9f7a-1a2b3c4d5e6f"
JAN = "0c5e1f7a-2b3c-4d5e-8f90-123456789abc"
SANNE = "3d4e5f60-7182-4394-a5b6-c7d8e9f0a1b2"


@dataclass
class Clock:
    t: float = 1000.0

    def __call__(self) -> float:
        return self.t


def provider(entra: FakeEntra, scope: str = GRAPH_SCOPE, **kw: object) -> TokenProvider:
    creds = AppCredentials(CLIENT_ID, CLIENT_SECRET, TENANT, login_url=entra.url)
    return TokenProvider.for_app(creds, scope, verify=entra.ca_file, **kw)  # type: ignore[arg-type]


@pytest.fixture
async def entra() -> AsyncIterator[FakeEntra]:
    async with FakeEntra() as fake:
        yield fake


@dataclass
class GraphSetup:
    entra: FakeEntra
    graph: FakeGraph
    tokens: TokenProvider
    client: GraphClient
    sleeps: list[float]


@pytest.fixture
async def setup(entra: FakeEntra) -> AsyncIterator[GraphSetup]:
    fake = FakeGraph(lambda token: entra.valid(token, GRAPH_SCOPE))
    fake.add_user(MARIEKE, "Marieke de Vries", "marieke@bakkerij.example", "Available")
    fake.add_user(JAN, "Jan", "jan@bakkerij.example", "DoNotDisturb")
    fake.add_user(SANNE, "Sanne", "o'brien@bakkerij.example", "BeRightBack")
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    async with fake, aiohttp.ClientSession() as session:
        tokens = provider(entra)
        yield GraphSetup(entra, fake, tokens, GraphClient(session, tokens, fake.url, sleep=sleep), sleeps)


async def test_real_token_acquisition_against_the_authority(entra: FakeEntra) -> None:
    tokens = provider(entra)
    token = await tokens.token()
    assert entra.valid(token, GRAPH_SCOPE) and not entra.valid(token, BOT_SCOPE)
    assert entra.requests == {"discovery": 1, "token": 1}
    assert tokens.current == token
    # The same module serves the bot's own Bot Framework token (multi-tenant authority tenant).
    bot = TokenProvider.for_app(
        AppCredentials(CLIENT_ID, CLIENT_SECRET, "botframework.com", login_url=entra.url),
        BOT_FRAMEWORK_SCOPE,
        verify=entra.ca_file,
    )
    assert entra.valid(await bot.token(), BOT_SCOPE)


async def test_the_bots_own_token_through_the_adapters_credentials_factory(entra: FakeEntra) -> None:
    # teams-core's CachedCredentialsFactory takes any TokenSource; this one is real msal on real TLS.
    from handoff_bot.platforms.teams.auth import CachedCredentialsFactory

    source = MsalClientCredentials(
        AppCredentials(CLIENT_ID, CLIENT_SECRET, "botframework.com", login_url=entra.url),
        verify=entra.ca_file,
    )
    factory = CachedCredentialsFactory(CLIENT_ID, source)
    tokens = await asyncio.gather(*(factory.token() for _ in range(10)))
    assert len(set(tokens)) == 1 and entra.valid(tokens[0], BOT_SCOPE)
    assert entra.requests["token"] == 1  # "https://api.botframework.com" became ".../.default"
    credentials = await factory.create_credentials(CLIENT_ID, "https://api.botframework.com", "", False)
    assert credentials.get_access_token() == tokens[0] and entra.requests["token"] == 1


async def test_one_token_request_serves_many_calls(setup: GraphSetup) -> None:
    results = await asyncio.gather(*(setup.client.presences([MARIEKE, JAN]) for _ in range(30)))
    for _ in range(10):
        assert await setup.client.user_by_email("jan@bakkerij.example") is not None
    assert all(r == {MARIEKE: Presence.AVAILABLE, JAN: Presence.BUSY} for r in results)
    assert len(setup.graph.calls) == 40
    assert setup.entra.requests["token"] == 1 and setup.entra.requests["discovery"] == 1


async def test_a_token_is_reused_until_shortly_before_it_expires() -> None:
    # Tokens that live 200 s: msal itself never serves one from its cache within 5 minutes of expiry, so
    # what is reused here is the provider's own doing, and a renewal is a real request to the authority.
    async with FakeEntra(lifetime=200) as short:
        clock = Clock()
        tokens = provider(short, refresh_before=60.0, now=clock)
        first = await tokens.token()
        clock.t += 100
        assert await tokens.token() == first and short.requests["token"] == 1
        clock.t += 50  # 50 s left: renew now rather than send a token that dies in flight
        assert tokens.current == first  # still valid for a synchronous reader meanwhile
        second = await tokens.token()
        assert second != first and short.requests["token"] == 2
        assert short.valid(second, GRAPH_SCOPE)
        clock.t += 10_000
        assert tokens.current is None  # never hands out an expired token


async def test_invalidate_fetches_a_new_token(entra: FakeEntra) -> None:
    tokens = provider(entra)
    first = await tokens.token()
    tokens.invalidate()
    second = await tokens.token()
    assert second != first and entra.requests["token"] == 2


async def test_a_wrong_secret_is_a_clear_error_without_the_secret(
    entra: FakeEntra, caplog: pytest.LogCaptureFixture
) -> None:
    creds = AppCredentials(CLIENT_ID, "wrong-secret-value", TENANT, login_url=entra.url)
    tokens = TokenProvider.for_app(creds, GRAPH_SCOPE, verify=entra.ca_file)
    with caplog.at_level(logging.DEBUG), pytest.raises(TokenError) as caught:
        await tokens.token()
    assert caught.value.code == "invalid_client"
    assert "wrong-secret-value" not in str(caught.value) and "wrong-secret-value" not in caplog.text
    assert "wrong-secret-value" not in repr(creds)
    assert tokens.current is None and entra.requests["token_refused"] == 1


async def test_an_unknown_tenant_and_an_unreachable_authority_are_token_errors(entra: FakeEntra) -> None:
    unknown = TokenProvider.for_app(
        AppCredentials(CLIENT_ID, CLIENT_SECRET, "no-such-tenant", login_url=entra.url),
        GRAPH_SCOPE,
        verify=entra.ca_file,
    )
    with pytest.raises(TokenError, match="authority_unavailable"):
        await unknown.token()
    closed = FakeEntra()
    await closed.start()
    url = closed.url
    await closed.stop()
    gone = TokenProvider.for_app(
        AppCredentials(CLIENT_ID, CLIENT_SECRET, TENANT, login_url=url), GRAPH_SCOPE, verify=closed.ca_file
    )
    with pytest.raises(TokenError, match="authority_unreachable"):
        await gone.token()


async def test_an_untrusted_certificate_is_refused(entra: FakeEntra) -> None:
    tokens = TokenProvider.for_app(
        AppCredentials(CLIENT_ID, CLIENT_SECRET, TENANT, login_url=entra.url), GRAPH_SCOPE
    )
    with pytest.raises(TokenError, match="authority_unreachable"):
        await tokens.token()  # system CAs only: the fake's self-signed certificate is not trusted
    assert entra.requests["token"] == 0


async def test_the_event_loop_keeps_running_while_the_authority_is_slow() -> None:
    # The fake authority runs on this same loop: were msal called on the loop, the authority could not
    # answer at all. The ticker shows the loop stays free for the whole slow request.
    async with FakeEntra(delay=1.0) as slow:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        task = asyncio.create_task(ticker())
        try:
            tokens = provider(slow)
            results = await asyncio.wait_for(asyncio.gather(*(tokens.token() for _ in range(5))), 30)
        finally:
            task.cancel()
        assert len(set(results)) == 1 and slow.requests["token"] == 1  # five callers, one request
        assert ticks >= 20  # about 100 while the authority waits 1 s; 0 if the loop were blocked


async def test_find_a_user_by_email(setup: GraphSetup) -> None:
    found = await setup.client.user_by_email("  Marieke@Bakkerij.example ")
    assert found == GraphUser(
        MARIEKE, "Marieke de Vries", "marieke@bakkerij.example", "marieke@bakkerij.example"
    )
    assert await setup.client.user_by_email("nobody@bakkerij.example") is None
    call = setup.graph.calls[0]
    assert call.query["$filter"] == (
        "mail eq 'Marieke@Bakkerij.example' or userPrincipalName eq 'Marieke@Bakkerij.example'"
    )
    for bad in ("x' or 1 eq 1 or mail eq 'y@z", "not an email", "a@b@c", ""):
        with pytest.raises(ValueError, match="not an email"):
            await setup.client.user_by_email(bad)
    assert len(setup.graph.calls) == 2  # refused addresses never reach Graph


async def test_presence_for_many_ids_is_batched(setup: GraphSetup) -> None:
    ids = [MARIEKE, JAN, SANNE] + [f"00000000-0000-0000-0000-{i:012d}" for i in range(1000)]
    got = await setup.client.presences([*ids, MARIEKE])
    assert got == {MARIEKE: Presence.AVAILABLE, JAN: Presence.BUSY, SANNE: Presence.AWAY}
    assert [len(c.body["ids"]) for c in setup.graph.calls] == [650, 353]


async def test_throttling_waits_out_a_short_retry_after(setup: GraphSetup) -> None:
    setup.graph.throttle(429, "2", times=2)
    assert await setup.client.presences([MARIEKE]) == {MARIEKE: Presence.AVAILABLE}
    assert setup.sleeps == [2.0, 2.0]
    assert [c.status for c in setup.graph.calls] == [429, 429, 200]


async def test_a_long_retry_after_is_reported_not_slept(setup: GraphSetup) -> None:
    setup.graph.throttle(429, "120")
    with pytest.raises(GraphError) as caught:
        await setup.client.presences([MARIEKE])
    assert (caught.value.status, caught.value.retry_after) == (429, 120.0)
    assert setup.sleeps == []
    setup.graph.throttle(503, None, times=3)  # no Retry-After: a short backoff, then give up
    with pytest.raises(GraphError):
        await setup.client.presences([MARIEKE])
    assert setup.sleeps == [1.0, 2.0]


async def test_a_rejected_token_is_renewed_once(setup: GraphSetup) -> None:
    await setup.client.presences([MARIEKE])
    setup.entra.issued.clear()  # Entra revoked every token
    assert await setup.client.presences([JAN]) == {JAN: Presence.BUSY}
    assert setup.entra.requests["token"] == 2
    assert [c.status for c in setup.graph.calls] == [200, 401, 200]


async def test_graph_rejects_a_request_without_our_token(setup: GraphSetup) -> None:
    async with aiohttp.ClientSession() as session:
        resp = await session.post(
            f"{setup.graph.url}/v1.0/communications/getPresencesByUserId",
            json={"ids": [MARIEKE]},
            headers={"Authorization": "Bearer forged"},
        )
        assert resp.status == 401
        assert (await resp.json())["error"]["code"] == "InvalidAuthenticationToken"


async def test_team_owners_are_read_from_the_team_members(setup: GraphSetup) -> None:
    team = "2a3b4c5d-6e7f-4081-92a3-b4c5d6e7f809"
    setup.graph.teams[team] = {MARIEKE: ["owner"], JAN: []}
    assert await setup.client.is_owner(team, MARIEKE) is True
    assert await setup.client.is_owner(team, JAN) is False
    assert await setup.client.is_owner(team, SANNE) is False  # not a member
    assert await setup.client.is_owner("../users", MARIEKE) is False  # never reaches Graph
    assert len(setup.graph.calls) == 3
    with pytest.raises(GraphError) as caught:
        await setup.client.is_owner("9a3b4c5d-6e7f-4081-92a3-b4c5d6e7f809", MARIEKE)
    assert (caught.value.status, caught.value.code) == (404, "NotFound")


async def test_presence_is_shown_in_the_ask_dialog(setup: GraphSetup) -> None:
    people = [
        PresenceTarget(3, "Jan", JAN),
        PresenceTarget(1, "Marieke de Vries", MARIEKE),
        PresenceTarget(2, "Piet", None),  # only on Slack
        PresenceTarget(4, "Sanne", SANNE),
    ]
    colleagues = await colleagues_with_presence(setup.client, people)
    card = dialogs.ask_dialog(Catalogue("en"), "📞 Phone · Anna", 42, colleagues)["task"]["value"]["card"]
    known = next(e for e in card["content"]["body"] if e.get("id") == "known")
    assert [c["title"] for c in known["choices"]] == [
        "🟢 Marieke de Vries · available",
        "🟡 Sanne · away",
        "🔴 Jan · busy",
        "Piet",
    ]
    assert [c["value"] for c in known["choices"]] == ["v1:p:1", "v1:p:4", "v1:p:3", "v1:p:2"]
    nl = dialogs.ask_dialog(Catalogue("nl"), "x", 42, colleagues)["task"]["value"]["card"]["content"]
    assert "🟢 Marieke de Vries · beschikbaar" in [
        c["title"] for e in nl["body"] if e.get("id") == "known" for c in e["choices"]
    ]


async def test_without_graph_the_dialog_still_lists_everyone(
    setup: GraphSetup, caplog: pytest.LogCaptureFixture
) -> None:
    people = [PresenceTarget(1, "Marieke de Vries", MARIEKE), PresenceTarget(2, "Piet", None)]
    setup.graph.throttle(429, "300")
    with caplog.at_level(logging.WARNING):
        throttled = await colleagues_with_presence(setup.client, people)
    assert [(c.name, c.presence) for c in throttled] == [("Marieke de Vries", None), ("Piet", None)]
    assert "presence unavailable for 1 colleagues" in caplog.text and "Marieke" not in caplog.text
    assert [c.presence for c in await colleagues_with_presence(None, people)] == [None, None]


def test_graph_credentials_come_from_the_bot_settings() -> None:
    assert graph_credentials(load_settings(microsoft_app_id="")) is None  # anonymous
    assert graph_credentials(load_settings(microsoft_app_id=CLIENT_ID, microsoft_app_password="s")) is None
    creds = graph_credentials(
        load_settings(
            microsoft_app_id=CLIENT_ID,
            microsoft_app_password="s3cret",
            microsoft_app_tenant_id=TENANT,
            microsoft_login_url="https://login.microsoftonline.us",
        )
    )
    assert creds is not None and creds.authority == f"https://login.microsoftonline.us/{TENANT}"
    assert creds.overridden and "s3cret" not in repr(creds)
    public = graph_credentials(
        load_settings(microsoft_app_id=CLIENT_ID, microsoft_app_password="s", microsoft_app_tenant_id=TENANT)
    )
    assert public is not None and not public.overridden
    assert graph_scope("https://graph.microsoft.us/") == "https://graph.microsoft.us/.default"


def test_the_fake_authority_also_serves_from_its_own_thread() -> None:
    # For code that may block its loop (or has none): the authority answers from another thread.
    with FakeEntra().in_thread() as fake:
        token = asyncio.run(provider(fake).token())
        assert fake.valid(token, GRAPH_SCOPE) and fake.requests["token"] == 1
