"""Cabinet tickets: the only official requests (R1.4), from authenticated customers."""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from chalicelib import observability as obs
from chalicelib.domain.identity import Principal, visible_to
from chalicelib.domain.tickets import MESSAGE_MAX, AuditEvent, Message, Page, Ticket, TicketThread
from chalicelib.errors import Conflict, NotFound
from chalicelib.ids import keyed_ticket_id, new_event_id, new_message_id
from chalicelib.intake.abuse import flagged_by_message
from chalicelib.intake.pipeline import Intake, IntakePipeline, Sender
from chalicelib.lifecycle import customer_wrote
from chalicelib.storage import AppendMessage, Change, MoveClock, StaleState, Tickets, Unchanged
from chalicelib.timeutil import Clock, to_iso
from chalicelib.validation import (
    choice_field,
    domain_field,
    idempotency_key,
    reject_unknown_fields,
    text_field,
)
from chalicelib.values import frozen

SUBJECT_MAX = 200
# The services of R3.1 and what else a hosting customer asks about.
TICKET_SERVICES = (
    "cabinet",
    "panel",
    "email",
    "mysql",
    "apache",
    "ftp",
    "ssh",
    "vps",
    "dedicated",
    "domain",
    "billing",
    "other",
)
_ATTEMPTS = 4


@frozen
class NewTicket:
    subject: str
    text: str
    service: str | None = None
    domain: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def request_digest(new: NewTicket) -> str:
    """What makes two create requests the same request (their words and fields)."""
    canonical = json.dumps(new.to_dict(), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def parse_new_ticket(body: dict[str, Any]) -> NewTicket:
    """Validate a `POST /tickets` body; unknown fields are refused, not ignored."""
    reject_unknown_fields(body, ("subject", "text", "service", "domain"))
    subject = text_field(body, "subject", max_chars=SUBJECT_MAX, single_line=True)
    text = text_field(body, "text", max_chars=MESSAGE_MAX)
    assert subject is not None and text is not None  # required fields
    return NewTicket(
        subject=subject,
        text=text,
        service=choice_field(body, "service", TICKET_SERVICES),
        domain=domain_field(body),
    )


def parse_new_message(body: dict[str, Any]) -> str:
    """A customer's follow-up: `{"text"}`."""
    reject_unknown_fields(body, ("text",))
    text = text_field(body, "text", max_chars=MESSAGE_MAX)
    assert text is not None
    return text


class Recent:
    """The tickets this process last served, newest kept, at most `size`: a guess at
    a ticket's state that a write checks (`Unchanged`), never an answer to a read."""

    def __init__(self, size: int = 256) -> None:
        self._size = size
        self._tickets: OrderedDict[str, Ticket] = OrderedDict()

    def remember(self, ticket: Ticket) -> None:
        self._tickets[ticket.id] = ticket
        self._tickets.move_to_end(ticket.id)
        while len(self._tickets) > self._size:
            self._tickets.popitem(last=False)

    def forget(self, ticket_id: str) -> Ticket | None:
        """The remembered ticket, no longer remembered (whatever the write makes of it)."""
        return self._tickets.pop(ticket_id, None)


class CabinetService:
    """What a customer can do with their tickets in the cabinet."""

    def __init__(
        self,
        tickets: Tickets,
        pipeline: IntakePipeline,
        clock: Clock,
        response_minutes: int = 60,
        notice: Callable[[Ticket], dict[str, Any] | None] | None = None,
    ) -> None:
        self._notice = notice  # the service status a new ticket is told (R3.3)
        self._tickets = tickets
        self._minutes = response_minutes
        self._pipeline = pipeline
        self._clock = clock
        self._recent = Recent()

    def create_ticket(
        self, customer: Principal, new: NewTicket, key: str | None
    ) -> tuple[dict[str, Any], bool]:
        """Open a ticket; with an Idempotency-Key a replay returns the first response.

        The key names the ticket (`keyed_ticket_id`), so the ticket's own conditional
        write is the idempotency record: the first call's write keeps a receipt beside
        it (the request's digest and the ticket as made), a replay finds the id taken
        and answers from the receipt, the same key with other words is 409, and two
        identical calls at once make one ticket, both answered with it.
        Returns the ticket's API form and whether this call created it.
        """
        if key is None:
            return self._answer(self.open_ticket(customer, new)), True
        key = idempotency_key(key) or ""
        ticket_id, digest = keyed_ticket_id(customer.sub, key), request_digest(new)
        made = self._pipeline.take(
            self._intake(customer, new, ticket_id, receipt=digest), unseen=True
        )
        if made.created:
            return self._answer(made.request), True
        receipt = self._tickets.receipt(ticket_id)
        if receipt is None:  # a ticket from before receipts: the same words are a replay
            first = made.request
            same = first.customer == customer.sub and (first.subject, first.text) == (
                new.subject,
                new.text,
            )
            if not same:  # another customer's id, by a hash collision: a ticket of its own
                return self._answer(self.open_ticket(customer, new)), True
        elif receipt[0] != digest or receipt[1].customer != customer.sub:
            raise Conflict(
                "idempotency_key_reused",
                "this Idempotency-Key was already used for a different ticket",
            )
        else:
            first = receipt[1]
        obs.count(obs.IDEMPOTENT_REPLAYS, channel="cabinet")
        return self._answer(first), False

    def _answer(self, ticket: Ticket) -> dict[str, Any]:
        """The new ticket, and what is known of the service it is about (R3.3)."""
        self._recent.remember(ticket)
        body = ticket.to_api()
        notice = self._notice(ticket) if self._notice else None
        if notice:
            body["status_notice"] = notice
        return body

    def open_ticket(self, customer: Principal, new: NewTicket) -> Ticket:
        """R1.4: an official ticket with its scope and its first-response deadline (R2.1)."""
        return self._pipeline.take(self._intake(customer, new, None)).request

    def _intake(
        self,
        customer: Principal,
        new: NewTicket,
        ticket_id: str | None,
        receipt: str | None = None,
    ) -> Intake:
        return Intake(
            channel="cabinet",
            official=True,
            sender=Sender(customer.email, "token", account=customer.sub, name=customer.name),
            subject=new.subject,
            text=new.text,
            received_at=self._clock(),
            recorded_by=customer.sub,
            record_id=ticket_id,
            service=new.service,
            domain=new.domain,
            receipt=receipt,
        )

    def list_tickets(self, customer: Principal, limit: int, next_token: str | None) -> Page:
        return self._tickets.for_customer(customer.sub, limit, next_token)

    def thread(self, customer: Principal, ticket_id: str) -> TicketThread:
        """A ticket with its conversation; another customer's ticket does not exist (404)."""
        thread = self._tickets.thread(ticket_id)
        visible_to(customer, thread.ticket if thread else None)
        assert thread is not None  # visible_to refused a missing one
        self._recent.remember(thread.ticket)
        return thread

    def add_message(self, customer: Principal, ticket_id: str, text: str) -> Message:
        """A customer follow-up. On an answered official ticket it starts a new wait with
        its own deadline (R2.5); while staff still owe an answer, that deadline stands.
        Decided first on the ticket as this process last served it, written only if it
        has not changed since (one write, no read); else read and decided again."""
        for attempt in range(_ATTEMPTS):
            remembered = self._recent.forget(ticket_id) if attempt == 0 else None
            ticket = remembered or self._tickets.get(ticket_id)
            if ticket is None or ticket.customer != customer.sub:
                raise NotFound("ticket_not_found", "no such ticket")
            if ticket.status == "closed":
                raise Conflict("ticket_closed", "this ticket is closed: open a new one")
            now = self._clock()
            at = to_iso(now)
            message = Message(new_message_id(), ticket_id, "customer", customer.sub, text, at)
            audit = AuditEvent(
                new_event_id(),
                ticket_id,
                "customer_message",
                customer.sub,
                at,
                {"message_id": message.id},
            )
            changes: list[Change] = [
                AppendMessage(message, owner=customer.sub),
                *customer_wrote(ticket, now, self._minutes),
                *flagged_by_message(ticket, text, at, customer.sub),  # R6.2
            ]
            for change in changes:
                if isinstance(change, MoveClock):  # R2.5: a new wait, with its own deadline
                    audit.detail["due_at"] = change.after.due_at
            seen = [Unchanged(ticket.updated_at)] if remembered else []
            try:
                self._tickets.change(ticket_id, audit, *changes, *seen)
            except StaleState:
                continue  # answered, swept, flagged or moved meanwhile: decide again
            self._pipeline.hand_over(changes, ticket.channel)
            return message
        raise Conflict("concurrent_update", "the ticket kept changing; try again")
