"""The ticket lifecycle (API.md, Conversations): statuses, who may move a request to
which, the customer's follow-ups (R2.5), and the automatic close of solved tickets.

| from       | staff may set              | the owner may set (official tickets only) |
|------------|----------------------------|-------------------------------------------|
| `open`     | `solved`\\*, `closed`       | `closed`                                  |
| `answered` | `open`, `solved`\\*, `closed`| `closed`                                  |
| `solved`   | `open`, `closed`           | `closed`; `open` within the reopen window |
| `closed`   | (final)                    | (final)                                   |

\\* official tickets only: advisory records use `open`, `answered` and `closed`. Any
other move is 409 `invalid_transition`; setting the status a request already has is
a no-op for whoever may set it. Staff end a customer's wait only with an answer (R2.8):
solving or closing an official ticket whose customer waits needs `text`, posted as the
answer first, else 409 `answer_required`. A customer who closes their own ticket while
waiting withdraws the wait (`withdrawn`; a breach that happened stays a breach). A
customer who reopens a solved ticket waits for staff again, with a new deadline (R2.5).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, Protocol

from chalicelib import observability as obs
from chalicelib.domain.clock import end_wait, follow_up_deadline, waiting
from chalicelib.domain.identity import Principal, visible_to
from chalicelib.domain.tickets import AuditEvent, Message, OutboxEntry, Status, Ticket
from chalicelib.errors import Conflict, InvalidInput
from chalicelib.ids import new_event_id
from chalicelib.outbound.delivery import entry_for
from chalicelib.outbound.routing import AUTO_CLOSE
from chalicelib.outbound.solved import solved_mail_owed
from chalicelib.storage import Change, Enqueue, MoveClock, SetStatus, StaleState, Tickets
from chalicelib.timeutil import Clock, parse_iso, to_iso
from chalicelib.validation import reject_unknown_fields, text_field
from chalicelib.values import frozen

AUTO_CLOSE_ACTOR = "auto-close"
STATUSES: tuple[Status, ...] = ("open", "answered", "solved", "closed")
_STAFF_MOVES: dict[str, frozenset[str]] = {
    "open": frozenset({"solved", "closed"}),
    "answered": frozenset({"open", "solved", "closed"}),
    "solved": frozenset({"open", "closed"}),
    "closed": frozenset(),
}
_CUSTOMER_MOVES: dict[str, frozenset[str]] = {
    "open": frozenset({"closed"}),
    "answered": frozenset({"closed"}),
    "solved": frozenset({"closed", "open"}),  # open: within the reopen window
    "closed": frozenset(),
}
_ATTEMPTS = 4
ANSWER_MAX = 20_000  # as a staff answer's text


def customer_wrote(ticket: Ticket, now: datetime, minutes: int) -> list[Change]:
    """A customer message: the request waits for staff again. On an official ticket that
    was answered or solved it is a new wait with its own deadline (R2.5); while staff
    still owe an answer, that deadline stands."""
    sla = ticket.sla
    changes: list[Change] = []
    if sla is not None and (wait := follow_up_deadline(sla, now, minutes)) is not None:
        changes.append(MoveClock(sla, wait, ticket))
        sla = wait
    elif sla is not None:
        # The deadline stands, but only if it still runs: an answer that lands first
        # makes this a follow-up to it, with a wait of its own (read again, decide again).
        changes.append(MoveClock(sla, sla, ticket))
    since = ticket.waiting_since if ticket.status == "open" else to_iso(now)
    changes.append(
        SetStatus(replace(ticket, status="open", sla=sla, waiting_since=since), ticket.status)
    )
    return changes


class Answerer(Protocol):
    def __call__(
        self, staff: Principal, ticket_id: str, text: str, key: str | None = None
    ) -> Message:
        """A staff answer (the desk's `respond`)."""
        ...


@frozen
class StatusRequest:
    """A `PUT /tickets/{id}/status` body: the status, and the answer that ends the
    customer's wait with it (R2.8)."""

    status: Status
    text: str | None = None


def parse_status(body: dict[str, Any]) -> StatusRequest:
    """A `PUT /tickets/{id}/status` body."""
    reject_unknown_fields(body, ("status", "text"))
    text = text_field(body, "text", max_chars=ANSWER_MAX, required=False)
    status = body.get("status")
    for known in STATUSES:
        if status == known:
            return StatusRequest(known, text)
    raise InvalidInput(
        "invalid_status",
        f"`status` must be one of: {', '.join(STATUSES)}",
        field="status",
        allowed=list(STATUSES),
    )


class Lifecycle:
    def __init__(
        self,
        tickets: Tickets,
        clock: Clock,
        *,
        first_response_minutes: int,
        reopen_days: int,
        auto_close_days: int,
    ) -> None:
        self._tickets = tickets
        self._clock = clock
        self._minutes = first_response_minutes
        self._reopen = timedelta(days=reopen_days)
        self._auto_close = timedelta(days=auto_close_days)
        self.answer: Answerer | None = None  # the desk's answer (wired after it exists)

    def set_status(
        self, who: Principal, ticket_id: str, status: Status, text: str | None = None
    ) -> Ticket:
        """`PUT /tickets/{id}/status`: a move the caller may make, with its audit event;
        staff's `text` is posted as an answer first (R2.8)."""
        if text is not None:
            self._answer_first(who, ticket_id, status, text)
        for _ in range(_ATTEMPTS):
            ticket = visible_to(who, self._tickets.get(ticket_id))
            now = self._clock()
            self._check(who, ticket, status, now)
            if ticket.status == status:
                return ticket
            if who.is_staff and status in ("solved", "closed") and waiting(ticket.sla):
                # R2.8: staff end a customer's wait only with an answer
                raise Conflict(
                    "answer_required",
                    "the customer is waiting for an answer: give it as `text` (R2.8)",
                )
            changes, owed = self._move(who, ticket, status, now)
            detail = {"from": ticket.status, "to": status}
            audit = AuditEvent(
                new_event_id(),
                ticket_id,
                "status_changed",
                who.sub,
                to_iso(now),
                detail,
                by=who.acting(),
            )
            try:
                self._tickets.change(ticket_id, audit, *changes, *(Enqueue(e) for e in owed))
            except StaleState:
                continue  # changed meanwhile (an answer, a sweep): decide again
            obs.count(obs.STATUS_CHANGED, to=status, by="staff" if who.is_staff else "customer")
            updated = self._tickets.get(ticket_id)
            assert updated is not None
            return updated
        raise Conflict("concurrent_update", "the ticket kept changing; try again")

    def _check(self, who: Principal, ticket: Ticket, status: Status, now: datetime) -> None:
        if who.is_staff:
            # The status it has is a no-op for a status staff may set (not `answered`).
            allowed = _STAFF_MOVES[ticket.status] | ({ticket.status} - {"answered"})
            if not ticket.official:
                allowed = allowed - {"solved"}
        elif not ticket.official:
            allowed = frozenset()  # advisory records are staff's to move
        else:
            allowed = _CUSTOMER_MOVES[ticket.status] | ({"closed"} & {ticket.status})
            if ticket.status == "solved" and not self._may_reopen(ticket, now):
                allowed = allowed - {"open"}
        if status not in allowed:
            raise Conflict(
                "invalid_transition",
                f"a {'staff member' if who.is_staff else 'customer'} cannot move this "
                f"{'ticket' if ticket.official else 'record'} from {ticket.status} to {status}",
                status=ticket.status,
            )

    def _answer_first(self, who: Principal, ticket_id: str, status: Status, text: str) -> None:
        """R2.8: the answer a solve or close carries, posted before the move."""
        if not who.is_staff or status not in ("solved", "closed"):
            raise InvalidInput(
                "text_not_allowed",
                "`text` is staff's answer when solving or closing a ticket",
                field="text",
            )
        ticket = visible_to(who, self._tickets.get(ticket_id))
        self._check(who, ticket, status, self._clock())
        assert self.answer is not None, "the desk's answer is wired in build_runtime"
        self.answer(who, ticket_id, text)

    def _may_reopen(self, ticket: Ticket, now: datetime) -> bool:
        solved = parse_iso(ticket.solved_at) if ticket.solved_at else None
        return solved is not None and now - solved <= self._reopen

    def _move(
        self, who: Principal, ticket: Ticket, status: Status, now: datetime
    ) -> tuple[list[Change], list[OutboxEntry]]:
        at = to_iso(now)
        if status == "open" and not who.is_staff:
            return customer_wrote(ticket, now, self._minutes), []
        if status == "open":  # staff reopened it: it waits for them, without a deadline
            return [SetStatus(replace(ticket, status="open", waiting_since=at), ticket.status)], []
        withdrawn = not who.is_staff  # R2.8: the customer closed it while waiting
        sla = end_wait(ticket.sla, now, withdrawn=withdrawn) if ticket.sla else None
        changes: list[Change] = []
        if ticket.sla is not None and sla is not None and sla != ticket.sla:
            changes.append(MoveClock(ticket.sla, sla, ticket))
        # An e-mail request staff close after answering it is solved as far as its
        # sender can tell: asked for a rating like a solved ticket.
        answered_mail = (
            who.is_staff
            and not ticket.official
            and ticket.status == "answered"
            and status == "closed"
        )
        solved_at = at if status == "solved" or answered_mail else ticket.solved_at
        changes.append(
            SetStatus(replace(ticket, status=status, sla=sla, solved_at=solved_at), ticket.status)
        )
        solved = replace(ticket, status=status, solved_at=solved_at)
        told = solved_mail_owed(solved, at) if who.is_staff and solved_at == at else None
        owed = [told] if told else []
        if status != "solved":
            return changes, owed
        due = to_iso(now + self._auto_close)
        return changes, [*owed, entry_for(AUTO_CLOSE, ticket.id, at, {"solved_at": at}, due)]

    def auto_close(self, entry: OutboxEntry) -> None:
        """The outbox's sender for `auto_close`: close the ticket if it is still solved
        since the same moment (a reopen, or a later solve, owes its own close)."""
        solved_at = entry.payload.get("solved_at")
        for _ in range(_ATTEMPTS):
            ticket = self._tickets.get(entry.request_id)
            if ticket is None or ticket.status != "solved" or ticket.solved_at != solved_at:
                return
            at = to_iso(self._clock())
            detail = {"from": "solved", "to": "closed", "solved_at": solved_at}
            audit = AuditEvent(
                new_event_id(), ticket.id, "status_changed", AUTO_CLOSE_ACTOR, at, detail
            )
            try:
                self._tickets.change(
                    ticket.id, audit, SetStatus(replace(ticket, status="closed"), "solved")
                )
            except StaleState:
                continue
            obs.count(obs.STATUS_CHANGED, to="closed", by=AUTO_CLOSE_ACTOR)
            return
        raise StaleState(entry.request_id)  # the outbox tries again later
