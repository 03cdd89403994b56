"""Issue 13's hostile inputs, through the API as a client sends them: each is a 4xx in
the error shape, never a 5xx."""

from __future__ import annotations

import base64
import json

import pytest

from tests.conftest import Api, make_token

CUSTOMER = make_token("sub-hostile", "hostile@example.com")
STAFF = make_token("sub-agent", "agent@hosting.example", ["staff"])


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (b'{"subject": "s\\ud800", "text": "t"}', "invalid_subject"),
        (b'{"subject": "s", "text": "\\udfff"}', "invalid_text"),
        (b'{"subject": "\\u200b\\u2060", "text": "t"}', "subject_required"),
        (b'{"subject": "a\\u202eb", "text": "t"}', "invalid_subject"),
        (b'{"a":' + b"[" * 10_000 + b"]" * 10_000 + b"}", "invalid_json"),
    ],
    ids=["surrogate-subject", "surrogate-text", "invisible", "bidi", "deep-json"],
)
def test_hostile_ticket_bodies_are_400(api: Api, raw: bytes, code: str) -> None:
    status, body, _ = api.call("POST", "/tickets", token=CUSTOMER, raw=raw)
    assert status == 400 and body["error"]["code"] == code


def test_a_delay_notice_at_the_end_of_the_calendar_is_400(api: Api) -> None:
    _, ticket, _ = api.call("POST", "/tickets", token=CUSTOMER, body={"subject": "s", "text": "t"})
    for eta in ("9999-12-31T23:59:59-12:00", "0001-01-01T00:00:00+14:00"):
        status, body, _ = api.call(
            "POST",
            f"/tickets/{ticket['id']}/delay-notices",
            token=STAFF,
            body={"reason": "Диск", "eta": eta},
        )
        assert status == 400 and body["error"]["code"] == "invalid_eta"
    status, body, _ = api.call(
        "POST",
        f"/tickets/{ticket['id']}/delay-notices",
        token=STAFF,
        body={"reason": "disk\u0000", "eta": "2030-01-01T00:00:00+00:00"},
    )
    assert status == 400 and body["error"]["code"] == "invalid_reason"


@pytest.mark.parametrize("path", ["/tickets?limit=²", "/staff/queue?limit=%D9%A1"])
def test_a_limit_that_is_no_ascii_number_is_400(api: Api, path: str) -> None:
    status, body, _ = api.call("GET", path, token=STAFF)
    assert status == 400 and body["error"]["code"] == "invalid_limit"


def test_a_path_id_over_2_kb_is_404(api: Api) -> None:
    status, body, _ = api.call("GET", "/tickets/T-" + "A" * 3000, token=CUSTOMER)
    assert status == 404 and body["error"]["code"] == "ticket_not_found"


def test_a_huge_next_token_is_400(api: Api) -> None:
    token = base64.urlsafe_b64encode(json.dumps({"k": "x" * 3000 + "#T-AAAAA"}).encode()).decode()
    for path in (f"/tickets?next={token}", f"/staff/queue?next={token}"):
        status, body, _ = api.call("GET", path, token=STAFF)
        assert status == 400 and body["error"]["code"] == "invalid_next"


def test_hours_at_the_edge_of_the_calendar_is_400(api: Api) -> None:
    status, body, _ = api.call("GET", "/support/hours?at=0001-01-01T00:00:00%2B14:00")
    assert status == 400 and body["error"]["code"] == "invalid_at"


STAFF_ROUTES = [
    ("GET", "/staff/queue"),
    ("GET", "/staff/tickets"),
    ("GET", "/staff/reports/sla"),
    ("GET", "/staff/incidents"),
    ("POST", "/staff/incidents"),
    ("GET", "/staff/incidents/{incident_id}"),
    ("POST", "/staff/incidents/{incident_id}/updates"),
    ("POST", "/tickets/{ticket_id}/responses"),
    ("POST", "/tickets/{ticket_id}/delay-notices"),
    ("GET", "/tickets/{ticket_id}/events"),
    ("PUT", "/tickets/{ticket_id}/scope"),
    ("PUT", "/tickets/{ticket_id}/incident"),
    ("PUT", "/tickets/{ticket_id}/admin-request"),
    ("POST", "/tickets/{ticket_id}/quotes"),
]


@pytest.mark.parametrize(("method", "path"), STAFF_ROUTES)
def test_a_customer_is_refused_by_every_staff_route_before_its_body_or_id(
    api: Api, method: str, path: str
) -> None:
    """The route decorator checks the staff group first: a customer learns nothing from
    a 400 about the body or a 404 about the id."""
    concrete = path.format(ticket_id="no-such-id", incident_id="no-such-id")
    status, body, _ = api.call(method, concrete, token=CUSTOMER, raw=b"{not json")
    assert status == 403 and body["error"]["code"] == "staff_only"
    assert api.call(method, concrete, raw=b"{}")[0] == 401
