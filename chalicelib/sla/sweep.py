"""The SLA sweep (R2.4): warn before a deadline, breach it exactly once, escalate each breach.

Runs every minute. It reads only the parts of the deadline index where an action is
due (see storage), so its cost follows the due deadlines, not the table. Every
transition is a conditional write that also records the notice it owes in the outbox:
two overlapping sweeps, or a retried one, apply each warning and breach once, and a
sweep that dies after the write leaves the escalation owed, not lost. Then it drains
the outbox, which retries whatever an earlier run or a staff action could not hand over
and runs what has come due (a solved ticket's automatic close, `lifecycle`; a maintenance
window's start and end, `status.board`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from chalicelib import observability as obs
from chalicelib.domain.clock import SweepAction, breached, sweep_action, warned
from chalicelib.domain.tallies import tally
from chalicelib.domain.tickets import AuditEvent, OutboxEntry, Sla, Ticket
from chalicelib.ids import new_event_id
from chalicelib.outbound.delivery import Dispatcher
from chalicelib.outbound.routing import BREACH
from chalicelib.sla.notices import breach_notice, warning_notice
from chalicelib.storage import Change, DeadlineIndex, Enqueue, MoveClock, StaleState, Tickets
from chalicelib.timeutil import Clock, to_iso

ACTOR = "sla-sweep"


@dataclass
class SweepReport:
    now: str
    items_read: int = 0
    warned: list[str] = field(default_factory=list)
    breached: list[str] = field(default_factory=list)
    escalated: list[str] = field(default_factory=list)
    parked: list[str] = field(default_factory=list)  # escalations owed, to retry
    failed: list[str] = field(default_factory=list)  # left for the next sweep
    open_official: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "now": self.now,
            "items_read": self.items_read,
            "warned": self.warned,
            "breached": self.breached,
            "escalated": self.escalated,
            "escalations_parked": self.parked,
            "failed": self.failed,
            "open_official": self.open_official,
        }


class Sweeper:
    def __init__(
        self,
        tickets: Tickets,
        deadlines: DeadlineIndex,
        dispatcher: Dispatcher,
        clock: Clock,
        warning_minutes: int,
        timezone: str = "Europe/Moscow",
    ) -> None:
        self._timezone = timezone  # the report's days are the company's (R1.3)
        self._tickets = tickets
        self._deadlines = deadlines
        self._dispatcher = dispatcher
        self._clock = clock
        self._warning = timedelta(minutes=warning_minutes)
        self._warning_minutes = warning_minutes

    def run(self, now: datetime | None = None) -> SweepReport:
        """One sweep over every shard; `now` lets a person or a test travel in time."""
        now = now or self._clock()
        report = SweepReport(now=to_iso(now))
        for ticket in self._deadlines.due(now, self._warning):
            report.items_read += 1
            try:
                self._act(ticket, now, report)
            except Exception:
                # One ticket's failed write must not hold up the others; it is still due,
                # so the next sweep (a minute later) decides it again.
                obs.logger.exception("sweep could not act", extra={"ticket_id": ticket.id})
                obs.unhandled("sweep")
                report.failed.append(ticket.id)
        drained = self._dispatcher.drain(now)
        report.escalated += [e.request_id for e in drained.delivered if e.kind == BREACH]
        owed = [*drained.retrying, *drained.given_up]
        report.parked += [e.request_id for e in owed if e.kind == BREACH]
        if any(e.kind == BREACH for e in owed):
            obs.count(obs.ESCALATIONS_PARKED, sum(e.kind == BREACH for e in owed))
        report.open_official = self._deadlines.open_count()
        obs.measure(obs.OPEN_OFFICIAL_TICKETS, report.open_official)
        obs.count(obs.SWEEP_RUNS)
        return report

    def _act(self, ticket: Ticket, now: datetime, report: SweepReport) -> None:
        sla = ticket.sla
        if sla is None:
            return
        action = sweep_action(sla, now, self._warning_minutes)
        if action is SweepAction.WARN:
            after = warned(sla, now)
            if self._transition(ticket, "sla_warned", now, sla, after, warning_notice):
                report.warned.append(ticket.id)
                obs.count(obs.SLA_WARNED)
        elif action is SweepAction.BREACH:
            after = breached(sla, now)
            if self._transition(ticket, "sla_breached", now, sla, after, breach_notice):
                report.breached.append(ticket.id)
                obs.count(obs.SLA_BREACHED)

    def _transition(
        self,
        ticket: Ticket,
        action: str,
        now: datetime,
        before: Sla,
        after: Sla,
        notice: Any,
    ) -> bool:
        """Move the clock and owe the notice in one write; False if another got there."""
        at = to_iso(now)
        audit = AuditEvent(
            new_event_id(),
            ticket.id,
            action,
            ACTOR,
            at,
            {"sla_from": before.state, "sla_to": after.state, "due_at": before.due_at},
        )
        entry: OutboxEntry = notice(ticket, before, now)
        changes: list[Change] = [MoveClock(before, after, ticket), Enqueue(entry)]
        if after.state == "breached":  # the report counts it in the breach's own write
            changes.append(tally(ticket, now, self._timezone, {"breaches": 1}))
        try:
            self._tickets.change(ticket.id, audit, *changes)
        except StaleState:
            return False  # another sweep or a staff action got there first
        return True
