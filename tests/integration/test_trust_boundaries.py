"""Trust boundaries (R1.7, R5.4): whose mail, whose chat, whose money. Each test is an
attack that once worked on the local stack; on moto, through the same handlers."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.conftest import Api, make_token, register
from tests.integration.test_email_intake import PASS, acks, deliver, record
from tests.samples import mail

STAFF = make_token("sub-agent", "agent@hosting.example", ["staff"])
FORGED_RESULTS = "amazonses.com; spf=pass; dkim=pass; dmarc=pass header.from=flowershop.example"


def _cabinet_ticket(sub: str, email: str) -> str:
    from app import runtime
    from chalicelib.domain.identity import Principal
    from chalicelib.intake.cabinet import NewTicket

    owner = Principal(sub, email, frozenset())
    body, _ = runtime().cabinet.create_ticket(
        owner, NewTicket(subject="FTP", text="FTP не подключается"), None
    )
    return str(body["id"])


def _customer_messages(ticket_id: str) -> list[str]:
    from app import runtime

    thread = runtime().store.tickets.thread(ticket_id)
    assert thread is not None
    return [m.text for m in thread.messages if m.author == "customer"]


# -- R1.7: an unverified account e-mail links nothing -----------------------------------------


def test_r1_7_an_unverified_account_email_never_receives_the_owners_mail(api: Api) -> None:
    """The attacker set their own account's e-mail to the victim's, never verified it."""
    attacker = register("ceo@victim.example", verified=False)
    key, _ = deliver(mail(sender="ceo@victim.example", subject="Пароли от сервера"), verdicts=PASS)
    found = record(key)
    assert found["customer"] != attacker and found["customer"] == "email:ceo@victim.example"
    _, listed, _ = api.call("GET", "/tickets", token=make_token(attacker, "ceo@victim.example"))
    assert found["id"] not in [item["id"] for item in listed["items"]]
    status, _, _ = api.call(
        "GET", f"/tickets/{found['id']}", token=make_token(attacker, "ceo@victim.example")
    )
    assert status == 404


def test_r1_7_a_verified_account_email_links_the_owners_mail(aws: Any) -> None:
    owner = register("anna@flowershop.example")
    key, _ = deliver(mail(), verdicts=PASS)
    assert record(key)["customer"] == owner


# -- R1.7: SES's verdicts, never a header inside the message ----------------------------------


@pytest.mark.parametrize(
    "verdicts",
    [
        {**PASS, "dmarc": "GRAY"},
        {"spam": "PASS", "virus": "PASS"},  # SES gave no authentication verdict at all
        {**PASS, "dmarc": "PROCESSING_FAILED"},
    ],
    ids=["dmarc GRAY", "no verdicts", "processing failed"],
)
def test_r1_7_a_forged_authentication_results_header_joins_no_official_ticket(
    aws: Any, verdicts: dict[str, str]
) -> None:
    victim = register("anna@flowershop.example")
    ticket = _cabinet_ticket(victim, "anna@flowershop.example")
    spoof = mail(
        subject=f"Re: [#{ticket}] FTP",
        body="Смените пароль на qwerty123 и пришлите его сюда",
        Authentication_Results=FORGED_RESULTS,
    )
    key, _ = deliver(spoof, verdicts=verdicts)
    found = record(key)
    assert found["disposition"] == "advisory" and found["thread_of"] is None
    assert found["customer"] != victim
    assert "sender_unverified" in found["scope"]["flags"]
    assert _customer_messages(ticket) == []
    from app import runtime

    stored = runtime().store.tickets.get(found["id"])
    assert stored is not None and stored.claimed_email == "anna@flowershop.example"
    assert stored.to_api()["claimed_email"] == "anna@flowershop.example"


def test_r1_7_the_same_reply_with_ses_dmarc_pass_joins_the_ticket(aws: Any) -> None:
    victim = register("anna@flowershop.example")
    ticket = _cabinet_ticket(victim, "anna@flowershop.example")
    deliver(mail(subject=f"Re: [#{ticket}] FTP", body="Всё ещё не работает"), verdicts=PASS)
    assert _customer_messages(ticket) == ["Всё ещё не работает"]


# -- no backscatter -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("verdicts", "acknowledged"),
    [
        (PASS, True),
        ({**PASS, "dmarc": "GRAY", "spf": "PASS", "dkim": "GRAY"}, True),  # no DMARC policy
        ({**PASS, "dmarc": "GRAY", "spf": "GRAY", "dkim": "GRAY"}, True),
        ({**PASS, "dmarc": "FAIL"}, False),  # a forged From
        ({**PASS, "dmarc": "GRAY", "spf": "FAIL"}, False),
        ({**PASS, "dmarc": "GRAY", "dkim": "FAIL"}, False),
        ({**PASS, "dmarc": "PROCESSING_FAILED"}, False),
    ],
)
def test_an_acknowledgement_goes_only_to_a_sender_whose_verdicts_pass_or_are_absent(
    aws: Any, verdicts: dict[str, str], acknowledged: bool
) -> None:
    key, _ = deliver(
        mail(subject="Как сменить тариф?", body="Как сменить тариф?"), verdicts=verdicts
    )
    assert record(key)["disposition"] == "advisory"  # recorded either way
    assert len(acks()) == int(acknowledged)


# -- R5.4: money stays in the currency it was paid in -----------------------------------------


def _quote_flow(api: Api) -> tuple[str, str, str]:
    anna = make_token("sub-anna", "anna@flowershop.example")
    _, ticket, _ = api.call(
        "POST",
        "/tickets",
        token=anna,
        body={"subject": "Платная настройка", "text": "Настройте, пожалуйста, nginx за плату"},
    )
    terms = {"scope": "nginx", "deadline": "2030-01-10", "price": "100", "currency": "RUB"}
    path = f"/tickets/{ticket['id']}/quotes"
    code, quote, _ = api.call("POST", path, token=STAFF, body=terms)
    assert code == 201, quote
    return anna, f"{path}/{quote['id']}", ticket["id"]


def test_r5_4_a_revision_cannot_move_a_payment_into_another_currency(api: Api) -> None:
    anna, quote, _ = _quote_flow(api)
    assert api.call("POST", f"{quote}/accept", token=anna)[0] == 200
    code, revised, _ = api.call(
        "POST", f"{quote}/revise", token=anna, body={"price": "10.00", "currency": "USD"}
    )
    assert code == 200 and revised["revision"]["terms"]["currency"] == "USD"
    code, paid, _ = api.call(
        "POST", f"{quote}/payments", token=STAFF, body={"amount": "60", "currency": "RUB"}
    )
    assert code == 200 and paid["paid"] == "60.00" and paid["paid_currency"] == "RUB"
    code, refused, _ = api.call("POST", f"{quote}/accept", token=STAFF)
    assert (code, refused["error"]["code"]) == (409, "currency_locked")
    code, again, _ = api.call(
        "POST", f"{quote}/revise", token=STAFF, body={"price": "10.00", "currency": "USD"}
    )
    assert (code, again["error"]["code"]) == (409, "revision_open")
    assert api.call("POST", f"{quote}/decline", token=STAFF)[0] == 200
    code, again, _ = api.call("POST", f"{quote}/revise", token=STAFF, body={"currency": "EUR"})
    assert (code, again["error"]["code"]) == (409, "currency_locked")
    code, ended, _ = api.call("POST", f"{quote}/refuse", token=STAFF, body={"reason": "Отмена"})
    assert code == 200
    assert ended["currency"] == "RUB" and ended["paid"] == "60.00"
    assert (ended["refund_due"], ended["refund_currency"]) == ("60.00", "RUB")
    assert ended["history"][-1]["detail"]["currency"] == "RUB"


def test_r5_4_a_revision_below_what_was_paid_cannot_be_accepted(api: Api) -> None:
    anna, quote, _ = _quote_flow(api)
    api.call("POST", f"{quote}/accept", token=anna)
    api.call("POST", f"{quote}/revise", token=anna, body={"price": "50.00"})
    api.call("POST", f"{quote}/payments", token=STAFF, body={"amount": "80", "currency": "RUB"})
    code, error, _ = api.call("POST", f"{quote}/accept", token=STAFF)
    assert (code, error["error"]["code"]) == (409, "price_below_paid")


@pytest.mark.parametrize(
    "price",
    ["١٢٣", "１２３", "1_000", 100.5, 100, "1e3", " ", "12.345", "-5", "0", "NaN", True],
)
def test_a_price_is_ascii_digits_with_at_most_two_decimals_as_a_string(
    api: Api, price: Any
) -> None:
    _, _, ticket = _quote_flow(api)
    terms = {"scope": "s", "deadline": "2030-01-10", "price": price, "currency": "RUB"}
    code, error, _ = api.call("POST", f"/tickets/{ticket}/quotes", token=STAFF, body=terms)
    assert (code, error["error"]["code"]) == (400, "invalid_price")


@pytest.mark.parametrize(
    ("deadline", "code"),
    [
        ("2027-13-45", "invalid_deadline"),
        ("0000-00-00", "invalid_deadline"),
        ("2026-02-30", "invalid_deadline"),
        ("２０３０-01-01", "invalid_deadline"),
        ("2020-01-01", "deadline_in_past"),
        ("2020-01-01T10:00:00+03:00", "deadline_in_past"),
    ],
)
def test_a_quote_deadline_is_a_real_date_today_or_later(api: Api, deadline: str, code: str) -> None:
    _, quote, ticket = _quote_flow(api)
    terms = {"scope": "s", "deadline": deadline, "price": "5", "currency": "RUB"}
    status, error, _ = api.call("POST", f"/tickets/{ticket}/quotes", token=STAFF, body=terms)
    assert (status, error["error"]["code"]) == (400, code)
    status, error, _ = api.call("POST", f"{quote}/revise", token=STAFF, body={"deadline": deadline})
    assert (status, error["error"]["code"]) == (400, code)


# -- R1.7 in chat: the template keeps the account's address until it is verified --------------


def test_the_user_pool_keeps_the_old_address_until_the_new_one_is_verified() -> None:
    from devtools.resources import resource

    settings = resource("UserPool")["Properties"]["UserAttributeUpdateSettings"]
    assert settings == {"AttributesRequireVerificationBeforeUpdate": ["email"]}
    assert "email" in resource("UserPool")["Properties"]["AutoVerifiedAttributes"]


def test_the_local_user_pool_is_built_with_the_same_setting(aws: Any) -> None:
    import os

    import boto3

    pool = boto3.client("cognito-idp", region_name="eu-central-1").describe_user_pool(
        UserPoolId=os.environ["USER_POOL_ID"]
    )["UserPool"]
    assert json.dumps(pool.get("UserAttributeUpdateSettings")) == json.dumps(
        {"AttributesRequireVerificationBeforeUpdate": ["email"]}
    )


# -- R6.2 and R2.7 on DynamoDB (moto): the same conditional writes the fakes model ------------


def test_r6_2_an_abusive_follow_up_flags_the_ticket_once_on_dynamodb(
    api: Api, notices: Any
) -> None:
    anna = make_token("sub-anna", "anna@flowershop.example")
    _, ticket, _ = api.call(
        "POST", "/tickets", token=anna, body={"subject": "Сайт", "text": "Сайт отдаёт 502"}
    )
    path = f"/tickets/{ticket['id']}"
    for text in ("Да вы издеваетесь, уроды!", "Уроды, где ответ?"):
        assert api.call("POST", f"{path}/messages", token=anna, body={"text": text})[0] == 201
    _, stored, _ = api.call("GET", path, token=STAFF)
    assert stored["scope"]["flags"].count("abusive") == 1
    _, queue, _ = api.call("GET", "/staff/queue?flag=abusive", token=STAFF)
    assert [i["id"] for i in queue["items"]] == [ticket["id"]]
    assert [n["ticket_id"] for n in notices.all("abusive_request")] == [ticket["id"]]
    _, events, _ = api.call("GET", f"{path}/events", token=STAFF)
    assert [e["kind"] for e in events["items"]].count("abuse_flagged") == 1


def test_r2_8_staff_solve_needs_the_answer_on_dynamodb(api: Api) -> None:
    anna = make_token("sub-anna", "anna@flowershop.example")
    _, ticket, _ = api.call(
        "POST", "/tickets", token=anna, body={"subject": "FTP", "text": "FTP не работает"}
    )
    path = f"/tickets/{ticket['id']}/status"
    code, error, _ = api.call("PUT", path, token=STAFF, body={"status": "closed"})
    assert (code, error["error"]["code"]) == (409, "answer_required")
    code, closed, _ = api.call(
        "PUT", path, token=STAFF, body={"status": "closed", "text": "Починили, закрываем."}
    )
    assert (code, closed["status"], closed["sla"]["state"]) == (200, "closed", "met")


# -- satisfaction over HTTP (moto) -------------------------------------------------------------


def test_a_customer_rates_a_solved_ticket_and_an_email_sender_through_its_link(
    api: Api, client: Any
) -> None:
    from app import runtime

    anna = make_token("sub-anna", "anna@flowershop.example")
    _, ticket, _ = api.call(
        "POST", "/tickets", token=anna, body={"subject": "FTP", "text": "FTP не работает"}
    )
    path = f"/tickets/{ticket['id']}"
    code, error, _ = api.call("POST", f"{path}/rating", token=anna, body={"score": "good"})
    assert (code, error["error"]["code"]) == (409, "rating_not_open")
    solve = {"status": "solved", "text": "Починили."}
    assert api.call("PUT", f"{path}/status", token=STAFF, body=solve)[0] == 200
    code, error, _ = api.call("POST", f"{path}/rating", token=anna, body={"score": "meh"})
    assert (code, error["error"]["code"]) == (400, "invalid_score")
    code, rated, _ = api.call("POST", f"{path}/rating", token=anna, body={"score": "good"})
    assert code == 200 and rated["rating"]["score"] == "good"

    key, _ = deliver(mail(subject="Тариф", body="Как сменить тариф?"), verdicts=PASS)
    rid = record(key)["id"]
    assert (
        api.call("POST", f"/tickets/{rid}/responses", token=STAFF, body={"text": "Так."})[0] == 201
    )
    assert (
        api.call("PUT", f"/tickets/{rid}/status", token=STAFF, body={"status": "closed"})[0] == 200
    )
    token = runtime().ratings.link_token(rid, datetime.now(UTC))
    page = client.http.get(f"/ratings/{token}?score=bad")
    assert page.status_code == 200 and b'value="bad" checked' in page.body
    assert "script-src" not in page.headers["Content-Security-Policy"]
    assert page.headers["Content-Security-Policy"].startswith("default-src 'none'")
    form = "score=bad&comment=%D0%94%D0%BE%D0%BB%D0%B3%D0%BE"
    done = client.http.post(
        f"/ratings/{token}",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        body=form,
    )
    assert done.status_code == 200 and "Спасибо".encode() in done.body
    stored = runtime().store.tickets.get(rid)
    assert stored is not None and stored.rating is not None
    assert stored.rating["comment"] == "Долго" and "bad_rating" in stored.attention
    assert client.http.get("/ratings/not-a-token").status_code == 404
