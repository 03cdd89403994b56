"""The domain's values, in the regulation's words (SPEC.md), with their API form."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

# Attachment values live in `domain.attachments`, and are imported from here.
from chalicelib.domain.attachments import (
    Attachment as Attachment,
    AttachmentState as AttachmentState,
    StoredAttachment as StoredAttachment,
)
from chalicelib.domain.people import StaffRef
from chalicelib.domain.scope import Evidence as Evidence, KbArticle as KbArticle, Scope as Scope
from chalicelib.values import frozen

Channel = Literal["cabinet", "email", "chat", "skype"]
Author = Literal["customer", "staff", "operator"]
MessageKind = Literal["message", "note"]
MessageSide = Literal["customer", "staff"]
SlaState = Literal["pending", "warned", "breached", "met", "delayed", "withdrawn"]
Status = Literal["open", "answered", "solved", "closed"]  # API.md, ticket lifecycle
# What the e-mail intake made of a mail (parse-email and the record's `disposition`).
Disposition = Literal["advisory", "reply", "machine", "quarantine", "duplicate"]
# What became of an automatic acknowledgement owed to an e-mail sender.
AckState = Literal["owed", "sent", "rate_limited", "failed"]
# How an advisory record without an account names a sender whose address is only a claim
# (`intake.values.UNLINKED_PREFIX`: an unverified From, an address given in a chat).
CLAIM_PREFIXES = ("unverified:", "unlinked:")
MESSAGE_MAX = 20_000  # characters of one message's text, whoever wrote it
# API.md, Conversations; `undeliverable`: there is no address to send to (the reason says why)
DeliveryState = Literal["queued", "sent", "failed", "suppressed", "undeliverable"]


@frozen
class Delivery:
    """Whether a staff answer or delay notice reached the customer by e-mail (R2.6)."""

    state: DeliveryState
    to: str | None
    at: str
    reason: str | None = None
    message_id: str | None = None  # the mail service's own id (SES's), once sent

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"state": self.state, "to": self.to, "at": self.at}
        if self.reason:
            body["reason"] = self.reason
        if self.message_id:
            body["message_id"] = self.message_id
        return body

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Delivery | None:
        if not data:
            return None
        return cls(
            data["state"], data.get("to"), data["at"], data.get("reason"), data.get("message_id")
        )


@frozen
class Wait:
    """An earlier wait of the customer for staff on the same ticket (R2.5)."""

    started_at: str | None
    due_at: str | None
    responded_at: str | None
    state: SlaState

    def to_dict(self) -> dict[str, Any]:
        return {
            "started_at": self.started_at,
            "due_at": self.due_at,
            "responded_at": self.responded_at,
            "state": self.state,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Wait:
        return cls(
            data.get("started_at"), data.get("due_at"), data.get("responded_at"), data["state"]
        )


@frozen
class Sla:
    """The response clock of an official ticket (R2): the current wait, and the earlier
    ones (R2.5: every answer a customer waits for is timed)."""

    state: SlaState
    due_at: str | None
    first_response_at: str | None = None  # the answer to the current wait
    breached_at: str | None = None
    warned_at: str | None = None
    started_at: str | None = None  # when the current wait began (None: at creation)
    history: tuple[Wait, ...] = ()
    ended_at: str | None = None  # the wait ended unanswered: the request was solved or closed
    # R2.7: the staff answer that settled the current wait (a delay notice is a first
    # response, but it settles nothing: a breached ETA still waits for this).
    answered_at: str | None = None

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "state": self.state,
            "due_at": self.due_at,
            "first_response_at": self.first_response_at,
            "answered_at": self.answered_at,
            "breached_at": self.breached_at,
            "started_at": self.started_at,
            "history": [w.to_dict() for w in self.history],
        }
        if self.ended_at:
            body["ended_at"] = self.ended_at
        return body


@frozen
class Origin:
    """Where a record came from and what the intake made of it (advisory channels)."""

    source_ref: str  # s3://bucket/key of the raw mail, or <channel>:<transcript id>
    disposition: Disposition = "advisory"
    reason: str | None = None
    account: str | None = None  # the linked cabinet account (`sub`), if any
    thread_of: str | None = None  # the request a reply joined
    message_id: str | None = None  # the customer's Message-ID, for threading answers
    full_text_ref: str | None = None  # s3:// of the whole text when the record holds less
    attachments: tuple[StoredAttachment, ...] = ()
    attachment_count: int = 0
    attachments_not_extracted: int = 0
    defects: tuple[str, ...] = ()
    within_hours: bool | None = None  # chat and Skype (R1.3)
    ended_at: str | None = None
    ack: AckState | None = None
    conversation_digest: str | None = None  # what a redelivered transcript must match
    references: tuple[str, ...] = ()  # the customer's References chain, for threading


@frozen
class Ticket:
    """An official request from the cabinet (R1.4), or an advisory record."""

    id: str
    channel: Channel
    official: bool
    status: Status
    subject: str
    text: str
    created_at: str
    updated_at: str
    customer: str
    customer_email: str | None
    scope: Scope
    kb: tuple[KbArticle, ...] = ()
    sla: Sla | None = None
    service: str | None = None
    domain: str | None = None
    message_count: int = 0
    scope_correction: dict[str, Any] | None = None
    origin: Origin | None = None
    attention: tuple[str, ...] = ()  # what staff must look at (a bounced answer, ...)
    waiting_since: str | None = None  # when an advisory record last began to wait
    solved_at: str | None = None  # when it was last set `solved` (auto-close counts from it)
    incident: str | None = None  # the incident it is linked to (R3.3)
    admin_request: dict[str, Any] | None = None  # R5.1, R5.2: `admin.free.AdminRequest`
    follow_up_of: str | None = None  # R1.4: the closed ticket this mail replied to
    rating: dict[str, Any] | None = None  # the customer's: score, comment, at
    customer_name: str | None = None  # the account's name, where the token carried one
    assignee: StaffRef | None = None  # who on staff owns it
    last_message_at: str | None = None  # the conversation's last turn (notes aside)
    last_message_by: MessageSide | None = None
    attachment_slots: int = 0  # cabinet uploads announced (mail attachments are in origin)

    @property
    def attachment_count(self) -> int:
        return self.attachment_slots + (len(self.origin.attachments) if self.origin else 0)

    @property
    def claimed_email(self) -> str | None:
        """R1.7: the address an advisory record's sender gave but never proved (an
        unverified From, an address typed into a chat): findable, never the account's."""
        if self.official or not self.customer.startswith(CLAIM_PREFIXES):
            return None
        return self.customer_email

    def team_view(self) -> dict[str, Any]:
        """What staff see beside the customer's view (API.md, "Working as a team")."""
        return {
            "customer_email": self.customer_email,
            "customer_name": self.customer_name,
            "assignee": {"id": self.assignee.id, "name": self.assignee.name}
            if self.assignee
            else None,
            "last_message_at": self.last_message_at or self.created_at,
            "last_message_by": self.last_message_by or "customer",
            "attachment_count": self.attachment_count,
        }

    def to_api(self, staff_view: bool = False) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.id,
            "channel": self.channel,
            "official": self.official,
            "advisory": not self.official,
            "status": self.status,
            "subject": self.subject,
            "text": self.text,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "customer": self.customer,
            "service": self.service,
            "domain": self.domain,
            "scope": self.scope.to_dict(),
            "kb": [a.to_dict() for a in self.kb],
            "sla": self.sla.to_dict() if self.sla else None,
            "message_count": self.message_count,
        }
        if staff_view:  # who corrected what, and what needs attention: staff's business
            if self.scope_correction is not None:
                body["scope_correction"] = self.scope_correction
            if self.attention:
                body["attention"] = list(self.attention)
        elif self.scope_correction is not None:
            # The customer sees the scope as it now stands: staff's correction, without
            # who made it or the classifier's answer it replaced (nor that answer's evidence).
            body["scope"] = {
                "label": self.scope_correction.get("label"),
                "sub": self.scope_correction.get("sub"),
                "flags": list(self.scope.flags),
                "evidence": [],
            }
        body["incident"] = self.incident
        body["rating"] = self.rating
        if self.admin_request is not None:
            body["admin_request"] = {
                k: v for k, v in self.admin_request.items() if k != "clean" and v is not None
            } | {"possible": bool(self.admin_request.get("possible"))}
        if self.solved_at and self.status == "solved":
            body["solved_at"] = self.solved_at
        if not self.official:
            body["from_addr"] = self.customer_email
            body["claimed_email"] = self.claimed_email
            body["follow_up_of"] = self.follow_up_of
        return body | self.team_view() if staff_view else body


@frozen
class Message:
    """One turn of a ticket's conversation after its opening text."""

    id: str
    ticket_id: str
    author: Author
    author_id: str
    text: str
    at: str
    delivery: Delivery | None = None
    kind: MessageKind = "message"  # a `note` is staff-only: never shown to the customer
    by: StaffRef | None = None  # the staff member who wrote it

    def to_api(self, staff_view: bool = True) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.id,
            "ticket_id": self.ticket_id,
            "author": self.author,
            "kind": self.kind,
            "text": self.text,
            "at": self.at,
        }
        return with_author_and_delivery(body, self.by, self.delivery, staff_view)


@frozen
class DelayNotice:
    """R2.2: why an answer cannot be given in time, and when it will be."""

    id: str
    ticket_id: str
    reason: str
    eta: str
    posted_at: str
    posted_by: str
    delivery: Delivery | None = None
    by: StaffRef | None = None

    def to_api(self, staff_view: bool = True) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.id,
            "reason": self.reason,
            "eta": self.eta,
            "posted_at": self.posted_at,
        }
        return with_author_and_delivery(body, self.by, self.delivery, staff_view)


def with_author_and_delivery(
    body: dict[str, Any], by: StaffRef | None, delivery: Delivery | None, staff_view: bool
) -> dict[str, Any]:
    """A staff item's API form: who wrote it (a customer sees the name only), and
    whether its mail reached the customer."""
    if by is not None:
        body["by"] = by.to_api(staff_view)
    if delivery is not None:
        body["delivery"] = delivery.to_dict()
    return body


@frozen
class DelayNoticeRequest:
    """A staff delay notice as asked for (R2.2): why, and when the answer will come."""

    reason: str
    eta: datetime


@frozen
class ScopeCorrection:
    """A staff correction of the classifier's label, kept beside its answer."""

    label: str
    sub: str | None


@frozen
class TicketThread:
    """A ticket with its conversation, as the customer sees it."""

    ticket: Ticket
    messages: tuple[Message, ...] = ()
    delay_notices: tuple[DelayNotice, ...] = ()
    attachments: tuple[Attachment, ...] = ()

    def to_api(
        self, attachments: list[dict[str, Any]] | None = None, *, staff_view: bool = False
    ) -> dict[str, Any]:
        """With `attachments` as the caller may see them (download links are signed);
        a customer sees no internal note and only the names of staff."""
        body = self.ticket.to_api(staff_view)
        body["messages"] = [
            m.to_api(staff_view) for m in self.messages if staff_view or m.kind != "note"
        ]
        body["delay_notices"] = [d.to_api(staff_view) for d in self.delay_notices]
        body["attachments"] = (
            attachments if attachments is not None else [a.to_api() for a in self.attachments]
        )
        return body


@frozen
class Page:
    """One page of a listing with an opaque continuation token."""

    items: tuple[Ticket, ...]
    next: str | None = None

    def to_api(self, staff_view: bool = False) -> dict[str, Any]:
        return {"items": [t.to_api(staff_view) for t in self.items], "next": self.next}


@dataclass
class AuditEvent:
    """A recorded state change: who did what to which request, and when."""

    id: str
    ticket_id: str
    action: str
    actor: str
    at: str
    detail: dict[str, Any] = field(default_factory=dict)
    by: StaffRef | None = None  # the staff member, where staff acted

    def to_api(self) -> dict[str, Any]:
        """API.md: `{"at", "kind", "by", "details"}`; `by` is `{"id", "name", "email"}`,
        with a name and an e-mail where a staff member acted (else the actor's id only:
        the customer, the sweep, the automatic close)."""
        by = self.by.to_api() if self.by else {"id": self.actor, "name": None, "email": None}
        return {"at": self.at, "kind": self.action, "by": by, "details": self.detail}


@frozen
class OutboxEntry:
    """Something owed to the outside world (an escalation, a notice, a mail), written in
    the same transaction as the change that owes it, and delivered by a sender later."""

    id: str  # deterministic: the same change never owes it twice
    kind: str  # what sends it: "sla_breach", "sla_warning", "abusive_request", ...
    request_id: str
    payload: dict[str, Any]
    due_at: str  # when a sender may (next) try it; a claim moves it on as a lease
    attempts: int = 0
    last_error: str | None = None
