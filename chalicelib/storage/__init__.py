"""What the domain asks of storage: three repositories, the changes they take, and the
few ways a conditional write can lose.

These are interfaces only, with no AWS in them. The DynamoDB implementation is
`chalicelib.storage.dynamo` (one table; its schema is in `storage/keys.py`); tests run
the same contract against an in-memory one (`tests/fakes.py`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

from chalicelib.domain.incidents import Incident
from chalicelib.domain.macros import Macro
from chalicelib.domain.quotes import Quote
from chalicelib.domain.tallies import Counter, Tally
from chalicelib.domain.tickets import (
    AckState,
    Attachment,
    AuditEvent,
    DelayNotice,
    Delivery,
    Message,
    OutboxEntry,
    Page,
    Ticket,
    TicketThread,
)

# The changes a request takes are defined in `kinds`; callers import them from here.
from chalicelib.storage.kinds import (
    AddAttachment as AddAttachment,
    AddDelayNotice as AddDelayNotice,
    AppendMessage as AppendMessage,
    Assign as Assign,
    Change as Change,
    CorrectScope as CorrectScope,
    Enqueue as Enqueue,
    FlagRequest as FlagRequest,
    LinkIncident as LinkIncident,
    MoveClock as MoveClock,
    NotSuppressed as NotSuppressed,
    RecordReply as RecordReply,
    SendGuard as SendGuard,
    SetAdminRequest as SetAdminRequest,
    SetRating as SetRating,
    SetStatus as SetStatus,
    Settle as Settle,
    SpendAllowance as SpendAllowance,
    Unchanged as Unchanged,
)
from chalicelib.values import frozen


class AlreadyRecorded(Exception):
    """The id is taken: a redelivered input (derived ids), or a drawn id to draw again."""


class DuplicateMail(Exception):
    """Another record was made from the same message (same Message-ID and sender)."""

    def __init__(self, original: str) -> None:
        super().__init__(original)
        self.original = original


class StaleState(Exception):
    """The request changed since it was read; read it again and decide again."""


class SendRefused(Exception):
    """A send guard written with a change did not hold (the address is suppressed, or
    its allowance list is full): write the change without it, and let the sender
    decide the long way."""


class Tickets(Protocol):
    """Requests (official tickets and advisory records) with their conversations."""

    def create(
        self,
        request: Ticket,
        audit: AuditEvent,
        *,
        conversation: Sequence[Message] = (),
        identity: str | None = None,
        outbox: Sequence[OutboxEntry] = (),
        tally: Tally | None = None,
        guards: Sequence[SendGuard] = (),
        receipt: str | None = None,
    ) -> None:
        """Store a new request with its conversation, audit event, what it owes the
        outside world and what it adds to the report; AlreadyRecorded if its id is
        taken, DuplicateMail if another record holds the mail `identity`, SendRefused
        if one of the `guards` does not hold. With a `receipt` (the digest of the
        request that asked for it), the request as made is kept beside it for replays."""
        ...

    def receipt(self, request_id: str) -> tuple[str, Ticket] | None:
        """The digest and the request as made, of a create that kept a receipt."""
        ...

    def complete_conversation(self, request_id: str, conversation: Sequence[Message]) -> None:
        """Finish storing a conversation that a crash cut short after its commit (a
        conversation longer than one transaction); nothing if it is whole."""
        ...

    def get(self, request_id: str) -> Ticket | None: ...

    def thread(self, request_id: str) -> TicketThread | None:
        """The request with its messages and delay notices, oldest first."""
        ...

    def for_customer(self, sub: str, limit: int, next_token: str | None) -> Page:
        """A customer's own requests, newest first."""
        ...

    def search(
        self,
        terms: Sequence[str],
        limit: int,
        next_token: str | None,
        keep: Callable[[Ticket], bool],
    ) -> Page:
        """Requests holding every one of `terms` (`search_items`) that `keep` accepts,
        newest first; a page reads a bounded number of items and may hold fewer than
        `limit` with a `next` to go on from."""
        ...

    def by_contact(
        self, limit: int, next_token: str | None, *, address: str | None, domain: str | None
    ) -> Page:
        """Requests written from an address, or from or about a domain, newest first."""
        ...

    def change(self, request_id: str, audit: AuditEvent, *changes: Change) -> None:
        """Apply every change and the audit event at once, or none: StaleState if the
        request is missing, not the owner's, or its clock moved; AlreadyRecorded if an
        added item exists; DuplicateMail if a reply's identity is held by another;
        SendRefused if a send guard does not hold."""
        ...

    def set_delivery(
        self, request_id: str, item: Message | DelayNotice, delivery: Delivery
    ) -> None:
        """Record what became of the e-mail that carries a staff message or notice."""
        ...

    def mark_attention(self, request_id: str, reason: str) -> None:
        """Flag a request for staff (`attention`), once per reason."""
        ...

    def attachment(self, request_id: str, attachment_id: str) -> Attachment | None: ...

    def settle_attachment(self, settled: Attachment, audit: AuditEvent) -> bool:
        """Record a pending attachment's check (`stored` or `rejected`, which frees its
        place); False if it was not pending any more."""
        ...

    def settle_ack(self, record_id: str, state: AckState) -> None:
        """Record what became of an owed acknowledgement (only while it is owed)."""
        ...

    def ticket_for_mail(self, identity: str) -> str | None:
        """The record made from the message with this identity, if any."""
        ...

    def events(
        self, request_id: str, limit: int, next_token: str | None
    ) -> tuple[list[AuditEvent], str | None]:
        """One page of the audit trail, oldest first, and the token of the next."""
        ...

    def audit_trail(self, request_id: str) -> list[AuditEvent]:
        """Every recorded change of a request, oldest first."""
        ...

    def corrections(self) -> Iterator[dict[str, Any]]:
        """Every staff scope correction with the request's words, oldest first."""
        ...


class DeadlineIndex(Protocol):
    """Official requests whose response clock runs (R2): the sweep's and the queue's view."""

    def due(self, now: datetime, warning: timedelta) -> Iterator[Ticket]:
        """Requests whose warning or breach is due at `now`, each read once."""
        ...

    def queue(
        self,
        limit: int,
        next_token: str | None,
        *,
        channel: str | None = None,
        label: str | None = None,
        flag: str | None = None,
        assignee: str | None = None,
    ) -> Page:
        """Everything waiting for staff in `domain.queue`'s order (breaches, then running
        deadlines by due time, then the rest oldest first), optionally one facet of it
        (`assignee`: a staff id, or `-` for the unassigned)."""
        ...

    def open_count(self) -> int:
        """How many official requests wait for a staff answer."""
        ...


class Markers(Protocol):
    """Per-address facts: acknowledgements and mails of the last 24 hours, suppression."""

    def take_ack_allowance(self, address: str, at: str, per_day: int, record_id: str) -> bool:
        """Spend one of a sender's acknowledgements of the last 24 h on `record_id`;
        False if none is left. Taking it again for the same record spends nothing."""
        ...

    def release_ack_allowance(self, address: str, at: str, record_id: str) -> None:
        """Give back what `record_id` took: its acknowledgement was not sent."""
        ...

    def take_send_allowance(self, address: str, at: str, per_day: int, ref: str) -> bool:
        """The same per recipient for answers and notifications (a separate count)."""
        ...

    def suppress(self, address: str, reason: str, at: str) -> None:
        """Send nothing more to `address` (a complaint, or a permanent bounce)."""
        ...

    def suppression(self, address: str) -> str | None:
        """Why `address` is suppressed, or None."""
        ...

    def suppression_record(self, address: str) -> tuple[str, str] | None:
        """Why and since when `address` is suppressed, or None."""
        ...

    def lift_suppression(self, address: str) -> bool:
        """Mail `address` again; False if it was not suppressed."""
        ...


class Macros(Protocol):
    """The team's canned replies."""

    def all(self) -> list[Macro]:
        """Every macro, by title."""
        ...

    def get(self, macro_id: str) -> Macro | None: ...

    def put(self, macro: Macro) -> None:
        """Create or replace `macro`."""
        ...

    def delete(self, macro_id: str) -> bool:
        """False if there was no such macro."""
        ...


class Outbox(Protocol):
    """What is owed to the outside world, until a sender has delivered it."""

    def due(self, now: str, limit: int) -> list[OutboxEntry]:
        """Entries a sender may try at `now`, the longest waiting first."""
        ...

    def claim(self, entry: OutboxEntry, until: str) -> OutboxEntry | None:
        """Hold `entry` until `until` (one attempt more); None if another sender has it."""
        ...

    def done(self, entry: OutboxEntry, settle: Settle | None = None) -> None:
        """A claimed entry was delivered: it is owed no more, and what it leaves behind
        (`settle`) is written in the same write."""
        ...

    def done_many(self, delivered: Sequence[tuple[OutboxEntry, Settle | None]]) -> None:
        """`done` for many delivered entries, in as few writes as the store allows; an
        entry whose request is gone meanwhile does not keep the others owed."""
        ...

    def reschedule(self, entry: OutboxEntry, at: str, error: str) -> None:
        """A claimed entry failed: try again at `at`."""
        ...

    def give_up(self, entry: OutboxEntry, error: str, at: str) -> None:
        """A claimed entry failed for the last time: keep it aside for operators."""
        ...

    def given_up(self) -> list[OutboxEntry]: ...


class Incidents(Protocol):
    """Incidents and maintenance (R3.3), each saved conditionally on its version."""

    def create(
        self, incident: Incident, audit: AuditEvent, outbox: Sequence[OutboxEntry] = ()
    ) -> None:
        """Store a new incident with its audit event and what it owes (a maintenance
        window's clock)."""
        ...

    def get(self, incident_id: str) -> Incident | None: ...

    def save(
        self, incident: Incident, audit: AuditEvent, outbox: Sequence[OutboxEntry] = ()
    ) -> Incident:
        """Store the changed incident (StaleState if its version moved since it was
        read) with its audit event and what it owes; return it as stored."""
        ...

    def active(self) -> list[Incident]:
        """Incidents and maintenance not yet resolved or completed, newest first."""
        ...

    def past(self, limit: int, next_token: str | None) -> tuple[list[Incident], str | None]: ...

    def claim_escalation(self, incident_id: str, entry_id: str) -> bool:
        """True for the first outbox entry to claim the incident's one escalation (and
        for its retries); False for every other."""
        ...

    def linked(self, incident_id: str, limit: int, next_token: str | None) -> Page:
        """Requests linked to the incident, oldest first."""
        ...

    def owe(self, entry: OutboxEntry) -> None:
        """Add an outbox entry (a fan-out's next page); nothing if it is owed already."""
        ...


class Reports(Protocol):
    """The SLA report's counters (`chalicelib.reports`), written by `Tally` changes."""

    def counters(self, periods: Sequence[str], group: str) -> dict[tuple[str, str], Counter]:
        """Every counter of `group` in `periods` (shards summed): (period, value) → it."""
        ...


class Quotes(Protocol):
    """Quotes for paid work (R5.3), in their ticket, each step conditional on its version."""

    def add(self, quote: Quote, audit: AuditEvent) -> None:
        """StaleState if the ticket does not exist."""
        ...

    def get(self, ticket_id: str, quote_id: str) -> Quote | None: ...

    def for_ticket(self, ticket_id: str) -> list[Quote]: ...

    def save(self, quote: Quote, audit: AuditEvent) -> Quote:
        """Store the next step of a quote read at `quote.version`; StaleState if another
        step came first."""
        ...


@frozen
class Store:
    """The repositories of one process."""

    tickets: Tickets
    deadlines: DeadlineIndex
    markers: Markers
    outbox: Outbox
    incidents: Incidents
    quotes: Quotes
    reports: Reports
    macros: Macros
