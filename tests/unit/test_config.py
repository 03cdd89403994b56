"""Settings are checked once at cold start, with messages that name the variable."""

import pytest

from chalicelib.config import ConfigError, Settings

BASE = {
    "SUPPORT_TABLE_NAME": "t",
    "ESCALATION_TOPIC_ARN": "arn:e",
    "MANAGEMENT_TOPIC_ARN": "arn:m",
    "CHAT_SECRET_NAME": "chat",
    "USER_POOL_ID": "pool",
    "MAIL_BUCKET": "mail",
}


def test_defaults_follow_the_regulation() -> None:
    settings = Settings.from_env(BASE)
    assert settings.first_response_minutes == 60  # R2.1
    assert settings.warning_minutes == 15  # R2.4
    assert settings.timezone == "Europe/Moscow"  # R1.3


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        ({"FIRST_RESPONSE_MINUTES": "soon"}, "FIRST_RESPONSE_MINUTES"),
        ({"FIRST_RESPONSE_MINUTES": "0"}, "positive"),
        ({"SLA_WARNING_MINUTES": "90"}, "SLA_WARNING_MINUTES"),
        ({"COMPANY_TIMEZONE": "Mars/Olympus"}, "time zone"),
    ],
)
def test_bad_settings_are_refused_by_name(extra: dict, needle: str) -> None:
    with pytest.raises(ConfigError, match=needle):
        Settings.from_env({**BASE, **extra})


def test_missing_table_is_named() -> None:
    with pytest.raises(ConfigError, match="SUPPORT_TABLE_NAME"):
        Settings.from_env({k: v for k, v in BASE.items() if k != "SUPPORT_TABLE_NAME"})
