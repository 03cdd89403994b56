"""Cabinet tickets end to end through the Chalice app on moto (R1.4, API.md)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from chalicelib.timeutil import parse_iso
from tests.conftest import Api, make_token

ANNA = make_token("sub-anna", "anna@flowershop.example")
BORIS = make_token("sub-boris", "boris@vetclinic.example")
OUTAGE = {
    "subject": "Mail is down",
    "text": "None of our mailboxes receive mail, 'mailbox unavailable'.",
}


def open_ticket(api: Api, token: str = ANNA, body: dict | None = None, **kw) -> dict:
    status, ticket, _ = api.call("POST", "/tickets", token=token, body=body or OUTAGE, **kw)
    assert status == 201, ticket
    return ticket


def test_cabinet_ticket_is_official_with_scope_and_a_one_hour_deadline(api: Api) -> None:
    ticket = open_ticket(api)
    assert ticket["channel"] == "cabinet" and ticket["official"] is True  # R1.4
    assert ticket["status"] == "open"
    assert ticket["customer"] == "sub-anna"
    assert ticket["scope"]["label"] == "outage" and ticket["scope"]["sub"] == "email"
    assert ticket["scope"]["evidence"], "staff must see why"
    created, due = parse_iso(ticket["created_at"]), parse_iso(ticket["sla"]["due_at"])
    assert due - created == timedelta(minutes=60)  # R2.1
    assert ticket["sla"]["state"] == "pending"
    assert ticket["kb"] and all(a["url"].startswith("https://") for a in ticket["kb"])


def test_request_without_token_is_refused_with_401(api: Api) -> None:
    for method, path in [("POST", "/tickets"), ("GET", "/tickets"), ("GET", "/tickets/T-1")]:
        status, body, _ = api.call(method, path, body=OUTAGE if method == "POST" else None)
        assert status == 401
        assert body["error"]["code"] == "unauthenticated"


def test_customer_comes_from_the_token_never_from_the_body(api: Api) -> None:
    status, body, _ = api.call(
        "POST", "/tickets", token=ANNA, body={**OUTAGE, "customer": "sub-boris"}
    )
    assert status == 400 and body["error"]["code"] == "unknown_field"


def test_customer_reads_back_own_ticket_with_messages_oldest_first(api: Api) -> None:
    ticket = open_ticket(api)
    for text in ("first follow-up", "second follow-up"):
        status, message, _ = api.call(
            "POST", f"/tickets/{ticket['id']}/messages", token=ANNA, body={"text": text}
        )
        assert status == 201 and message["author"] == "customer"
    status, thread, _ = api.call("GET", f"/tickets/{ticket['id']}", token=ANNA)
    assert status == 200
    assert [m["text"] for m in thread["messages"]] == ["first follow-up", "second follow-up"]
    assert thread["delay_notices"] == []
    assert thread["message_count"] == 2
    # R2: customer follow-ups never restart the clock.
    assert thread["sla"]["due_at"] == ticket["sla"]["due_at"]


def test_customer_cannot_read_or_append_to_another_customers_ticket(api: Api) -> None:
    ticket = open_ticket(api, ANNA)
    status, body, _ = api.call("GET", f"/tickets/{ticket['id']}", token=BORIS)
    assert status == 404 and body["error"]["code"] == "ticket_not_found"
    status, body, _ = api.call(
        "POST", f"/tickets/{ticket['id']}/messages", token=BORIS, body={"text": "hijack"}
    )
    assert status == 404 and body["error"]["code"] == "ticket_not_found"
    _, thread, _ = api.call("GET", f"/tickets/{ticket['id']}", token=ANNA)
    assert thread["messages"] == []
    _, listing, _ = api.call("GET", "/tickets", token=BORIS)
    assert listing["items"] == []


def test_unknown_ticket_is_404_like_a_foreign_one(api: Api) -> None:
    status, body, _ = api.call("GET", "/tickets/T-NOSUCH1", token=ANNA)
    assert status == 404 and body["error"]["code"] == "ticket_not_found"


def test_listing_is_own_only_newest_first_and_paginates(api: Api) -> None:
    mine = [
        open_ticket(api, ANNA, {"subject": f"Question {i}", "text": "How do I add a domain?"})
        for i in range(5)
    ]
    open_ticket(api, BORIS)
    seen: list[str] = []
    token = None
    pages = 0
    while True:
        path = "/tickets?limit=2" + (f"&next={token}" if token else "")
        status, page, _ = api.call("GET", path, token=ANNA)
        assert status == 200
        seen += [t["id"] for t in page["items"]]
        pages += 1
        token = page["next"]
        if token is None:
            break
    assert seen == [t["id"] for t in reversed(mine)]
    assert pages >= 3


def test_a_next_token_cannot_reach_another_customers_listing(api: Api) -> None:
    for _ in range(3):
        open_ticket(api, BORIS)
    _, page, _ = api.call("GET", "/tickets?limit=1", token=BORIS)
    status, other, _ = api.call("GET", f"/tickets?limit=5&next={page['next']}", token=ANNA)
    assert status == 200 and other["items"] == []


def test_bad_listing_parameters_are_400(api: Api) -> None:
    for query, code in [
        ("limit=0", "invalid_limit"),
        ("limit=abc", "invalid_limit"),
        ("next=%25%25", "invalid_next"),
    ]:
        status, body, _ = api.call("GET", f"/tickets?{query}", token=ANNA)
        assert status == 400 and body["error"]["code"] == code


def test_idempotent_replay_returns_the_first_response_and_creates_one_ticket(api: Api) -> None:
    headers = {"Idempotency-Key": "form-submit-7f3a"}
    status1, first, h1 = api.call("POST", "/tickets", token=ANNA, body=OUTAGE, headers=headers)
    status2, second, h2 = api.call("POST", "/tickets", token=ANNA, body=OUTAGE, headers=headers)
    assert status1 == status2 == 201
    assert first == second
    assert h2.get("idempotent-replayed") == "true" and "idempotent-replayed" not in h1
    _, listing, _ = api.call("GET", "/tickets", token=ANNA)
    assert [t["id"] for t in listing["items"]] == [first["id"]]


def test_same_idempotency_key_from_another_customer_is_a_different_request(api: Api) -> None:
    headers = {"Idempotency-Key": "shared-key"}
    _, anna, _ = api.call("POST", "/tickets", token=ANNA, body=OUTAGE, headers=headers)
    _, boris, _ = api.call("POST", "/tickets", token=BORIS, body=OUTAGE, headers=headers)
    assert anna["id"] != boris["id"] and boris["customer"] == "sub-boris"


def test_reusing_an_idempotency_key_for_a_different_ticket_is_409(api: Api) -> None:
    headers = {"Idempotency-Key": "k-1"}
    api.call("POST", "/tickets", token=ANNA, body=OUTAGE, headers=headers)
    status, body, _ = api.call(
        "POST",
        "/tickets",
        token=ANNA,
        body={"subject": "Other", "text": "Other text"},
        headers=headers,
    )
    assert status == 409 and body["error"]["code"] == "idempotency_key_reused"


def test_oversize_body_is_413_with_the_error_shape(api: Api) -> None:
    raw = json.dumps({"subject": "big", "text": "x" * (70 * 1024)}).encode()
    status, body, _ = api.call("POST", "/tickets", token=ANNA, raw=raw)
    assert status == 413 and body["error"]["code"] == "body_too_large"


def test_malformed_and_invalid_bodies_are_400_never_500(api: Api) -> None:
    cases = [
        (b"{not json", "invalid_json"),
        (b"[1, 2]", "body_not_object"),
        (b"", "body_required"),
        (b"\xff\xfe", "invalid_encoding"),
        (json.dumps({"text": "no subject"}).encode(), "subject_required"),
        (json.dumps({"subject": " ", "text": "t"}).encode(), "subject_required"),
        (json.dumps({"subject": "s" * 201, "text": "t"}).encode(), "subject_too_long"),
        (json.dumps({"subject": "s", "text": "t" * 20_001}).encode(), "text_too_long"),
        (json.dumps({"subject": 5, "text": "t"}).encode(), "invalid_subject"),
        (json.dumps({"subject": "s", "text": "a\u0000b"}).encode(), "invalid_text"),
        (
            json.dumps({"subject": "s", "text": "t", "domain": "not a domain"}).encode(),
            "invalid_domain",
        ),
        (
            json.dumps({"subject": "s", "text": "t", "service": "toaster"}).encode(),
            "invalid_service",
        ),
    ]
    for raw, code in cases:
        status, body, _ = api.call("POST", "/tickets", token=ANNA, raw=raw)
        assert status == 400, (raw[:40], body)
        assert body["error"]["code"] == code, (raw[:40], body)
        assert body["error"]["message"]


def test_limits_are_inclusive(api: Api) -> None:
    ticket = open_ticket(
        api, body={"subject": "s" * 200, "text": "t" * 20_000, "domain": "Пример.РФ"}
    )
    assert len(ticket["subject"]) == 200 and ticket["domain"] == "xn--e1afmkfd.xn--p1ai"


def test_wrong_content_type_gets_the_error_shape(api: Api) -> None:
    status, body, _ = api.call(
        "POST", "/tickets", token=ANNA, raw=b"subject=x", headers={"Content-Type": "text/plain"}
    )
    assert status == 415 and body["error"]["code"] == "unsupported_media_type"


def test_every_state_change_leaves_an_audit_event(api: Api) -> None:
    from app import runtime

    ticket = open_ticket(api)
    api.call("POST", f"/tickets/{ticket['id']}/messages", token=ANNA, body={"text": "more"})
    actions = [e.action for e in runtime().store.tickets.audit_trail(ticket["id"])]
    assert actions == ["ticket_created", "customer_message"]


def test_health(api: Api) -> None:
    status, body, _ = api.call("GET", "/health")
    assert status == 200 and body == {"status": "ok"}


def test_created_at_is_iso_with_offset(api: Api) -> None:
    ticket = open_ticket(api)
    assert isinstance(parse_iso(ticket["created_at"]), datetime)
    assert ticket["created_at"].endswith("+00:00")


def test_the_audit_trail_is_for_staff_only_and_pages(api: Api) -> None:
    from tests.conftest import make_token

    customer = make_token("sub-audit", "audit@example.com")
    staff = make_token("sub-agent", "agent@hosting.example", ["staff"])
    _, ticket, _ = api.call("POST", "/tickets", token=customer, body={"subject": "s", "text": "t"})
    for n in range(3):
        api.call(
            "POST", f"/tickets/{ticket['id']}/messages", token=customer, body={"text": f"m{n}"}
        )
    status, _, _ = api.call("GET", f"/tickets/{ticket['id']}/events", token=customer)
    assert status == 403
    kinds, token = [], None
    while True:
        path = f"/tickets/{ticket['id']}/events?limit=2" + (f"&next={token}" if token else "")
        status, page, _ = api.call("GET", path, token=staff)
        assert status == 200
        kinds += [e["kind"] for e in page["items"]]
        token = page["next"]
        if token is None:
            break
    assert kinds == ["ticket_created", "customer_message", "customer_message", "customer_message"]
