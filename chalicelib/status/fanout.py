"""One answer for all, and one escalation for all (R3.3, issue 16).

An update posted with `notify` owes an `incident_notify` outbox entry. Its sender walks
the incident's linked requests a page at a time and answers each open one with the
update as a staff response, under an idempotency key made of the update: a retried or
resumed page answers nobody twice. When its time budget is spent it owes the next page
as a new entry and returns, so no single call has to reach request 900. A page's
answers are sent a few at a time and settled together at the page's end (issue 29: the
answer's transaction and the send for each request, one settle for the page).

A breach of a linked request owes an `incident_breach` entry instead of its own
escalation. The first such entry of an incident claims the incident's one escalation
and sends it (the incident, how many linked requests are breached, the oldest wait);
every other is counted as grouped and sent nowhere.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from contextvars import copy_context
from typing import Any

from chalicelib import observability as obs
from chalicelib.domain.clock import Duty, duty
from chalicelib.domain.identity import Principal
from chalicelib.domain.queue import waiting_since
from chalicelib.domain.tickets import OutboxEntry, Ticket
from chalicelib.errors import DomainError
from chalicelib.outbound.delivery import entry_for
from chalicelib.outbound.notify import Publisher
from chalicelib.outbound.routing import INCIDENT_BREACH, NOTIFY
from chalicelib.staff.desk import StaffDesk
from chalicelib.storage import Incidents
from chalicelib.timeutil import Clock, to_iso

PAGE = 25
WORKERS = 4  # a page's answers sent at once (each waits on DynamoDB and SES)
ANSWERED_STATUSES = ("open", "answered")  # linked requests the update goes to


class IncidentNotifier:
    """The sender of `incident_notify` entries. The budget keeps the first run, inside
    the staff member's API call, well under API Gateway's 29 seconds; the sweep's drain
    runs the pages after it."""

    def __init__(
        self,
        incidents: Incidents,
        desk: StaffDesk,
        clock: Clock,
        budget_seconds: float = 8.0,
        together: Callable[[], AbstractContextManager[None]] = nullcontext,
        workers: int = WORKERS,
    ) -> None:
        self._incidents = incidents
        self._desk = desk
        self._clock = clock
        self._budget = budget_seconds
        self._together = together  # Dispatcher.settling_together: one settle a page
        self._workers = workers

    def send(self, entry: OutboxEntry) -> None:
        incident = self._incidents.get(str(entry.payload.get("incident")))
        update_id = entry.payload.get("update")
        update = (
            next((u for u in incident.updates if u.id == update_id), None) if incident else None
        )
        if incident is None or update is None:
            return
        staff = Principal(update.by, None, frozenset({"staff"}))
        text = f"[{incident.title}] {update.message}"
        key = f"incident:{incident.id}:{update.id}"
        token = entry.payload.get("after")
        started = time.monotonic()
        while True:
            page = self._incidents.linked(incident.id, PAGE, token)
            open_ones = [r for r in page.items if r.status in ANSWERED_STATUSES]
            with self._together(), ThreadPoolExecutor(self._workers) as pool:
                # Each task runs in its own copy of this thread's context, so its sends
                # join the page's settle; list() waits for all and raises the first error.
                tasks = [(copy_context(), request) for request in open_ones]
                list(pool.map(lambda t: t[0].run(self._answer, staff, t[1], text, key), tasks))
            token = page.next
            if token is None:
                return
            if time.monotonic() - started > self._budget:
                self._incidents.owe(self._next(entry, token))
                return

    def _answer(self, staff: Principal, request: Ticket, text: str, key: str) -> None:
        try:
            self._desk.respond(staff, request.id, text, key, known=request)
        except DomainError as refused:  # closed meanwhile, or the like: not for this one
            obs.logger.info(
                "incident update not recorded", extra={"ticket_id": request.id, "why": refused.code}
            )
            return
        obs.count(obs.INCIDENT_UPDATES_SENT)

    def _next(self, entry: OutboxEntry, token: str) -> OutboxEntry:
        where = hashlib.sha256(token.encode()).hexdigest()[:16]
        payload = {**entry.payload, "after": token}
        at = to_iso(self._clock())
        return entry_for(NOTIFY, entry.request_id, f"{payload['update']}:{where}", payload, at)


class IncidentEscalations:
    """The sender of `incident_breach` entries: one escalation per incident."""

    def __init__(self, incidents: Incidents, publisher: Publisher, topic: str) -> None:
        self._incidents = incidents
        self._publisher = publisher
        self._topic = topic

    def send(self, entry: OutboxEntry) -> None:
        incident_id = str(entry.payload.get("incident"))
        if not self._incidents.claim_escalation(incident_id, entry.id):
            obs.count(obs.ESCALATIONS_GROUPED)
            return
        self._publisher.publish(self._topic, INCIDENT_BREACH, self._summary(incident_id, entry))

    def _summary(self, incident_id: str, entry: OutboxEntry) -> dict[str, Any]:
        incident = self._incidents.get(incident_id)
        breached: list[Ticket] = []
        token = None
        while True:
            page = self._incidents.linked(incident_id, 100, token)
            breached += [t for t in page.items if duty(t.sla) is Duty.ANSWER]
            if (token := page.next) is None:
                break
        oldest = min(breached, key=waiting_since, default=None)
        return {
            "incident": incident_id,
            "title": incident.title if incident else None,
            "services": list(incident.services) if incident else [],
            "state": incident.state if incident else None,
            "breached_requests": len(breached),
            "oldest_waiting_since": waiting_since(oldest) if oldest else None,
            "oldest_ticket": oldest.id if oldest else entry.request_id,
            "rule": "R2.4, R3.3",
        }
