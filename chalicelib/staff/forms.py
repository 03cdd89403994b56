"""The bodies staff send, parsed at the edge: an answer, a delay notice (R2.2), a scope
correction. Unknown fields are refused; each error names its field."""

from __future__ import annotations

from typing import Any

from chalicelib.classify import label_catalogue
from chalicelib.domain.clock import delay_notice_fields
from chalicelib.domain.tickets import MESSAGE_MAX, DelayNoticeRequest, ScopeCorrection
from chalicelib.errors import InvalidInput
from chalicelib.validation import reject_unknown_fields, text_field


def parse_staff_response(body: dict[str, Any]) -> str:
    """A `POST /tickets/{id}/responses` body: `{"text"}`."""
    reject_unknown_fields(body, ("text",))
    text = text_field(body, "text", max_chars=MESSAGE_MAX)
    assert text is not None
    return text


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
