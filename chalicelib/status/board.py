"""The status board (R3.3): incidents and maintenance as staff keep them, the public
status, its Atom feed, the clock that opens and closes maintenance windows, and what a
request about a failing or maintained service is told."""

from __future__ import annotations

import re
import time
from dataclasses import replace
from datetime import datetime
from typing import Any
from xml.etree import ElementTree

from chalicelib import observability as obs
from chalicelib.domain.identity import Principal, require_staff
from chalicelib.domain.incidents import UPDATES_MAX, Incident, IncidentUpdate, service_states
from chalicelib.domain.queue import queue_item, queue_label
from chalicelib.domain.tickets import AuditEvent, OutboxEntry, Scope, Ticket
from chalicelib.errors import Conflict, InvalidInput, NotFound
from chalicelib.ids import new_event_id, new_incident_id
from chalicelib.outbound.delivery import Dispatcher, entry_for
from chalicelib.outbound.routing import MAINTENANCE_CLOCK, NOTIFY
from chalicelib.status.incident_forms import NewIncident, NewUpdate
from chalicelib.status.links import IncidentLinks
from chalicelib.storage import DeadlineIndex, Incidents, StaleState, Tickets
from chalicelib.timeutil import Clock, parse_iso, to_iso

CLOCK_ACTOR = "status-clock"
INCIDENT_ID = re.compile(r"I-[0-9A-Z]{10}")
CACHE_SECONDS = 15.0  # how long a process trusts its list of active incidents
_ATTEMPTS = 4
_WINDOW_TEXT = {
    "in_progress": "Плановые работы начались. / Maintenance has started.",
    "completed": "Плановые работы завершены. / Maintenance is complete.",
}


class StatusBoard:
    def __init__(
        self,
        incidents: Incidents,
        tickets: Tickets,
        clock: Clock,
        dispatcher: Dispatcher | None = None,
        queue: DeadlineIndex | None = None,
    ) -> None:
        self.links = IncidentLinks(tickets, queue, clock)
        self._incidents = incidents
        self._tickets = tickets
        # Set after wiring: the dispatcher's senders include what the board owes.
        self.dispatcher = dispatcher
        self._clock = clock
        self._cache: tuple[float, list[Incident]] | None = None

    # -- staff -----------------------------------------------------------------------

    def create(self, staff: Principal, new: NewIncident) -> Incident:
        require_staff(staff)
        now = self._clock()
        at = to_iso(now)
        if new.kind == "incident":
            state = "investigating"
        else:
            state = "in_progress" if new.starts_at and new.starts_at <= now else "scheduled"
        first = IncidentUpdate(new_event_id(), at, staff.sub, new.message, state)
        incident = Incident(
            id=new_incident_id(),
            kind=new.kind,
            services=new.services,
            title=new.title,
            state=state,
            created_at=at,
            updated_at=at,
            created_by=staff.sub,
            starts_at=to_iso(new.starts_at) if new.starts_at else None,
            ends_at=to_iso(new.ends_at) if new.ends_at else None,
            updates=(first,),
        )
        detail = {"kind": new.kind, "services": list(new.services), "state": state}
        self._incidents.create(
            incident,
            _audit(incident.id, "incident_created", staff.sub, at, detail),
            window_clock(incident),
        )
        self._cache = None
        obs.count(obs.INCIDENTS_OPENED, kind=new.kind)
        linked = self.links.link_recent(staff, incident, new.link_window_minutes)
        return replace(incident, linked=linked) if linked else incident

    def post_update(self, staff: Principal, incident_id: str, new: NewUpdate) -> Incident:
        """An update; with `notify`, every linked open request is answered with it,
        through the outbox (a job that resumes where it stopped)."""
        require_staff(staff)
        for _ in range(_ATTEMPTS):
            incident = self.get(staff, incident_id)
            if not incident.active:
                raise Conflict("incident_closed", f"this {incident.kind} is {incident.state}")
            if len(incident.updates) >= UPDATES_MAX:
                raise Conflict("too_many_updates", f"at most {UPDATES_MAX} updates")
            at = to_iso(self._clock())
            state = new.state or incident.state
            update = IncidentUpdate(new_event_id(), at, staff.sub, new.message, state, new.notify)
            changed = replace(
                incident, state=state, updated_at=at, updates=(*incident.updates, update)
            )
            detail = {"update": update.id, "state": state, "notify": new.notify}
            audit = _audit(incident.id, "incident_updated", staff.sub, at, detail)
            payload = {"incident": incident.id, "update": update.id, "after": None}
            owed = [entry_for(NOTIFY, incident.id, update.id, payload, at)] if new.notify else []
            try:
                saved = self._incidents.save(changed, audit, owed)
            except StaleState:
                continue
            self._cache = None
            if self.dispatcher is not None:
                for entry in owed:
                    self.dispatcher.try_now(entry)  # as far as it gets; the sweep does the rest
            return saved  # as stored: the fan-out answers requests, not the incident
        raise Conflict("concurrent_update", "the incident kept changing; try again")

    def get(self, staff: Principal, incident_id: str) -> Incident:
        require_staff(staff)
        found = self._incidents.get(incident_id) if INCIDENT_ID.fullmatch(incident_id) else None
        if found is None:
            raise NotFound("incident_not_found", "no such incident")
        return found

    def linked_requests(
        self, staff: Principal, incident_id: str, limit: int, next_token: str | None
    ) -> dict[str, Any]:
        """`GET /staff/incidents/{id}/requests`: the linked requests as queue lines, oldest
        link first, paged."""
        incident = self.get(staff, incident_id)
        page = self._incidents.linked(incident.id, limit, next_token)
        return {"items": [queue_item(t) for t in page.items], "next": page.next}

    def listing(self, staff: Principal, limit: int, next_token: str | None) -> dict[str, Any]:
        """The active ones first (all of them), then the past ones, newest first, paged."""
        require_staff(staff)
        active = [] if next_token else self._incidents.active()
        past, token = self._incidents.past(limit, next_token)
        return {"items": [i.to_api() for i in (*active, *past)], "next": token}

    def link(self, staff: Principal, ticket_id: str, body: dict[str, Any]) -> Ticket:
        """`PUT /tickets/{id}/incident`: link a request by hand, or unlink it (null)."""
        require_staff(staff)
        if set(body) != {"incident"} or not (
            body["incident"] is None or isinstance(body["incident"], str)
        ):
            raise InvalidInput("invalid_incident", 'the body is `{"incident": id or null}`')
        wanted = body["incident"]
        if wanted is not None:
            self._active(staff, wanted)
        return self.links.link(staff, ticket_id, wanted)[0]

    def link_many(self, staff: Principal, incident_id: str, ids: list[str]) -> dict[str, int]:
        """`POST /staff/incidents/{id}/links` `{"requests": [id...]}`."""
        return {"linked": self.links.link_many(staff, self._active(staff, incident_id), ids)}

    def _active(self, staff: Principal, incident_id: str) -> Incident:
        incident = self.get(staff, incident_id)
        if not incident.active:
            raise Conflict("incident_closed", f"this {incident.kind} is {incident.state}")
        return incident

    # -- the clock ---------------------------------------------------------------------

    def clock_windows(self) -> int:
        """Owe the clock of every active maintenance window again (windows created
        before their clock was owed with them; `python -m chalicelib reindex`). Each
        entry is owed once at a time, and moving a window twice changes nothing."""
        owed = [e for incident in self._incidents.active() for e in window_clock(incident)]
        for entry in owed:
            self._incidents.owe(entry)
        return len(owed)

    def move_window(self, entry: OutboxEntry) -> None:
        """The sender of a maintenance window's clock (`window_clock`): at its start or
        its end the window moves to where it then stands. Nothing reads the incidents
        every minute to find out; an entry whose window was moved or closed by staff
        changes nothing."""
        for _ in range(_ATTEMPTS):
            incident = self._incidents.get(str(entry.payload.get("incident")))
            due = entry.payload.get("at")
            if incident is None or not incident.active or not isinstance(due, str):
                return
            now = max(parse_iso(due), self._clock())
            state = _window_state(incident, now)
            if state is None or state == incident.state:
                return
            at = to_iso(now)
            update = IncidentUpdate(new_event_id(), at, CLOCK_ACTOR, _WINDOW_TEXT[state], state)
            changed = replace(
                incident, state=state, updated_at=at, updates=(*incident.updates, update)
            )
            detail = {"from": incident.state, "to": state}
            audit = _audit(incident.id, "maintenance_" + state, CLOCK_ACTOR, at, detail)
            try:
                self._incidents.save(changed, audit)
            except StaleState:
                continue  # staff changed it meanwhile: read it again
            self._cache = None
            return
        raise Conflict("concurrent_update", "the window kept changing; the outbox retries")

    # -- what customers see ------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        active = self._incidents.active()
        return {
            "services": service_states(active),
            "incidents": [i.summary() for i in active if i.kind == "incident"],
            "maintenance": [i.summary() for i in active if i.kind == "maintenance"],
            "at": to_iso(self._clock()),
        }

    def feed(self, self_url: str, page_url: str) -> str:
        """An Atom feed (RFC 4287) of the updates of current and recent incidents; its
        links absolute (`self`, and `alternate`: the status page)."""
        past, _ = self._incidents.past(20, None)
        incidents = [*self._incidents.active(), *past]
        updates = sorted(
            ((u, i) for i in incidents for u in i.updates), key=lambda p: p[0].at, reverse=True
        )[:50]
        atom = "http://www.w3.org/2005/Atom"
        feed = ElementTree.Element("feed", xmlns=atom)
        ElementTree.SubElement(feed, "id").text = "urn:support-intake:status"
        ElementTree.SubElement(feed, "title").text = "Service status"
        ElementTree.SubElement(feed, "updated").text = (
            updates[0][0].at if updates else to_iso(self._clock())
        )
        ElementTree.SubElement(feed, "link", rel="self", href=self_url)
        ElementTree.SubElement(feed, "link", rel="alternate", type="text/html", href=page_url)
        for update, incident in updates:
            entry = ElementTree.SubElement(feed, "entry")
            ElementTree.SubElement(
                entry, "id"
            ).text = f"urn:support-intake:{incident.id}:{update.id}"
            title = f"{incident.title}: {update.state.replace('_', ' ')}"
            ElementTree.SubElement(entry, "title").text = title
            ElementTree.SubElement(entry, "updated").text = update.at
            ElementTree.SubElement(entry, "link", rel="alternate", href=page_url)
            author = ElementTree.SubElement(entry, "author")
            ElementTree.SubElement(author, "name").text = "Technical support"
            ElementTree.SubElement(entry, "content", type="text").text = update.message
            for service in incident.services:
                ElementTree.SubElement(entry, "category", term=service)
        return '<?xml version="1.0" encoding="utf-8"?>\n' + ElementTree.tostring(
            feed, encoding="unicode"
        )

    def match(self, scope: Scope) -> str | None:
        """The active incident a new request about a failing service belongs to. The
        process's list is trusted for a match; without one it is read again, so a
        request received a second after an incident opened is linked to it."""
        if scope.label != "outage" or not scope.sub:
            return None
        for fresh in (False, True):
            if fresh:
                self._cache = None
            before = self._cache
            for incident in self._active_cached():
                if incident.kind == "incident" and scope.sub in incident.services:
                    return incident.id
            if self._cache is not before:
                return None  # just read: reading again would find the same
        return None

    def notice(self, ticket: Ticket) -> dict[str, Any] | None:
        """What a request's first answer says of the service status: its incident's
        latest update, and for a question about maintenance the upcoming and current
        windows (beside the knowledge-base links, R2.3)."""
        incident = self._incidents.get(ticket.incident) if ticket.incident else None
        maintenance = []
        if queue_label(ticket) == "maintenance":
            maintenance = [i.summary() for i in self._active_cached() if i.kind == "maintenance"]
        if incident is None and not maintenance:
            return None
        return {"incident": incident.summary() if incident else None, "maintenance": maintenance}

    def notice_lines(self, ticket: Ticket) -> list[str]:
        """The notice as lines of a mail or a chat reply."""
        return notice_lines(self.notice(ticket))

    def _active_cached(self) -> list[Incident]:
        now = time.monotonic()
        if self._cache is None or now - self._cache[0] > CACHE_SECONDS:
            self._cache = (now, self._incidents.active())
        return self._cache[1]

    @staticmethod
    def _audit(
        incident_id: str, action: str, by: str, at: str, detail: dict[str, Any]
    ) -> AuditEvent:
        return AuditEvent(new_event_id(), incident_id, action, by, at, detail)


def _audit(incident_id: str, action: str, by: str, at: str, detail: dict[str, Any]) -> AuditEvent:
    return AuditEvent(new_event_id(), incident_id, action, by, at, detail)


def window_clock(incident: Incident) -> list[OutboxEntry]:
    """What a maintenance window owes the outbox when it is created: its start (if still
    to come) and its end, each due at its time (R3.3)."""
    if incident.kind != "maintenance" or not incident.starts_at or not incident.ends_at:
        return []
    times = [("start", incident.starts_at)] if incident.state == "scheduled" else []
    times.append(("end", incident.ends_at))
    return [
        entry_for(MAINTENANCE_CLOCK, incident.id, name, {"incident": incident.id, "at": at}, at)
        for name, at in times
    ]


def _window_state(incident: Incident, now: datetime) -> str | None:
    """Where a maintenance window stands at `now`, if the clock moves it."""
    if incident.kind != "maintenance" or not incident.starts_at or not incident.ends_at:
        return None
    if now >= parse_iso(incident.ends_at):
        return "completed"
    if now >= parse_iso(incident.starts_at) and incident.state == "scheduled":
        return "in_progress"
    return None


def notice_lines(notice: dict[str, Any] | None) -> list[str]:
    """The notice as lines of a mail or a chat reply, Russian and English."""
    if not notice:
        return []
    lines = []
    incident = notice.get("incident")
    if incident and incident.get("latest_update"):
        latest = incident["latest_update"]
        lines.append(
            f"Известная проблема / Known issue: {incident['title']} ({latest['state']}, "
            f"{latest['at']}): {latest['message']}"
        )
    for window in notice.get("maintenance") or ():
        lines.append(
            f"Плановые работы / Planned maintenance: {window['title']}, "
            f"{window['starts_at']} - {window['ends_at']} ({window['state']})"
        )
    return lines
