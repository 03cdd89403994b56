"""R6.2: an abusive request is flagged, never refused, and management is told once.

The notice is an outbox entry written with the request itself, so it is owed exactly
once however often the input is redelivered, and a notice service that is down delays
it (the sweep retries) but never loses it or the request.
"""

from __future__ import annotations

from chalicelib.delivery import entry_for
from chalicelib.models import OutboxEntry, Ticket

ABUSE_NOTICE = "abusive_request"


def abuse_notice(ticket: Ticket) -> OutboxEntry | None:
    """The notice a flagged request owes management, or None if it is not flagged."""
    if "abusive" not in ticket.scope.flags:
        return None
    evidence = [e.to_dict() for e in ticket.scope.evidence if e.name == "abusive"]
    payload = {
        "ticket_id": ticket.id,
        "channel": ticket.channel,
        "customer": ticket.customer,
        "customer_email": ticket.customer_email,
        "subject": ticket.subject,
        "evidence": evidence,
        "rule": "R6.2",
    }
    return entry_for(ABUSE_NOTICE, ticket.id, "1", payload, ticket.updated_at)
