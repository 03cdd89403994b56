"""Logger, Metrics and Tracer, created once; every metric name lives here."""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from collections.abc import Iterator

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricResolution, MetricUnit, single_metric
from aws_lambda_powertools.metrics.functions import is_metrics_disabled
from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import (
    AmazonCloudWatchEMFProvider,
)

SERVICE = "support-intake"
DEFAULT_NAMESPACE = "SupportIntake"


class SharedByThreads(AmazonCloudWatchEMFProvider):
    """Powertools' metric set, added to and flushed one thread at a time.

    Lambda runs one invocation at a time in a process, but an invocation may add from
    several threads (the outbox drain's eight senders count `DeliveriesGivenUp`, which
    an alarm watches), and the local stack serves requests on threads at once. Without
    the lock, two first adds of one metric kept one value, and a flush walking the set
    while another thread added to it raised (a 500 on any route of the local stack).
    A flush may publish what another thread's invocation added: the totals are right,
    and a metric carries no request of its own."""

    def __init__(self, namespace: str, service: str) -> None:
        super().__init__(namespace=namespace, service=service)
        self._lock = threading.RLock()

    def add_metric(
        self,
        name: str,
        unit: MetricUnit | str,
        value: float,
        resolution: MetricResolution | int = 60,
    ) -> None:
        with self._lock:
            super().add_metric(name=name, unit=unit, value=value, resolution=resolution)

    def flush_metrics(self, raise_on_empty_metrics: bool = False) -> None:
        with self._lock:
            # Found empty, another thread's flush published what this one added: no
            # warning that the invocation had nothing to publish.
            if self.metric_set or raise_on_empty_metrics:
                super().flush_metrics(raise_on_empty_metrics=raise_on_empty_metrics)


logger = Logger(service=SERVICE)
# Lambda has POWERTOOLS_METRICS_NAMESPACE at import; chalice local and its test client
# apply the stage's variables only per call, after this module is imported.
metrics = Metrics(
    provider=SharedByThreads(
        namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or DEFAULT_NAMESPACE,
        service=SERVICE,
    )
)
tracer = Tracer(service=SERVICE)

# Metric names: dashboards and alarms in infrastructure/ are built on these.
TICKETS_CREATED = "TicketsCreated"
IDEMPOTENT_REPLAYS = "IdempotentReplays"
REQUESTS_REJECTED = "RequestsRejected"
SCOPE_LABELLED = "ScopeLabelled"
SCOPE_CORRECTED = "ScopeCorrected"
ABUSE_NOTICES = "AbuseNotices"
NOTICE_FAILURES = "NoticeFailures"
FIRST_RESPONSE_MINUTES = "FirstResponseMinutes"
SLA_WARNED = "SlaWarned"
SLA_BREACHED = "SlaBreached"
ESCALATIONS_PARKED = "EscalationsParked"
DELAY_NOTICE_POSTED = "DelayNoticePosted"
OPEN_OFFICIAL_TICKETS = "OpenOfficialTickets"
SWEEP_RUNS = "SweepRuns"
ADVISORY_RECORDED = "AdvisoryRecorded"
TICKET_RECOMMENDED = "TicketRecommended"
OUTSIDE_HOURS = "OutsideHours"
MACHINE_MAIL = "MachineMailSuppressed"
MAIL_QUARANTINED = "MailQuarantined"
MAIL_DUPLICATES = "MailDuplicates"
MAIL_REPLIES = "MailReplies"
ACKS_SENT = "AcksSent"
ACKS_RATE_LIMITED = "AcksRateLimited"
MAIL_FAILED = "MailFailed"  # inbound (no dimension); outbound by `kind`
MAIL_SENT = "MailSent"
UNHANDLED_ERRORS = "UnhandledErrors"
IMPORTS_REJECTED = "ImportsRejected"
DELIVERIES_GIVEN_UP = "DeliveriesGivenUp"
STATUS_CHANGED = "StatusChanged"
ATTACHMENTS_CHECKED = "AttachmentsChecked"
INCIDENTS_OPENED = "IncidentsOpened"
INCIDENT_LINKED_REQUESTS = "IncidentLinkedRequests"
INCIDENT_UPDATES_SENT = "IncidentUpdatesSent"
ESCALATIONS_GROUPED = "EscalationsGrouped"  # breach escalations suppressed by an incident
FREE_ADMIN_REQUESTS = "FreeAdminRequests"  # by kind and possible (R5.1, R5.2)
QUOTES = "Quotes"  # by step: proposed, accepted, declined, refused (with a refund)
RATINGS = "Ratings"  # customers' ratings of a solved request, by score
# One per invocation, so every flush has something to publish.
API_REQUESTS = "ApiRequests"
MAIL_NOTIFICATIONS = "MailNotifications"


def count(name: str, value: float = 1, **dimensions: str) -> None:
    """Count something that happened; with extra dimensions it is emitted on its own."""
    _emit(name, MetricUnit.Count, value, dimensions)


def mail_failed(kind: str) -> None:
    """An outbound mail failed for good: by kind for the dashboard, and in total for
    the alarm (`direction=outbound`; the inbound MailFailed has no dimension)."""
    count(MAIL_FAILED, kind=kind)
    count(MAIL_FAILED, direction="outbound")


def unhandled(where: str) -> None:
    """A bug caught so that nothing is lost (an API call, a mail, a sweep): by where for
    the dashboard, and in total for `UnhandledErrorsAlarm`, which watches the metric
    with the service's dimension only (CloudWatch keeps each dimension set apart)."""
    count(UNHANDLED_ERRORS, where=where)
    count(UNHANDLED_ERRORS)


def notice_failed(kind: str) -> None:
    """A delivery of the outbox failed (to be retried): by kind, and in total for
    `NoticeFailuresAlarm`."""
    count(NOTICE_FAILURES, kind=kind)
    count(NOTICE_FAILURES)


def measure(name: str, value: float, **dimensions: str) -> None:
    """Emit one measurement (no unit: minutes, items)."""
    _emit(name, MetricUnit.NoUnit, value, dimensions)


_Counted = tuple[str, MetricUnit, float, dict[str, str]]
_gathered = threading.local()  # the `together` block a thread is in, if any


@contextlib.contextmanager
def together() -> Iterator[None]:
    """The metrics with dimensions of their own counted in the block leave at its end in
    as few EMF documents as their dimensions allow, not one each: a new request's
    `TicketsCreated` by channel and `ScopeLabelled` by channel and label are one log
    event with a directive each (issue 29: each document was a tenth of a millisecond
    of the request's CPU, and a log event CloudWatch bills). CloudWatch extracts the
    same metrics with the same dimensions from it. A block inside another leaves with
    the outer one."""
    if getattr(_gathered, "counted", None) is not None:
        yield
        return
    counted: list[_Counted] = []
    _gathered.counted = counted
    try:
        yield
    finally:
        _gathered.counted = None
        try:
            for document in _documents(counted, metrics.namespace or DEFAULT_NAMESPACE):
                print(json.dumps(document, separators=(",", ":")))
        except Exception:
            logger.exception("could not emit metrics", extra={"metrics": len(counted)})


def _documents(counted: list[_Counted], namespace: str) -> list[dict[str, object]]:
    """EMF documents holding `counted`: each metric in the first whose dimensions agree
    with its own and which does not hold its name yet (a name has one value in a
    document, so a metric counted twice goes in two)."""
    groups: list[tuple[dict[str, object], list[dict[str, object]]]] = []
    for name, unit, value, dimensions in counted:
        group = next(
            (
                (members, directives)
                for members, directives in groups
                if name not in members
                and all(members.get(key, wanted) == wanted for key, wanted in dimensions.items())
            ),
            None,
        )
        if group is None:
            group = ({"service": SERVICE}, [])
            groups.append(group)
        members, directives = group
        directives.append(
            {
                "Namespace": namespace,
                "Dimensions": [["service", *dimensions]],
                "Metrics": [{"Name": name, "Unit": unit.value}],
            }
        )
        members.update(dimensions)
        members[name] = [float(value)]
    stamp = int(time.time() * 1000)
    return [
        {"_aws": {"Timestamp": stamp, "CloudWatchMetrics": directives}, **members}
        for members, directives in groups
    ]


def _emit(name: str, unit: MetricUnit, value: float, dimensions: dict[str, str]) -> None:
    # A metric is never worth failing the state change it reports on.
    try:
        if not dimensions:
            # Batched with the invocation's other metrics and flushed once by the
            # log_metrics middleware (the local workers flush themselves).
            metrics.add_metric(name=name, unit=unit, value=value)
            return
        if is_metrics_disabled():  # single_metric does not check this switch itself
            return
        counted = getattr(_gathered, "counted", None)
        if counted is not None:
            counted.append((name, unit, value, dimensions))
            return
        # Other dimensions than the service's need their own EMF document.
        with single_metric(
            name=name,
            unit=unit,
            value=value,
            namespace=metrics.namespace,
            default_dimensions={"service": SERVICE},
        ) as metric:
            for key, dim_value in dimensions.items():
                metric.add_dimension(name=key, value=dim_value)
    except Exception:
        logger.exception("could not emit metric", extra={"metric": name})


def flush() -> None:
    """Outside Lambda's middleware (the local stack's workers): publish what was added
    (nothing, and no warning, when nothing was)."""
    metrics.flush_metrics()
