"""An alarm watches one metric under one exact dimension set; CloudWatch keeps every
dimension set apart, so an alarm on `{service}` never sees a metric the code emits only
under `{service, where}` (issue 28). Here the code paths that emit the alarmed failure
metrics run for real, their EMF output is read back, and each alarm's metric, namespace
and dimensions must be among what was printed."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from chalice.app import Response

from chalicelib import http, observability as obs
from chalicelib.domain.tickets import AuditEvent, OutboxEntry, Scope, Ticket
from chalicelib.outbound.delivery import Dispatcher
from tests.fakes import MemoryStore
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


@pytest.mark.parametrize(
    ("alarm", "emit"),
    [
        ("UnhandledErrorsAlarm", emit_an_unhandled_error),
        ("NoticeFailuresAlarm", emit_a_notice_failure),
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
