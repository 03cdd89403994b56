"""In-memory stand-ins for everything outside the domain: the store behind the
repository interfaces, and the publisher, directory, mailer and blobs. Service unit tests run on these with no moto; `tests/contract/` holds the
store to the same contract as DynamoDB.

The store takes one lock per operation, so each write is atomic the way a DynamoDB
conditional write or transaction is, and concurrency tests can run threads against it.
"""

from __future__ import annotations

import base64
import copy
import json
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any

from chalicelib.accounts import Profile
from chalicelib.classify.terms import request_terms
from chalicelib.domain.clock import Duty, duty
from chalicelib.domain.incidents import Incident
from chalicelib.domain.macros import Macro
from chalicelib.domain.queue import queue_label, queue_position
from chalicelib.domain.quotes import Quote
from chalicelib.domain.tallies import Counter, Tally
from chalicelib.domain.tickets import (
    AckState,
    Attachment,
    AuditEvent,
    DelayNotice,
    Delivery,
    Message,
    MessageSide,
    OutboxEntry,
    Page,
    Sla,
    Ticket,
    TicketThread,
)
from chalicelib.errors import InvalidInput
from chalicelib.storage import (
    AddAttachment,
    AddDelayNotice,
    AlreadyRecorded,
    AppendMessage,
    Assign,
    Change,
    CorrectScope,
    DuplicateMail,
    Enqueue,
    FlagRequest,
    LinkIncident,
    MoveClock,
    NotSuppressed,
    RecordReply,
    SendGuard,
    SendRefused,
    SetAdminRequest,
    SetRating,
    SetStatus,
    Settle,
    SpendAllowance,
    StaleState,
    Store,
    Unchanged,
)
from chalicelib.timeutil import parse_iso, to_iso


def _token(position: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"after": position}).encode()).decode()


def _position(token: str) -> str:
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
        return str(data["after"])
    except (ValueError, KeyError, TypeError):
        raise InvalidInput("invalid_next", "the `next` token is not one this API issued") from None


@dataclass
class _Request:
    ticket: Ticket
    messages: dict[str, Message] = field(default_factory=dict)
    delays: dict[str, DelayNotice] = field(default_factory=dict)
    audit: list[AuditEvent] = field(default_factory=list)
    files: dict[str, Attachment] = field(default_factory=dict)


class MemoryReports:
    """The report's counters, by (period, group, value); shards kept apart as stored."""

    def __init__(self) -> None:
        self._counters: dict[tuple[str, str, str, int], Counter] = {}
        self.reads = 0

    def add(self, tally: Tally) -> None:
        minutes = {tally.minute: 1} if tally.minute is not None else {}
        for period in (tally.day, tally.week):
            for group, value in tally.groups:
                key = (period, group, value, tally.shard)
                self._counters.setdefault(key, Counter()).add(dict(tally.counts), minutes)

    def counters(self, periods: Sequence[str], group: str) -> dict[tuple[str, str], Counter]:
        found: dict[tuple[str, str], Counter] = {}
        for period in periods:
            self.reads += 1
            for (p, g, value, _), counter in self._counters.items():
                if p == period and g == group:
                    found.setdefault((p, value), Counter()).add(counter.facts, counter.minutes)
        return found


class MemoryMacros:
    def __init__(self) -> None:
        self._macros: dict[str, Macro] = {}

    def all(self) -> list[Macro]:
        return sorted(self._macros.values(), key=lambda m: (m.title.lower(), m.id))

    def get(self, macro_id: str) -> Macro | None:
        return self._macros.get(macro_id)

    def put(self, macro: Macro) -> None:
        self._macros[macro.id] = macro

    def delete(self, macro_id: str) -> bool:
        return self._macros.pop(macro_id, None) is not None


class MemoryStore:
    """Requests, DeadlineIndex and Markers in memory, with the same conditions."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._tickets: dict[str, _Request] = {}
        self._identities: dict[str, str] = {}
        self._receipts: dict[str, tuple[str, Ticket]] = {}
        self._allowances: dict[str, list[str]] = {}
        self._corrections: list[dict[str, Any]] = []
        self._outbox: dict[str, OutboxEntry] = {}  # by entry id: where it is now
        self._given_up: list[OutboxEntry] = []
        self._suppressed: dict[str, str] = {}
        self._suppressed_at: dict[str, str] = {}
        self.incidents = MemoryIncidents(self)
        self.quotes = MemoryQuotes(self)
        self.reports = MemoryReports()
        self.macros = MemoryMacros()
        self.writes = 0  # every accepted write, for tests that count them

    def as_store(self) -> Store:
        return Store(
            tickets=self,
            deadlines=self,
            markers=self,
            outbox=self.outbox,
            incidents=self.incidents,
            quotes=self.quotes,
            reports=self.reports,
            macros=self.macros,
        )

    @property
    def outbox(self) -> MemoryOutbox:
        return MemoryOutbox(self)

    def owed(self) -> list[OutboxEntry]:
        """Everything still in the outbox."""
        with self._lock:
            return sorted(self._outbox.values(), key=lambda e: e.id)

    # -- Tickets ----------------------------------------------------------------------

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
        with self._lock:
            if request.id in self._tickets:
                raise AlreadyRecorded(request.id)
            if identity and identity in self._identities:
                raise DuplicateMail(self._identities[identity])
            self._check_guards(request.id, guards)
            if any(entry.id in self._outbox for entry in outbox):
                raise AlreadyRecorded(request.id)
            self._spend(guards)
            if receipt is not None:
                self._receipts[request.id] = (receipt, request)
            self._outbox.update({entry.id: entry for entry in outbox})
            stored = _Request(request, messages={m.id: m for m in conversation})
            stored.audit.append(audit)
            self._tickets[request.id] = stored
            if identity:
                self._identities[identity] = request.id
            if tally:
                self.reports.add(tally)
            self.writes += 1

    def receipt(self, request_id: str) -> tuple[str, Ticket] | None:
        with self._lock:
            return self._receipts.get(request_id)

    def complete_conversation(self, request_id: str, conversation: Sequence[Message]) -> None:
        return None  # a create here is atomic, however long the conversation

    def get(self, request_id: str) -> Ticket | None:
        with self._lock:
            found = self._tickets.get(request_id)
            return found.ticket if found else None

    def thread(self, request_id: str) -> TicketThread | None:
        with self._lock:
            found = self._tickets.get(request_id)
            if found is None:
                return None
            messages = sorted(found.messages.values(), key=lambda m: (m.at, m.id))
            delays = sorted(found.delays.values(), key=lambda d: (d.posted_at, d.id))
            files = sorted(found.files.values(), key=lambda a: (a.created_at, a.id))
            return TicketThread(found.ticket, tuple(messages), tuple(delays), tuple(files))

    def attachment(self, request_id: str, attachment_id: str) -> Attachment | None:
        with self._lock:
            found = self._tickets.get(request_id)
            return found.files.get(attachment_id) if found else None

    def settle_attachment(self, settled: Attachment, audit: AuditEvent) -> bool:
        with self._lock:
            found = self._tickets.get(settled.ticket_id)
            held = found.files.get(settled.id) if found else None
            if found is None or held is None or held.state != "pending":
                return False
            found.files[settled.id] = settled
            found.audit.append(audit)
            return True

    def for_customer(self, sub: str, limit: int, next_token: str | None) -> Page:
        after = _position(next_token) if next_token else None
        with self._lock:
            mine = sorted(
                (
                    (f"{r.ticket.created_at}#{r.ticket.id}", r.ticket)
                    for r in self._tickets.values()
                    if r.ticket.customer == sub
                ),
                reverse=True,
            )
        if after is not None:
            mine = [entry for entry in mine if entry[0] < after]
        page = mine[:limit]
        more = len(mine) > limit
        return Page(tuple(t for _, t in page), _token(page[-1][0]) if more else None)

    def change(self, request_id: str, audit: AuditEvent, *changes: Change) -> None:
        with self._lock:
            found = self._tickets.get(request_id)
            if found is None:
                raise StaleState(request_id)
            ticket = found.ticket
            messages, delays = dict(found.messages), dict(found.delays)
            files = dict(found.files)
            owed: list[OutboxEntry] = []
            for change in changes:
                if isinstance(change, AppendMessage):
                    if change.owner is not None and ticket.customer != change.owner:
                        raise StaleState(request_id)
                    if change.turns is not None and change.turns != ticket.message_count:
                        raise StaleState(request_id)
                    if change.message.id in messages:
                        raise AlreadyRecorded(request_id)
                    messages[change.message.id] = change.message
                    if change.message.kind != "note":  # a note is no turn
                        side: MessageSide = (
                            "customer" if change.message.author == "customer" else "staff"
                        )
                        ticket = replace(
                            ticket,
                            message_count=ticket.message_count + 1,
                            last_message_at=change.message.at,
                            last_message_by=side,
                        )
                elif isinstance(change, AddDelayNotice):
                    delays[change.notice.id] = change.notice
                elif isinstance(change, Unchanged):
                    if found.ticket.updated_at != change.updated_at:
                        raise StaleState(request_id)
                elif isinstance(change, MoveClock):
                    if not self._clock_is(ticket, change.before):
                        raise StaleState(request_id)
                    ticket = replace(ticket, sla=change.after)
                elif isinstance(change, Enqueue):
                    if change.entry.id in self._outbox:
                        raise AlreadyRecorded(request_id)
                    owed.append(change.entry)
                elif isinstance(change, SetStatus):
                    if ticket.status != change.was:
                        raise StaleState(request_id)
                    after = change.after
                    ticket = replace(
                        ticket,
                        status=after.status,
                        waiting_since=after.waiting_since,
                        solved_at=after.solved_at,
                    )
                elif isinstance(change, CorrectScope):
                    ticket = replace(ticket, scope_correction=copy.deepcopy(change.correction))
                elif isinstance(change, RecordReply):
                    self._check_reply(change)
                elif isinstance(change, SetAdminRequest):
                    ticket = replace(ticket, admin_request=dict(change.value))
                elif isinstance(change, FlagRequest):
                    if change.flag in ticket.scope.flags:
                        raise StaleState(request_id)
                    ticket = replace(ticket, scope=change.scope)
                elif isinstance(change, SetRating):
                    if ticket.rating is not None:
                        raise StaleState(request_id)
                    ticket = replace(ticket, rating=dict(change.rating))
                    if change.flag:
                        ticket = replace(ticket, attention=(*ticket.attention, "bad_rating"))
                elif isinstance(change, Assign):
                    if ticket.assignee != change.request.assignee:
                        raise StaleState(request_id)
                    ticket = replace(ticket, assignee=change.assignee)
                elif isinstance(change, LinkIncident):
                    if ticket.incident != change.request.incident:
                        raise StaleState(request_id)
                    ticket = replace(ticket, incident=change.incident)
                elif isinstance(change, AddAttachment):
                    kept = [a for a in files.values() if a.state != "rejected"]
                    if ticket.status == "closed" or len(kept) >= change.limit:
                        raise StaleState(request_id)
                    if change.attachment.id in files:
                        raise AlreadyRecorded(request_id)
                    files[change.attachment.id] = change.attachment
                    ticket = replace(ticket, attachment_slots=ticket.attachment_slots + 1)
            guards = [c for c in changes if isinstance(c, (SpendAllowance, NotSuppressed))]
            self._check_guards(request_id, guards)
            self._spend(guards)
            for change in changes:  # every condition held: apply what lives elsewhere
                if isinstance(change, RecordReply):
                    self._tickets[change.record.id] = _Request(change.record)
                    if change.identity:
                        self._identities[change.identity] = change.record.id
                elif isinstance(change, CorrectScope):
                    self._corrections.append({"id": request_id, **change.correction})
            self._outbox.update({entry.id: entry for entry in owed})
            found.ticket = replace(ticket, updated_at=audit.at)
            found.messages, found.delays, found.files = messages, delays, files
            found.audit.append(audit)
            found.audit.extend(c.event for c in changes if isinstance(c, FlagRequest))
            for change in changes:
                if isinstance(change, Tally):
                    self.reports.add(change)
            self.writes += 1

    def _check_guards(self, request_id: str, guards: Sequence[SendGuard]) -> None:
        """As the table checks them: a suppressed address, or a full allowance list
        (stale entries counted: only the long way drops them)."""
        for guard in guards:
            if isinstance(guard, NotSuppressed):
                if guard.address.lower() in self._suppressed:
                    raise SendRefused(request_id)
            elif len(self._allowances.get(self._allowance(guard), [])) >= guard.per_day:
                raise SendRefused(request_id)

    def _spend(self, guards: Sequence[SendGuard]) -> None:
        for guard in guards:
            if isinstance(guard, SpendAllowance):
                name = self._allowance(guard)
                self._allowances[name] = [
                    *self._allowances.get(name, []),
                    f"{guard.at} {guard.ref}",
                ]

    @staticmethod
    def _allowance(guard: SpendAllowance) -> str:
        address = guard.address.lower()
        return address if guard.kind == "ack" else f"send:{address}"

    def _check_reply(self, change: RecordReply) -> None:
        if change.record.id in self._tickets:
            raise AlreadyRecorded(change.record.id)
        held = self._identities.get(change.identity or "")
        if held is not None:
            if held != change.record.id:
                raise DuplicateMail(held)
            raise AlreadyRecorded(change.record.id)

    @staticmethod
    def _clock_is(ticket: Ticket, before: Sla) -> bool:
        sla = ticket.sla
        if sla is None or (sla.state, sla.due_at) != (before.state, before.due_at):
            return False
        return duty(before) is duty(sla)

    def set_delivery(
        self, request_id: str, item: Message | DelayNotice, delivery: Delivery
    ) -> None:
        with self._lock:
            found = self._tickets.get(request_id)
            if found is None:
                return
            if isinstance(item, Message) and item.id in found.messages:
                found.messages[item.id] = replace(found.messages[item.id], delivery=delivery)
            elif isinstance(item, DelayNotice) and item.id in found.delays:
                found.delays[item.id] = replace(found.delays[item.id], delivery=delivery)

    def mark_attention(self, request_id: str, reason: str) -> None:
        with self._lock:
            found = self._tickets.get(request_id)
            if found is not None and reason not in found.ticket.attention:
                found.ticket = replace(found.ticket, attention=(*found.ticket.attention, reason))

    def settle_ack(self, record_id: str, state: AckState, *, owed_only: bool = True) -> None:
        with self._lock:
            found = self._tickets.get(record_id)
            if (
                found
                and found.ticket.origin
                and (found.ticket.origin.ack == "owed" or not owed_only)
            ):
                origin = replace(found.ticket.origin, ack=state)
                found.ticket = replace(found.ticket, origin=origin)

    def ticket_for_mail(self, identity: str) -> str | None:
        with self._lock:
            return self._identities.get(identity)

    def events(
        self, request_id: str, limit: int, next_token: str | None
    ) -> tuple[list[AuditEvent], str | None]:
        trail = [(f"AUDIT#{e.at}#{e.id}", e) for e in self.audit_trail(request_id)]
        after = _position(next_token) if next_token else ""
        rest = [entry for entry in trail if entry[0] > after]
        page = rest[:limit]
        more = len(rest) > limit
        return [e for _, e in page], _token(page[-1][0]) if more else None

    def audit_trail(self, request_id: str) -> list[AuditEvent]:
        with self._lock:
            found = self._tickets.get(request_id)
            return sorted(found.audit, key=lambda e: (e.at, e.id)) if found else []

    def corrections(self) -> Iterator[dict[str, Any]]:
        with self._lock:
            yield from list(self._corrections)

    # -- DeadlineIndex ----------------------------------------------------------------

    def _running(self) -> list[_Request]:
        with self._lock:
            return [r for r in self._tickets.values() if duty(r.ticket.sla) is not None]

    def due(self, now: datetime, warning: timedelta) -> Iterator[Ticket]:
        for found in self._running():
            sla, owed = found.ticket.sla, duty(found.ticket.sla)
            assert sla is not None and sla.due_at is not None
            due = parse_iso(sla.due_at)
            if (owed is Duty.WARN and due <= now + warning) or (owed is Duty.BREACH and due <= now):
                yield found.ticket

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
        """Derived from each request's whole state, as `domain.queue` defines it."""
        after = _position(next_token) if next_token else ""
        with self._lock:
            tickets = [r.ticket for r in self._tickets.values()]
        waiting = sorted(
            (f"{position}#{t.id}", t)
            for t in tickets
            if (position := queue_position(t)) is not None
            and (channel is None or t.channel == channel)
            and (label is None or queue_label(t) == label)
            and (flag is None or flag in t.scope.flags)
            and (assignee is None or (t.assignee.id if t.assignee else "-") == assignee)
        )
        waiting = [entry for entry in waiting if entry[0] > after]
        page = waiting[:limit]
        more = len(waiting) > limit
        return Page(tuple(t for _, t in page), _token(page[-1][0]) if more else None)

    def search(
        self,
        terms: Sequence[str],
        limit: int,
        next_token: str | None,
        keep: Callable[[Ticket], bool],
    ) -> Page:
        before = _position(next_token) if next_token else None
        with self._lock:
            tickets = [r.ticket for r in self._tickets.values()]
        found = sorted(
            (
                (f"{t.created_at}#{t.id}", t)
                for t in tickets
                if (t.origin is None or t.origin.disposition == "advisory")
                and set(terms) <= set(request_terms(t))
                and keep(t)
            ),
            reverse=True,
        )
        if before is not None:
            found = [entry for entry in found if entry[0] < before]
        page = found[:limit]
        more = len(found) > limit
        return Page(tuple(t for _, t in page), _token(page[-1][0]) if more else None)

    def by_contact(
        self, limit: int, next_token: str | None, *, address: str | None, domain: str | None
    ) -> Page:
        before = _position(next_token) if next_token else None
        with self._lock:
            tickets = [r.ticket for r in self._tickets.values()]

        def matches(t: Ticket) -> bool:
            if t.origin is not None and t.origin.disposition != "advisory":
                return False
            mail = (t.customer_email or "").lower()
            if address:
                return mail == address.lower()
            wanted = (domain or "").lower()
            return mail.rsplit("@", 1)[-1] == wanted or (t.domain or "").lower() == wanted

        found = sorted(((f"{t.created_at}#{t.id}", t) for t in tickets if matches(t)), reverse=True)
        if before is not None:
            found = [entry for entry in found if entry[0] < before]
        page = found[:limit]
        more = len(found) > limit
        return Page(tuple(t for _, t in page), _token(page[-1][0]) if more else None)

    def open_count(self) -> int:
        return len(self._running())

    # -- Markers ----------------------------------------------------------------------

    def take_ack_allowance(self, address: str, at: str, per_day: int, record_id: str) -> bool:
        cutoff = to_iso(parse_iso(at) - timedelta(hours=24))
        with self._lock:
            recent = [e for e in self._allowances.get(address.lower(), []) if e > cutoff]
            if any(entry.endswith(f" {record_id}") for entry in recent):
                return True
            if len(recent) >= per_day:
                return False
            self._allowances[address.lower()] = [*recent, f"{at} {record_id}"]
            return True

    def take_send_allowance(self, address: str, at: str, per_day: int, ref: str) -> bool:
        return self.take_ack_allowance("send:" + address, at, per_day, ref)

    def suppress(self, address: str, reason: str, at: str) -> None:
        with self._lock:
            self._suppressed[address.lower()] = reason
            self._suppressed_at[address.lower()] = at

    def suppression(self, address: str) -> str | None:
        with self._lock:
            return self._suppressed.get(address.lower())

    def suppression_record(self, address: str) -> tuple[str, str] | None:
        with self._lock:
            reason = self._suppressed.get(address.lower())
            return None if reason is None else (reason, self._suppressed_at[address.lower()])

    def lift_suppression(self, address: str) -> bool:
        with self._lock:
            self._suppressed_at.pop(address.lower(), None)
            return self._suppressed.pop(address.lower(), None) is not None

    def release_ack_allowance(self, address: str, at: str, record_id: str) -> None:
        with self._lock:
            entries = self._allowances.get(address.lower(), [])
            self._allowances[address.lower()] = [
                e for e in entries if not e.endswith(f" {record_id}")
            ]


class MemoryOutbox:
    """The `Outbox` over a MemoryStore's entries, under the store's lock."""

    def __init__(self, store: MemoryStore) -> None:
        self._store = store

    def due(self, now: str, limit: int) -> list[OutboxEntry]:
        with self._store._lock:
            waiting = sorted(
                (e for e in self._store._outbox.values() if e.due_at <= now),
                key=lambda e: (e.due_at, e.id),
            )
        return waiting[:limit]

    def claim(self, entry: OutboxEntry, until: str) -> OutboxEntry | None:
        with self._store._lock:
            held = self._store._outbox.get(entry.id)
            if held is None or held.due_at != entry.due_at:
                return None
            claimed = replace(held, due_at=until, attempts=held.attempts + 1)
            self._store._outbox[entry.id] = claimed
            return claimed

    def done(self, entry: OutboxEntry, settle: Settle | None = None) -> None:
        with self._store._lock:
            if self._store._outbox.get(entry.id) == entry:
                del self._store._outbox[entry.id]
            if settle is None:
                return
            if settle.ack is not None:
                self._store.settle_ack(settle.request_id, settle.ack, owed_only=False)
            if settle.item is not None and settle.delivery is not None:
                self._store.set_delivery(settle.request_id, settle.item, settle.delivery)

    def done_many(self, delivered: Sequence[tuple[OutboxEntry, Settle | None]]) -> None:
        for entry, settle in delivered:
            self.done(entry, settle)

    def reschedule(self, entry: OutboxEntry, at: str, error: str) -> None:
        with self._store._lock:
            if self._store._outbox.get(entry.id) == entry:
                self._store._outbox[entry.id] = replace(entry, due_at=at, last_error=error)

    def give_up(self, entry: OutboxEntry, error: str, at: str) -> None:
        with self._store._lock:
            if self._store._outbox.get(entry.id) == entry:
                del self._store._outbox[entry.id]
                self._store._given_up.append(replace(entry, last_error=error))

    def given_up(self) -> list[OutboxEntry]:
        with self._store._lock:
            return list(self._store._given_up)


class MemoryIncidents:
    """`Incidents` in memory; links are read from the requests themselves."""

    def __init__(self, store: MemoryStore) -> None:
        self._store = store
        self._items: dict[str, Incident] = {}
        self.audit: list[AuditEvent] = []
        self._claims: dict[str, str] = {}

    def _linked(self, incident_id: str) -> list[Ticket]:
        with self._store._lock:
            found = [r.ticket for r in self._store._tickets.values()]
        return sorted(
            (t for t in found if t.incident == incident_id), key=lambda t: (t.created_at, t.id)
        )

    def _with_count(self, incident: Incident) -> Incident:
        return replace(incident, linked=len(self._linked(incident.id)))

    def create(
        self, incident: Incident, audit: AuditEvent, outbox: Sequence[OutboxEntry] = ()
    ) -> None:
        with self._store._lock:
            if incident.id in self._items or any(e.id in self._store._outbox for e in outbox):
                raise AlreadyRecorded(incident.id)
            self._items[incident.id] = incident
            self._store._outbox.update({e.id: e for e in outbox})
            self.audit.append(audit)

    def get(self, incident_id: str) -> Incident | None:
        with self._store._lock:
            found = self._items.get(incident_id)
        return self._with_count(found) if found else None

    def save(
        self, incident: Incident, audit: AuditEvent, outbox: Sequence[OutboxEntry] = ()
    ) -> Incident:
        with self._store._lock:
            held = self._items.get(incident.id)
            if held is None or held.version != incident.version:
                raise StaleState(incident.id)
            if any(e.id in self._store._outbox for e in outbox):
                raise AlreadyRecorded(incident.id)
            self._items[incident.id] = replace(incident, version=incident.version + 1)
            self._store._outbox.update({e.id: e for e in outbox})
            self.audit.append(audit)
        stored = self.get(incident.id)
        assert stored is not None
        return stored

    def active(self) -> list[Incident]:
        with self._store._lock:
            found = [i for i in self._items.values() if i.active]
        ordered = sorted(found, key=lambda i: (i.created_at, i.id), reverse=True)
        return [self._with_count(i) for i in ordered]

    def past(self, limit: int, next_token: str | None) -> tuple[list[Incident], str | None]:
        with self._store._lock:
            found = [i for i in self._items.values() if not i.active]
        ordered = sorted(found, key=lambda i: (i.created_at, i.id), reverse=True)
        start = int(_position(next_token)) if next_token else 0
        page = ordered[start : start + limit]
        more = start + limit < len(ordered)
        return [self._with_count(i) for i in page], _token(str(start + limit)) if more else None

    def claim_escalation(self, incident_id: str, entry_id: str) -> bool:
        with self._store._lock:
            if incident_id not in self._items:
                return False
            holder = self._claims.setdefault(incident_id, entry_id)
            return bool(holder == entry_id)

    def linked(self, incident_id: str, limit: int, next_token: str | None) -> Page:
        linked = self._linked(incident_id)
        start = int(_position(next_token)) if next_token else 0
        page = linked[start : start + limit]
        more = start + limit < len(linked)
        return Page(tuple(page), _token(str(start + limit)) if more else None)

    def owe(self, entry: OutboxEntry) -> None:
        with self._store._lock:
            self._store._outbox.setdefault(entry.id, entry)


class MemoryQuotes:
    """`Quotes` in memory, with the same version conditions."""

    def __init__(self, store: MemoryStore) -> None:
        self._store = store
        self._quotes: dict[tuple[str, str], Quote] = {}

    def add(self, quote: Quote, audit: AuditEvent) -> None:
        with self._store._lock:
            found = self._store._tickets.get(quote.ticket_id)
            if found is None:
                raise StaleState(quote.ticket_id)
            if (quote.ticket_id, quote.id) in self._quotes:
                raise AlreadyRecorded(quote.id)
            self._quotes[(quote.ticket_id, quote.id)] = quote
            found.audit.append(audit)

    def get(self, ticket_id: str, quote_id: str) -> Quote | None:
        with self._store._lock:
            return self._quotes.get((ticket_id, quote_id))

    def for_ticket(self, ticket_id: str) -> list[Quote]:
        with self._store._lock:
            found = [q for (t, _), q in self._quotes.items() if t == ticket_id]
        return sorted(found, key=lambda q: (q.created_at, q.id))

    def save(self, quote: Quote, audit: AuditEvent) -> Quote:
        with self._store._lock:
            held = self._quotes.get((quote.ticket_id, quote.id))
            if held is None or held.version != quote.version:
                raise StaleState(quote.id)
            saved = replace(quote, version=quote.version + 1)
            self._quotes[(quote.ticket_id, quote.id)] = saved
            self._store._tickets[quote.ticket_id].audit.append(audit)
            return saved


class FakePublisher:
    """Keeps what was published; `down` makes every publish fail."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, dict[str, Any]]] = []
        self.down = False

    def publish(self, topic_arn: str, kind: str, message: dict[str, Any]) -> None:
        if self.down:
            raise ConnectionError("SNS unreachable")
        self.sent.append((topic_arn, kind, message))

    def kinds(self) -> list[str]:
        return [kind for _, kind, _ in self.sent]


class FakeDirectory:
    """Cabinet accounts by e-mail."""

    def __init__(
        self, accounts: Mapping[str, str] | None = None, unverified: Iterable[str] = ()
    ) -> None:
        self.accounts = {k.lower(): v for k, v in (accounts or {}).items()}
        self.unverified = {e.lower() for e in unverified}  # typed, never confirmed
        self.locales: dict[str, str] = {}  # sub → the account's `locale`
        self.names: dict[str, str] = {}  # sub → the account's `name`

    def find_by_email(self, email: str) -> str | None:
        if email.lower() in self.unverified:
            return None  # R1.7: as the Cognito directory, only a verified address links
        return self.accounts.get(email.lower())

    def email_of(self, sub: str) -> str | None:
        return next((email for email, owner in self.accounts.items() if owner == sub), None)

    def profile(self, sub: str) -> Profile:
        return Profile(self.email_of(sub), self.locales.get(sub), self.names.get(sub))


class FakeMailer:
    """Keeps every sent message; `failures` sends are refused first."""

    def __init__(self, failures: int = 0) -> None:
        self.sent: list[EmailMessage] = []
        self.tags: list[dict[str, str]] = []
        self.failures = failures

    def send(self, message: EmailMessage, *, source: str, to: str, tags: Any = None) -> str | None:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("SES throttled")
        self.sent.append(message)
        self.tags.append(dict(tags or {}))
        return f"ses-{len(self.sent):06d}"  # SES's own id, unlike our Message-ID


class FakeBlobs:
    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], bytes] = {}
        self.object_tags: dict[tuple[str, str], dict[str, str]] = {}

    def tags(self, bucket: str, key: str) -> dict[str, str]:
        return dict(self.object_tags.get((bucket, key), {}))

    def size(self, bucket: str, key: str) -> int:
        return len(self.objects[(bucket, key)])

    def read(self, bucket: str, key: str) -> bytes:
        return self.objects[(bucket, key)]

    def write(
        self,
        bucket: str,
        key: str,
        body: bytes,
        *,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> None:
        self.objects[(bucket, key)] = body

    def head(self, bucket: str, key: str, length: int) -> tuple[int, bytes] | None:
        body = self.objects.get((bucket, key))
        return None if body is None else (len(body), body[:length])

    def delete(self, bucket: str, key: str) -> None:
        self.objects.pop((bucket, key), None)

    def upload_form(
        self, bucket: str, key: str, content_type: str, size: int, expires_in: int
    ) -> dict[str, Any]:
        fields = {"key": key, "Content-Type": content_type, "x-size": str(size)}
        return {"url": f"https://{bucket}.s3.fake/", "fields": fields}

    def download_url(
        self, bucket: str, key: str, name: str, content_type: str, expires_in: int
    ) -> str:
        return f"https://{bucket}.s3.fake/{key}?download={name}&expires={expires_in}"


class FixedClock:
    """A clock a test moves by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass
class FakeWorld:
    """A runtime wired to fakes only, and the fakes, for a service test to look at."""

    runtime: Any
    store: MemoryStore
    publisher: FakePublisher
    directory: FakeDirectory
    mailer: FakeMailer
    blobs: FakeBlobs
    clock: FixedClock


def unit_settings() -> Any:
    """The default settings with the names of the unit tests' resources."""
    from chalicelib.config import Settings

    return Settings(
        table_name="unit",
        escalation_topic_arn="arn:aws:sns:eu-central-1:000000000000:escalations",
        management_topic_arn="arn:aws:sns:eu-central-1:000000000000:management",
        chat_secret_name="unit/chat",
        user_pool_id="unit-pool",
        mail_bucket="unit-mail",
    )


def sqs_event(body: str, message_id: str = "q-1") -> dict[str, Any]:
    """An SQS event of one record, as Lambda hands it to the mail function."""
    record = {
        "messageId": message_id,
        "receiptHandle": "r",
        "body": body,
        "attributes": {},
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:eu-central-1:000000000000:mail",
        "awsRegion": "eu-central-1",
    }
    return {"Records": [record]}


def fake_world(
    now: datetime,
    accounts: Mapping[str, str] | None = None,
    *,
    share: FakeWorld | None = None,
) -> FakeWorld:
    """`build_runtime` with every outside service faked, on the default settings; with
    `share`, a second process on the same store and services (its own clock)."""
    from chalicelib.runtime import Services, build_runtime

    settings = unit_settings()
    clock = FixedClock(now)
    if share is not None:
        store = share.store
        services = Services(
            store=store.as_store(),
            publisher=share.publisher,
            directory=share.directory,
            blobs=share.blobs,
            mailer=share.mailer,
        )
    else:
        store = MemoryStore()
        services = Services(
            store=store.as_store(),
            publisher=FakePublisher(),
            directory=FakeDirectory(accounts),
            blobs=FakeBlobs(),
            mailer=FakeMailer(),
        )
    runtime = build_runtime(settings, clock=clock, services=services, chat_secret=lambda: b"s")
    return FakeWorld(
        runtime,
        store,
        services.publisher,  # type: ignore[arg-type]
        services.directory,  # type: ignore[arg-type]
        services.mailer,  # type: ignore[arg-type]
        services.blobs,  # type: ignore[arg-type]
        clock,
    )
