"""Scope on cabinet tickets: abuse notices (R6.2) and staff corrections."""

from __future__ import annotations

import os
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib.config import Settings
from chalicelib.runtime import aws_services, build_runtime
from tests.conftest import Api, Notices, make_token

CUST = make_token("sub-rude", "rude@example.com")
STAFF = make_token("sub-agent", "agent@example.com", "[staff]")
RUDE = {"subject": "Достали", "text": "Вы там все дебилы? Почта опять не работает!"}


def test_r6_2_abusive_ticket_is_accepted_flagged_and_management_told_once(
    api: Api, notices: Notices
) -> None:
    status, ticket, _ = api.call("POST", "/tickets", token=CUST, body=RUDE)
    assert status == 201  # never refused automatically
    assert ticket["scope"]["label"] == "outage"
    assert "abusive" in ticket["scope"]["flags"]
    sent = notices.all("abusive_request")
    assert len(sent) == 1
    assert sent[0]["ticket_id"] == ticket["id"] and sent[0]["rule"] == "R6.2"
    assert any(e["match"] == "дебилы" for e in sent[0]["evidence"])
    # Nothing more is owed: later sweeps send nothing again.
    from app import runtime

    runtime().sweeper.run(datetime.now(UTC) + timedelta(minutes=10))
    assert len(notices.all("abusive_request")) == 1


def test_r6_2_polite_ticket_sends_no_notice(api: Api, notices: Notices) -> None:
    api.call("POST", "/tickets", token=CUST, body={"subject": "Q", "text": "Как сменить тариф?"})
    assert notices.all("abusive_request") == []


def test_r6_2_a_notice_that_cannot_be_sent_does_not_lose_the_ticket(
    aws: Any, notices: Notices
) -> None:
    class Down:
        def publish(self, topic_arn: str, kind: str, message: dict) -> None:
            raise ConnectionError("SNS unreachable")

    from chalicelib.domain.identity import Principal
    from chalicelib.intake.cabinet import NewTicket

    settings = Settings.from_env(os.environ)
    rt = build_runtime(settings, services=replace(aws_services(settings), publisher=Down()))
    who = Principal("sub-rude", None, frozenset())
    body, _ = rt.cabinet.create_ticket(
        who, NewTicket(subject=RUDE["subject"], text=RUDE["text"]), None
    )
    assert rt.store.tickets.get(body["id"]) is not None
    # The notice stays owed in the outbox: the next sweep, with SNS back, delivers it once.
    later = datetime.now(UTC) + timedelta(minutes=5)
    ok = build_runtime(Settings.from_env(os.environ))
    ok.sweeper.run(later)
    ok.sweeper.run(later + timedelta(minutes=5))
    assert [n["ticket_id"] for n in notices.all("abusive_request")] == [body["id"]]


def test_staff_scope_correction_is_kept_beside_the_classifier_answer(api: Api) -> None:
    _, ticket, _ = api.call(
        "POST", "/tickets", token=CUST, body={"subject": "Вопрос", "text": "Как сменить тариф?"}
    )
    assert ticket["scope"]["label"] == "consultation"
    status, corrected, _ = api.call(
        "PUT",
        f"/tickets/{ticket['id']}/scope",
        token=STAFF,
        body={"label": "out_of_scope", "sub": "self_service"},
    )
    assert status == 200
    assert corrected["scope"]["label"] == "consultation"  # the classifier's answer stays
    assert corrected["scope_correction"]["label"] == "out_of_scope"
    assert corrected["scope_correction"]["sub"] == "self_service"
    assert corrected["scope_correction"]["by"] == "sub-agent"
    assert corrected["scope_correction"]["classifier"] == {"label": "consultation", "sub": None}
    _, seen, _ = api.call("GET", f"/tickets/{ticket['id']}", token=CUST)
    # The customer sees the scope as it stands, and nothing of staff: not who corrected it,
    # not the classifier's answer it replaced, not that answer's evidence.
    assert seen["scope"] == {
        "label": "out_of_scope",
        "sub": "self_service",
        "flags": [],
        "evidence": [],
    }
    assert "scope_correction" not in seen and "sub-agent" not in str(seen)


def test_corrections_are_exported_as_labelled_cases_for_the_classifier_benchmark(
    api: Api,
) -> None:
    from app import runtime

    _, ticket, _ = api.call(
        "POST", "/tickets", token=CUST, body={"subject": "Вопрос", "text": "Как сменить тариф?"}
    )
    api.call(
        "PUT",
        f"/tickets/{ticket['id']}/scope",
        token=STAFF,
        body={"label": "out_of_scope", "sub": "self_service"},
    )
    [case] = list(runtime().store.tickets.corrections())
    assert (case["id"], case["text"], case["label"], case["sub"]) == (
        ticket["id"],
        "Как сменить тариф?",
        "out_of_scope",
        "self_service",
    )
    assert case["classifier"] == {"label": "consultation", "sub": None}


def test_staff_scope_correction_validates_label_and_sub(api: Api) -> None:
    _, ticket, _ = api.call("POST", "/tickets", token=CUST, body={"subject": "s", "text": "t"})
    path = f"/tickets/{ticket['id']}/scope"
    for body, code in [
        ({"label": "urgent"}, "invalid_label"),
        ({"label": "outage", "sub": "toaster"}, "invalid_sub"),
        ({"label": "consultation", "sub": "email"}, "invalid_sub"),
        ({"label": "outage", "why": "x"}, "unknown_field"),
    ]:
        status, answer, _ = api.call("PUT", path, token=STAFF, body=body)
        assert status == 400 and answer["error"]["code"] == code, body
    status, answer, _ = api.call(
        "PUT", "/tickets/T-NONE000/scope", token=STAFF, body={"label": "outage"}
    )
    assert status == 404
