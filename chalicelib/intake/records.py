"""What the pipeline builds from an intake: the record, its conversation, its first
audit event, and the digest that tells two deliveries of one conversation apart."""

from __future__ import annotations

import hashlib
from datetime import datetime

from chalicelib.domain.clock import first_response_deadline
from chalicelib.domain.tickets import AuditEvent, KbArticle, Message, Origin, Scope, Ticket
from chalicelib.ids import new_event_id
from chalicelib.intake.values import Intake, Sender
from chalicelib.timeutil import to_iso

SUBJECT_MAX = 200


def sender_flags(sender: Sender, account: str | None) -> tuple[str, ...]:
    if sender.verified_by in ("unverified", "stated"):
        return ("sender_unverified",)  # R1.7: a claimed address
    if sender.verified_by == "absent":
        return ("account_email_missing",)  # R1.6
    if sender.verified_by == "platform" and account is None:
        return ("account_unknown",)
    return ()


def new_record(
    intake: Intake,
    record_id: str,
    scope: Scope,
    kb: tuple[KbArticle, ...],
    customer: str,
    origin: Origin | None,
    *,
    now: datetime,
    minutes: int,
) -> Ticket:
    official = intake.official
    return Ticket(
        id=record_id,
        channel=intake.channel,
        official=official,
        status=intake.status,
        subject=intake.subject[:SUBJECT_MAX],
        text=intake.text,
        created_at=to_iso(intake.received_at),
        updated_at=to_iso(now),
        customer=customer,
        customer_email=intake.sender.address,
        scope=scope,
        kb=kb,
        # R2.1: the first response is due from creation; advisory requests have no clock.
        sla=first_response_deadline(intake.received_at, minutes) if official else None,
        service=intake.service,
        domain=intake.domain,
        message_count=len(intake.conversation),
        origin=origin,
        customer_name=intake.sender.name,
    )


def conversation(intake: Intake, record: Ticket, account: str | None) -> list[Message]:
    return [
        Message(
            f"{record.id}-{i:04d}",
            record.id,
            t.author,
            (account or "") if t.author == "customer" else t.author,
            t.text,
            to_iso(t.at),
        )
        for i, t in enumerate(intake.conversation)
    ]


def created_audit(intake: Intake, record: Ticket) -> AuditEvent:
    if record.official:
        action = "ticket_created"
        detail = {
            "label": record.scope.label,
            "due_at": record.sla.due_at if record.sla else None,
        }
    else:
        origin = record.origin
        action = f"{origin.disposition if origin else 'advisory'}_recorded"
        detail = {
            "channel": record.channel,
            "source_ref": origin.source_ref if origin else None,
            "reason": origin.reason if origin else None,
        }
    return AuditEvent(
        new_event_id(), record.id, action, intake.recorded_by, record.updated_at, detail
    )


def digest(intake: Intake) -> str:
    """What makes two deliveries of a conversation the same conversation."""
    content = hashlib.sha256()
    for turn in intake.conversation:
        content.update(f"{turn.author}\x1f{to_iso(turn.at)}\x1f{turn.text}\x1e".encode())
    return content.hexdigest()[:32]
