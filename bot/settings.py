"""The bot's settings: one typed object read from the environment and validated at start-up.

Bot Framework settings keep the names Azure and the Bot Framework SDKs use (``MicrosoftAppId``,
``ChannelService``...), so an App Service configuration written for another Bot Framework bot
works unchanged. Every other setting is an upper-case environment variable.

A wrong value stops the bot at start-up with one line per problem (see ``load_settings``);
nothing silently falls back to a default.
"""

from __future__ import annotations

import re
from datetime import time as dt_time
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

# Public and US Government cloud defaults, as in botframework-connector's AuthenticationConstants
# and GovernmentConstants (copied so that this module, which the whole code base imports, does
# not pull in botbuilder).
PUBLIC_OPENID_METADATA_URL = "https://login.botframework.com/v1/.well-known/openidconfiguration"
PUBLIC_TOKEN_ISSUER = "https://api.botframework.com"
PUBLIC_LOGIN_URL_PREFIX = "https://login.microsoftonline.com/"
PUBLIC_OAUTH_SCOPE = "https://api.botframework.com"
GOVERNMENT_CHANNEL_SERVICE = "https://botframework.azure.us"
GOVERNMENT_OPENID_METADATA_URL = "https://login.botframework.azure.us/v1/.well-known/openidconfiguration"
GOVERNMENT_TOKEN_ISSUER = "https://api.botframework.us"
GOVERNMENT_LOGIN_URL_PREFIX = "https://login.microsoftonline.us/"
GOVERNMENT_OAUTH_SCOPE = "https://api.botframework.us"
DEFAULT_CHANNEL_AUTH_TENANT = "botframework.com"
GOVERNMENT_CHANNEL_AUTH_TENANT = "MicrosoftServices.onmicrosoft.us"

_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")

AppType = Literal["SingleTenant", "MultiTenant", "UserAssignedMSI"]
Environment = Literal["development", "test", "staging", "production"]


class SettingsError(Exception):
    """The environment holds wrong values; ``problems`` has one readable line per value."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def _is_url(value: str) -> bool:
    return value.startswith(("https://", "http://")) and len(value) > len("https://")


class Settings(BaseSettings):
    """Everything the bot reads from its environment."""

    model_config = SettingsConfigDict(
        case_sensitive=False,
        extra="ignore",
        use_attribute_docstrings=True,
        populate_by_name=False,
        frozen=True,
    )

    # ------------------------------------------------------------------ Bot Framework identity
    microsoft_app_id: str = Field("", validation_alias="MicrosoftAppId")
    """The bot's Entra app (client) id. Empty means local mode: no authentication, loopback only."""

    microsoft_app_password: SecretStr = Field(SecretStr(""), validation_alias="MicrosoftAppPassword")
    """The app's client secret (not used with UserAssignedMSI)."""

    microsoft_app_type: AppType = Field("MultiTenant", validation_alias="MicrosoftAppType")
    """SingleTenant, MultiTenant or UserAssignedMSI, as chosen when the Azure Bot was created."""

    microsoft_app_tenant_id: str = Field("", validation_alias="MicrosoftAppTenantId")
    """The Entra tenant owning the app; required for SingleTenant and UserAssignedMSI."""

    # ------------------------------------------------------ Bot Framework endpoints (clouds)
    channel_service: str = Field("", validation_alias="ChannelService")
    """Empty for the public cloud, ``https://botframework.azure.us`` for US Government."""

    to_bot_from_channel_openid_metadata_url: str = Field(
        "", validation_alias="ToBotFromChannelOpenIdMetadataUrl"
    )
    """OpenID metadata whose JWKS signs the channel's tokens; empty: the cloud's default."""

    to_bot_from_channel_token_issuer: str = Field("", validation_alias="ToBotFromChannelTokenIssuer")
    """The ``iss`` the channel's tokens must carry; empty: the cloud's default."""

    to_channel_from_bot_login_url: str = Field("", validation_alias="ToChannelFromBotLoginUrl")
    """Authority for outgoing tokens (msal); empty: login.microsoftonline.com/<tenant>."""

    to_channel_from_bot_oauth_scope: str = Field("", validation_alias="ToChannelFromBotOAuthScope")
    """Scope (resource) of outgoing tokens without ``/.default``; empty: the cloud's default."""

    # ------------------------------------------------------------------ inbound endpoint
    port: int = Field(3978, ge=1, le=65535, validation_alias="PORT")
    """TCP port the web server listens on."""

    host: str = Field("0.0.0.0", validation_alias="HOST")
    """Interface the web server binds to."""

    allowed_tenant_ids: Annotated[tuple[str, ...], NoDecode] = Field(
        (), validation_alias="ALLOWED_TENANT_IDS"
    )
    """Comma-separated Entra tenant ids allowed to talk to the bot (403 for others); empty: any."""

    auth_clock_skew_seconds: int = Field(300, ge=0, le=900, validation_alias="AUTH_CLOCK_SKEW_SECONDS")
    """Leeway for the token's exp/nbf (the Bot Framework documents 5 minutes of clock skew)."""

    openid_refresh_min_interval_seconds: int = Field(
        300, ge=1, le=86400, validation_alias="OPENID_REFRESH_MIN_INTERVAL_SECONDS"
    )
    """An unknown key id triggers a fresh JWKS fetch at most once per this many seconds."""

    openid_max_age_seconds: int = Field(86400, ge=60, le=7 * 86400, validation_alias="OPENID_MAX_AGE_SECONDS")
    """Signing keys older than this are fetched again (the Bot Framework asks for daily)."""

    # ------------------------------------------------------------------ runtime
    environment: Environment = Field("development", validation_alias="ENVIRONMENT")
    """development, test, staging or production; production refuses local mode."""

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", validation_alias="LOG_LEVEL")
    """Root log level."""

    # ------------------------------------------------------------------ storage and rules
    database_url: str = Field("sqlite+aiosqlite:///./data/bot.db", validation_alias="DATABASE_URL")
    """SQLAlchemy async URL (sqlite+aiosqlite:// or postgresql+asyncpg://)."""

    rules_dir: Path = Field(Path("policy_rules/rules"), validation_alias="RULES_DIR")
    """Directory holding the policy rules' YAML files."""

    # ------------------------------------------------------------------ services
    data_dir: Path = Field(Path("data"), validation_alias="DATA_DIR")
    """Directory for local files (the SQLite database by default, the local user-key secret)."""

    user_key_secret: SecretStr = Field(SecretStr(""), validation_alias="USER_KEY_SECRET")
    """HMAC key that turns user ids into keys for caps and statistics (at least 16 characters;
    the same in every replica). Required in production; locally a random one is kept in DATA_DIR."""

    targeted_messages_enabled: bool = Field(True, validation_alias="TARGETED_MESSAGES_ENABLED")
    """Send nudges in channels and group chats as targeted messages (seen by the sender alone);
    false: go straight to the sender's 1:1 chat with the bot."""

    outbound_queue_size: int = Field(1000, ge=10, le=100_000, validation_alias="OUTBOUND_QUEUE_SIZE")
    """How many outgoing messages may wait for Teams; past that new ones are dropped (and counted)."""

    outbound_concurrency: int = Field(16, ge=1, le=128, validation_alias="OUTBOUND_CONCURRENCY")
    """How many sends may be in flight at once (each waits for Teams' answer; the per-conversation
    and global rates still apply). Four kept a fast bot waiting on round trips."""

    outbound_global_rate: float = Field(50.0, gt=0, le=100_000, validation_alias="OUTBOUND_GLOBAL_RATE")
    """Sends per second to the Bot Connector across all conversations (each conversation is also
    held to about 7 per second, Teams' documented limit)."""

    nudge_per_rule_daily_cap: int = Field(1, ge=0, le=100, validation_alias="NUDGE_PER_RULE_DAILY_CAP")
    """At most this many nudges per person and rule per day (Japan time)."""

    nudge_daily_cap: int = Field(3, ge=0, le=100, validation_alias="NUDGE_DAILY_CAP")
    """At most this many nudges per person per day, all rules together."""

    portal_url: str = Field("", validation_alias="PORTAL_URL")
    """The city's all-office portal (全庁ポータル), linked from the welcome card; empty: no link."""

    howto_urls: dict[str, str] = Field(default_factory=dict, validation_alias="HOWTO_URLS")
    """JSON object mapping the portal's Microsoft 365 how-to topics (intro, chat, web-meeting, mail,
    calendar, transcription, co-editing, sticky-notes, inquiry-answers, survey, manual, video) to
    their page URLs; nudges and the welcome card link to them."""

    graph_base_url: str = Field("https://graph.microsoft.com/v1.0", validation_alias="GRAPH_BASE_URL")
    """Microsoft Graph endpoint (files in channels and group chats, departments)."""

    wg_admin_ids: Annotated[tuple[str, ...], NoDecode] = Field((), validation_alias="WG_ADMIN_IDS")
    """Comma-separated Entra object ids of the WG nomination admins (情報政策課) and dashboard users."""

    # ------------------------------------------------------------------ WG nominations
    wg_announcement_channel_id: str = Field("", validation_alias="WG_ANNOUNCEMENT_CHANNEL_ID")
    """Channel (19:...@thread.tacv2) where open-application WGs are announced; empty: not posted."""

    wg_catalogue_path: Path | None = Field(None, validation_alias="WG_CATALOGUE_PATH")
    """WG catalogue YAML; empty: the one shipped in wg/catalogue.yaml."""

    wg_departments_csv: Path | None = Field(None, validation_alias="WG_DEPARTMENTS_CSV")
    """Department directory (code,name,contacts) loaded when the database has none; empty: the shipped sample."""

    wg_deadline_days: int = Field(14, ge=1, le=120, validation_alias="WG_DEADLINE_DAYS")
    """Days from a campaign's start to its default deadline."""

    export_link_secret: SecretStr = Field(SecretStr(""), validation_alias="EXPORT_LINK_SECRET")
    """Signs the one-time export download links (at least 32 characters); elsewhere than production a
    random one is kept in DATA_DIR."""

    # ------------------------------------------------------------------ statistics and dashboard
    dashboard_session_secret: SecretStr = Field(SecretStr(""), validation_alias="DASHBOARD_SESSION_SECRET")
    """Signs the dashboard's session cookie (at least 32 characters, the same in every replica).
    Required in production; elsewhere a random one is kept in DATA_DIR."""

    dashboard_authority: str = Field("", validation_alias="DASHBOARD_AUTHORITY")
    """Entra authority for the dashboard sign-in; empty: the cloud's login host with MicrosoftAppTenantId."""

    public_base_url: str = Field("", validation_alias="PUBLIC_BASE_URL")
    """The bot's public https base URL (dashboard redirect URI, links in the digest); empty: from the request."""

    digest_channel_id: str = Field("", validation_alias="DIGEST_CHANNEL_ID")
    """Teams channel id (19:...@thread.tacv2) that gets the weekly digest; empty: no digest."""

    digest_weekday: int = Field(0, ge=0, le=6, validation_alias="DIGEST_WEEKDAY")
    """Weekday of the digest, 0 = Monday."""

    digest_time: dt_time = Field(dt_time(9, 0), validation_alias="DIGEST_TIME")
    """Local time (Asia/Tokyo) of the digest, HH:MM."""

    stats_flush_interval_seconds: float = Field(
        10.0, gt=0, le=3600, validation_alias="STATS_FLUSH_INTERVAL_SECONDS"
    )
    """How often the in-memory statistics are written to the database (and always at a clean stop)."""

    department_lookup_timeout_seconds: float = Field(
        0.3, gt=0, le=10, validation_alias="DEPARTMENT_LOOKUP_TIMEOUT_SECONDS"
    )
    """Longest wait for a sender's department (Graph); slower answers count as 未設定 this time."""

    # ------------------------------------------------------------------ validators
    @field_validator("microsoft_app_id", "microsoft_app_tenant_id", mode="after")
    @classmethod
    def _guid_or_empty(cls, value: str) -> str:
        value = value.strip()
        if value and not _GUID.match(value):
            raise ValueError("must be a GUID such as 00000000-0000-0000-0000-000000000000")
        return value

    @field_validator("allowed_tenant_ids", "wg_admin_ids", mode="before")
    @classmethod
    def _split_guids(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, str):
            value = [part.strip() for part in re.split(r"[,\s]+", value) if part.strip()]
        if isinstance(value, list | tuple):
            wrong = [item for item in value if not isinstance(item, str) or not _GUID.match(item)]
            if wrong:
                what = (
                    "tenant GUIDs" if info.field_name == "allowed_tenant_ids" else "Entra object ids (GUIDs)"
                )
                raise ValueError(f"not {what}: {', '.join(map(str, wrong))}")
            return tuple(item.lower() for item in value)
        return value

    @field_validator("howto_urls", mode="before")
    @classmethod
    def _json_object(cls, value: Any) -> Any:
        if isinstance(value, str):
            import json

            try:
                return json.loads(value) if value.strip() else {}
            except ValueError as error:
                raise ValueError(f"must be a JSON object: {error}") from None
        return value

    @field_validator("howto_urls", mode="after")
    @classmethod
    def _known_howto_topics(cls, value: dict[str, str]) -> dict[str, str]:
        from cards import HOWTO_TOPICS

        known = {topic.key for topic in HOWTO_TOPICS}
        unknown = sorted(set(value) - known)
        if unknown:
            raise ValueError(f"unknown topics {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        not_urls = sorted(key for key, url in value.items() if not url.startswith("https://"))
        if not_urls:
            raise ValueError(f"must be https URLs: {', '.join(not_urls)}")
        return value

    @field_validator(
        "portal_url",
        "graph_base_url",
        "dashboard_authority",
        "public_base_url",
        "channel_service",
        "to_bot_from_channel_openid_metadata_url",
        "to_bot_from_channel_token_issuer",
        "to_channel_from_bot_login_url",
        "to_channel_from_bot_oauth_scope",
        mode="after",
    )
    @classmethod
    def _url_or_empty(cls, value: str) -> str:
        value = value.strip()
        if value and not _is_url(value):
            raise ValueError("must be an http(s) URL or empty")
        return value

    @field_validator("database_url", mode="after")
    @classmethod
    def _known_database(cls, value: str) -> str:
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("must start with sqlite+aiosqlite:// or postgresql+asyncpg://")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Settings:
        problems = []
        if self.local_mode and self.environment == "production":
            problems.append("MicrosoftAppId: required when ENVIRONMENT=production (local mode is refused)")
        if self.microsoft_app_id:
            if (
                self.microsoft_app_type in ("SingleTenant", "UserAssignedMSI")
                and not self.microsoft_app_tenant_id
            ):
                problems.append(
                    f"MicrosoftAppTenantId: required when MicrosoftAppType={self.microsoft_app_type}"
                )
            if (
                self.microsoft_app_type != "UserAssignedMSI"
                and not self.microsoft_app_password.get_secret_value()
            ):
                problems.append(
                    f"MicrosoftAppPassword: required when MicrosoftAppType={self.microsoft_app_type}"
                )
        # Outside production a missing secret is generated once into DATA_DIR (one machine);
        # several replicas must share each of them, so production requires them all.
        for name, secret, minimum in (
            ("DASHBOARD_SESSION_SECRET", self.dashboard_session_secret, 32),
            ("USER_KEY_SECRET", self.user_key_secret, 16),
            ("EXPORT_LINK_SECRET", self.export_link_secret, 32),
        ):
            value = secret.get_secret_value()
            if value and len(value) < minimum:
                problems.append(f"{name}: at least {minimum} characters")
            elif not value and self.environment == "production":
                problems.append(f"{name}: required in production (at least {minimum} characters)")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    # ------------------------------------------------------------------ derived values
    @property
    def local_mode(self) -> bool:
        """No app id: unauthenticated requests are accepted, from loopback only."""
        return not self.microsoft_app_id

    @property
    def is_government(self) -> bool:
        """The bot runs in the US Government cloud."""
        return self.channel_service.rstrip("/").lower() == GOVERNMENT_CHANNEL_SERVICE

    @property
    def openid_metadata_url(self) -> str:
        """Where the channel's signing keys are announced."""
        if self.to_bot_from_channel_openid_metadata_url:
            return self.to_bot_from_channel_openid_metadata_url
        return GOVERNMENT_OPENID_METADATA_URL if self.is_government else PUBLIC_OPENID_METADATA_URL

    @property
    def token_issuer(self) -> str:
        """The ``iss`` claim inbound channel tokens must carry."""
        if self.to_bot_from_channel_token_issuer:
            return self.to_bot_from_channel_token_issuer
        return GOVERNMENT_TOKEN_ISSUER if self.is_government else PUBLIC_TOKEN_ISSUER

    @property
    def login_authority(self) -> str:
        """msal authority for outgoing tokens (tenant-specific for SingleTenant/MSI)."""
        if self.to_channel_from_bot_login_url:
            return self.to_channel_from_bot_login_url.rstrip("/")
        prefix = GOVERNMENT_LOGIN_URL_PREFIX if self.is_government else PUBLIC_LOGIN_URL_PREFIX
        if self.microsoft_app_type == "MultiTenant" or not self.microsoft_app_tenant_id:
            tenant = GOVERNMENT_CHANNEL_AUTH_TENANT if self.is_government else DEFAULT_CHANNEL_AUTH_TENANT
        else:
            tenant = self.microsoft_app_tenant_id
        return prefix + tenant

    @property
    def outgoing_oauth_scope(self) -> str:
        """msal scope for outgoing tokens (``<resource>/.default``)."""
        resource = self.to_channel_from_bot_oauth_scope or (
            GOVERNMENT_OAUTH_SCOPE if self.is_government else PUBLIC_OAUTH_SCOPE
        )
        return resource.rstrip("/") + "/.default"


def _problem_lines(error: ValidationError) -> list[str]:
    lines = []
    for item in error.errors(include_url=False):
        location = ".".join(str(part) for part in item["loc"])
        message = item["msg"].removeprefix("Value error, ")
        if location:
            shown = "" if "Password" in location else f" (got {item['input']!r})"
            lines.append(f"{location}: {message}{shown}")
        else:
            # model-level checks join several problems with "; " (each already names its variable)
            lines.extend(part.strip() for part in message.split("; "))
    return lines


def load_settings(**overrides: Any) -> Settings:
    """Read and validate the settings; raise ``SettingsError`` listing every wrong value."""
    try:
        return Settings(**overrides)
    except ValidationError as error:
        raise SettingsError(_problem_lines(error)) from None
