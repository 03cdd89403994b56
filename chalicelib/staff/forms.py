"""The bodies staff send, parsed at the edge: an answer, a delay notice (R2.2), a scope
correction. Unknown fields are refused; each error names its field."""

from __future__ import annotations

import re
from typing import Any

from chalicelib.classify import label_catalogue
from chalicelib.domain.clock import delay_notice_fields
from chalicelib.domain.tickets import MESSAGE_MAX, DelayNoticeRequest, ScopeCorrection
from chalicelib.errors import InvalidInput
from chalicelib.validation import reject_unknown_fields, text_field
from chalicelib.values import frozen

_MESSAGE_ID = re.compile(r"[A-Za-z0-9_:.-]{1,80}")


@frozen
class StaffResponse:
    text: str
    seen: str | None = None  # the newest message the agent had on screen


def parse_staff_response(body: dict[str, Any]) -> StaffResponse:
    """A `POST /tickets/{id}/responses` body: `{"text", "seen"?}`."""
    reject_unknown_fields(body, ("text", "seen"))
    return StaffResponse(parse_note(body, allowed=("text", "seen")), _seen(body.get("seen")))


def parse_note(body: dict[str, Any], allowed: tuple[str, ...] = ("text",)) -> str:
    """A `POST /tickets/{id}/notes` body: `{"text"}`."""
    reject_unknown_fields(body, allowed)
    text = text_field(body, "text", max_chars=MESSAGE_MAX)
    assert text is not None
    return text


def _seen(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not _MESSAGE_ID.fullmatch(value):
        raise InvalidInput("invalid_seen", "`seen` is a message id of this request", field="seen")
    return value


def parse_delay_notice_request(body: dict[str, Any]) -> DelayNoticeRequest:
    """A `POST /tickets/{id}/delay-notices` body (R2.2); unknown fields are refused."""
    reject_unknown_fields(body, ("reason", "eta"))
    reason, eta = delay_notice_fields(body.get("reason"), body.get("eta"))
    return DelayNoticeRequest(reason, eta)


def parse_scope_correction(body: dict[str, Any]) -> ScopeCorrection:
    """A `PUT /tickets/{id}/scope` body: a label of SPEC.md and, where it has them, a sub."""
    reject_unknown_fields(body, ("label", "sub"))
    label, sub = _parse_scope(body)
    return ScopeCorrection(label, sub)


def _parse_scope(body: dict[str, Any]) -> tuple[str, str | None]:
    catalogue = label_catalogue()
    label = body.get("label")
    if not isinstance(label, str) or label not in catalogue:
        raise InvalidInput(
            "invalid_label",
            f"`label` must be one of: {', '.join(catalogue)}",
            field="label",
            allowed=list(catalogue),
        )
    sub = body.get("sub")
    allowed = sorted(catalogue[label])
    if sub is None:
        return label, None
    if not isinstance(sub, str) or sub not in allowed:
        raise InvalidInput(
            "invalid_sub",
            f"`sub` for {label} must be one of: {', '.join(allowed) or '(none)'}",
            field="sub",
            allowed=allowed,
        )
    return label, sub
