"""The staff desk: the queue, responses, delay notices (R2.2) and scope corrections."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any, Generic, TypeVar

from chalicelib import observability as obs
from chalicelib.domain.clock import (
    after_delay_notice,
    after_staff_response,
    minutes_between,
    newly_breached,
    require_future_eta,
)
from chalicelib.domain.identity import Principal, require_staff
from chalicelib.domain.queue import queue_item
from chalicelib.domain.tallies import first_response, tally
from chalicelib.domain.tickets import (
    AuditEvent,
    DelayNotice,
    DelayNoticeRequest,
    Message,
    OutboxEntry,
    Page,
    ScopeCorrection,
    Sla,
    Status,
    Ticket,
)
from chalicelib.errors import Conflict, InvalidInput, NotFound
from chalicelib.ids import keyed_message_id, new_event_id, new_message_id
from chalicelib.outbound.delivery import Dispatcher, Known, held
from chalicelib.outbound.sender import mail_owed, queued
from chalicelib.sla.notices import breach_notice
from chalicelib.staff.queries import Contact, QueueFilter
from chalicelib.storage import (
    AddDelayNotice,
    AlreadyRecorded,
    AppendMessage,
    Assign,
    Change,
    CorrectScope,
    DeadlineIndex,
    Enqueue,
    Incidents,
    MoveClock,
    SendRefused,
    SetStatus,
    StaleState,
    Tickets,
    Unchanged,
)
from chalicelib.timeutil import Clock, to_iso
from chalicelib.values import frozen

_ATTEMPTS = 4
ItemT = TypeVar("ItemT", Message, DelayNotice)


@frozen
class _Written(Generic[ItemT]):
    """What one attempt stored: the staff item, the clock after it, and the outbox
    entries written with it (delivered right after, by the same values)."""

    item: ItemT
    sla: Sla | None
    owed: tuple[OutboxEntry, ...]  # held for this process to send at once
    guarded: bool  # the mail's suppression and allowance were settled in the write


class StaffDesk:
    """What support staff do to requests; every action checks the staff group first."""

    def __init__(
        self,
        tickets: Tickets,
        deadlines: DeadlineIndex,
        dispatcher: Dispatcher,
        clock: Clock,
        incidents: Incidents | None = None,
        timezone: str = "Europe/Moscow",
    ) -> None:
        self._timezone = timezone  # the report's days are the company's (R1.3)
        self._incidents = incidents
        self._tickets = tickets
        self._deadlines = deadlines
        self._dispatcher = dispatcher
        self._clock = clock

    def queue(
        self, staff: Principal, limit: int, next_token: str | None, filters: QueueFilter
    ) -> dict[str, Any]:
        """Everything waiting for staff (`domain.queue`), with when each began to wait."""
        require_staff(staff)
        page = self._deadlines.queue(
            limit,
            next_token,
            channel=filters.channel,
            label=filters.label,
            flag=filters.flag,
            assignee=filters.assignee_for(staff.sub),
        )
        items = [queue_item(t) for t in page.items]
        return {**self._grouped(items), "next": page.next}

    def _grouped(self, items: list[dict[str, Any]]) -> dict[str, Any]:
        """R3.3: the page's requests linked to an incident, under their incident."""
        alone = [i for i in items if not i.get("incident")]
        groups: dict[str, list[dict[str, Any]]] = {}
        for item in items:
            if item.get("incident"):
                groups.setdefault(item["incident"], []).append(item)
        incidents = []
        for incident_id, linked in groups.items():
            found = self._incidents.get(incident_id) if self._incidents else None
            summary = found.summary() if found else {"id": incident_id}
            incidents.append({"incident": summary, "count": len(linked), "requests": linked})
        return {"items": alone, "incidents": incidents}

    def lookup(
        self, staff: Principal, limit: int, next_token: str | None, contact: Contact
    ) -> Page:
        """A customer's (by address) or a domain's requests, newest first."""
        require_staff(staff)
        return self._tickets.by_contact(
            limit, next_token, address=contact.address, domain=contact.domain
        )

    def events(
        self, staff: Principal, ticket_id: str, limit: int, next_token: str | None
    ) -> dict[str, Any]:
        """The audit trail, oldest first (staff only; customers do not see it)."""
        require_staff(staff)
        self._get(ticket_id)
        events, token = self._tickets.events(ticket_id, limit, next_token)
        return {"items": [e.to_api() for e in events], "next": token}

    def respond(
        self,
        staff: Principal,
        ticket_id: str,
        text: str,
        key: str | None = None,
        seen: str | None = None,
        known: Ticket | None = None,
    ) -> Message:
        """A staff answer; the first one meets the deadline (R2.1) or follows a breach.
        With an Idempotency-Key, a retry returns the answer the first attempt stored.
        With `seen` (the newest message the agent had on screen), an answer to a
        conversation that moved on since is refused with what the agent missed. An
        unassigned request becomes the answering agent's."""
        require_staff(staff)
        message_id = keyed_message_id(staff.sub, ticket_id, key) if key else None

        def attempt(
            ticket: Ticket, now: datetime, guarded: bool, also: tuple[Change, ...]
        ) -> _Written[Message]:
            _still_open(ticket)
            turns = self._unchanged_since(staff, ticket, seen) if seen else None
            at = to_iso(now)
            sla = after_staff_response(ticket.sla, now) if ticket.sla else None
            message = Message(
                message_id or new_message_id(),
                ticket_id,
                "staff",
                staff.sub,
                text,
                at,
                by=staff.ref(),
            )
            mail = mail_owed(ticket, message, at)  # R2.6: the answer reaches the customer
            message = replace(message, delivery=queued(mail, at, ticket))
            audit = self._audit(ticket_id, "staff_response", staff, at, ticket.sla, sla)
            audit.detail["message_id"] = message.id
            move, owed = self._clock_move(ticket, sla, now, mail, staff)
            owed, guards = self._holding(owed, ticket, now, guarded)
            # The customer is next; a reply to a solved or closed request leaves it so.
            status: Status = "answered" if ticket.status == "open" else ticket.status
            after = replace(ticket, status=status, sla=sla)
            changes: list[Change] = [
                AppendMessage(message, turns=turns),
                SetStatus(after, ticket.status),
                *move,
            ]
            if ticket.assignee is None:  # API.md: the one who answers owns it
                changes.append(Assign(staff.ref(), ticket))
            owing = (*(Enqueue(e) for e in owed), *guards, *also)
            self._tickets.change(ticket_id, audit, *changes, *owing)
            return _Written(message, sla, owed, bool(guards))

        try:
            written, ticket = self._retry(ticket_id, attempt, known)
        except AlreadyRecorded:
            return self._replayed(ticket_id, message_id, text)
        return self._after(ticket, written, via="response")

    def _unchanged_since(self, staff: Principal, ticket: Ticket, seen: str) -> int:
        """The conversation's turns as read, if nothing the agent must see came after
        `seen` (a customer's message, another agent's answer); else 409 with them."""
        thread = self._tickets.thread(ticket.id)
        if thread is None or thread.ticket.message_count != ticket.message_count:
            raise StaleState(ticket.id)  # read again
        turns = [m for m in thread.messages if m.kind != "note"]
        ids = [m.id for m in turns]
        if seen != ticket.id and seen not in ids:
            raise InvalidInput("unknown_seen", "`seen` is no message of this request", field="seen")
        after = turns[ids.index(seen) + 1 :] if seen in ids else turns
        missed = [m for m in after if m.author == "customer" or m.author_id != staff.sub]
        if missed:
            raise Conflict(
                "conversation_changed",
                "the conversation moved on since you read it: read what you missed first",
                beside={"missed": [m.to_api() for m in missed]},
            )
        return ticket.message_count

    def _replayed(self, ticket_id: str, message_id: str | None, text: str) -> Message:
        """The answer an earlier attempt with the same key stored (409 if it differs)."""
        thread = self._tickets.thread(ticket_id)
        stored = next((m for m in thread.messages if m.id == message_id), None) if thread else None
        if stored is None or stored.text != text:
            raise Conflict(
                "idempotency_key_reused",
                "this Idempotency-Key was already used for a different answer",
            )
        return stored

    def post_delay_notice(
        self, staff: Principal, ticket_id: str, request: DelayNoticeRequest
    ) -> DelayNotice:
        """R2.2: reason and ETA, seen by the customer; before the deadline it is the answer."""
        require_staff(staff)
        require_future_eta(request.eta, self._clock())
        reason, eta = request.reason, request.eta

        def attempt(
            ticket: Ticket, now: datetime, guarded: bool, also: tuple[Change, ...]
        ) -> _Written[DelayNotice]:
            _still_open(ticket)
            if not ticket.official or ticket.sla is None:
                raise Conflict(
                    "not_official", "advisory requests carry no response-time obligation (R1.4)"
                )
            at = to_iso(now)
            sla = after_delay_notice(ticket.sla, now, eta)
            notice = DelayNotice(
                new_event_id(), ticket_id, reason, to_iso(eta), at, staff.sub, by=staff.ref()
            )
            mail = mail_owed(ticket, notice, at)  # R2.2, R2.6: the customer is told
            notice = replace(notice, delivery=queued(mail, at, ticket))
            audit = self._audit(ticket_id, "delay_notice", staff, at, ticket.sla, sla)
            audit.detail.update(reason=reason, eta=notice.eta)
            move, owed = self._clock_move(ticket, sla, now, mail, staff)
            owed, guards = self._holding(owed, ticket, now, guarded)
            changes: list[Change] = [AddDelayNotice(notice), *move, *guards, *also]
            self._tickets.change(ticket_id, audit, *changes, *(Enqueue(e) for e in owed))
            return _Written(notice, sla, owed, bool(guards))

        written, ticket = self._retry(ticket_id, attempt)
        obs.count(obs.DELAY_NOTICE_POSTED)
        return self._after(ticket, written, via="delay_notice")

    def correct_scope(self, staff: Principal, ticket_id: str, request: ScopeCorrection) -> Ticket:
        """A staff correction, kept beside the classifier's answer (both are shown)."""
        require_staff(staff)
        label, sub = request.label, request.sub
        ticket = self._get(ticket_id)
        at = to_iso(self._clock())
        correction = {
            "label": label,
            "sub": sub,
            "by": staff.sub,
            "at": at,
            "classifier": {"label": ticket.scope.label, "sub": ticket.scope.sub},
        }
        audit = AuditEvent(new_event_id(), ticket_id, "scope_corrected", staff.sub, at, correction)
        audit.by = staff.ref()
        self._tickets.change(ticket_id, audit, CorrectScope(correction, ticket))
        obs.count(
            obs.SCOPE_CORRECTED,
            classifier_label=ticket.scope.label,
            corrected_label=label,
        )
        updated = self._tickets.get(ticket_id)
        assert updated is not None
        return updated

    # -- helpers ------------------------------------------------------------------------

    def _clock_move(
        self,
        ticket: Ticket,
        after: Sla | None,
        now: datetime,
        mail: OutboxEntry | None,
        staff: Principal,
    ) -> tuple[list[Change], tuple[OutboxEntry, ...]]:
        """The clock's move, what it adds to the report (a first response, a breach),
        and what the change owes: the customer's mail and, for an answer after the
        deadline, its escalation (R2.5), as the sweep owes one for a breach it finds."""
        before = ticket.sla
        if before is None or after is None:
            return [], (mail,) if mail else ()
        late = newly_breached(before, after)
        breach = breach_notice(ticket, before, now) if late else None
        changes: list[Change] = [MoveClock(before, after, ticket)]
        answered = first_response(ticket, before, after, now, self._timezone, staff.sub)
        changes += [answered] if answered else []
        if late:
            changes.append(tally(ticket, now, self._timezone, {"breaches": 1}, agent=staff.sub))
        return changes, tuple(e for e in (mail, breach) if e)

    def _holding(
        self, owed: tuple[OutboxEntry, ...], ticket: Ticket, now: datetime, guarded: bool
    ) -> tuple[tuple[OutboxEntry, ...], list[Change]]:
        """What the change owes, held for this process to send at once, and (`guarded`)
        the guards its mail may settle in the same write."""
        owed = tuple(held(entry, now) for entry in owed)
        guards = self._dispatcher.guards(list(owed), ticket, to_iso(now)) if guarded else []
        return owed, list(guards)

    def _after(self, ticket: Ticket, written: _Written[ItemT], *, via: str) -> ItemT:
        """Count, send now what the change owes (else the sweep does when the hold
        ends), and give the caller the item with its delivery as it then stands."""
        if newly_breached(ticket.sla, written.sla):
            obs.count(obs.SLA_BREACHED)
        self._first_response_metrics(ticket, written.sla, via=via)
        item = written.item
        for entry in written.owed:
            settle = self._dispatcher.send_held(entry, Known(ticket, item, written.guarded))
            if settle and settle.delivery and settle.item and settle.item.id == item.id:
                item = replace(item, delivery=settle.delivery)
        return item

    def _get(self, ticket_id: str) -> Ticket:
        ticket = self._tickets.get(ticket_id)
        if ticket is None:
            raise NotFound("ticket_not_found", "no such ticket")
        return ticket

    def _retry(
        self,
        ticket_id: str,
        attempt: Callable[[Ticket, datetime, bool, tuple[Change, ...]], _Written[ItemT]],
        known: Ticket | None = None,
    ) -> tuple[_Written[ItemT], Ticket]:
        """Read, decide, write conditionally; on a race (a sweep, another agent) decide
        again; a mail's guard that did not hold is left to its sender the long way. A
        `known` request (as the caller just read it) is decided on first, written only
        if unchanged since."""
        guarded = True
        for turn in range(_ATTEMPTS):
            remembered = known if turn == 0 else None
            ticket = remembered or self._get(ticket_id)
            also = (Unchanged(ticket.updated_at),) if remembered else ()
            try:
                written = attempt(ticket, self._clock(), guarded, also)
            except StaleState:
                continue
            except SendRefused:
                guarded = False
                continue
            return written, ticket
        raise Conflict("concurrent_update", "the ticket kept changing; try again")

    @staticmethod
    def _audit(
        ticket_id: str,
        action: str,
        staff: Principal,
        at: str,
        before: Sla | None,
        after: Sla | None,
    ) -> AuditEvent:
        detail: dict[str, Any] = {
            "sla_from": before.state if before else None,
            "sla_to": after.state if after else None,
        }
        return AuditEvent(new_event_id(), ticket_id, action, staff.sub, at, detail, staff.ref())

    @staticmethod
    def _first_response_metrics(ticket: Ticket, sla: Sla | None, *, via: str) -> None:
        before = ticket.sla
        if before is None or sla is None or before.first_response_at or not sla.first_response_at:
            return
        minutes = minutes_between(before.started_at or ticket.created_at, sla.first_response_at)
        # Once overall (the dashboard's p50/p95: CloudWatch cannot merge percentiles
        # across dimension values) and once by how and whether late.
        obs.measure(obs.FIRST_RESPONSE_MINUTES, minutes)
        obs.measure(obs.FIRST_RESPONSE_MINUTES, minutes, via=via, late=str(sla.state == "breached"))


def _still_open(ticket: Ticket) -> None:
    """A closed official ticket is final. Staff may still follow up an advisory record
    (a finished chat, a mail): it stays closed."""
    if ticket.status == "closed" and ticket.official:
        raise Conflict("ticket_closed", "this ticket is closed: nothing more is added to it")
