"""TeamsClient against the fake Bot Connector: proactive posts on stored refs, errors, pacing, tokens."""

from __future__ import annotations

import asyncio
import threading

import pytest

from handoff_bot import keys
from handoff_bot.outbox.errors import PermanentFailure, RetryLater
from handoff_bot.platforms.teams.client import Pacer, TeamsClient, message
from handoff_bot.platforms.teams.tokens import StaticTokenSource
from handoff_bot.storage.teams_refs import TeamsConversation
from tests.conftest import Database
from tests.e2e.teams_harness import BOT_TOKEN, CHANNEL, PIET, TEAM, TENANT, TeamsHarness, teams_app
from tests.fakes.bot_connector import FakeConnector

CARD = {"type": "AdaptiveCard", "version": "1.5", "body": [{"type": "TextBlock", "text": "Contact #1"}]}


def client_of(h: TeamsHarness) -> TeamsClient:
    client: TeamsClient = h.client.app[keys.TEAMS].client
    return client


async def channel_of(h: TeamsHarness) -> TeamsConversation:
    channel: TeamsConversation | None = await h.client.app[keys.TEAMS].deps.conversations.channel(TEAM)
    assert channel is not None
    return channel


async def test_after_a_restart_the_bot_starts_a_thread_updates_it_and_replies(
    sqlite_database: Database,
) -> None:
    async with FakeConnector(token=BOT_TOKEN, tenant=TENANT).running() as connector:
        async with teams_app(sqlite_database.url, connector=connector) as h:
            await h.install()
        async with teams_app(sqlite_database.url, connector=connector) as h:
            await after_restart(h, connector)


async def after_restart(h: TeamsHarness, connector: FakeConnector) -> None:
    if True:
        client = client_of(h)
        channel = await channel_of(h)

        posted = await client.post_thread(channel, CHANNEL, message(card=CARD, summary="Contact #1"))
        updated = {**CARD, "body": [{"type": "TextBlock", "text": "Contact #1: claimed"}]}
        await client.update(channel, posted.conversation_id, posted.activity_id, message(card=updated))
        reply = await client.reply(channel, posted.conversation_id, message("claimed by **Marieke**"))

        assert posted.conversation_id == f"{CHANNEL};messageid={posted.activity_id}"
        [root] = connector.threads(CHANNEL)
        assert root.id == posted.activity_id
        assert (
            root.card == updated
            and len(root.edits) == 1
            and root.edits[0]["attachments"][0]["content"] == CARD
        )
        assert [m.text for m in connector.thread(posted.conversation_id)] == ["claimed by **Marieke**"]
        assert reply.conversation_id == posted.conversation_id
        assert {c.authorization for c in connector.calls} == {f"Bearer {BOT_TOKEN}"}
        [update] = connector.calls_of("update")
        assert update.conversation_id == posted.conversation_id  # inside a turn on the thread's reference


async def test_a_one_to_one_chat_is_created_with_the_tenant_and_then_reused(
    sqlite_database: Database,
) -> None:
    async with teams_app(sqlite_database.url) as h:
        await h.install()
        client = client_of(h)

        chat = await client.personal_chat(aad_object_id=PIET[1])
        await client.send(chat, message("Can you help with contact #1?"))
        again = await client.personal_chat(aad_object_id=PIET[1])
        await client.send(again, message("Still there?"))

        [create] = h.connector.calls_of("create")
        assert create.body is not None
        assert create.body["channelData"] == {"tenant": {"id": TENANT}}
        assert create.body["isGroup"] is False
        assert create.body["members"] == [{"id": PIET[1]}]
        assert [m.text for m in h.connector.chat_with(PIET[1])] == [
            "Can you help with contact #1?",
            "Still there?",
        ]
        assert again.conversation_id == chat.conversation_id and again.tenant_id == TENANT


async def test_a_user_without_the_app_is_a_permanent_failure_saying_so(sqlite_database: Database) -> None:
    async with teams_app(sqlite_database.url) as h:
        await h.install()
        h.connector.users[PIET[0]].installed = False

        with pytest.raises(PermanentFailure, match="installed"):
            await client_of(h).personal_chat(aad_object_id=PIET[1])


async def test_no_team_seen_yet_means_retry_later_with_what_to_do(sqlite_database: Database) -> None:
    async with teams_app(sqlite_database.url) as h:
        with pytest.raises(RetryLater, match="add the app to a team"):
            await client_of(h).personal_chat(aad_object_id=PIET[1])


@pytest.mark.parametrize(
    ("status", "retry_after", "counts", "expected_wait"),
    [(429, "7", False, 7.0), (412, "3", False, 3.0), (502, None, True, None), (504, "2", True, 2.0)],
)
async def test_throttling_and_outages_are_retried_honouring_retry_after(
    sqlite_database: Database, status: int, retry_after: str | None, counts: bool, expected_wait: float | None
) -> None:
    async with teams_app(sqlite_database.url) as h:
        await h.install()
        client = client_of(h)
        channel = await channel_of(h)
        h.connector.fail_next(status, retry_after=retry_after, kind="thread")

        with pytest.raises(RetryLater) as raised:
            await client.post_thread(channel, CHANNEL, message(card=CARD))

        assert raised.value.retry_after == expected_wait
        assert raised.value.counts is counts
        assert h.connector.threads(CHANNEL) == []
        # One try only: msrest's own retries are off, the outbox owns retrying.
        assert h.connector.faults[0].times == 0 and h.connector.calls == []


async def test_a_message_gone_from_teams_is_a_permanent_failure(sqlite_database: Database) -> None:
    async with teams_app(sqlite_database.url) as h:
        await h.install()
        channel = await channel_of(h)

        with pytest.raises(PermanentFailure, match="no longer exists"):
            await client_of(h).update(channel, f"{CHANNEL};messageid=1", "1", message(card=CARD))


async def test_a_refused_bot_token_is_permanent_and_names_the_settings(sqlite_database: Database) -> None:
    async with teams_app(sqlite_database.url, token_source=StaticTokenSource("stale-token")) as h:
        await h.install()
        channel = await channel_of(h)

        with pytest.raises(PermanentFailure, match="MICROSOFT_APP_PASSWORD"):
            await client_of(h).post_thread(channel, CHANNEL, message(card=CARD))
        assert h.connector.refused == 1


async def test_anonymous_mode_posts_without_any_token(sqlite_database: Database) -> None:
    async with teams_app(sqlite_database.url, anonymous=True) as h:
        await h.install()
        posted = await client_of(h).post_thread(await channel_of(h), CHANNEL, message(card=CARD))

        assert h.connector.refused == 0
        assert [c.authorization for c in h.connector.calls] == [None]
        assert h.connector.threads(CHANNEL)[0].id == posted.activity_id


async def test_one_bot_token_serves_many_turns_and_is_fetched_off_the_event_loop(
    sqlite_database: Database,
) -> None:
    """Defect 3: botbuilder asked Entra for a token on every turn, with blocking msal on the loop."""
    loop_thread = threading.get_ident()
    threads: list[int] = []

    class SlowSource(StaticTokenSource):
        def acquire(self, scope: str) -> tuple[str, float]:
            threads.append(threading.get_ident())
            threading.Event().wait(0.3)  # a slow authority: the loop must keep running meanwhile
            return super().acquire(scope)

    source = SlowSource(BOT_TOKEN)
    async with teams_app(sqlite_database.url, token_source=source) as h:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0.01)

        task = asyncio.create_task(ticker())
        try:
            await h.install()
            channel = await channel_of(h)
            for n in range(5):
                await h.send(h.channel_message(f"hello {n}"))
                await client_of(h).post_thread(channel, CHANNEL, message(card=CARD))
        finally:
            task.cancel()

        assert source.calls == 1
        assert threads and loop_thread not in threads
        assert ticks > 10  # the loop ran while the token was being fetched
        assert len(h.connector.threads(CHANNEL)) == 5


async def test_a_token_near_expiry_is_renewed_before_use() -> None:
    from handoff_bot.platforms.teams.auth import CachedCredentialsFactory

    now = [1000.0]
    source = StaticTokenSource("t", expires_in=3600)
    factory = CachedCredentialsFactory("app", source, clock=lambda: now[0])

    first = await factory.create_credentials("app", "https://api.botframework.com", "login", True)
    now[0] += 3000  # 600 s left: still used
    await factory.create_credentials("app", "https://api.botframework.com", "login", True)
    now[0] += 400  # 200 s left: inside the renewal margin
    await factory.create_credentials("app", "https://api.botframework.com", "login", True)

    assert source.calls == 2
    assert first.get_access_token() == "t"
    with pytest.raises(PermissionError):
        await factory.create_credentials("someone-else", "https://api.botframework.com", "login", True)


def test_the_pacer_keeps_within_teams_per_thread_limits() -> None:
    now = [0.0]
    pacer = Pacer(clock=lambda: now[0])
    waits: list[float] = []
    for _ in range(8):
        waits.append(pacer.wait_for("thread"))
        pacer.record("thread")

    assert waits[:7] == [0.0] * 7
    assert waits[7] == pytest.approx(1.0)  # 7 a second
    now[0] = 1.0
    assert pacer.wait_for("thread") == pytest.approx(1.0)  # and 8 in 2 seconds
    assert pacer.wait_for("another thread") == 0.0
    now[0] = 2.0
    assert pacer.wait_for("thread") == 0.0


async def test_the_pacer_also_keeps_within_the_tenant_wide_limit() -> None:
    now = [0.0]
    pacer = Pacer(clock=lambda: now[0])
    for n in range(30):
        async with pacer.turn(f"thread {n}"):  # thirty different threads, no thread-level wait
            pass

    assert pacer.wait_for("thread 31") == 0.0
    assert pacer.tenant is not None and pacer.tenant.wait_for("tenant") == pytest.approx(1.0)
    now[0] = 1.0
    assert pacer.tenant.wait_for("tenant") == 0.0


async def test_a_long_pacing_wait_goes_back_to_the_outbox_instead_of_holding_a_worker() -> None:
    pacer = Pacer(limits=((60.0, 2),), tenant_limits=None)
    async with pacer.turn("t"):
        pass
    async with pacer.turn("t"):
        pass

    with pytest.raises(RetryLater) as raised:
        async with pacer.turn("t"):
            pass
    assert raised.value.counts is False and raised.value.retry_after is not None
    assert raised.value.retry_after > 50


async def test_the_bot_really_gets_its_own_token_from_the_login_authority(
    sqlite_database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """msal against a local Entra authority over TLS; the connector accepts only tokens it issued."""
    from tests.e2e.teams_harness import APP_ID, APP_PASSWORD
    from tests.fakes.entra import BOT_SCOPE, FakeEntra

    async with FakeEntra(clients={APP_ID: APP_PASSWORD}, tenants=(TENANT,)) as entra:
        # The bot builds its own msal application; requests trusts the fake's CA through this variable.
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", entra.ca_file)
        connector = FakeConnector(token=None, tenant=TENANT)
        connector.check_token = lambda header: bool(
            header and header.startswith("Bearer ") and entra.valid(header.removeprefix("Bearer "), BOT_SCOPE)
        )
        async with (
            connector.running(),
            teams_app(sqlite_database.url, connector=connector, microsoft_login_url=entra.url) as h,
        ):
            await h.install()
            channel = await channel_of(h)
            for _ in range(3):
                await client_of(h).post_thread(channel, CHANNEL, message(card=CARD))

            assert len(connector.threads(CHANNEL)) == 3 and connector.refused == 0
            assert entra.requests["token"] == 1  # one token for every turn
            tokens = {c.authorization for c in connector.calls}
            assert len(tokens) == 1 and tokens != {f"Bearer {BOT_TOKEN}"}


async def test_a_refused_bot_secret_is_retried_later_and_names_no_secret(
    sqlite_database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.e2e.teams_harness import APP_ID, APP_PASSWORD
    from tests.fakes.entra import FakeEntra

    # Tokens shorter-lived than the renewal margin: every turn asks the authority again.
    async with FakeEntra(clients={APP_ID: APP_PASSWORD}, tenants=(TENANT,), lifetime=120) as entra:
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", entra.ca_file)
        async with teams_app(sqlite_database.url, microsoft_login_url=entra.url) as h:
            await h.install()
            entra.clients[APP_ID] = "rotated-in-the-portal"  # our MICROSOFT_APP_PASSWORD is now wrong
            h.connector.check_token = lambda header: header is not None

            with pytest.raises(RetryLater) as raised:
                await client_of(h).post_thread(await channel_of(h), CHANNEL, message(card=CARD))
            inbound = await h.send(h.channel_message("hello"))

            assert "invalid_client" in raised.value.reason
            assert APP_PASSWORD not in raised.value.reason
            assert inbound.status == 503  # not a 500 with a traceback
            assert h.connector.calls_of("thread") == []
