"""The response-time rule (R2): deadlines, delay notices, the sweep, escalation."""

from __future__ import annotations

import os
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib.config import Settings
from chalicelib.domain.identity import Principal
from chalicelib.errors import Forbidden, InvalidInput
from chalicelib.intake.cabinet import NewTicket
from chalicelib.runtime import Runtime, aws_services, build_runtime
from chalicelib.staff.forms import parse_delay_notice_request
from chalicelib.staff.queries import QueueFilter
from tests.conftest import Api, Notices, make_token

T0 = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)  # 06:00 in Moscow: R1.2, tickets are 24/7
CUSTOMER = Principal("sub-cust", "cust@example.com", frozenset())
AGENT = Principal("sub-agent", "agent@example.com", frozenset({"staff"}))


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
def rt(aws: Any, clock: Clock) -> Runtime:
    return build_runtime(Settings.from_env(os.environ), clock=clock)


def open_ticket(rt: Runtime, text: str = "Почта не работает с утра") -> str:
    body, _ = rt.cabinet.create_ticket(CUSTOMER, NewTicket(subject="Почта", text=text), None)
    return str(body["id"])


def sla(rt: Runtime, ticket_id: str) -> dict:
    ticket = rt.store.tickets.get(ticket_id)
    assert ticket is not None and ticket.sla is not None
    return ticket.sla.to_dict() | {"warned_at": ticket.sla.warned_at}


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def test_r2_4_untouched_at_44_warned_at_46_breached_once_at_61(
    rt: Runtime, notices: Notices
) -> None:
    ticket = open_ticket(rt)
    assert rt.sweeper.run(at(44)).warned == []
    assert sla(rt, ticket)["state"] == "pending"

    report = rt.sweeper.run(at(46))
    assert report.warned == [ticket]
    assert sla(rt, ticket)["state"] == "warned"
    assert [n["ticket_id"] for n in notices.all("sla_warning")] == [ticket]

    report = rt.sweeper.run(at(61))
    assert report.breached == [ticket] and report.escalated == [ticket]
    state = sla(rt, ticket)
    assert state["state"] == "breached" and state["breached_at"] == at(61).isoformat(
        timespec="milliseconds"
    )
    escalations = notices.all("sla_breach")
    assert len(escalations) == 1
    assert escalations[0]["ticket_id"] == ticket
    assert escalations[0]["customer"] == "sub-cust"
    assert escalations[0]["scope"] == {"label": "outage", "sub": "email"}
    assert escalations[0]["minutes_late"] == 1.0

    again = rt.sweeper.run(at(62))
    assert again.breached == [] and again.items_read == 0
    assert len(notices.all("sla_breach")) == 1


def test_r2_4_a_sweep_after_the_deadline_breaches_without_warning_first(
    rt: Runtime, notices: Notices
) -> None:
    ticket = open_ticket(rt)
    report = rt.sweeper.run(at(90))
    assert report.breached == [ticket] and report.warned == []
    assert len(notices.all("sla_breach")) == 1


def test_r2_4_two_overlapping_sweeps_escalate_each_breach_once(
    rt: Runtime, notices: Notices, clock: Clock
) -> None:
    """Sweep A reads the due deadlines, sweep B runs to the end, then A acts on what it read.

    That is the window in which overlapping sweeps race; the conditional writes must let
    exactly one of them breach and escalate each ticket. (moto's in-process backend is
    not atomic across threads, so the interleaving is made explicit rather than threaded.)
    """
    tickets = sorted(open_ticket(rt) for _ in range(12))
    deadlines = rt.store.deadlines
    # What sweep A reads before sweep B runs: its view is stale by the time it acts.
    stale_due = list(deadlines.due(at(61), timedelta(minutes=15)))
    other = build_runtime(Settings.from_env(os.environ), clock=clock)
    report_b = other.sweeper.run(at(61))
    deadlines.due = lambda now, warning: iter(stale_due)  # type: ignore[method-assign]
    report_a = rt.sweeper.run(at(61))

    assert sorted(report_b.breached) == tickets
    assert report_a.items_read == len(tickets)  # A saw them all due ...
    assert report_a.breached == [] and report_a.escalated == []  # ... and lost every race
    assert sorted(n["ticket_id"] for n in notices.all("sla_breach")) == tickets


def test_r2_4_a_retried_sweep_changes_nothing(rt: Runtime, notices: Notices) -> None:
    tickets = sorted(open_ticket(rt) for _ in range(3))
    assert sorted(rt.sweeper.run(at(61)).breached) == tickets
    retry = rt.sweeper.run(at(61))
    assert retry.breached == [] and retry.escalated == []
    assert len(notices.all("sla_breach")) == 3


def test_r2_2_delay_notice_at_30_with_eta_3h_prevents_the_breach_then_breaches_after_eta(
    rt: Runtime, notices: Notices, clock: Clock
) -> None:
    ticket = open_ticket(rt)
    clock.now = at(30)
    eta = at(180)
    rt.desk.post_delay_notice(
        AGENT,
        ticket,
        parse_delay_notice_request(
            {"reason": "Waiting for the datacentre", "eta": eta.isoformat()}
        ),
    )
    state = sla(rt, ticket)
    assert state["state"] == "delayed"
    assert state["due_at"] == eta.isoformat(timespec="milliseconds")
    assert state["first_response_at"] == at(30).isoformat(timespec="milliseconds")

    assert rt.sweeper.run(at(61)).breached == []
    assert notices.all("sla_breach") == []
    assert rt.sweeper.run(at(166)).warned == [ticket]
    assert sla(rt, ticket)["state"] == "delayed"  # still delayed, now with a warning
    report = rt.sweeper.run(at(181))
    assert report.breached == [ticket]
    assert sla(rt, ticket)["state"] == "breached"
    assert [n["ticket_id"] for n in notices.all("sla_breach")] == [ticket]


def test_r2_2_a_staff_response_closes_a_delay(rt: Runtime, clock: Clock) -> None:
    ticket = open_ticket(rt)
    clock.now = at(20)
    rt.desk.post_delay_notice(
        AGENT,
        ticket,
        parse_delay_notice_request({"reason": "Checking", "eta": at(120).isoformat()}),
    )
    clock.now = at(100)
    rt.desk.respond(AGENT, ticket, "Fixed: the mail queue is flowing again.")
    state = sla(rt, ticket)
    assert state["state"] == "met"
    assert state["first_response_at"] == at(20).isoformat(timespec="milliseconds")
    assert rt.sweeper.run(at(200)).items_read == 0


def test_r2_1_first_response_in_time_is_met_and_leaves_the_sweep(rt: Runtime, clock: Clock) -> None:
    ticket = open_ticket(rt)
    clock.now = at(10)
    rt.desk.respond(AGENT, ticket, "Looking into it.")
    state = sla(rt, ticket)
    assert state["state"] == "met"
    assert state["first_response_at"] == at(10).isoformat(timespec="milliseconds")
    assert rt.sweeper.run(at(61)).items_read == 0
    assert rt.store.tickets.get(ticket).status == "answered"


def test_r2_4_a_response_after_a_breach_keeps_breached_and_records_the_response(
    rt: Runtime, clock: Clock
) -> None:
    ticket = open_ticket(rt)
    rt.sweeper.run(at(61))
    clock.now = at(75)
    rt.desk.respond(AGENT, ticket, "Sorry for the wait.")
    state = sla(rt, ticket)
    assert state["state"] == "breached"
    assert state["breached_at"] == at(61).isoformat(timespec="milliseconds")
    assert state["first_response_at"] == at(75).isoformat(timespec="milliseconds")
    assert rt.desk.queue(AGENT, 50, None, QueueFilter())["items"] == []


def test_r2_customer_follow_ups_do_not_restart_the_clock(rt: Runtime, clock: Clock) -> None:
    ticket = open_ticket(rt)
    clock.now = at(50)
    rt.cabinet.add_message(CUSTOMER, ticket, "Any news?")
    assert rt.sweeper.run(at(61)).breached == [ticket]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"eta": "2026-11-24T10:00:00+00:00"}, "reason_required"),
        ({"reason": "  ", "eta": "2026-11-24T10:00:00+00:00"}, "reason_required"),
        ({"reason": "busy", "eta": "2026-11-24T02:00:00+00:00"}, "eta_in_past"),
        ({"reason": "busy", "eta": "2026-11-24T10:00:00"}, "invalid_eta"),
        ({"reason": "busy"}, "eta_required"),
        ({"reason": "busy", "eta": "2026-11-24T10:00:00+00:00", "x": 1}, "unknown_field"),
    ],
)
def test_r2_2_delay_notice_needs_a_reason_and_a_future_eta(
    rt: Runtime, body: dict, code: str
) -> None:
    ticket = open_ticket(rt)
    with pytest.raises(InvalidInput) as caught:
        rt.desk.post_delay_notice(AGENT, ticket, parse_delay_notice_request(body))
    assert caught.value.code == code
    assert sla(rt, ticket)["state"] == "pending"


def test_customers_cannot_use_the_staff_desk(rt: Runtime) -> None:
    ticket = open_ticket(rt)
    with pytest.raises(Forbidden):
        rt.desk.respond(CUSTOMER, ticket, "I answer myself")
    with pytest.raises(Forbidden):
        rt.desk.queue(CUSTOMER, 10, None, QueueFilter())


def test_staff_queue_is_most_urgent_first_with_breaches_leading_and_paginates(
    rt: Runtime, clock: Clock
) -> None:
    first = open_ticket(rt)
    clock.now = at(5)
    second = open_ticket(rt)
    clock.now = at(10)
    third = open_ticket(rt)
    rt.sweeper.run(at(62))  # breaches `first` and `second` only... not third (due at 70)
    clock.now = at(63)
    late = open_ticket(rt)
    order: list[str] = []
    token = None
    while True:
        page = rt.desk.queue(AGENT, 2, token, QueueFilter())
        order += [t["id"] for t in page["items"]]
        token = page["next"]
        if token is None:
            break
    assert order == [first, second, third, late]


def test_open_official_gauge_follows_tickets_waiting_for_staff(rt: Runtime, clock: Clock) -> None:
    tickets = [open_ticket(rt) for _ in range(3)]
    assert rt.sweeper.run(at(1)).open_official == 3
    clock.now = at(2)
    rt.desk.respond(AGENT, tickets[0], "On it")
    assert rt.sweeper.run(at(3)).open_official == 2


def test_a_failed_escalation_is_parked_and_retried_by_the_next_sweep(
    aws: Any, clock: Clock, notices: Notices
) -> None:
    class Flaky:
        def __init__(self) -> None:
            self.fail = True
            self.sent: list[tuple[str, dict]] = []

        def publish(self, topic_arn: str, kind: str, message: dict) -> None:
            if self.fail and kind == "sla_breach":
                raise ConnectionError("SNS unreachable")
            self.sent.append((kind, message))

    flaky = Flaky()
    settings = Settings.from_env(os.environ)
    services = replace(aws_services(settings), publisher=flaky)
    rt = build_runtime(settings, clock=clock, services=services)
    ticket = open_ticket(rt)
    report = rt.sweeper.run(at(61))
    assert report.breached == [ticket] and report.parked == [ticket] and report.escalated == []
    flaky.fail = False
    report = rt.sweeper.run(at(62))
    assert report.escalated == [ticket] and report.breached == []
    assert [m["ticket_id"] for k, m in flaky.sent if k == "sla_breach"] == [ticket]
    assert rt.sweeper.run(at(63)).escalated == []
    # A parked breach is still answerable.
    clock.now = at(64)
    rt.desk.respond(AGENT, ticket, "Here now")
    assert sla(rt, ticket)["first_response_at"] is not None


def test_advisory_requests_never_get_a_deadline(rt: Runtime) -> None:
    from chalicelib.errors import Conflict

    ticket = rt.store.tickets.get(open_ticket(rt))
    assert ticket is not None and ticket.official  # cabinet tickets do (R1.4)
    # Advisory records (e-mail, chat) are created without an Sla; the desk refuses notices.
    from dataclasses import replace

    from chalicelib.domain.tickets import AuditEvent
    from chalicelib.ids import new_event_id

    advisory = replace(ticket, id="T-ADVISRY", channel="email", official=False, sla=None)
    rt.store.tickets.create(
        advisory, AuditEvent(new_event_id(), advisory.id, "created", "test", advisory.created_at)
    )
    with pytest.raises(Conflict):
        rt.desk.post_delay_notice(
            AGENT,
            advisory.id,
            parse_delay_notice_request({"reason": "r", "eta": at(300).isoformat()}),
        )
    assert rt.sweeper.run(at(600)).breached == [ticket.id]


STAFF = make_token("sub-agent", "agent@example.com", ["staff"])
CUST = make_token("sub-cust", "cust@example.com")


def test_http_staff_routes_refuse_customers_with_403(api: Api) -> None:
    _, ticket, _ = api.call("POST", "/tickets", token=CUST, body={"subject": "s", "text": "t"})
    for method, path, body in [
        ("GET", "/staff/queue", None),
        ("POST", f"/tickets/{ticket['id']}/responses", {"text": "x"}),
        (
            "POST",
            f"/tickets/{ticket['id']}/delay-notices",
            {"reason": "r", "eta": "2099-01-01T00:00:00+00:00"},
        ),
        ("PUT", f"/tickets/{ticket['id']}/scope", {"label": "consultation"}),
    ]:
        status, answer, _ = api.call(method, path, token=CUST, body=body)
        assert status == 403, (path, answer)
        assert answer["error"]["code"] == "staff_only"


def test_http_staff_answer_and_delay_notice_are_visible_to_the_customer(api: Api) -> None:
    _, ticket, _ = api.call(
        "POST", "/tickets", token=CUST, body={"subject": "MySQL", "text": "MySQL не отвечает"}
    )
    status, queue, _ = api.call("GET", "/staff/queue", token=STAFF)
    assert status == 200 and [t["id"] for t in queue["items"]] == [ticket["id"]]
    eta = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    status, _, _ = api.call(
        "POST",
        f"/tickets/{ticket['id']}/delay-notices",
        token=STAFF,
        body={"reason": "Restoring from backup", "eta": eta},
    )
    assert status == 201
    status, answer, _ = api.call(
        "POST", f"/tickets/{ticket['id']}/responses", token=STAFF, body={"text": "Done."}
    )
    assert status == 201 and answer["author"] == "staff"
    _, thread, _ = api.call("GET", f"/tickets/{ticket['id']}", token=CUST)
    assert [d["reason"] for d in thread["delay_notices"]] == ["Restoring from backup"]
    assert [m["author"] for m in thread["messages"]] == ["staff"]
    assert thread["sla"]["state"] == "met" and thread["status"] == "answered"
    status, body, _ = api.call(
        "POST",
        f"/tickets/{ticket['id']}/delay-notices",
        token=STAFF,
        body={"reason": "", "eta": eta},
    )
    assert status == 400 and body["error"]["code"] == "reason_required"


def test_a_sweep_from_the_command_line_sends_its_metrics_to_cloudwatch(
    aws: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The warnings and breaches of a time-travel session count as the scheduled
    sweep's do (its EMF goes to CloudWatch with PutMetricData, not nowhere)."""
    import json

    import boto3

    from app import runtime
    from chalicelib import observability as obs
    from devtools.cli import sla_sweep

    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    owner = Principal("sub-cli", "cli@example.com", frozenset())
    runtime().cabinet.open_ticket(owner, NewTicket("Почта", "Почта не работает"))
    later = (datetime.now(UTC) + timedelta(minutes=61)).isoformat()
    # The environment names a table (here moto's): time travel must name it too (issue 28).
    assert sla_sweep(later, stack=None) == 2
    assert sla_sweep(later, stack=None, allowed_on=os.environ["SUPPORT_TABLE_NAME"]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert len(report["breached"]) == 1
    listed = boto3.client("cloudwatch", region_name="eu-central-1").list_metrics(
        Namespace=obs.metrics.namespace
    )["Metrics"]
    names = {m["MetricName"] for m in listed}
    assert {"SlaBreached", "SweepRuns", "OpenOfficialTickets"} <= names


def test_r2_9_a_breach_notice_is_a_message_a_person_can_act_on(
    rt: Runtime, notices: Notices
) -> None:
    ticket_id = open_ticket(rt, "Почта не работает с утра")
    rt.sweeper.run(at(61))
    [notice] = notices.all("sla_breach")  # the JSON rides along as a message attribute
    assert notice["ticket_id"] == ticket_id and notice["minutes_late"] == 1.0
    [envelope] = [m for m in notices.mails if "breach" in m.get("Subject", "")]
    assert envelope["Subject"] == f"SLA breach: {ticket_id} is 1 min late"
    body = envelope["Message"]
    for line in (
        "Subject:  Почта",
        "Channel:  cabinet",
        f"/console/#/requests/{ticket_id}",
        "(Europe/Moscow, MSK)",
    ):
        assert line in body, body
    assert envelope["MessageAttributes"]["kind"]["Value"] == "sla_breach"


def test_the_sla_report_on_dynamodb_counts_what_happened(
    rt: Runtime, clock: Clock, api: Api
) -> None:
    """The counters the events update in their own transactions, read back by Query."""
    first, second, third = (open_ticket(rt) for _ in range(3))
    clock.now = at(10)
    rt.desk.respond(AGENT, first, "Ответ.")
    rt.sweeper.run(at(61))  # breaches the other two
    clock.now = at(70)
    rt.desk.respond(AGENT, second, "Поздний ответ.")
    report = rt.reports.report(AGENT, {"from": "2026-11-24", "to": "2026-11-24"})
    [row] = report["rows"]
    assert (row["period"], row["group"]) == ("2026-11-24", "cabinet")
    assert (row["received"], row["first_responses"], row["within_target"]) == (3, 2, 1)
    assert row["within_target_share"] == 0.5 and row["breaches"] == 2
    assert row["first_response_minutes"] == {"median": 10, "p90": 70}
    by_agent = rt.reports.report(
        AGENT, {"from": "2026-11-24", "to": "2026-11-24", "group": "agent"}
    )
    assert {r["group"]: r["first_responses"] for r in by_agent["rows"]} == {AGENT.sub: 2}
    assert third
    staff = make_token("sub-agent", "agent@example.com", ["staff"])
    code, body, _ = api.call("GET", "/staff/reports/sla?by=week&group=label", token=staff)
    assert code == 200 and body["by"] == "week" and body["timezone"] == "Europe/Moscow"
    anna = make_token("sub-anna", "anna@flowershop.example")
    assert api.call("GET", "/staff/reports/sla", token=anna)[0] == 403
    code, body, _ = api.call("GET", "/staff/reports/sla?by=year", token=staff)
    assert (code, body["error"]["code"]) == (400, "invalid_by")
