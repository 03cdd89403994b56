"""What the on-duty channel is told about a deadline (R2.4), as outbox entries."""

from __future__ import annotations

from datetime import datetime

from chalicelib.domain.tickets import OutboxEntry, Sla, Ticket
from chalicelib.outbound.delivery import entry_for
from chalicelib.outbound.routing import BREACH, INCIDENT_BREACH, WARNING
from chalicelib.timeutil import parse_iso, to_iso


def _payload(ticket: Ticket, sla: Sla, now: datetime) -> dict[str, object]:
    due_at = sla.due_at
    late = (now - parse_iso(due_at)).total_seconds() / 60 if due_at else 0.0
    return {
        "ticket_id": ticket.id,
        "customer": ticket.customer,
        "customer_email": ticket.customer_email,
        "subject": ticket.subject,
        "channel": ticket.channel,
        "scope": {"label": ticket.scope.label, "sub": ticket.scope.sub},
        "due_at": due_at,
        "minutes_late": round(max(late, 0.0), 1),
        "minutes_left": round(max(-late, 0.0), 1),
        "rule": "R2.4",
    }


def warning_notice(ticket: Ticket, sla: Sla, now: datetime) -> OutboxEntry:
    """R2.4: the deadline `sla.due_at` is near."""
    return entry_for(WARNING, ticket.id, str(sla.due_at), _payload(ticket, sla, now), to_iso(now))


def breach_notice(ticket: Ticket, sla: Sla, now: datetime) -> OutboxEntry:
    """R2.4: the deadline `sla.due_at` was missed: one escalation per breach. The entry
    is keyed by the deadline alone, so whoever owes it can hand the same entry over."""
    due_at = str(sla.due_at)
    payload = _payload(ticket, sla, now)
    if ticket.incident:  # R3.3: escalated once for the incident, not once per request
        payload["incident"] = ticket.incident
        return entry_for(INCIDENT_BREACH, ticket.id, due_at, payload, due_at)
    return entry_for(BREACH, ticket.id, due_at, payload, due_at)
