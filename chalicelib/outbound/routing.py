"""Every kind of outbox entry: what it is, who receives it, and who sends it.

The one table the dispatcher is wired from (`runtime.build_runtime`), checked complete
when it is wired: a kind nobody sends would wait in the outbox for ever. Each entry is
written in the same transaction as the change that owes it (`outbound.delivery`), tried
at once by whoever wrote it, and drained by the sweep every minute.
"""

from __future__ import annotations

from collections.abc import Iterable

from chalicelib.values import frozen

ACKNOWLEDGEMENT = "acknowledgement"
CUSTOMER_MAIL = "customer_mail"
SOLVED_MAIL = "solved_notification"
WARNING, BREACH = "sla_warning", "sla_breach"
INCIDENT_BREACH = "incident_breach"
ABUSE_NOTICE = "abusive_request"
NOTIFY = "incident_notify"
AUTO_CLOSE = "auto_close"
MAINTENANCE_CLOCK = "maintenance_clock"


@frozen
class Route:
    kind: str
    what: str
    to: str
    sender: str  # the component that sends it (wired in `runtime`)


ROUTES = (
    Route(
        ACKNOWLEDGEMENT,
        "the acknowledgement of an e-mail (advisory, points to the cabinet, R1.4)",
        "the e-mail's sender, within a daily allowance; never a robot",
        "outbound.ack.MailAcknowledgements",
    ),
    Route(
        CUSTOMER_MAIL,
        "a staff answer or a delay notice (R2.2, R2.6), or its notification",
        "the customer's verified address",
        "outbound.sender.CustomerMail",
    ),
    Route(
        SOLVED_MAIL,
        "the solved notification with its rating links (R2.8)",
        "the customer's verified address",
        "outbound.solved.SolvedMail",
    ),
    Route(
        WARNING,
        "a deadline about to pass (R2.4)",
        "the escalation topic (on-duty lead)",
        "outbound.notify.Publisher",
    ),
    Route(
        BREACH,
        "a deadline passed (R2.4)",
        "the escalation topic (on-duty lead)",
        "outbound.notify.Publisher",
    ),
    Route(
        INCIDENT_BREACH,
        "breaches of requests linked to one incident, grouped (R2.4, R3.3)",
        "the escalation topic (on-duty lead)",
        "status.fanout.IncidentEscalations",
    ),
    Route(
        ABUSE_NOTICE,
        "an abusive request (R6.2)",
        "the management topic",
        "outbound.notify.Publisher",
    ),
    Route(
        NOTIFY,
        "an incident update, as an answer to every linked request (R3.3)",
        "each linked request's customer (through CUSTOMER_MAIL)",
        "status.fanout.IncidentNotifier",
    ),
    Route(
        AUTO_CLOSE,
        "the close of a solved ticket when its days are up (R2.8)",
        "nobody: the ticket itself",
        "lifecycle.Lifecycle.auto_close",
    ),
    Route(
        MAINTENANCE_CLOCK,
        "the start or the end of a maintenance window, due at its time (R3.3)",
        "nobody: the window itself, as the status page shows it",
        "status.board.StatusBoard.move_window",
    ),
)
KINDS = tuple(route.kind for route in ROUTES)


def unrouted(registered: Iterable[str]) -> list[str]:
    """The kinds in the table that have no sender among `registered`."""
    have = set(registered)
    return [kind for kind in KINDS if kind not in have]
