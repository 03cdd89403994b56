"""An alarm watches one metric under one exact dimension set; CloudWatch keeps every
dimension set apart, so an alarm on `{service}` never sees a metric the code emits only
under `{service, where}` (issue 28). Here the code paths that emit the alarmed failure
metrics run for real, their EMF output is read back, and each alarm's metric, namespace
and dimensions must be among what was printed."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from chalice.app import Response

from chalicelib import http, observability as obs
from chalicelib.domain.tickets import AuditEvent, OutboxEntry, Scope, Ticket
from chalicelib.outbound.delivery import Dispatcher
from tests.fakes import MemoryStore, sqs_event
from tests.infrastructure.test_operations import alarms

T0 = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)


def printed(text: str) -> list[tuple[str, str, frozenset[str], dict[str, Any]]]:
    """(namespace, metric, dimension names, document) of every EMF document in `text`."""
    found = []
    for line in text.splitlines():
        if not line.startswith('{"_aws"'):
            continue
        document = json.loads(line)
        for directive in document["_aws"]["CloudWatchMetrics"]:
            for names in directive["Dimensions"]:
                for metric in directive["Metrics"]:
                    found.append(
                        (directive["Namespace"], metric["Name"], frozenset(names), document)
                    )
    return found


def emit_an_unhandled_error() -> None:
    @http.api_view
    def broken() -> Response:
        raise RuntimeError("a bug")

    assert broken().status_code == 500


def emit_a_notice_failure() -> None:
    store = MemoryStore()
    entry = OutboxEntry("test:T-ALARM01:1", "test", "T-ALARM01", {}, T0.isoformat())
    ticket = Ticket(
        "T-ALARM01", "cabinet", True, "open", "s", "t", "", "", "sub", None, Scope("outage")
    )
    store.create(ticket, AuditEvent("E-1", ticket.id, "created", "sub", ""), outbox=[entry])

    def refused(_: OutboxEntry) -> None:
        raise ConnectionError("SNS is down")

    assert Dispatcher(store.outbox, {"test": refused}, lambda: T0).deliver(entry) == "retrying"


def _world_with_a_ticket() -> tuple[Any, str]:
    from chalicelib.domain.identity import Principal
    from chalicelib.intake.cabinet import NewTicket
    from tests.fakes import fake_world

    world = fake_world(T0, accounts={"anna@flowershop.example": "sub-anna"})
    anna = Principal("sub-anna", "anna@flowershop.example", frozenset())
    body, _ = world.runtime.cabinet.create_ticket(
        anna, NewTicket(subject="FTP", text="FTP не подключается"), None
    )
    return world, str(body["id"])


def emit_a_breach_and_a_sweep() -> None:
    """SlaBreached and SweepRuns: a sweep an hour and a minute after a ticket."""
    world, _ = _world_with_a_ticket()
    report = world.runtime.sweeper.run(T0 + timedelta(minutes=61))
    assert report.breached


def emit_a_parked_escalation() -> None:
    world, _ = _world_with_a_ticket()
    world.publisher.down = True
    assert world.runtime.sweeper.run(T0 + timedelta(minutes=61)).parked


def emit_a_delivery_given_up() -> None:
    store = MemoryStore()
    # every retry spent
    entry = OutboxEntry("test:T-ALARM02:1", "test", "T-ALARM02", {}, T0.isoformat(), attempts=99)
    ticket = Ticket(
        "T-ALARM02", "cabinet", True, "open", "s", "t", "", "", "sub", None, Scope("outage")
    )
    store.create(ticket, AuditEvent("E-2", ticket.id, "created", "sub", ""), outbox=[entry])

    def refused(_: OutboxEntry) -> None:
        raise ConnectionError("SES is down")

    assert Dispatcher(store.outbox, {"test": refused}, lambda: T0).deliver(entry) == "given_up"


def emit_an_inbound_mail_failure() -> None:
    from chalicelib.intake.mail.handler import mail_batch

    world, _ = _world_with_a_ticket()
    body = json.dumps(
        {"Message": json.dumps({"receipt": {"action": {"bucketName": "b", "objectKey": "raw/x"}}})}
    )
    failed = mail_batch(sqs_event(body), world.runtime.mail)["batchItemFailures"]
    assert failed  # the raw mail is not there: the record fails and is retried


def emit_an_outbound_mail_failure() -> None:
    from chalicelib.domain.identity import Principal

    world, tid = _world_with_a_ticket()
    agent = Principal("sub-agent", "agent@hosting.example", frozenset({"staff"}))
    world.runtime.desk.respond(agent, tid, "Проверьте ещё раз")
    message_id = str(world.mailer.sent[-1]["Message-ID"])
    assert world.runtime.customer_mail.bounced(
        message_id, "anna@flowershop.example", permanent=True, complaint=False
    )


@pytest.mark.parametrize(
    ("alarm", "emit"),
    [
        ("UnhandledErrorsAlarm", emit_an_unhandled_error),
        ("NoticeFailuresAlarm", emit_a_notice_failure),
        ("SlaBreachedAlarm", emit_a_breach_and_a_sweep),
        ("SweepNotRunningAlarm", emit_a_breach_and_a_sweep),
        ("EscalationsParkedAlarm", emit_a_parked_escalation),
        ("DeliveriesGivenUpAlarm", emit_a_delivery_given_up),
        ("MailFailedAlarm", emit_an_inbound_mail_failure),
        ("OutboundMailFailedAlarm", emit_an_outbound_mail_failure),
    ],
)
def test_the_alarm_watches_a_dimension_set_the_code_prints(
    packaged: dict[str, Any], capsys: pytest.CaptureFixture[str], alarm: str, emit: Any
) -> None:
    watched = alarms(packaged)[alarm]
    emit()
    obs.metrics.flush_metrics()  # what the log_metrics middleware does after a call
    names = frozenset(d["Name"] for d in watched["Dimensions"])
    values = {d["Name"]: d["Value"] for d in watched["Dimensions"]}
    seen = [
        document
        for _namespace, metric, dimensions, document in printed(capsys.readouterr().out)
        if metric == watched["MetricName"] and dimensions == names
    ]
    assert seen, f"{alarm} watches {watched['MetricName']} by {sorted(names)}: never printed"
    assert all(document[name] == value for document in seen for name, value in values.items())


def test_every_alarm_on_our_namespace_is_held_to_what_is_printed(packaged: dict[str, Any]) -> None:
    """No alarm on SupportIntake escapes the test above."""
    ours = {n for n, a in alarms(packaged).items() if a.get("Namespace") == "SupportIntake"}
    held = {
        "UnhandledErrorsAlarm",
        "NoticeFailuresAlarm",
        "SlaBreachedAlarm",
        "SweepNotRunningAlarm",
        "EscalationsParkedAlarm",
        "DeliveriesGivenUpAlarm",
        "MailFailedAlarm",
        "OutboundMailFailedAlarm",
    }
    assert ours == held


def widget_lines(packaged: dict[str, Any]) -> set[tuple[str, tuple[tuple[str, str], ...]]]:
    """(metric, ((dimension, value), ...)) of every dashboard line on our namespace."""
    body = packaged["Resources"]["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    found = set()
    for widget in json.loads(body)["widgets"]:
        for line in widget["properties"].get("metrics", []):
            parts = [p for p in line if not isinstance(p, dict)]
            if parts and parts[0] == "SupportIntake":
                found.add((parts[1], tuple(zip(parts[2::2], parts[3::2], strict=True))))
    return found


def emit_a_desk_day() -> None:
    """Requests on every channel, an answer, a warning, a breach, an incident whose update
    answers its linked requests and whose breaches escalate grouped."""
    from chalicelib.domain.identity import Principal
    from chalicelib.intake.chat import parse_transcript
    from chalicelib.intake.mail.adapter import Notification
    from chalicelib.status.incident_forms import parse_new_incident, parse_update
    from tests.samples import mail

    world, tid = _world_with_a_ticket()
    rt = world.runtime
    agent = Principal("sub-agent", "agent@hosting.example", frozenset({"staff"}))
    world.blobs.write("unit-mail", "raw/1", mail())
    verdicts = dict.fromkeys(("spf", "dkim", "dmarc", "spam", "virus"), "PASS")
    rt.mail.process(Notification("unit-mail", "raw/1", "x@y", verdicts))
    for channel in ("chat", "skype"):
        transcript = {
            "id": f"{channel}-1",
            "channel": channel,
            "started_at": T0.isoformat(),
            "ended_at": (T0 + timedelta(minutes=5)).isoformat(),
            "messages": [{"from": "customer", "at": T0.isoformat(), "text": "Как сменить тариф?"}],
        }
        rt.chat.record(parse_transcript(transcript))
    rt.desk.respond(agent, tid, "Проверьте пароль FTP")
    incident = {
        "kind": "incident",
        "services": ["ftp"],
        "title": "FTP",
        "message": "Разбираемся.",
    }
    made = rt.board.create(agent, parse_new_incident(incident))
    from chalicelib.intake.cabinet import NewTicket

    anna = Principal("sub-anna", "anna@flowershop.example", frozenset())
    for _ in range(2):
        rt.cabinet.create_ticket(anna, NewTicket(subject="FTP", text="FTP не подключается"), None)
    world.clock.now = T0 + timedelta(minutes=50)
    rt.sweeper.run(world.clock.now)  # warnings
    world.clock.now = T0 + timedelta(minutes=61)
    rt.sweeper.run(world.clock.now)  # breaches, grouped under the incident
    update = parse_update({"message": "Работает.", "state": "resolved", "notify": True}, "incident")
    rt.board.post_update(agent, made.id, update)
    rt.sweeper.run(world.clock.now)  # the fan-out's outbox entries


def test_every_dashboard_line_is_a_metric_the_code_prints(
    packaged: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 28: a widget on a dimension set the code never prints stays empty."""
    for emit in (
        emit_a_desk_day,
        emit_a_parked_escalation,
        emit_an_unhandled_error,
        emit_an_inbound_mail_failure,
    ):
        emit()
        obs.metrics.flush_metrics()
    out = capsys.readouterr().out
    printed_lines = {
        (metric, tuple(sorted((name, str(document[name])) for name in dimensions)))
        for _namespace, metric, dimensions, document in printed(out)
    }
    missing = [
        (metric, dims)
        for metric, dims in widget_lines(packaged)
        if (metric, tuple(sorted(dims))) not in printed_lines
        and not (metric == "ScopeLabelled" and _labelled_somewhere(printed_lines, dims))
    ]
    assert missing == []


def _labelled_somewhere(printed_lines: set[Any], dims: tuple[tuple[str, str], ...]) -> bool:
    """A line per scope label: the dimension set is what matters (this day has a few labels)."""
    names = sorted(name for name, _ in dims)
    return any(
        metric == "ScopeLabelled" and sorted(n for n, _ in printed_dims) == names
        for metric, printed_dims in printed_lines
    )
