"""Where a request waits in the one staff queue (API.md, `GET /staff/queue`).

A request is in the queue while it is `open`: staff owe it something. Its position is a
sort key, so that one index read in key order gives the queue's order:

| tier | requests                                           | then by         |
|------|----------------------------------------------------|-----------------|
| 0    | official, deadline breached and still unanswered   | due time        |
| 1    | official, deadline running (first answer, R2.5)    | due time        |
| 2    | everything else waiting: advisory records, an      | waiting since   |
|      | official ticket staff reopened without a deadline  | (oldest first)  |
"""

from __future__ import annotations

from typing import Any

from chalicelib.domain.clock import Duty, duty
from chalicelib.domain.tickets import Sla, Ticket

BREACHED, RUNNING, WAITING = "0", "1", "2"


def queue_position(ticket: Ticket) -> str | None:
    """`<tier>#<instant>` while the request waits for staff; None when it does not."""
    if ticket.status != "open":
        return None
    if ticket.origin is not None and ticket.origin.disposition != "advisory":
        return None  # machine mail, duplicates, quarantine and joined replies: no one waits
    running = clock_position(ticket.sla) if ticket.official else None
    return running or f"{WAITING}#{waiting_since(ticket)}"


def clock_position(sla: Sla | None) -> str | None:
    """The position of a request whose deadline runs (it is then `open`); else None."""
    owed = duty(sla)
    if owed is None or sla is None or not sla.due_at:
        return None
    return f"{BREACHED if owed is Duty.ANSWER else RUNNING}#{sla.due_at}"


def waiting_since(ticket: Ticket) -> str:
    """When the customer began the wait staff still owe an answer to."""
    if ticket.official and ticket.sla is not None and duty(ticket.sla) is not None:
        return ticket.sla.started_at or ticket.created_at
    return ticket.waiting_since or ticket.created_at


def queue_label(ticket: Ticket) -> str:
    """The label staff filter by: their correction, if they made one."""
    corrected = (ticket.scope_correction or {}).get("label")
    return str(corrected) if corrected else ticket.scope.label


def queue_item(ticket: Ticket) -> dict[str, Any]:
    """A request as a line of the queue or of search results (API.md, "Working as a
    team"): who, what, where it stands; no text and no evidence (the request has them)."""
    item: dict[str, Any] = {
        "id": ticket.id,
        "channel": ticket.channel,
        "official": ticket.official,
        "status": ticket.status,
        "subject": ticket.subject,
        "created_at": ticket.created_at,
        "customer": ticket.customer,
        "scope": {
            "label": ticket.scope.label,
            "sub": ticket.scope.sub,
            "flags": list(ticket.scope.flags),
        },
        # The clock as the queue shows it; the request itself has the whole of it.
        "sla": {k: ticket.sla.to_dict()[k] for k in ("state", "due_at", "started_at")}
        if ticket.sla
        else None,
        "waiting_since": waiting_since(ticket),
        "message_count": ticket.message_count,
        "incident": ticket.incident,
        **ticket.team_view(),
    }
    if ticket.scope_correction:
        item["label"] = queue_label(ticket)  # staff corrected the classifier's label
    if ticket.attention:
        item["attention"] = list(ticket.attention)
    if not ticket.official:
        item["from_addr"] = ticket.customer_email
    return item
