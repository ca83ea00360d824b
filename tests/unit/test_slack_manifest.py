"""The Slack app manifest declares exactly what the bot uses, for HTTP and Socket Mode."""

from __future__ import annotations

import pytest
import yaml

from handoff_bot.platforms.slack import manifest
from handoff_bot.platforms.slack.listeners.commands import LOG_SHORTCUT, MESSAGE_SHORTCUT

SCOPES = {
    "app_mentions:read",
    "channels:history",
    "groups:history",
    "chat:write",
    "commands",
    "im:history",
    "im:write",
    "users:read",
    "users:read.email",
}


def test_http_manifest_points_every_request_url_at_the_bot() -> None:
    doc = yaml.safe_load(manifest.render("https://handoff.bakkerij.nl/"))
    settings = doc["settings"]
    assert settings["event_subscriptions"]["request_url"] == "https://handoff.bakkerij.nl/slack/events"
    assert settings["interactivity"]["request_url"] == "https://handoff.bakkerij.nl/slack/events"
    assert doc["features"]["slash_commands"][0]["url"] == "https://handoff.bakkerij.nl/slack/events"
    assert settings["socket_mode_enabled"] is False
    assert "bot.example.com" not in yaml.safe_dump(doc)


def test_socket_mode_manifest_has_no_request_urls() -> None:
    text = manifest.render(None, socket_mode=True)
    doc = yaml.safe_load(text)
    assert doc["settings"]["socket_mode_enabled"] is True
    assert "request_url" not in doc["settings"]["event_subscriptions"]
    assert "url" not in doc["features"]["slash_commands"][0]
    assert "http" not in yaml.safe_dump(doc["settings"])


def test_scopes_events_and_shortcuts_match_what_the_code_listens_to() -> None:
    doc = yaml.safe_load(manifest.render("https://x.example"))
    assert set(doc["oauth_config"]["scopes"]["bot"]) == SCOPES
    assert set(doc["settings"]["event_subscriptions"]["bot_events"]) == {
        "app_mention",
        "message.im",
        "app_home_opened",
    }
    assert {s["callback_id"] for s in doc["features"]["shortcuts"]} == {LOG_SHORTCUT, MESSAGE_SHORTCUT}
    assert [c["command"] for c in doc["features"]["slash_commands"]] == ["/handoff"]
    assert doc["features"]["app_home"]["home_tab_enabled"] is True


@pytest.mark.parametrize("url", ["http://insecure.example", "", "ftp://x"])
def test_http_mode_needs_a_public_https_url(url: str) -> None:
    with pytest.raises(ValueError, match="https"):
        manifest.render(url)
