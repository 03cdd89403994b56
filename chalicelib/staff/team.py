"""Working as a team (API.md): who owns a request, and what staff tell each other about
it. Assignment and internal notes; neither reaches the customer or moves the clock."""

from __future__ import annotations

from typing import Any

from chalicelib.accounts import AccountDirectory
from chalicelib.domain.identity import Principal, require_staff
from chalicelib.domain.people import StaffRef, display_name
from chalicelib.domain.tickets import AuditEvent, Message, Ticket
from chalicelib.errors import Conflict, InvalidInput, NotFound
from chalicelib.ids import new_event_id, new_message_id
from chalicelib.storage import AppendMessage, Assign, StaleState, Tickets
from chalicelib.timeutil import Clock, to_iso
from chalicelib.validation import reject_unknown_fields

_ATTEMPTS = 4
_STAFF_ID = 128  # a Cognito `sub` is 36; anything longer is no id of ours


def parse_assignee(body: dict[str, Any]) -> str | None:
    """`PUT /tickets/{id}/assignee` `{"assignee": "me"|staff id|null}`."""
    reject_unknown_fields(body, ("assignee",))
    if "assignee" not in body:
        raise InvalidInput("assignee_required", "`assignee` is required", field="assignee")
    value = body["assignee"]
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > _STAFF_ID:
        raise InvalidInput(
            "invalid_assignee", '`assignee` is "me", a staff id or null', field="assignee"
        )
    if not value.isprintable():
        raise InvalidInput("invalid_assignee", "`assignee` has control characters")
    return value.strip()


class TeamDesk:
    """Assignment and internal notes; every action checks the staff group first."""

    def __init__(self, tickets: Tickets, directory: AccountDirectory, clock: Clock) -> None:
        self._tickets = tickets
        self._directory = directory
        self._clock = clock

    def assign(self, staff: Principal, ticket_id: str, target: str | None) -> Ticket:
        """Assign to `me`, another staff member, or nobody; audited. Assigning to whom it
        already has changes nothing and writes nothing."""
        require_staff(staff)
        assignee = self._resolve(staff, target)
        for _ in range(_ATTEMPTS):
            ticket = self._get(ticket_id)
            was = ticket.assignee.id if ticket.assignee else None
            now = assignee.id if assignee else None
            if was == now:
                return ticket
            at = to_iso(self._clock())
            detail = {"from": was, "to": now}
            event = AuditEvent(new_event_id(), ticket_id, "assigned", staff.sub, at, detail)
            event.by = staff.ref()
            try:
                self._tickets.change(ticket_id, event, Assign(assignee, ticket))
            except StaleState:
                continue  # another agent assigned it meanwhile: decide again
            return self._get(ticket_id)
        raise Conflict("concurrent_update", "the ticket kept changing; try again")

    def note(self, staff: Principal, ticket_id: str, text: str) -> Message:
        """An internal note: staff see it in the conversation; the customer never does,
        it is never mailed, and it is no answer (the clock keeps running)."""
        require_staff(staff)
        ticket = self._get(ticket_id)
        at = to_iso(self._clock())
        note = Message(
            new_message_id(), ticket.id, "staff", staff.sub, text, at, kind="note", by=staff.ref()
        )
        event = AuditEvent(
            new_event_id(), ticket.id, "note_added", staff.sub, at, {"message_id": note.id}
        )
        event.by = staff.ref()
        self._tickets.change(ticket.id, event, AppendMessage(note))
        return note

    def _resolve(self, staff: Principal, target: str | None) -> StaffRef | None:
        if target is None:
            return None
        if target in ("me", staff.sub):
            return staff.ref()
        profile = self._directory.profile(target)
        if profile.email is None:
            raise NotFound("staff_not_found", "no staff member with this id")
        return StaffRef(target, display_name(profile.name, profile.email, target), profile.email)

    def _get(self, ticket_id: str) -> Ticket:
        ticket = self._tickets.get(ticket_id)
        if ticket is None:
            raise NotFound("ticket_not_found", "no such ticket")
        return ticket
