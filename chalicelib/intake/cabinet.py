"""Cabinet tickets: the only official requests (R1.4), from authenticated customers."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Protocol

from chalicelib.errors import NotFound
from chalicelib.identity import Principal
from chalicelib.ids import new_event_id, new_message_id, new_ticket_id
from chalicelib.models import AuditEvent, KbArticle, Message, Page, Scope, Ticket, TicketThread
from chalicelib.sla.deadlines import first_response_deadline
from chalicelib.storage import IdCollision, SupportStore
from chalicelib.timeutil import Clock, to_iso
from chalicelib.validation import (
    choice_field,
    domain_field,
    reject_unknown_fields,
    text_field,
)

SUBJECT_MAX = 200
TEXT_MAX = 20_000
# The services of R3.1 and what else a hosting customer asks about.
SERVICES = (
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
_ID_ATTEMPTS = 5


class Classifier(Protocol):
    def __call__(
        self, subject: str, text: str, channel: str
    ) -> tuple[Scope, tuple[KbArticle, ...]]:
        """Scope label, flags, evidence and knowledge-base suggestions for a request."""
        ...


@dataclass(frozen=True)
class NewTicket:
    subject: str
    text: str
    service: str | None = None
    domain: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def parse_new_ticket(body: dict[str, Any]) -> NewTicket:
    """Validate a `POST /tickets` body; unknown fields are refused, not ignored."""
    reject_unknown_fields(body, ("subject", "text", "service", "domain"))
    subject = text_field(body, "subject", max_chars=SUBJECT_MAX, single_line=True)
    text = text_field(body, "text", max_chars=TEXT_MAX)
    assert subject is not None and text is not None  # required fields
    return NewTicket(
        subject=subject,
        text=text,
        service=choice_field(body, "service", SERVICES),
        domain=domain_field(body),
    )


def parse_new_message(body: dict[str, Any]) -> str:
    """A customer's follow-up: `{"text"}`."""
    reject_unknown_fields(body, ("text",))
    text = text_field(body, "text", max_chars=TEXT_MAX)
    assert text is not None
    return text


parse_staff_response = parse_new_message


class CabinetService:
    """What a customer can do with their tickets in the cabinet."""

    def __init__(
        self,
        store: SupportStore,
        classify: Classifier,
        clock: Clock,
        first_response_minutes: int,
    ) -> None:
        self._store = store
        self._classify = classify
        self._clock = clock
        self._minutes = first_response_minutes

    def open_ticket(self, customer: Principal, new: NewTicket) -> Ticket:
        """R1.4: an official ticket with its scope and its first-response deadline (R2.1)."""
        now = self._clock()
        created_at = to_iso(now)
        scope, kb = self._classify(new.subject, new.text, "cabinet")
        for _ in range(_ID_ATTEMPTS):
            ticket = Ticket(
                id=new_ticket_id(),
                channel="cabinet",
                official=True,
                status="open",
                subject=new.subject,
                text=new.text,
                created_at=created_at,
                updated_at=created_at,
                customer=customer.sub,
                customer_email=customer.email,
                scope=scope,
                kb=kb,
                sla=first_response_deadline(now, self._minutes),
                service=new.service,
                domain=new.domain,
            )
            audit = AuditEvent(
                id=new_event_id(),
                ticket_id=ticket.id,
                action="ticket_created",
                actor=customer.sub,
                at=created_at,
                detail={"label": scope.label, "due_at": ticket.sla.due_at if ticket.sla else None},
            )
            try:
                self._store.create_ticket(ticket, audit)
            except IdCollision:
                continue
            return ticket
        raise RuntimeError("could not draw a free ticket id")

    def list_tickets(self, customer: Principal, limit: int, next_token: str | None) -> Page:
        return self._store.list_customer_tickets(customer.sub, limit, next_token)

    def thread(self, customer: Principal, ticket_id: str) -> TicketThread:
        """A ticket with its conversation; another customer's ticket does not exist (404)."""
        thread = self._store.get_thread(ticket_id)
        if thread is None or (thread.ticket.customer != customer.sub and not customer.is_staff):
            raise NotFound("ticket_not_found", "no such ticket")
        return thread

    def add_message(self, customer: Principal, ticket_id: str, text: str) -> Message:
        """A customer follow-up. It reopens the ticket but never restarts the clock (R2)."""
        at = to_iso(self._clock())
        message = Message(
            id=new_message_id(),
            ticket_id=ticket_id,
            author="customer",
            author_id=customer.sub,
            text=text,
            at=at,
        )
        audit = AuditEvent(
            id=new_event_id(),
            ticket_id=ticket_id,
            action="customer_message",
            actor=customer.sub,
            at=at,
            detail={"message_id": message.id},
        )
        self._store.add_message(message, audit, owner=customer.sub, new_status="open")
        return message
