"""Settings are read from the Bot Framework's environment names and every wrong value is
reported at start-up, all at once, without a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.settings import SettingsError, load_settings

APP_ID = "8e0d5a7e-3b1c-4f0e-9a55-1a2b3c4d5e6f"
TENANT = "0b2d6a5c-1e3f-4a7b-8c9d-0e1f2a3b4c5d"
ROOT = Path(__file__).resolve().parents[2]

VALID: list[tuple[dict[str, str], dict[str, object]]] = [
    (
        {},
        {
            "local_mode": True,
            "port": 3978,
            "database_url": "sqlite+aiosqlite:///./data/bot.db",
            "rules_dir": Path("policy_rules/rules"),
        },
    ),
    (
        {"MicrosoftAppId": APP_ID, "MicrosoftAppPassword": "s3cret"},
        {
            "local_mode": False,
            "microsoft_app_type": "MultiTenant",
            "login_authority": "https://login.microsoftonline.com/botframework.com",
            "outgoing_oauth_scope": "https://api.botframework.com/.default",
            "openid_metadata_url": "https://login.botframework.com/v1/.well-known/openidconfiguration",
            "token_issuer": "https://api.botframework.com",
        },
    ),
    (
        {
            "MicrosoftAppId": APP_ID,
            "MicrosoftAppPassword": "s",
            "MicrosoftAppType": "SingleTenant",
            "MicrosoftAppTenantId": TENANT,
        },
        {"login_authority": f"https://login.microsoftonline.com/{TENANT}"},
    ),
    (
        {"MicrosoftAppId": APP_ID, "MicrosoftAppType": "UserAssignedMSI", "MicrosoftAppTenantId": TENANT},
        {"microsoft_app_type": "UserAssignedMSI"},
    ),
    (
        {
            "MicrosoftAppId": APP_ID,
            "MicrosoftAppPassword": "s",
            "ChannelService": "https://botframework.azure.us",
        },
        {
            "token_issuer": "https://api.botframework.us",
            "outgoing_oauth_scope": "https://api.botframework.us/.default",
            "login_authority": "https://login.microsoftonline.us/MicrosoftServices.onmicrosoft.us",
        },
    ),
    (
        {
            "MicrosoftAppId": APP_ID,
            "MicrosoftAppPassword": "s",
            "ToBotFromChannelOpenIdMetadataUrl": "http://127.0.0.1:9/v1/.well-known/openidconfiguration",
            "ToBotFromChannelTokenIssuer": "https://issuer.example",
            "ToChannelFromBotLoginUrl": "https://login.example/tenant/",
            "ToChannelFromBotOAuthScope": "https://scope.example",
        },
        {
            "openid_metadata_url": "http://127.0.0.1:9/v1/.well-known/openidconfiguration",
            "token_issuer": "https://issuer.example",
            "login_authority": "https://login.example/tenant",
            "outgoing_oauth_scope": "https://scope.example/.default",
        },
    ),
    ({"ALLOWED_TENANT_IDS": f"{TENANT}, {TENANT.upper()}"}, {"allowed_tenant_ids": (TENANT, TENANT)}),
    (
        {"PORT": "8080", "ENVIRONMENT": "staging", "RULES_DIR": "/etc/rules"},
        {"port": 8080, "rules_dir": Path("/etc/rules")},
    ),
    (
        {"DATABASE_URL": "postgresql+asyncpg://postgres@127.0.0.1/bot"},
        {"database_url": "postgresql+asyncpg://postgres@127.0.0.1/bot"},
    ),
]

INVALID: list[tuple[dict[str, str], list[str]]] = [
    ({"PORT": "abc"}, ["PORT: Input should be a valid integer"]),
    ({"PORT": "70000"}, ["PORT: Input should be less than or equal to 65535"]),
    ({"MicrosoftAppId": "my-bot"}, ["MicrosoftAppId: must be a GUID"]),
    (
        {"MicrosoftAppType": "Single"},
        ["MicrosoftAppType: Input should be 'SingleTenant', 'MultiTenant' or 'UserAssignedMSI'"],
    ),
    (
        {"ALLOWED_TENANT_IDS": "contoso.onmicrosoft.com"},
        ["ALLOWED_TENANT_IDS: not tenant GUIDs: contoso.onmicrosoft.com"],
    ),
    ({"ENVIRONMENT": "prod"}, ["ENVIRONMENT: Input should be"]),
    (
        {"ENVIRONMENT": "production"},
        [
            "MicrosoftAppId: required when ENVIRONMENT=production",
            "DASHBOARD_SESSION_SECRET: required in production",
            "USER_KEY_SECRET: required in production",
            "EXPORT_LINK_SECRET: required in production",
        ],
    ),
    ({"USER_KEY_SECRET": "short"}, ["USER_KEY_SECRET: at least 16 characters"]),
    ({"WG_ADMIN_IDS": "taro"}, ["WG_ADMIN_IDS: not Entra object ids (GUIDs): taro"]),
    ({"HOWTO_URLS": '{"chats": "https://x.example/"}'}, ["HOWTO_URLS: unknown topics chats"]),
    ({"HOWTO_URLS": '{"chat": "http://x.example/"}'}, ["HOWTO_URLS: must be https URLs: chat"]),
    ({"NUDGE_DAILY_CAP": "-1"}, ["NUDGE_DAILY_CAP: Input should be greater than or equal to 0"]),
    ({"OUTBOUND_CONCURRENCY": "0"}, ["OUTBOUND_CONCURRENCY: Input should be greater than or equal to 1"]),
    ({"TARGETED_MESSAGES_ENABLED": "maybe"}, ["TARGETED_MESSAGES_ENABLED: Input should be a valid boolean"]),
    ({"MicrosoftAppId": APP_ID}, ["MicrosoftAppPassword: required when MicrosoftAppType=MultiTenant"]),
    (
        {"MicrosoftAppId": APP_ID, "MicrosoftAppType": "SingleTenant"},
        [
            "MicrosoftAppTenantId: required when MicrosoftAppType=SingleTenant",
            "MicrosoftAppPassword: required",
        ],
    ),
    (
        {"ToBotFromChannelOpenIdMetadataUrl": "login.botframework.com"},
        ["ToBotFromChannelOpenIdMetadataUrl: must be an http(s) URL"],
    ),
    (
        {"DATABASE_URL": "mysql://x"},
        ["DATABASE_URL: must start with sqlite+aiosqlite:// or postgresql+asyncpg://"],
    ),
    (
        {"AUTH_CLOCK_SKEW_SECONDS": "-1"},
        ["AUTH_CLOCK_SKEW_SECONDS: Input should be greater than or equal to 0"],
    ),
    ({"LOG_LEVEL": "LOUD"}, ["LOG_LEVEL: Input should be"]),
    # several at once: every one is reported
    ({"PORT": "x", "MicrosoftAppId": "y", "ENVIRONMENT": "z"}, ["MicrosoftAppId:", "PORT:", "ENVIRONMENT:"]),
]


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.upper().startswith(
            ("MICROSOFTAPP", "TOBOT", "TOCHANNEL", "CHANNELSERVICE")
        ) or name.upper() in {
            "PORT",
            "HOST",
            "DATABASE_URL",
            "ALLOWED_TENANT_IDS",
            "RULES_DIR",
            "ENVIRONMENT",
            "LOG_LEVEL",
        }:
            monkeypatch.delenv(name)


@pytest.mark.parametrize(("environment", "expected"), VALID)
def test_valid(
    monkeypatch: pytest.MonkeyPatch, environment: dict[str, str], expected: dict[str, object]
) -> None:
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    settings = load_settings()
    assert {name: getattr(settings, name) for name in expected} == expected


@pytest.mark.parametrize(("environment", "problems"), INVALID)
def test_invalid(monkeypatch: pytest.MonkeyPatch, environment: dict[str, str], problems: list[str]) -> None:
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as raised:
        load_settings()
    assert len(raised.value.problems) == len(problems)
    for line, expected in zip(raised.value.problems, problems, strict=True):
        assert line.startswith(expected)


def test_password_is_never_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MicrosoftAppId", APP_ID)
    monkeypatch.setenv("MicrosoftAppPassword", "hunter2-secret")
    monkeypatch.setenv("PORT", "nope")
    with pytest.raises(SettingsError) as raised:
        load_settings()
    assert "hunter2" not in str(raised.value)


def test_app_exits_listing_every_problem_without_a_traceback() -> None:
    environment = {
        "PATH": os.environ.get("PATH", ""),
        "PORT": "abc",
        "MicrosoftAppId": "bot",
        "ENVIRONMENT": "production",
    }
    result = subprocess.run(
        [sys.executable, "app.py"], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "PORT: Input should be a valid integer" in result.stderr
    assert "MicrosoftAppId: must be a GUID" in result.stderr


def test_cloud_defaults_match_the_bot_framework_sdk() -> None:
    """bot/settings.py may not import botframework (layering), so it copies the SDK's constants."""
    from botframework.connector.auth import AuthenticationConstants as Public
    from botframework.connector.auth import GovernmentConstants as Government

    from bot import settings

    assert settings.PUBLIC_OPENID_METADATA_URL == Public.TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL
    assert settings.PUBLIC_TOKEN_ISSUER == Public.TO_BOT_FROM_CHANNEL_TOKEN_ISSUER
    assert settings.PUBLIC_LOGIN_URL_PREFIX == Public.TO_CHANNEL_FROM_BOT_LOGIN_URL_PREFIX
    assert settings.PUBLIC_OAUTH_SCOPE == Public.TO_CHANNEL_FROM_BOT_OAUTH_SCOPE
    assert settings.DEFAULT_CHANNEL_AUTH_TENANT == Public.DEFAULT_CHANNEL_AUTH_TENANT
    assert settings.GOVERNMENT_CHANNEL_SERVICE == Government.CHANNEL_SERVICE
    assert settings.GOVERNMENT_OPENID_METADATA_URL == Government.TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL
    assert settings.GOVERNMENT_TOKEN_ISSUER == Government.TO_BOT_FROM_CHANNEL_TOKEN_ISSUER
    assert settings.GOVERNMENT_LOGIN_URL_PREFIX == Government.TO_CHANNEL_FROM_BOT_LOGIN_URL_PREFIX
    assert settings.GOVERNMENT_OAUTH_SCOPE == Government.TO_CHANNEL_FROM_BOT_OAUTH_SCOPE
    assert settings.GOVERNMENT_CHANNEL_AUTH_TENANT == Government.DEFAULT_CHANNEL_AUTH_TENANT


def test_every_setting_is_documented() -> None:
    from bot.settings import Settings

    undocumented = [name for name, field in Settings.model_fields.items() if not field.description]
    assert undocumented == []
