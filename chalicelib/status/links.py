"""Requests linked to an incident (R3.3): by hand one at a time or in bulk, and, when an
incident opens, the open requests about its services received in the window before it
(API.md: `link_window_minutes`, two hours unless said)."""

from __future__ import annotations

from datetime import datetime, timedelta

from chalicelib import observability as obs
from chalicelib.domain.identity import Principal, require_staff, visible_to
from chalicelib.domain.incidents import Incident
from chalicelib.domain.queue import queue_label
from chalicelib.domain.tickets import AuditEvent, Ticket
from chalicelib.errors import Conflict
from chalicelib.ids import new_event_id
from chalicelib.storage import DeadlineIndex, LinkIncident, StaleState, Tickets
from chalicelib.timeutil import Clock, parse_iso, to_iso

_ATTEMPTS = 4

WINDOW_PAGES = 20  # queue pages (of 100) an opening incident reads at the most
PAGE = 100


class IncidentLinks:
    def __init__(self, tickets: Tickets, queue: DeadlineIndex | None, clock: Clock) -> None:
        self._tickets = tickets
        self._queue = queue
        self._clock = clock

    def link(self, staff: Principal, ticket_id: str, wanted: str | None) -> tuple[Ticket, bool]:
        """Link one request to `wanted` (or unlink it); whether anything changed."""
        require_staff(staff)
        for _ in range(_ATTEMPTS):
            ticket = visible_to(staff, self._tickets.get(ticket_id))
            if ticket.incident == wanted:
                return ticket, False
            at = to_iso(self._clock())
            action = "incident_linked" if wanted else "incident_unlinked"
            detail = {"from": ticket.incident, "to": wanted}
            audit = AuditEvent(
                new_event_id(), ticket_id, action, staff.sub, at, detail, staff.ref()
            )
            try:
                self._tickets.change(ticket_id, audit, LinkIncident(wanted, ticket))
            except StaleState:
                continue
            if wanted:
                obs.count(obs.INCIDENT_LINKED_REQUESTS, how="staff")
            return self._tickets.get(ticket_id) or ticket, True
        raise Conflict("concurrent_update", "the ticket kept changing; try again")

    def link_many(self, staff: Principal, incident: Incident, ids: list[str]) -> int:
        """`POST /staff/incidents/{id}/links`: how many of `ids` it newly links."""
        return sum(self.link(staff, ticket_id, incident.id)[1] for ticket_id in ids)

    def link_recent(self, staff: Principal, incident: Incident, minutes: int) -> int:
        """The open, unlinked outage requests about `incident`'s services received in
        the `minutes` before it opened (or since): read from the queue's `outage` facet,
        a bounded number of pages."""
        if self._queue is None or incident.kind != "incident" or minutes <= 0:
            return 0
        since = parse_iso(incident.created_at) - timedelta(minutes=minutes)
        linked, token = 0, None
        for _ in range(WINDOW_PAGES):
            page = self._queue.queue(PAGE, token, label="outage")
            for ticket in page.items:
                if _about(ticket, incident, since):
                    linked += self.link(staff, ticket.id, incident.id)[1]
            token = page.next
            if token is None:
                break
        return linked


def _about(ticket: Ticket, incident: Incident, since: datetime) -> bool:
    return (
        ticket.incident is None
        and ticket.status == "open"
        and queue_label(ticket) == "outage"
        and ticket.scope.sub in incident.services
        and parse_iso(ticket.created_at) >= since
    )
