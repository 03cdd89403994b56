"""The kinds of change to a request that one conditional write applies together
(`Tickets.change`): each says what it changes and on what condition it holds."""

from __future__ import annotations

from typing import Any, Literal

from chalicelib.domain.people import StaffRef
from chalicelib.domain.tallies import Tally
from chalicelib.domain.tickets import (
    AckState,
    Attachment,
    AuditEvent,
    DelayNotice,
    Delivery,
    Message,
    OutboxEntry,
    Scope,
    Sla,
    Status,
    Ticket,
)
from chalicelib.values import frozen


@frozen
class AppendMessage:
    """A turn of the conversation. With `owner`, only if the request is that customer's."""

    message: Message
    owner: str | None = None
    turns: int | None = None  # only if the conversation still has this many turns


@frozen
class AddDelayNotice:
    notice: DelayNotice


@frozen
class MoveClock:
    """An SLA transition, applied only if the clock is still as it was read (`before`).
    `request` is the request as read: its queue facets follow the clock."""

    before: Sla
    after: Sla
    request: Ticket


@frozen
class SetStatus:
    """A new status. `after` is the request as this change leaves it (status, clock,
    `waiting_since`, `solved_at`): its place in the staff queue is derived from it."""

    after: Ticket
    was: Status  # the status as read: the change holds only if it still is

    @property
    def status(self) -> Status:
        return self.after.status


@frozen
class CorrectScope:
    """A staff correction, kept beside the classifier's answer and as an evaluation case."""

    correction: dict[str, Any]
    request: Ticket


@frozen
class RecordReply:
    """The record of an e-mail that joined `request`'s thread, and its mail identity."""

    record: Ticket
    identity: str | None = None


@frozen
class Assign:
    """A new assignee (None: nobody), only if the request is still assigned as read;
    its place in the assignee's queue (`AS#<id>`, `AS#-`) moves with it."""

    assignee: StaffRef | None
    request: Ticket  # as read


@frozen
class Enqueue:
    """An outbox entry owed by this change: written with it, or not at all."""

    entry: OutboxEntry


@frozen
class AddAttachment:
    """A file announced for upload, only while the request has room for it (`limit`)
    and is not closed."""

    attachment: Attachment
    limit: int


@frozen
class SetAdminRequest:
    """Staff's correction of what an administration request asks (R5.1, R5.2)."""

    value: dict[str, Any]


@frozen
class LinkIncident:
    """Link the request (as read) to an incident, or unlink it with None (R3.3)."""

    incident: str | None
    request: Ticket


@frozen
class FlagRequest:
    """R6.2: a flag a later message earned, its evidence joining the request's scope;
    only if the request does not carry the flag yet. `event` records it in the audit
    trail, in the same write."""

    flag: str
    scope: Scope  # the request's scope with the flag and its evidence
    request: Ticket  # as read
    event: AuditEvent


@frozen
class SetRating:
    """The customer's rating, only if the request has none yet; `flag` puts a bad one
    with a comment in front of staff (`attention`)."""

    rating: dict[str, Any]
    flag: bool = False


@frozen
class Unchanged:
    """Only if the request has not changed since the process last saw it (its
    `updated_at` then): a change decided on a remembered request, not a fresh read."""

    updated_at: str


@frozen
class SpendAllowance:
    """One mail of a recipient's daily allowance (`ack`: acknowledgements, `send`:
    answers and notifications), spent in the same write as the mail's outbox entry, so
    the sender need not spend it apart. Only while the recipient's list has room: a
    full list (perhaps of stale entries) refuses it (`SendRefused`), and the sender
    then takes the allowance the long way, which drops what is older than a day."""

    kind: Literal["ack", "send"]
    address: str
    at: str
    per_day: int
    ref: str


@frozen
class NotSuppressed:
    """Only if the address is not suppressed (`SendRefused` otherwise)."""

    address: str


SendGuard = SpendAllowance | NotSuppressed


@frozen
class Settle:
    """What a delivered outbox entry leaves behind, written with the entry's removal:
    an acknowledgement's state on its record, or a staff item's delivery."""

    request_id: str
    ack: AckState | None = None
    item: Message | DelayNotice | None = None
    delivery: Delivery | None = None


Change = (
    Assign
    | SetRating
    | Tally
    | FlagRequest
    | SetAdminRequest
    | LinkIncident
    | AppendMessage
    | AddDelayNotice
    | MoveClock
    | SetStatus
    | CorrectScope
    | RecordReply
    | Enqueue
    | AddAttachment
    | SpendAllowance
    | NotSuppressed
    | Unchanged
)
