"""The SLA sweep (R2.4): warn before a deadline, breach it exactly once, escalate each breach.

Runs every minute. It reads only the parts of the deadline index where an action is
due (see storage), so its cost follows the due deadlines, not the table. Every
transition is a conditional write: two overlapping sweeps, or a retried one, apply
each warning and each breach once, and only the sweep whose write won escalates.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from chalicelib import observability as obs
from chalicelib.ids import new_event_id
from chalicelib.models import AuditEvent, Sla, Ticket
from chalicelib.notify import Publisher
from chalicelib.sla.deadlines import SweepAction, breached, sweep_action, warned
from chalicelib.storage import DeadlineIndex, MoveClock, Requests, StaleState
from chalicelib.timeutil import Clock, parse_iso, to_iso

ACTOR = "sla-sweep"


@dataclass
class SweepReport:
    now: str
    items_read: int = 0
    warned: list[str] = field(default_factory=list)
    breached: list[str] = field(default_factory=list)
    escalated: list[str] = field(default_factory=list)
    parked: list[str] = field(default_factory=list)
    open_official: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "now": self.now,
            "items_read": self.items_read,
            "warned": self.warned,
            "breached": self.breached,
            "escalated": self.escalated,
            "escalations_parked": self.parked,
            "open_official": self.open_official,
        }


class Sweeper:
    def __init__(
        self,
        requests: Requests,
        deadlines: DeadlineIndex,
        publisher: Publisher,
        topic_arn: str,
        clock: Clock,
        warning_minutes: int,
    ) -> None:
        self._requests = requests
        self._deadlines = deadlines
        self._publisher = publisher
        self._topic = topic_arn
        self._clock = clock
        self._warning = timedelta(minutes=warning_minutes)
        self._warning_minutes = warning_minutes

    def run(self, now: datetime | None = None) -> SweepReport:
        """One sweep over every shard; `now` lets a person or a test travel in time."""
        now = now or self._clock()
        report = SweepReport(now=to_iso(now))
        for ticket in self._deadlines.parked():
            report.items_read += 1
            self._retry_escalation(ticket, now, report)
        for ticket in self._deadlines.due(now, self._warning):
            report.items_read += 1
            self._act(ticket, now, report)
        report.open_official = self._deadlines.open_count()
        obs.measure(obs.OPEN_OFFICIAL_TICKETS, report.open_official)
        obs.count(obs.SWEEP_RUNS)
        return report

    def _act(self, ticket: Ticket, now: datetime, report: SweepReport) -> None:
        sla = ticket.sla
        if sla is None:
            return
        action = sweep_action(sla, now, self._warning_minutes)
        at = to_iso(now)
        if action is SweepAction.WARN:
            after = warned(sla, now)
            if self._transition(ticket, "sla_warned", at, sla, after):
                report.warned.append(ticket.id)
                obs.count(obs.SLA_WARNED)
                self._notify(ticket, "sla_warning", now, due_at=sla.due_at)
        elif action is SweepAction.BREACH:
            after = breached(sla, now)
            if self._transition(ticket, "sla_breached", at, sla, after):
                report.breached.append(ticket.id)
                obs.count(obs.SLA_BREACHED)
                self._escalate(ticket, now, report)

    def _transition(self, ticket: Ticket, action: str, at: str, before: Sla, after: Sla) -> bool:
        audit = AuditEvent(
            new_event_id(),
            ticket.id,
            action,
            ACTOR,
            at,
            {"sla_from": before.state, "sla_to": after.state, "due_at": before.due_at},
        )
        try:
            self._requests.change(ticket.id, audit, MoveClock(before, after))
        except StaleState:
            return False  # another sweep or a staff action got there first
        return True

    def _escalate(self, ticket: Ticket, now: datetime, report: SweepReport) -> None:
        """Hand one escalation to SNS; if that fails, park it so the next sweep retries."""
        assert ticket.sla is not None
        if self._notify(ticket, "sla_breach", now, due_at=ticket.sla.due_at):
            report.escalated.append(ticket.id)
            return
        try:
            self._deadlines.park(ticket)
        except StaleState:
            return
        report.parked.append(ticket.id)
        obs.count(obs.ESCALATIONS_PARKED)

    def _retry_escalation(self, ticket: Ticket, now: datetime, report: SweepReport) -> None:
        assert ticket.sla is not None
        try:  # take it back, so that one sweep retries it
            self._deadlines.settle(ticket)
        except StaleState:
            return
        self._escalate(ticket, now, report)

    def _notify(self, ticket: Ticket, kind: str, now: datetime, *, due_at: str | None) -> bool:
        late = (now - parse_iso(due_at)).total_seconds() / 60 if due_at else 0.0
        message = {
            "ticket_id": ticket.id,
            "customer": ticket.customer,
            "customer_email": ticket.customer_email,
            "subject": ticket.subject,
            "scope": {"label": ticket.scope.label, "sub": ticket.scope.sub},
            "due_at": due_at,
            "minutes_late": round(max(late, 0.0), 1),
            "minutes_left": round(max(-late, 0.0), 1),
        }
        try:
            self._publisher.publish(self._topic, kind, message)
        except Exception:
            obs.logger.exception("could not publish notice", extra={"ticket_id": ticket.id})
            obs.count(obs.NOTICE_FAILURES, kind=kind)
            return False
        return True
