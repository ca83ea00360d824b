"""How settings tell "Teams off", "anonymous (local testing)" and "configured" apart."""

from __future__ import annotations

import pytest

from handoff_bot.config import load_settings
from handoff_bot.platforms.teams.auth import Endpoints, bot_configuration

TENANT = "50612dbb-0237-4969-b378-8d42590f9c00"


def test_without_an_app_id_teams_is_off() -> None:
    settings = load_settings()

    assert settings.platform_status()["teams"] == "MICROSOFT_APP_ID is not set"
    assert not settings.teams_anonymous


def test_an_explicitly_empty_app_id_is_anonymous_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MICROSOFT_APP_ID", "")

    settings = load_settings()

    assert settings.teams_anonymous
    assert settings.platform_status()["teams"] is None


@pytest.mark.parametrize(
    ("values", "why"),
    [
        ({"microsoft_app_id": "app"}, "MICROSOFT_APP_PASSWORD is not set"),
        (
            {"microsoft_app_id": "app", "microsoft_app_password": "secret"},
            "MICROSOFT_APP_TENANT_ID is not set (needed for SingleTenant)",
        ),
        (
            {"microsoft_app_id": "app", "microsoft_app_type": "UserAssignedMSI"},
            "MICROSOFT_APP_TENANT_ID is not set (needed for UserAssignedMSI)",
        ),
    ],
)
def test_a_half_configured_bot_says_what_is_missing(values: dict[str, str], why: str) -> None:
    assert load_settings(**values).platform_status()["teams"] == why


def test_single_tenant_is_the_default_and_complete_with_a_tenant() -> None:
    settings = load_settings(
        microsoft_app_id="app", microsoft_app_password="secret", microsoft_app_tenant_id=TENANT
    )

    assert settings.microsoft_app_type == "SingleTenant"
    assert settings.platform_status()["teams"] is None


def test_unset_endpoints_mean_the_public_cloud() -> None:
    settings = load_settings(
        microsoft_app_id="app", microsoft_app_password="secret", microsoft_app_tenant_id=TENANT
    )
    endpoints = Endpoints.of(settings)
    config = bot_configuration(settings, endpoints)

    assert config.TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL == (
        "https://login.botframework.com/v1/.well-known/openidconfiguration"
    )
    assert config.TO_BOT_FROM_CHANNEL_TOKEN_ISSUER == "https://api.botframework.com"
    assert f"https://login.microsoftonline.com/{TENANT}" == config.TO_CHANNEL_FROM_BOT_LOGIN_URL
    assert endpoints.graph_url == "https://graph.microsoft.com"
    assert config.VALIDATE_AUTHORITY is True


def test_sovereign_or_local_endpoints_override_each_default() -> None:
    settings = load_settings(
        microsoft_app_id="app",
        microsoft_app_password="secret",
        microsoft_app_tenant_id=TENANT,
        microsoft_openid_metadata_url="https://login.botframework.azure.us/v1/.well-known/openidconfiguration",
        microsoft_token_issuer="https://api.botframework.us",
        microsoft_login_url="https://login.microsoftonline.us/",
        microsoft_graph_url="https://graph.microsoft.us",
    )
    endpoints = Endpoints.of(settings)
    config = bot_configuration(settings, endpoints)

    assert config.TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL.startswith("https://login.botframework.azure.us/")
    assert config.TO_BOT_FROM_CHANNEL_TOKEN_ISSUER == "https://api.botframework.us"
    assert f"https://login.microsoftonline.us/{TENANT}" == config.TO_CHANNEL_FROM_BOT_LOGIN_URL
    assert endpoints.graph_url == "https://graph.microsoft.us"


def test_multi_tenant_bots_get_tokens_from_the_botframework_tenant() -> None:
    settings = load_settings(
        microsoft_app_id="app", microsoft_app_password="secret", microsoft_app_type="MultiTenant"
    )

    assert settings.platform_status()["teams"] is None
    assert Endpoints.of(settings).authority(settings) == "https://login.microsoftonline.com/botframework.com"
