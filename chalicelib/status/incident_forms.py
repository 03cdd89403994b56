"""What staff send about incidents and maintenance, validated (API.md, Service status)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from chalicelib.domain.incidents import STATES, STATUS_SERVICES, IncidentKind
from chalicelib.errors import InvalidInput
from chalicelib.timeutil import parse_iso
from chalicelib.validation import reject_unknown_fields, text_field

TITLE_MAX = 200
MESSAGE_MAX = 2_000


@dataclass(frozen=True)
class NewIncident:
    kind: IncidentKind
    services: tuple[str, ...]
    title: str
    message: str
    starts_at: datetime | None = None
    ends_at: datetime | None = None


@dataclass(frozen=True)
class NewUpdate:
    message: str
    state: str | None = None
    notify: bool = False


def parse_new_incident(body: dict[str, Any]) -> NewIncident:
    reject_unknown_fields(body, ("kind", "services", "title", "message", "starts_at", "ends_at"))
    kind = body.get("kind")
    if kind not in ("incident", "maintenance"):
        raise InvalidInput("invalid_kind", "`kind` is `incident` or `maintenance`", field="kind")
    services = body.get("services")
    if (
        not isinstance(services, list)
        or not services
        or not all(isinstance(s, str) and s in STATUS_SERVICES for s in services)
    ):
        raise InvalidInput(
            "invalid_services",
            f"`services` is a list of: {', '.join(STATUS_SERVICES)}",
            field="services",
            allowed=list(STATUS_SERVICES),
        )
    title = text_field(body, "title", max_chars=TITLE_MAX, single_line=True)
    message = text_field(body, "message", max_chars=MESSAGE_MAX)
    assert title is not None and message is not None  # required
    starts_at, ends_at = _instant(body, "starts_at"), _instant(body, "ends_at")
    if kind == "maintenance":
        if starts_at is None or ends_at is None:
            raise InvalidInput(
                "window_required", "maintenance has a window: `starts_at` and `ends_at`"
            )
        if ends_at <= starts_at:
            raise InvalidInput("invalid_window", "`ends_at` must be after `starts_at`")
    elif starts_at is not None or ends_at is not None:
        raise InvalidInput("window_for_maintenance", "only maintenance has a window")
    unique = tuple(dict.fromkeys(services))
    return NewIncident(
        "incident" if kind == "incident" else "maintenance",
        unique,
        title,
        message,
        starts_at,
        ends_at,
    )


def parse_update(body: dict[str, Any], kind: str) -> NewUpdate:
    reject_unknown_fields(body, ("message", "state", "notify"))
    message = text_field(body, "message", max_chars=MESSAGE_MAX)
    assert message is not None  # required
    state = body.get("state")
    if state is not None and state not in STATES[kind]:
        raise InvalidInput(
            "invalid_state",
            f"a {kind}'s `state` is one of: {', '.join(STATES[kind])}",
            field="state",
            allowed=list(STATES[kind]),
        )
    notify = body.get("notify", False)
    if not isinstance(notify, bool):
        raise InvalidInput("invalid_notify", "`notify` is true or false", field="notify")
    return NewUpdate(message, state, notify)


def _instant(body: dict[str, Any], name: str) -> datetime | None:
    value = body.get(name)
    if value is None:
        return None
    try:
        if not isinstance(value, str):
            raise ValueError(value)
        return parse_iso(value.strip())
    except ValueError:
        raise InvalidInput(
            f"invalid_{name}", f"`{name}` is an ISO 8601 time with an offset", field=name
        ) from None
