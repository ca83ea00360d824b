"""POST /api/messages with real Bot Framework JWTs (and anonymously): who gets in, what is remembered."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from botbuilder.core import CardFactory, TurnContext
from botbuilder.schema.teams import TaskModuleContinueResponse, TaskModuleResponse, TaskModuleTaskInfo
from sqlalchemy import func, select

from handoff_bot import keys
from handoff_bot.platforms.teams.adapter import invoke_response
from handoff_bot.storage.models import TeamsConversationRow
from tests.conftest import Database
from tests.e2e.teams_harness import APP_ID, CHANNEL, MARIEKE, TEAM, TENANT, TeamsHarness, teams_app


def options(database: Database) -> dict[str, Any]:
    if database.schema is None:
        return {}
    return {"connect_args": {"server_settings": {"search_path": database.schema}}}


async def stored_conversations(h: TeamsHarness) -> int:
    async with h.client.app[keys.UOW].sessions() as s:
        return int(await s.scalar(select(func.count()).select_from(TeamsConversationRow)) or 0)


async def test_a_valid_token_is_accepted_and_the_channel_remembered(database: Database) -> None:
    async with teams_app(database.url, engine_options=options(database)) as h:
        response = await h.send(h.installation())

        assert response.status == 201, await response.text()
        channel = await h.client.app[keys.TEAMS].deps.conversations.channel(TEAM)
        assert channel is not None
        assert (channel.tenant_id, channel.team_id, channel.service_url) == (TENANT, TEAM, h.connector.url)
        assert h.issuer is not None and "/v1/.well-known/keys" in h.issuer.requests


@pytest.mark.parametrize(
    ("what", "authorization"),
    [
        ("missing", None),
        ("forged", {"forged": True}),
        ("expired", {"expired": True}),
        ("wrong audience", {"audience": "another-bot-app-id"}),
        ("wrong issuer", {"issuer": "https://evil.example.org"}),
        ("unknown key", {"kid": "not-a-key-we-serve"}),
        ("not a jwt", "Bearer not.a.jwt"),
        ("not bearer", "Basic dXNlcjpwYXNz"),
    ],
)
async def test_a_bad_or_missing_token_is_401_and_changes_nothing(
    sqlite_database: Database, what: str, authorization: Any
) -> None:
    async with teams_app(sqlite_database.url) as h:
        header = h.auth(**authorization) if isinstance(authorization, dict) else authorization
        response = await h.send(h.installation(), authorization=header)

        assert response.status == 401, f"{what}: {response.status} {await response.text()}"
        assert await stored_conversations(h) == 0
        assert h.connector.calls == []


async def test_a_token_for_another_service_url_is_refused(sqlite_database: Database) -> None:
    async with teams_app(sqlite_database.url) as h:
        assert h.issuer is not None
        header = "Bearer " + h.issuer.token(APP_ID, "https://smba.trafficmanager.net/elsewhere/")

        response = await h.send(h.installation(), authorization=header)

        assert response.status == 401
        assert await stored_conversations(h) == 0


async def test_anonymous_mode_needs_no_token_and_says_so_loudly(
    sqlite_database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        async with teams_app(sqlite_database.url, anonymous=True) as h:
            response = await h.send(h.installation(), authorization=None)

            assert response.status == 201, await response.text()
            assert await stored_conversations(h) == 1
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("ANONYMOUS MODE" in w and "local testing only" in w for w in warnings), warnings


async def test_without_microsoft_app_id_teams_is_off(sqlite_database: Database) -> None:
    from aiohttp.test_utils import TestClient, TestServer

    from handoff_bot.app import build_app
    from handoff_bot.config import load_settings

    app = build_app(load_settings(database_url=sqlite_database.url), run_worker=False)
    async with TestClient(TestServer(app)) as client:
        response = await client.post("/api/messages", json={"type": "message"})

        assert response.status == 404
        assert "MICROSOFT_APP_ID" in (await response.json())["detail"]


async def test_malformed_requests_are_refused_before_anything_runs(sqlite_database: Database) -> None:
    async with teams_app(sqlite_database.url) as h:
        not_json = await h.client.post(
            "/api/messages",
            data=b"{nope",
            headers={"Content-Type": "application/json", "Authorization": h.auth()},
        )
        no_type = await h.send({"text": "hi"})
        form = await h.client.post("/api/messages", data={"a": "b"}, headers={"Authorization": h.auth()})

        assert (not_json.status, no_type.status, form.status) == (400, 400, 415)
        assert await stored_conversations(h) == 0


async def test_an_invoke_answer_with_a_body_is_200_with_that_body(sqlite_database: Database) -> None:
    """Defect 1: botbuilder 4.17.1 serialised these bodies twice and answered 500."""
    card = {"type": "AdaptiveCard", "version": "1.5", "body": [{"type": "TextBlock", "text": "Claimed"}]}
    async with teams_app(sqlite_database.url) as h:
        router = h.client.app[keys.TEAMS].bot.router

        async def execute(turn: TurnContext) -> Any:
            assert turn.activity.value["action"]["data"] == {"feedback": "test invokes"}
            return invoke_response(
                {"statusCode": 200, "type": "application/vnd.microsoft.card.adaptive", "value": card}
            )

        async def fetch(turn: TurnContext) -> Any:
            info = TaskModuleTaskInfo(title="Ask a colleague", card=CardFactory.adaptive_card(card))
            return invoke_response(TaskModuleResponse(task=TaskModuleContinueResponse(value=info)))

        # These stand in for the real listeners (registered at start-up) to test the adapter alone.
        router.invokes["adaptiveCard/action"] = execute
        router.invokes["task/fetch"] = fetch
        action = await h.send(h.activity("adaptiveCard_action_invoke_personal_real"))
        task = await h.send(h.activity("adaptiveCard_action_invoke_personal_real", name="task/fetch"))

        assert action.status == 200, await action.text()
        assert await action.json() == {
            "statusCode": 200,
            "type": "application/vnd.microsoft.card.adaptive",
            "value": card,
        }
        assert task.status == 200, await task.text()
        body = await task.json()
        assert body["task"]["type"] == "continue"
        assert body["task"]["value"]["title"] == "Ask a colleague"
        assert body["task"]["value"]["card"]["content"] == card


async def test_the_sdks_own_invoke_errors_are_400_with_a_body_not_500(sqlite_database: Database) -> None:
    async with teams_app(sqlite_database.url) as h:
        activity = h.activity("adaptiveCard_action_invoke_personal_real")
        activity["value"]["action"]["type"] = "Action.Submit"  # only Action.Execute may be invoked

        response = await h.send(activity)

        assert response.status == 400, await response.text()
        body = await response.json()
        assert body["type"] == "application/vnd.microsoft.error"
        assert body["value"]["code"] == "NotSupported"


async def test_a_failing_listener_gets_an_incident_id_in_the_log_and_the_reply(
    sqlite_database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    async with teams_app(sqlite_database.url) as h:

        async def boom(turn: TurnContext) -> bool:
            raise RuntimeError("listener bug")

        h.client.app[keys.TEAMS].bot.router.messages.insert(0, boom)  # before the real listeners
        message = h.channel_message("open contacts")

        with caplog.at_level(logging.ERROR):
            response = await h.send(message)

        assert response.status == 201
        replies = h.connector.calls_of("reply") + h.connector.calls_of("send")
        assert len(replies) == 1
        text = str((replies[0].activity or {}).get("text"))
        incident = text.rsplit(" ", 1)[-1].rstrip(".")
        assert "Something went wrong" in text
        assert any(incident in r.getMessage() for r in caplog.records if r.levelno == logging.ERROR)
        # What the user wrote is not in the log.
        assert "open contacts" not in caplog.text


async def test_references_and_tenant_survive_a_restart(database: Database) -> None:
    async with teams_app(database.url, engine_options=options(database)) as h:
        await h.install()
        personal = h.activity("conversationUpdate_bot_added_personal_docs")
        personal["conversation"] = {"conversationType": "personal", "id": "a:1marieke-chat"}
        personal["from"] = {"id": MARIEKE[0], "aadObjectId": MARIEKE[1]}
        personal["membersAdded"] = [{"id": f"28:{APP_ID}"}, {"id": MARIEKE[0], "aadObjectId": MARIEKE[1]}]
        assert (await h.send(personal)).status == 201
        thread_reply = h.channel_message("hello")
        assert (await h.send(thread_reply)).status == 201
        connector = h.connector

    async with teams_app(database.url, connector=connector, engine_options=options(database)) as again:
        conversations = again.client.app[keys.TEAMS].deps.conversations
        team = await conversations.channel(TEAM)
        channel = await conversations.channel(CHANNEL)
        chat = await conversations.personal(aad_object_id=MARIEKE[1])

        assert team is not None and team.tenant_id == TENANT
        assert channel is not None and channel.tenant_id == TENANT and channel.team_id == TEAM
        assert channel.conversation_id == CHANNEL  # the thread is stored as its channel
        assert chat is not None
        assert (chat.conversation_id, chat.user_id, chat.tenant_id) == ("a:1marieke-chat", MARIEKE[0], TENANT)
        assert chat.reference["serviceUrl"] == connector.url


async def test_uninstalling_forgets_the_teams_channels(sqlite_database: Database) -> None:
    async with teams_app(sqlite_database.url) as h:
        await h.install()
        assert (await h.send(h.channel_message("hello"))).status == 201
        removal = h.installation()
        removal["action"] = "remove"

        response = await h.send(removal)

        assert response.status == 201
        assert await stored_conversations(h) == 0


async def test_the_signing_keys_are_fetched_off_the_event_loop(
    sqlite_database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Defect 6: botbuilder fetches OpenID metadata with blocking requests.get inside the turn."""
    import threading

    import requests
    from botframework.connector.auth.jwt_token_extractor import JwtTokenExtractor

    loop_thread = threading.get_ident()
    fetched_on: list[int] = []
    real_get = requests.get

    def recording_get(url: str, *args: Any, **kwargs: Any) -> Any:
        fetched_on.append(threading.get_ident())
        return real_get(url, *args, **kwargs)

    monkeypatch.setattr(requests, "get", recording_get)
    async with teams_app(sqlite_database.url) as h:
        assert h.issuer is not None
        JwtTokenExtractor.metadataCache.pop(h.issuer.metadata_url, None)  # as in a fresh process

        first = await h.send(h.installation())
        second = await h.send(h.channel_message("hello"))

        assert (first.status, second.status) == (201, 201)
        assert len(fetched_on) == 2  # metadata and keys, once
        assert loop_thread not in fetched_on


async def test_unreachable_signing_keys_are_503_and_nothing_runs(sqlite_database: Database) -> None:
    from tests.fakes.bot_tokens import BotTokenIssuer

    gone = BotTokenIssuer().start()
    url = gone.metadata_url
    gone.stop()  # nothing listens there any more
    async with teams_app(sqlite_database.url, microsoft_openid_metadata_url=url) as h:
        response = await h.send(h.installation())

        assert response.status == 503
        assert await stored_conversations(h) == 0


async def test_removing_the_bot_from_the_team_forgets_it_too(sqlite_database: Database) -> None:
    async with teams_app(sqlite_database.url) as h:
        await h.install()
        removed = h.activity("conversationUpdate_bot_added_to_team_docs")
        removed.pop("membersAdded")
        removed["membersRemoved"] = [{"id": f"28:{APP_ID}"}]
        removed["conversation"] = {"isGroup": True, "conversationType": "channel", "id": TEAM}
        removed["channelData"].update({"team": {"id": TEAM}, "eventType": "teamMemberRemoved"})

        response = await h.send(removed)

        assert response.status == 201
        assert await stored_conversations(h) == 0


async def test_another_member_leaving_forgets_nothing(sqlite_database: Database) -> None:
    async with teams_app(sqlite_database.url) as h:
        await h.install()
        left = h.activity("conversationUpdate_bot_added_to_team_docs")
        left.pop("membersAdded")
        left["membersRemoved"] = [{"id": MARIEKE[0]}]
        left["conversation"] = {"isGroup": True, "conversationType": "channel", "id": TEAM}
        left["channelData"].update({"team": {"id": TEAM}, "eventType": "teamMemberRemoved"})

        assert (await h.send(left)).status == 201
        assert await stored_conversations(h) == 1
