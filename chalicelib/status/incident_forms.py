"""What staff send about incidents and maintenance, validated (API.md, Service status)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from chalicelib.domain.incidents import STATES, STATUS_SERVICES, IncidentKind
from chalicelib.errors import InvalidInput
from chalicelib.ids import is_request_id
from chalicelib.timeutil import parse_iso
from chalicelib.validation import reject_unknown_fields, text_field
from chalicelib.values import frozen

TITLE_MAX = 200
MESSAGE_MAX = 2_000


BULK_MAX = 100  # request ids linked in one call
LINK_WINDOW_MINUTES = 120  # API.md: open requests this long before an incident


@frozen
class NewIncident:
    kind: IncidentKind
    services: tuple[str, ...]
    title: str
    message: str
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    link_window_minutes: int = LINK_WINDOW_MINUTES  # open requests before it are linked


@frozen
class NewUpdate:
    message: str
    state: str | None = None
    notify: bool = False


def parse_new_incident(body: dict[str, Any]) -> NewIncident:
    reject_unknown_fields(
        body,
        ("kind", "services", "title", "message", "starts_at", "ends_at", "link_window_minutes"),
    )
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
        _window(body.get("link_window_minutes", LINK_WINDOW_MINUTES)),
    )


def _window(value: object) -> int:
    """`link_window_minutes`: 0 (link nothing before) to a day."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 1_440:
        raise InvalidInput(
            "invalid_link_window_minutes",
            "`link_window_minutes` is a whole number of minutes from 0 to 1440",
            field="link_window_minutes",
        )
    return value


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


def parse_request_ids(body: dict[str, Any]) -> list[str]:
    """`POST /staff/incidents/{id}/links` `{"requests": [id...]}`: 1 to 100 request ids."""
    reject_unknown_fields(body, ("requests",))
    ids = body.get("requests")
    if (
        not isinstance(ids, list)
        or not 1 <= len(ids) <= BULK_MAX
        or not all(isinstance(i, str) and is_request_id(i) for i in ids)
    ):
        raise InvalidInput(
            "invalid_requests",
            f"`requests` is a list of 1 to {BULK_MAX} request ids",
            field="requests",
        )
    return list(dict.fromkeys(ids))
