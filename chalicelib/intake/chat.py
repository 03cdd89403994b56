"""Chat and Skype transcripts: advisory consultations (R1.4–R1.6, R6.1).

A transcript becomes one advisory record with the whole conversation as messages
(customer and operator turns apart), classified on the customer's turns, and marked
`ticket_recommended` with a reply template pointing to the cabinet when it goes beyond a
consultation (R1.5). It is linked to an account (R1.6) only by an address the chat
platform says, in its signed body, that it verified (R1.7); an address typed into the
chat or given unverified is the customer's claim (`claimed_email`), findable by staff
and nothing more.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from chalicelib.domain.hours import SupportHours
from chalicelib.domain.tickets import Origin, Status, Ticket
from chalicelib.errors import InvalidInput, PayloadTooLarge, Unauthenticated
from chalicelib.ids import chat_ticket_id
from chalicelib.intake.pipeline import Intake, IntakePipeline, Sender, Turn
from chalicelib.timeutil import parse_iso, to_iso
from chalicelib.validation import parse_json_object, reject_unknown_fields, text_field
from chalicelib.values import frozen

MAX_BODY_BYTES = 2 * 1024 * 1024
MAX_MESSAGES = 2_000
MESSAGE_MAX = 20_000
SUBJECT_MAX = 200
_TRANSCRIPT_ID = re.compile(r"^[A-Za-z0-9._:@-]{1,128}$")
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]{1,64}@(?:[A-Za-z0-9-]{1,63}\.)+[A-Za-z]{2,24}")
_SIGNATURE = re.compile(r"^sha256=([0-9a-fA-F]{64})$")
RECOMMEND_TEMPLATE = (
    "Ваш вопрос выходит за рамки консультации: пожалуйста, создайте заявку в личном "
    "кабинете ({url}), это официальный канал, и мы ответим в течение часа. / "
    "This needs an official ticket: please open one in your cabinet ({url}); "
    "official tickets get a first answer within an hour."
)


@frozen
class Transcript:
    id: str
    channel: str
    started_at: datetime
    ended_at: datetime
    customer_email: str | None
    turns: tuple[Turn, ...]
    customer_email_verified: bool = False  # the platform verified the address (R1.7)


def verify_signature(secret: bytes, raw_body: bytes, header: str | None) -> None:
    """`X-Signature: sha256=<hex HMAC-SHA256 of the raw body>`, compared in constant time."""
    match = _SIGNATURE.match(header.strip()) if header else None
    if match is None:
        raise Unauthenticated("invalid_signature", "X-Signature is missing or malformed")
    expected = hmac.new(secret, raw_body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, match.group(1).lower()):
        raise Unauthenticated("invalid_signature", "X-Signature does not match the body")


def _instant(value: Any, name: str) -> datetime:
    if not isinstance(value, str):
        raise InvalidInput(f"invalid_{name}", f"`{name}` must be an ISO 8601 time", field=name)
    try:
        return parse_iso(value)
    except ValueError:
        raise InvalidInput(
            f"invalid_{name}", f"`{name}` must be an ISO 8601 time with an offset", field=name
        ) from None


def signed_transcript(raw: bytes, secret: bytes, signature: str | None) -> Transcript:
    """`POST /chat/transcripts`: at most 2 MB (413), signed by the platform (401), and
    a valid transcript (400), checked in that order before anything is written."""
    if len(raw) > MAX_BODY_BYTES:
        raise PayloadTooLarge(
            "body_too_large", "a transcript is at most 2 MB", limit=MAX_BODY_BYTES
        )
    verify_signature(secret, raw, signature)
    return parse_transcript(parse_json_object(raw, MAX_BODY_BYTES))


def parse_transcript(body: dict[str, Any]) -> Transcript:
    """Validate a transcript completely before anything is written."""
    reject_unknown_fields(
        body,
        (
            "id",
            "channel",
            "started_at",
            "ended_at",
            "customer_email",
            "customer_email_verified",
            "messages",
        ),
    )
    ident = body.get("id")
    if not isinstance(ident, str) or not _TRANSCRIPT_ID.match(ident):
        raise InvalidInput("invalid_id", "`id` must be 1-128 of A-Z a-z 0-9 . _ : @ -", field="id")
    channel = body.get("channel")
    if channel not in ("chat", "skype"):
        raise InvalidInput("invalid_channel", "`channel` must be chat or skype", field="channel")
    started, ended = (
        _instant(body.get("started_at"), "started_at"),
        _instant(body.get("ended_at"), "ended_at"),
    )
    if ended < started:
        raise InvalidInput("ended_before_started", "`ended_at` is before `started_at`")
    email, verified = _customer_email(body)
    turns = _turns(body.get("messages"), started, ended)
    return Transcript(ident, str(channel), started, ended, email, turns, verified)


def _customer_email(body: dict[str, Any]) -> tuple[str | None, bool]:
    """The address the platform gives, and whether it says it verified it (R1.7)."""
    email = body.get("customer_email")
    if email is not None and (not isinstance(email, str) or not _EMAIL.fullmatch(email.strip())):
        raise InvalidInput(
            "invalid_customer_email", "not an e-mail address", field="customer_email"
        )
    verified = body.get("customer_email_verified", False)
    if not isinstance(verified, bool):
        raise InvalidInput(
            "invalid_customer_email_verified",
            "`customer_email_verified` is true or false",
            field="customer_email_verified",
        )
    if verified and email is None:
        raise InvalidInput(
            "customer_email_required",
            "`customer_email_verified` needs the `customer_email` that was verified",
            field="customer_email",
        )
    return (email.strip().lower() if email else None), verified


def _turns(messages: object, started: datetime, ended: datetime) -> tuple[Turn, ...]:
    if not isinstance(messages, list) or not messages:
        raise InvalidInput("messages_required", "a transcript needs at least one message")
    if len(messages) > MAX_MESSAGES:
        raise InvalidInput("too_many_messages", f"at most {MAX_MESSAGES} messages")
    turns = []
    previous = started
    for index, message in enumerate(messages):
        where = f"messages[{index}]"
        if not isinstance(message, dict):
            raise InvalidInput("invalid_message", f"{where} must be an object", field=where)
        reject_unknown_fields(message, ("from", "at", "text"))
        author = message.get("from")
        if author not in ("customer", "operator"):
            raise InvalidInput(
                "invalid_from", f"{where}.from must be customer or operator", field=where
            )
        at = _instant(message.get("at"), "at")
        if at < previous or at > ended:
            raise InvalidInput(
                "messages_out_of_order",
                f"{where}.at is out of order or outside the conversation",
                field=where,
            )
        previous = at
        text = text_field(message, "text", max_chars=MESSAGE_MAX)
        assert text is not None
        turns.append(Turn("customer" if author == "customer" else "operator", at, text))
    if not any(t.author == "customer" for t in turns):
        raise InvalidInput("no_customer_turns", "the transcript has no customer message")
    return tuple(turns)


class ChatIntake:
    """Turns transcripts into intakes; the pipeline does the rest."""

    def __init__(
        self,
        pipeline: IntakePipeline,
        hours: SupportHours,
        cabinet_url: str,
        notice_lines: Callable[[Ticket], list[str]] | None = None,
    ) -> None:
        self._notice_lines = notice_lines  # what the operator may tell of the status
        self._pipeline = pipeline
        self._hours = hours
        self._cabinet_url = cabinet_url

    def record(self, transcript: Transcript) -> tuple[dict[str, Any], bool]:
        """Store the transcript as an advisory record; (its API form, created now)."""
        recorded = self._pipeline.take(self.intake(transcript))
        return self.view(recorded.request), recorded.created

    def intake(self, transcript: Transcript) -> Intake:
        customer_text = "\n".join(t.text for t in transcript.turns if t.author == "customer")
        first_line = customer_text.strip().splitlines()[0] if customer_text.strip() else ""
        email = transcript.customer_email or _email_in(customer_text)
        proven = transcript.customer_email_verified and email == transcript.customer_email
        return Intake(
            channel="chat" if transcript.channel == "chat" else "skype",
            official=False,  # R1.4
            # R1.6, R1.7: only the platform's signed word links; anything else is a claim.
            sender=Sender(email, "platform" if proven else ("stated" if email else "absent")),
            subject=first_line[:SUBJECT_MAX],
            text=customer_text[:MESSAGE_MAX],
            received_at=transcript.started_at,
            recorded_by="chat-webhook",
            origin=Origin(
                source_ref=f"{transcript.channel}:{transcript.id}",
                within_hours=self._hours.is_staffed(transcript.channel, transcript.started_at),
                ended_at=to_iso(transcript.ended_at),
            ),
            record_id=chat_ticket_id(transcript.channel, transcript.id),
            conversation=transcript.turns,
            status=_status_of(transcript),
        )

    def _reply(self, ticket: Ticket, recommended: bool) -> str | None:
        """R1.5's pointer to the cabinet, and the service status (R3.3), if any."""
        parts = [RECOMMEND_TEMPLATE.format(url=self._cabinet_url)] if recommended else []
        if self._notice_lines is not None:
            parts += self._notice_lines(ticket)
        return _joined(parts)

    def view(self, ticket: Ticket) -> dict[str, Any]:
        """The API.md answer for an advisory record."""
        origin = ticket.origin
        recommended = "ticket_recommended" in ticket.scope.flags
        reason = next(
            (e.cue for e in ticket.scope.evidence if e.name == "ticket_recommended"), None
        )
        return {
            "id": ticket.id,
            "channel": ticket.channel,
            "official": False,
            "advisory": True,
            "account": origin.account if origin else None,
            "account_email": ticket.customer_email if origin and origin.account else None,
            "claimed_email": ticket.claimed_email,
            "ticket_recommended": recommended,
            "ticket_recommended_reason": reason,
            "reply_template": self._reply(ticket, recommended),
            "within_hours": bool(origin and origin.within_hours),
            "source_ref": origin.source_ref if origin else None,
            "scope": ticket.scope.to_dict(),
            "kb": [a.to_dict() for a in ticket.kb],
            "message_count": ticket.message_count,
            "created_at": ticket.created_at,
        }


def _joined(parts: list[str]) -> str | None:
    return "\n".join(parts) if parts else None


def _status_of(transcript: Transcript) -> Status:
    """The conversation is over when its transcript arrives: it waits for staff (`open`,
    in the queue) only if nobody answered the customer's last words."""
    last = transcript.turns[-1].author if transcript.turns else "operator"
    return "open" if last == "customer" else "closed"


def _email_in(text: str) -> str | None:
    """R1.6: the account e-mail written in the conversation, if the customer gave one."""
    match = _EMAIL.search(text)
    return match.group(0).lower() if match else None
