"""Settings, read once from the environment (and an optional `.env` file) and passed in."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AliasChoices, Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from handoff_bot.domain.office_hours import OfficeHours, parse_weekly
from handoff_bot.intake.email.mailbox import Mailbox, MailboxUrlError, parse_mailboxes, parse_smtp_url
from handoff_bot.services.reminders import ReminderPolicy

Language = Literal["en", "nl"]


class SettingsError(Exception):
    """A missing or malformed setting; the message is one line that names the variable."""


def _env(name: str) -> AliasChoices:
    return AliasChoices(name, name.lower())


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", extra="ignore", populate_by_name=True, hide_input_in_errors=True
    )

    database_url: str = Field(
        "sqlite+aiosqlite:///handoff.db",
        validation_alias=_env("HANDOFF_DATABASE_URL"),
        description="SQLAlchemy URL: sqlite+aiosqlite:///file.db or postgresql+asyncpg://…",
    )
    intake_tokens: Annotated[dict[str, SecretStr], NoDecode] = Field(
        default_factory=dict,
        validation_alias=_env("HANDOFF_INTAKE_TOKENS"),
        description="comma-separated name=token pairs; the name becomes the contact's source",
    )
    language: Language = Field("en", validation_alias=_env("HANDOFF_LANGUAGE"))
    timezone: str = Field("Europe/Amsterdam", validation_alias=_env("HANDOFF_TIMEZONE"))
    phone_region: str = Field(
        "NL",
        validation_alias=_env("HANDOFF_PHONE_REGION"),
        description="region for phone numbers written without a country code",
    )
    public_url: str | None = Field(
        None,
        validation_alias=_env("HANDOFF_PUBLIC_URL"),
        description="base URL used in links the API returns",
    )
    auto_migrate: bool = Field(True, validation_alias=_env("HANDOFF_AUTO_MIGRATE"))
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", validation_alias=_env("HANDOFF_LOG_LEVEL")
    )
    outbox_max_attempts: int = Field(10, ge=1, le=100, validation_alias=_env("HANDOFF_OUTBOX_MAX_ATTEMPTS"))
    outbox_lease_seconds: int = Field(
        60, ge=5, le=3600, validation_alias=_env("HANDOFF_OUTBOX_LEASE_SECONDS")
    )

    claim_reminder_minutes: float = Field(
        10, gt=0, le=24 * 60, validation_alias=_env("HANDOFF_CLAIM_REMINDER_MINUTES")
    )
    question_reminder_minutes: float = Field(
        15, gt=0, le=24 * 60, validation_alias=_env("HANDOFF_QUESTION_REMINDER_MINUTES")
    )
    office_hours: str = Field(
        "mon-fri 08:30-17:30",
        validation_alias=_env("HANDOFF_OFFICE_HOURS"),
        description="e.g. 'mon-fri 08:30-17:30; sat 10:00-14:00', or 'always'",
    )
    holidays_country: str | None = Field(
        "NL",
        validation_alias=_env("HANDOFF_HOLIDAYS_COUNTRY"),
        description="public holidays of this country are closed days; empty: none",
    )
    closed_dates: Annotated[list[date], NoDecode] = Field(
        default_factory=list, validation_alias=_env("HANDOFF_CLOSED_DATES")
    )
    end_of_day_summary: bool = Field(True, validation_alias=_env("HANDOFF_END_OF_DAY_SUMMARY"))
    card_detail: Literal["full", "minimal"] = Field("full", validation_alias=_env("HANDOFF_CARD_DETAIL"))
    retention_days: int = Field(
        365,
        ge=1,
        le=3650,
        validation_alias=_env("HANDOFF_RETENTION_DAYS"),
        description="personal data of contacts resolved longer ago is removed nightly",
    )
    slack_onduty_mention: str = Field(
        "@here",
        validation_alias=_env("SLACK_ONDUTY_MENTION"),
        description="who unclaimed-contact reminders mention: @here, @channel, "
        "a user group id S…, or a user id U…",
    )

    # Email intake (one contiguous block).
    imap_url: SecretStr | None = Field(
        None,
        validation_alias=_env("HANDOFF_IMAP_URL"),
        description="mailboxes to read: imaps://user:password@host/INBOX, several separated by spaces",
    )
    imap_poll_seconds: float = Field(
        30,
        ge=1,
        le=3600,
        validation_alias=_env("HANDOFF_IMAP_POLL_SECONDS"),
        description="how often to look for new mail where the server has no IDLE",
    )
    imap_done_folder: str | None = Field(
        None,
        validation_alias=_env("HANDOFF_IMAP_DONE_FOLDER"),
        description="move processed mail to this folder; empty: flag it ($HandoffDone) and leave it",
    )
    reopen_days: int = Field(
        14,
        ge=0,
        le=365,
        validation_alias=_env("HANDOFF_REOPEN_DAYS"),
        description="a reply to a contact resolved less than this many days ago reopens it",
    )
    smtp_url: SecretStr | None = Field(
        None,
        validation_alias=_env("HANDOFF_SMTP_URL"),
        description="outgoing mail: smtps://user:password@host:465, or smtp://…:587 with STARTTLS",
    )
    smtp_from: str | None = Field(
        None,
        validation_alias=_env("HANDOFF_SMTP_FROM"),
        description="sender of acknowledgements, e.g. 'Bakkerij Jansen <info@example.org>'",
    )
    ack_email: bool = Field(
        False,
        validation_alias=_env("HANDOFF_ACK_EMAIL"),
        description="on: a customer who emailed gets a short acknowledgement when a colleague claims it",
    )

    slack_bot_token: SecretStr | None = Field(None, validation_alias=_env("SLACK_BOT_TOKEN"))
    slack_signing_secret: SecretStr | None = Field(None, validation_alias=_env("SLACK_SIGNING_SECRET"))
    slack_app_token: SecretStr | None = Field(None, validation_alias=_env("SLACK_APP_TOKEN"))
    slack_contacts_channel: str | None = Field(None, validation_alias=_env("SLACK_CONTACTS_CHANNEL"))
    slack_api_url: str | None = Field(None, validation_alias=_env("SLACK_API_URL"))
    slack_post_rate: float = Field(
        1.0,
        gt=0,
        le=1000,
        validation_alias=_env("SLACK_POST_RATE"),
        description="messages per second the bot posts into one Slack channel (Slack allows about 1)",
    )
    slack_timeout_seconds: int = Field(
        10,
        ge=1,
        le=120,
        validation_alias=_env("SLACK_TIMEOUT_SECONDS"),
        description="how long a Slack Web API call may take before it is retried later",
    )
    slack_post_burst: int = Field(
        1,
        ge=1,
        le=100,
        validation_alias=_env("SLACK_POST_BURST"),
        description="posts allowed at once per channel",
    )

    microsoft_app_id: str | None = Field(None, validation_alias=_env("MICROSOFT_APP_ID"))
    microsoft_app_password: SecretStr | None = Field(None, validation_alias=_env("MICROSOFT_APP_PASSWORD"))
    microsoft_app_tenant_id: str | None = Field(None, validation_alias=_env("MICROSOFT_APP_TENANT_ID"))
    microsoft_app_type: Literal["SingleTenant", "MultiTenant", "UserAssignedMSI"] = Field(
        "SingleTenant", validation_alias=_env("MICROSOFT_APP_TYPE")
    )
    teams_contacts_channel: str | None = Field(
        None,
        validation_alias=_env("TEAMS_CONTACTS_CHANNEL"),
        description="channel id 19:…@thread.tacv2; else a team owner writes '@Handoff use this channel'",
    )
    # Sovereign clouds (and tests) override the public-cloud Bot Framework and Graph endpoints.
    microsoft_openid_metadata_url: str | None = Field(
        None,
        validation_alias=_env("MICROSOFT_OPENID_METADATA_URL"),
        description="OpenID metadata that signs incoming Bot Framework tokens",
    )
    microsoft_token_issuer: str | None = Field(
        None,
        validation_alias=_env("MICROSOFT_TOKEN_ISSUER"),
        description="the issuer of incoming Bot Framework tokens",
    )
    microsoft_login_url: str | None = Field(
        None,
        validation_alias=_env("MICROSOFT_LOGIN_URL"),
        description="the authority the bot gets its own tokens from (https://login.microsoftonline.com)",
    )
    microsoft_graph_url: str | None = Field(
        None, validation_alias=_env("MICROSOFT_GRAPH_URL"), description="Microsoft Graph base URL"
    )

    @field_validator("intake_tokens", mode="before")
    @classmethod
    def _parse_tokens(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        tokens: dict[str, str] = {}
        for pair in filter(None, (p.strip() for p in value.split(","))):
            name, sep, token = pair.partition("=")
            if not sep or not name.strip() or not token.strip():
                raise ValueError("expected name=token pairs separated by commas")
            if len(token.strip()) < 16:
                raise ValueError(f"the token for {name.strip()!r} is shorter than 16 characters")
            tokens[name.strip()] = token.strip()
        return tokens

    @field_validator("closed_dates", mode="before")
    @classmethod
    def _parse_dates(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.replace(";", ",").split(",") if part.strip()]
        return value

    @field_validator("office_hours")
    @classmethod
    def _check_hours(cls, value: str) -> str:
        parse_weekly(value)
        return value

    @field_validator("holidays_country")
    @classmethod
    def _check_country(cls, value: str | None) -> str | None:
        import holidays

        if not value:
            return None
        if value.upper() not in holidays.list_supported_countries():
            raise ValueError(f"no public holidays known for country {value!r}")
        return value.upper()

    @field_validator("slack_onduty_mention")
    @classmethod
    def _check_mention(cls, value: str) -> str:
        if not re.fullmatch(
            r"@here|@channel|@everyone|S[A-Z0-9]{2,20}|U[A-Z0-9]{2,20}|W[A-Z0-9]{2,20}|", value
        ):
            raise ValueError("use @here, @channel, a user group id (S…) or a user id (U…)")
        return value

    @field_validator("imap_url")
    @classmethod
    def _check_imap(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        try:
            parse_mailboxes(value.get_secret_value())
        except MailboxUrlError as exc:
            raise ValueError(str(exc)) from None
        return value

    @field_validator("imap_done_folder")
    @classmethod
    def _check_folder(cls, value: str | None) -> str | None:
        if not value or not value.strip():
            return None
        if any(c in value for c in '\r\n"\\') or len(value) > 200:
            raise ValueError("not a usable folder name")
        return value.strip()

    @field_validator("smtp_url")
    @classmethod
    def _check_smtp(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        try:
            parse_smtp_url(value.get_secret_value())
        except MailboxUrlError as exc:
            raise ValueError(str(exc)) from None
        return value

    @field_validator("smtp_from")
    @classmethod
    def _check_from(cls, value: str | None) -> str | None:
        from email.utils import parseaddr

        if not value or not value.strip():
            return None
        if "@" not in parseaddr(value)[1] or any(c in value for c in "\r\n"):
            raise ValueError("expected an address such as 'Service <info@example.org>'")
        return value.strip()

    @field_validator("ack_email")
    @classmethod
    def _check_ack(cls, value: bool, info: ValidationInfo) -> bool:
        if value and not (info.data.get("smtp_url") and info.data.get("smtp_from")):
            raise ValueError("needs HANDOFF_SMTP_URL and HANDOFF_SMTP_FROM")
        return value

    def mailboxes(self) -> list[Mailbox]:
        return parse_mailboxes(self.imap_url.get_secret_value()) if self.imap_url else []

    @field_validator("timezone")
    @classmethod
    def _check_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("phone_region")
    @classmethod
    def _check_region(cls, value: str) -> str:
        import phonenumbers

        if value.upper() not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(f"unknown phone region {value!r}")
        return value.upper()

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def office_hours_calendar(self) -> OfficeHours:
        """The opening hours, with public holidays and HANDOFF_CLOSED_DATES as closed days."""
        import holidays

        closed = set(self.closed_dates)
        country = holidays.country_holidays(self.holidays_country) if self.holidays_country else None
        return OfficeHours(
            parse_weekly(self.office_hours),
            self.tz,
            lambda day: day in closed or (country is not None and day in country),
        )

    def reminder_policy(self) -> ReminderPolicy:
        return ReminderPolicy(
            self.office_hours_calendar(),
            self.claim_reminder_minutes,
            self.question_reminder_minutes,
            end_of_day_summary=self.end_of_day_summary,
        )

    @property
    def slack_configured(self) -> bool:
        return bool(self.slack_bot_token and (self.slack_signing_secret or self.slack_app_token))

    @property
    def teams_configured(self) -> bool:
        """Teams is on when MICROSOFT_APP_ID is set at all; set but empty is anonymous (local testing)."""
        return self.microsoft_app_id is not None

    @property
    def teams_anonymous(self) -> bool:
        return self.microsoft_app_id is not None and not self.microsoft_app_id.strip()

    def _teams_status(self) -> str | None:
        if self.microsoft_app_id is None:
            return "MICROSOFT_APP_ID is not set"
        if self.teams_anonymous:
            return None
        if self.microsoft_app_type != "UserAssignedMSI" and self.microsoft_app_password is None:
            return "MICROSOFT_APP_PASSWORD is not set"
        if self.microsoft_app_type != "MultiTenant" and not self.microsoft_app_tenant_id:
            return f"MICROSOFT_APP_TENANT_ID is not set (needed for {self.microsoft_app_type})"
        return None

    def platform_status(self) -> dict[str, str | None]:
        """Each platform → None when configured, else why it is not (for the start-up log)."""
        slack = None
        if not self.slack_bot_token:
            slack = "SLACK_BOT_TOKEN is not set"
        elif not (self.slack_signing_secret or self.slack_app_token):
            slack = "neither SLACK_SIGNING_SECRET (HTTP mode) nor SLACK_APP_TOKEN (Socket Mode) is set"
        elif not self.slack_contacts_channel:
            slack = "SLACK_CONTACTS_CHANNEL is not set"
        teams = self._teams_status()
        return {"slack": slack, "teams": teams}


def load_settings(**overrides: object) -> Settings:
    """Load settings or raise SettingsError with one line naming the variable; never echoes values."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else "?"
        info = Settings.model_fields.get(field)
        alias = info.validation_alias if info else None
        name = alias.choices[0] if isinstance(alias, AliasChoices) else field.upper()
        message = first["msg"].removeprefix("Value error, ")
        raise SettingsError(f"invalid setting {name}: {message}") from None
