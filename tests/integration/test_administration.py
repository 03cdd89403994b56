"""Administration requests on moto (issue 18, R4.7, R5, API.md "Administration"):
free OS and panel installs read from the ticket, and paid work by an agreed quote."""

from __future__ import annotations

import os
from decimal import Decimal
from typing import Any

import pytest

from chalicelib.config import Settings
from chalicelib.domain.identity import Principal
from chalicelib.errors import Conflict, Forbidden, InvalidInput
from chalicelib.intake.cabinet import NewTicket
from chalicelib.runtime import Runtime, build_runtime
from tests.conftest import Api, make_token

ANNA = Principal("sub-anna", "anna@flowershop.example", frozenset())
BORIS = Principal("sub-boris", "boris@example.org", frozenset())
AGENT = Principal("sub-agent", "agent@hosting.example", frozenset({"staff"}))
TERMS = {
    "scope": "Настроить репликацию MySQL",
    "deadline": "2026-12-10",
    "price": "15000.00",
    "currency": "RUB",
}


@pytest.fixture
def rt(aws: Any) -> Runtime:
    return build_runtime(Settings.from_env(os.environ))


def ticket(rt: Runtime, text: str, who: Principal = ANNA) -> dict[str, Any]:
    body, _ = rt.cabinet.create_ticket(who, NewTicket(subject="Администрирование", text=text), None)
    return body


def quote(rt: Runtime, tid: str, **terms: str) -> dict[str, Any]:
    return rt.quotes.propose(AGENT, tid, {**TERMS, **terms}).to_api()


def act(
    rt: Runtime, who: Principal, tid: str, qid: str, action: str, **body: Any
) -> dict[str, Any]:
    return rt.quotes.act(who, tid, qid, action, body).to_api()


# -- free administration (R5.1, R5.2) ------------------------------------------------------


def test_an_os_reinstall_is_read_and_free(rt: Runtime) -> None:
    made = ticket(rt, "Переустановите, пожалуйста, ОС на VPS 12345 на Ubuntu 22.04")
    assert made["scope"]["label"] == "free_admin"
    assert made["admin_request"] == {
        "kind": "os_install",
        "server": "12345",
        "os": "ubuntu-22.04",
        "possible": True,
    }


@pytest.mark.parametrize(
    ("text", "server"),
    [
        ("Please install Windows Server 2022 on my dedicated server 4242", "4242"),
        ("Переустановите ОС: нужен Ubuntu Server 22.04 на VPS 777", "777"),
        ("Please reinstall Windows Server 2019 on my server", None),
    ],
)
def test_a_product_version_is_not_read_as_the_server(
    rt: Runtime, text: str, server: str | None
) -> None:
    """Issue 31: "Windows Server 2022" named server "2022"."""
    made = ticket(rt, text)
    assert made["scope"]["label"] == "free_admin"
    assert made["admin_request"].get("server") == server


def test_a_panel_on_a_server_with_live_sites_is_not_free_and_says_why(rt: Runtime) -> None:
    text = "Установите панель ISPmanager на VPS 5521, там уже работают сайты, ничего не удаляйте"
    made = ticket(rt, text)
    request = made["admin_request"]
    assert request["kind"] == "panel_install" and request["panel"] == "ispmanager"
    assert request["possible"] is False and request["reason"].startswith("server_not_clean")
    assert "R5.2" in request["reason"] and "R5.3" in request["reason"]
    assert made["scope"]["label"] != "free_admin"  # not queued as free work


def test_a_panel_the_os_cannot_run_and_an_os_not_offered_are_not_possible(rt: Runtime) -> None:
    panel = ticket(rt, "Поставьте cPanel на Debian 12 на сервере 77")["admin_request"]
    assert panel["possible"] is False and panel["reason"].startswith("panel_not_supported")
    old = ticket(rt, "Переустановите ОС на CentOS 7 на VPS 123")["admin_request"]
    assert old["possible"] is False and old["reason"].startswith("os_not_available")


def test_staff_correct_the_parsed_request_and_it_is_judged_again(rt: Runtime) -> None:
    tid = ticket(rt, "Поставьте cPanel на Debian 12 на сервере 77")["id"]
    fixed = rt.admin_requests.correct(AGENT, tid, {"os": "almalinux-9", "clean": True})
    assert fixed.to_api()["admin_request"]["possible"] is True
    assert fixed.to_api()["admin_request"]["corrected_by"] == AGENT.sub
    with pytest.raises(InvalidInput):
        rt.admin_requests.correct(AGENT, tid, {"os": "windows-98"})
    with pytest.raises(Forbidden):
        rt.admin_requests.correct(ANNA, tid, {"os": "debian-12"})
    trail = [e.action for e in rt.store.tickets.audit_trail(tid)]
    assert "admin_request_corrected" in trail


# -- quotes (R5.3, R4.7) -------------------------------------------------------------------


def test_propose_accept_pay_complete_with_each_step_audited_and_told(rt: Runtime) -> None:
    tid = ticket(rt, "Нужна платная настройка репликации MySQL")["id"]
    made = quote(rt, tid)
    assert made["state"] == "proposed" and made["price"] == "15000.00"
    accepted = act(rt, ANNA, tid, made["id"], "accept")
    assert accepted["state"] == "accepted"
    paid = act(rt, AGENT, tid, made["id"], "payments", amount="5000.50", currency="RUB")
    paid = act(rt, AGENT, tid, made["id"], "payments", amount="9999.50", currency="RUB")
    assert paid["paid"] == "15000.00"
    with pytest.raises(Conflict) as caught:
        act(rt, AGENT, tid, made["id"], "payments", amount="0.01", currency="RUB")
    assert caught.value.code == "overpaid"
    done = act(rt, AGENT, tid, made["id"], "complete")
    assert done["state"] == "completed"
    assert [s["action"] for s in done["history"]] == [
        "proposed",
        "accepted",
        "payment_recorded",
        "payment_recorded",
        "completed",
    ]
    customer_view = rt.quotes.listing(ANNA, tid)
    assert customer_view[0]["history"] == done["history"]
    trail = [e.action for e in rt.store.tickets.audit_trail(tid) if e.action.startswith("quote_")]
    assert trail == [
        "quote_proposed",
        "quote_accepted",
        "quote_payment_recorded",
        "quote_payment_recorded",
        "quote_completed",
    ]
    thread = rt.store.tickets.thread(tid)
    assert thread is not None
    told = [m.text for m in thread.messages if m.author == "staff"]
    # R2.9: a Russian ticket is told in Russian, not an English sentence in a Russian letter
    assert len(told) == 4 and told[0].startswith(f"Смета {made['id']}: предложена")
    assert "Оплачено: " in told[1] and "Quote" not in " ".join(told)
    assert all(m.delivery is not None for m in thread.messages if m.author == "staff")


def test_declined_quotes_take_no_payment_and_refusals_refund_exactly(rt: Runtime) -> None:
    tid = ticket(rt, "Нужна платная настройка")["id"]
    declined = quote(rt, tid)
    act(rt, ANNA, tid, declined["id"], "decline")
    for step in ("accept", "decline"):
        with pytest.raises(Conflict):
            act(rt, ANNA, tid, declined["id"], step)
    with pytest.raises(Conflict):
        act(rt, AGENT, tid, declined["id"], "payments", amount="10", currency="RUB")
    refused = quote(rt, tid, price="1000.10")
    act(rt, ANNA, tid, refused["id"], "accept")
    for amount in ("0.10", "0.20", "333.33"):  # 0.1 + 0.2 is not 0.3 in binary
        act(rt, AGENT, tid, refused["id"], "payments", amount=amount, currency="RUB")
    out = act(rt, AGENT, tid, refused["id"], "refuse", reason="Конфигурация сервера не позволяет")
    assert out["state"] == "refused" and out["refund_due"] == "333.63"
    assert Decimal(out["refund_due"]) == Decimal("0.10") + Decimal("0.20") + Decimal("333.33")
    with pytest.raises(Conflict):  # no double refund
        act(rt, AGENT, tid, refused["id"], "refuse", reason="again")
    with pytest.raises(Conflict):
        act(rt, AGENT, tid, refused["id"], "payments", amount="1", currency="RUB")
    with pytest.raises(Conflict):
        act(rt, AGENT, tid, refused["id"], "complete")


def test_revisions_need_the_other_side_and_one_is_open_at_a_time(rt: Runtime) -> None:
    tid = ticket(rt, "Нужна платная настройка")["id"]
    q = quote(rt, tid)
    revised = act(rt, ANNA, tid, q["id"], "revise", price="12000.00")
    assert revised["revision"]["by"] == "customer" and revised["state"] == "proposed"
    with pytest.raises(Conflict) as own:
        act(rt, ANNA, tid, q["id"], "accept")  # one's own revision
    assert own.value.code == "revision_pending"
    with pytest.raises(Conflict) as second:
        act(rt, AGENT, tid, q["id"], "revise", price="13000.00")
    assert second.value.code == "revision_open"
    agreed = act(rt, AGENT, tid, q["id"], "accept")
    assert agreed["state"] == "accepted" and agreed["price"] == "12000.00"
    assert agreed["revision"] is None
    staff_revision = act(rt, AGENT, tid, q["id"], "revise", deadline="2026-12-20")
    assert staff_revision["revision"]["by"] == "staff"
    kept = act(rt, ANNA, tid, q["id"], "decline")  # the revision, not the quote
    assert kept["state"] == "accepted" and kept["deadline"] == "2026-12-10"


def test_accept_racing_a_revision_one_wins_and_the_other_is_409(rt: Runtime) -> None:
    tid = ticket(rt, "Нужна платная настройка")["id"]
    q = quote(rt, tid)
    read_version = q["version"]
    act(rt, AGENT, tid, q["id"], "revise", price="20000.00")  # lands first
    with pytest.raises(Conflict) as caught:  # the customer accepted what they had read
        act(rt, ANNA, tid, q["id"], "accept", version=read_version)
    assert caught.value.code == "quote_changed"
    stored = rt.store.quotes.get(tid, q["id"])
    assert stored is not None and stored.state == "proposed" and stored.revision is not None
    # Two steps decided from the same read: the store takes the first and refuses the
    # second, whatever the callers checked before.
    from chalicelib.domain.quotes import accept, decline
    from chalicelib.domain.tickets import AuditEvent
    from chalicelib.storage import StaleState

    def audit(action: str) -> AuditEvent:
        return AuditEvent(f"E-{action.upper()}", tid, action, "test", "2026-12-01T00:00:00+00:00")

    winner, _ = accept(stored, "customer")
    rt.store.quotes.save(winner, audit("accept"))
    loser, _ = decline(stored, "customer")
    with pytest.raises(StaleState):
        rt.store.quotes.save(loser, audit("decline"))
    final = rt.store.quotes.get(tid, q["id"])
    assert (
        final is not None and final.state == "accepted" and final.terms.price == Decimal("20000.00")
    )


def test_quotes_over_http_403_for_customers_proposing_404_for_strangers(api: Api) -> None:
    anna = make_token("sub-anna", "anna@flowershop.example")
    boris = make_token("sub-boris", "boris@example.org")
    staff = make_token("sub-agent", "agent@hosting.example", ["staff"])
    code, made, _ = api.call(
        "POST", "/tickets", token=anna, body={"subject": "Работа", "text": "Платная настройка"}
    )
    tid = made["id"]
    code, body, _ = api.call("POST", f"/tickets/{tid}/quotes", token=anna, body=TERMS)
    assert (code, body["error"]["code"]) == (403, "staff_only")
    code, q, _ = api.call("POST", f"/tickets/{tid}/quotes", token=staff, body=TERMS)
    assert code == 201 and q["state"] == "proposed"
    code, body, _ = api.call("POST", f"/tickets/{tid}/quotes/{q['id']}/accept", token=boris)
    assert (code, body["error"]["code"]) == (404, "ticket_not_found")
    code, body, _ = api.call(
        "POST", f"/tickets/{tid}/quotes/{q['id']}/refuse", token=anna, body={"reason": "x"}
    )
    assert code == 403
    assert api.call("POST", f"/tickets/{tid}/quotes/{q['id']}/explode", token=anna)[0] == 404
    bad = {**TERMS, "price": 1500.123}
    code, body, _ = api.call("POST", f"/tickets/{tid}/quotes", token=staff, body=bad)
    assert (code, body["error"]["code"]) == (400, "invalid_price")
    code, body, _ = api.call("POST", f"/tickets/{tid}/quotes/{q['id']}/accept", token=anna)
    assert code == 200 and body["state"] == "accepted"
    code, listing, _ = api.call("GET", f"/tickets/{tid}/quotes", token=anna)
    assert [i["id"] for i in listing["items"]] == [q["id"]]
    assert api.call("GET", f"/tickets/{tid}/quotes", token=boris)[0] == 404


def test_no_quote_step_but_a_refusal_on_a_closed_ticket(rt: Runtime) -> None:
    """Issue 31: accept and a payment succeeded on a closed ticket and the customer was
    told nothing; now they follow the rule of a new quote (409)."""
    tid = ticket(rt, "Нужна платная настройка")["id"]
    q = quote(rt, tid, price="500")
    rt.lifecycle.set_status(ANNA, tid, "closed")
    with pytest.raises(Conflict) as refused:
        act(rt, ANNA, tid, q["id"], "accept")
    assert refused.value.code == "ticket_closed"
    with pytest.raises(Conflict):
        act(rt, AGENT, tid, q["id"], "payments", amount="100", currency="RUB")
    assert act(rt, AGENT, tid, q["id"], "refuse", reason="Закрыто")["state"] == "refused"


def test_a_refusal_after_the_ticket_was_closed_still_records_the_refund(rt: Runtime) -> None:
    tid = ticket(rt, "Нужна платная настройка")["id"]
    q = quote(rt, tid, price="500")
    act(rt, ANNA, tid, q["id"], "accept")
    act(rt, AGENT, tid, q["id"], "payments", amount="250", currency="RUB")
    rt.lifecycle.set_status(ANNA, tid, "closed")
    out = act(rt, AGENT, tid, q["id"], "refuse", reason="Работа отменена")
    assert out["state"] == "refused" and out["refund_due"] == "250.00" and out["price"] == "500.00"
