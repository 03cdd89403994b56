"""One typed settings object, built once per cold start from an environment mapping."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from chalicelib.values import frozen

REQUIRED = (
    "SUPPORT_TABLE_NAME",
    "ESCALATION_TOPIC_ARN",
    "MANAGEMENT_TOPIC_ARN",
    "CHAT_SECRET_NAME",
    "USER_POOL_ID",
    "MAIL_BUCKET",
)
OPTIONAL = (
    "MAIL_DOMAIN",
    "ACK_FROM",
    "ACKS_PER_DAY",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "FIRST_RESPONSE_MINUTES",
    "SLA_WARNING_MINUTES",
    "COMPANY_TIMEZONE",
    "MAX_BODY_BYTES",
    "CABINET_URL",
    "KB_BASE_URL",
    "CORS_ORIGINS",
    "OUTBOX_DIR",
    "SES_CONFIGURATION_SET",
    "REOPEN_DAYS",
    "AUTO_CLOSE_DAYS",
    "ATTACHMENT_MAX_BYTES",
    "ATTACHMENTS_PER_TICKET",
    "UPLOAD_SCANNER",
)


class ConfigError(ValueError):
    """The environment does not describe a usable deployment."""


@frozen
class Settings:
    """Everything the domain needs to know about its deployment."""

    table_name: str
    escalation_topic_arn: str
    management_topic_arn: str
    chat_secret_name: str
    user_pool_id: str
    mail_bucket: str
    region: str = "eu-central-1"
    first_response_minutes: int = 60  # R2.1
    warning_minutes: int = 15  # R2.4
    timezone: str = "Europe/Moscow"  # R1.3
    max_body_bytes: int = 64 * 1024
    cabinet_url: str = "https://cabinet.example.com/tickets/new"
    console_url: str = "http://127.0.0.1:8000/console/"  # escalations link here (R2.9)
    api_url: str = "http://127.0.0.1:8000"  # the public API: one-click rating links
    mail_domain: str = "support.hosting.example"
    ack_from: str = "support@support.hosting.example"
    acks_per_day: int = 3
    kb_base_url: str | None = None  # None: the local default in classify/kb.json
    outbox_dir: str | None = None  # the local stack only: mail goes to files, not SES
    ses_configuration_set: str | None = None  # routes bounces and complaints back to us
    # Browser origins of the cabinet frontend allowed to call the API (CORS).
    cors_origins: tuple[str, ...] = ()
    reopen_days: int = 7  # a customer may reopen a solved ticket this long (API.md)
    auto_close_days: int = 7  # a solved ticket closes by itself after this long
    attachment_max_bytes: int = 20 * 1024 * 1024
    attachments_per_ticket: int = 10
    upload_scanner: str = "content"  # `guardduty` deployed (the template sets it)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        """Build the settings from environment variables (see README, Configuration)."""
        required = {}
        for name in REQUIRED:
            if not env.get(name):
                raise ConfigError(f"environment variable {name} is not set")
            required[name] = env[name]
        settings = cls(
            table_name=required["SUPPORT_TABLE_NAME"],
            escalation_topic_arn=required["ESCALATION_TOPIC_ARN"],
            management_topic_arn=required["MANAGEMENT_TOPIC_ARN"],
            chat_secret_name=required["CHAT_SECRET_NAME"],
            user_pool_id=required["USER_POOL_ID"],
            mail_bucket=required["MAIL_BUCKET"],
            mail_domain=env.get("MAIL_DOMAIN", cls.mail_domain),
            ack_from=env.get("ACK_FROM", cls.ack_from),
            acks_per_day=_int(env, "ACKS_PER_DAY", cls.acks_per_day),
            region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or cls.region,
            first_response_minutes=_int(env, "FIRST_RESPONSE_MINUTES", cls.first_response_minutes),
            warning_minutes=_int(env, "SLA_WARNING_MINUTES", cls.warning_minutes),
            timezone=env.get("COMPANY_TIMEZONE", cls.timezone),
            max_body_bytes=_int(env, "MAX_BODY_BYTES", cls.max_body_bytes),
            cabinet_url=env.get("CABINET_URL", cls.cabinet_url),
            console_url=env.get("CONSOLE_URL") or cls.console_url,
            # Empty where the template's PublicApiUrl is: e-mail ratings then need no link.
            api_url=env.get("API_URL", cls.api_url).rstrip("/"),
            kb_base_url=env.get("KB_BASE_URL") or None,
            outbox_dir=env.get("OUTBOX_DIR") or None,
            ses_configuration_set=env.get("SES_CONFIGURATION_SET") or None,
            cors_origins=origins(env.get("CORS_ORIGINS", "")),
            reopen_days=_int(env, "REOPEN_DAYS", cls.reopen_days),
            auto_close_days=_int(env, "AUTO_CLOSE_DAYS", cls.auto_close_days),
            attachment_max_bytes=_int(env, "ATTACHMENT_MAX_BYTES", cls.attachment_max_bytes),
            attachments_per_ticket=_int(env, "ATTACHMENTS_PER_TICKET", cls.attachments_per_ticket),
            upload_scanner=env.get("UPLOAD_SCANNER") or cls.upload_scanner,
        )
        settings.validate()
        return settings

    def validate(self) -> None:
        """Refuse settings that would break a rule rather than fail later."""
        if not self.table_name:
            raise ConfigError("the table name must not be empty")
        if self.first_response_minutes <= 0:
            raise ConfigError("FIRST_RESPONSE_MINUTES must be positive")
        if not 0 <= self.warning_minutes < self.first_response_minutes:
            raise ConfigError("SLA_WARNING_MINUTES must be between 0 and the response time")
        if self.reopen_days < 0 or self.auto_close_days <= 0:
            raise ConfigError("REOPEN_DAYS must be >= 0 and AUTO_CLOSE_DAYS positive")
        if self.upload_scanner not in ("guardduty", "content"):
            raise ValueError("UPLOAD_SCANNER is guardduty or content")
        if self.attachment_max_bytes <= 0 or self.attachments_per_ticket <= 0:
            raise ConfigError("attachment limits must be positive")
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError(f"unknown time zone {self.timezone!r}") from None
        if self.kb_base_url is not None and not (
            self.kb_base_url.startswith(("https://", "http://")) and self.kb_base_url.endswith("/")
        ):
            raise ConfigError("KB_BASE_URL must be an http(s) URL ending in /")
        for origin in self.cors_origins:
            if not origin.startswith(("https://", "http://")) or origin.count("/") != 2:
                raise ConfigError(
                    f"CORS_ORIGINS: {origin!r} is not an origin (scheme://host[:port])"
                )


def settings_from(env: Mapping[str, str]) -> Settings:
    """The settings of this configuration, parsed and validated once per configuration."""
    return _settings(tuple((k, env[k]) for k in REQUIRED + OPTIONAL if k in env))


@functools.cache
def _settings(items: tuple[tuple[str, str], ...]) -> Settings:
    return Settings.from_env(dict(items))


def origins(raw: str) -> tuple[str, ...]:
    """A comma-separated list of origins, as browsers send them (no trailing slash)."""
    return tuple(o.strip().rstrip("/") for o in raw.split(",") if o.strip())


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from None
