"""R6.2: an abusive request is flagged, never refused, and management is told once.

Every customer message is judged: the first, and each follow-up, reply or chat line
after it. The notice is an outbox entry written with the request (or with the message
that earned the flag), so it is owed exactly once however often the input is
redelivered, and a notice service that is down delays it (the sweep retries) but never
loses it or the request. Flagging a request later is an audit event of its own.
"""

from __future__ import annotations

from dataclasses import replace

from chalicelib.classify import abuse_evidence
from chalicelib.domain.tickets import AuditEvent, OutboxEntry, Ticket
from chalicelib.ids import new_event_id
from chalicelib.outbound.delivery import entry_for
from chalicelib.outbound.routing import ABUSE_NOTICE
from chalicelib.storage import Change, Enqueue, FlagRequest

ABUSIVE = "abusive"


def flagged_by_message(ticket: Ticket, text: str, at: str, by: str) -> list[Change]:
    """R6.2: the changes a customer message owes when it is abusive and the request is
    not flagged yet: the flag with the message's evidence, its audit event, and the
    one notice to management. Nothing for a clean message or a flagged request."""
    if ABUSIVE in ticket.scope.flags:
        return []
    found = abuse_evidence(text)
    if not found:
        return []
    scope = replace(
        ticket.scope,
        flags=(*ticket.scope.flags, ABUSIVE),
        evidence=(*ticket.scope.evidence, *found),
    )
    notice = abuse_notice(replace(ticket, scope=scope, updated_at=at))
    assert notice is not None  # flagged just now
    detail = {
        "rule": "R6.2",
        "evidence": [e.to_dict() for e in found],
        "notice": notice.kind,
        "in": "follow_up",
    }
    event = AuditEvent(new_event_id(), ticket.id, "abuse_flagged", by, at, detail)
    return [FlagRequest(ABUSIVE, scope, ticket, event), Enqueue(notice)]


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
