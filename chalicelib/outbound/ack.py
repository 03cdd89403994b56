"""Acknowledgements: advisory, pointing to the cabinet, never answering a robot.

Composed like every other letter (`compose`, the `acknowledgement` template), so header
values are set from decoded single-line text and encoded by the library, never copied
raw from the inbound mail (CVE-2024-6923 class header injection).
"""

from __future__ import annotations

from collections.abc import Callable
from email.message import EmailMessage

from chalicelib import observability as obs
from chalicelib.domain.tickets import KbArticle, OutboxEntry, Ticket
from chalicelib.ids import our_message_id
from chalicelib.outbound.compose import (
    BILINGUAL,
    Undeliverable,
    compose,
    deliverable_address,
    single_line,
    to_message,
)
from chalicelib.outbound.delivery import Known
from chalicelib.outbound.mailer import Mailer
from chalicelib.storage import Markers, SendGuard, Settle, SpendAllowance, Tickets
from chalicelib.timeutil import Clock, to_iso
from chalicelib.values import frozen


def build_ack(
    *,
    record_id: str,
    to_addr: str,
    from_addr: str,
    subject: str,
    in_reply_to: str | None,
    kb: tuple[KbArticle, ...],
    cabinet_url: str,
    domain: str,
    clock: Clock,
    notes: tuple[str, ...] = (),
) -> EmailMessage:
    """The acknowledgement, in Russian and English (the `acknowledgement` template)."""
    links = "".join(f"\n  - {a.title}: {a.url}" for a in kb)
    fields = {
        "id": record_id,
        "subject": single_line(subject) or "Ваше обращение",
        "cabinet": cabinet_url,
        "kb_ru": f"\nВозможно, поможет:{links}\n" if kb else "",
        "kb_en": f"\nThese pages may help:{links}\n" if kb else "",
        "status": "".join(f"\n{line}\n" for line in notes),
    }
    letter = compose(
        "acknowledgement",
        BILINGUAL,
        fields,
        to=to_addr,
        message_id=our_message_id("ack", record_id, domain),
        in_reply_to=in_reply_to,
        references=(in_reply_to,) if in_reply_to else (),
        automatic="auto-replied",
    )
    return to_message(letter, sender=from_addr, clock=clock)


CLOSED_NOTE = (
    "Заявка {ticket} закрыта, и ваше письмо в неё не добавлено: мы записали его как "
    "обращение {record}. Чтобы продолжить, откройте новую заявку в личном кабинете: "
    "{cabinet}\n"
    "Ticket {ticket} is closed, so your mail was not added to it: it is recorded as "
    "{record}. To continue, open a new ticket in your cabinet: {cabinet}"
)


def closed_ticket_note(record: Ticket, cabinet_url: str) -> tuple[str, ...]:
    """R1.4: a reply to a closed ticket is told that, and where a new one is opened."""
    if not record.follow_up_of:
        return ()
    return (CLOSED_NOTE.format(ticket=record.follow_up_of, record=record.id, cabinet=cabinet_url),)


@frozen
class AckConfig:
    sender: str  # our From address
    domain: str  # our mail domain, for Message-IDs
    cabinet_url: str
    per_day: int = 3  # acknowledgements per sender per 24 h


class MailAcknowledgements:
    """Sends the acknowledgement an e-mail record is owed, once, within each sender's
    daily allowance. It is an outbox entry: a refused send is retried with backoff by
    the dispatcher, and only the sender holding the entry's claim sends it."""

    def __init__(
        self,
        tickets: Tickets,
        markers: Markers,
        mailer: Mailer,
        config: AckConfig,
        clock: Clock,
        notes: Callable[[Ticket], list[str]] | None = None,
    ) -> None:
        self._notes = notes  # the service status the sender is told (R3.3)
        self._tickets = tickets
        self._markers = markers
        self._mailer = mailer
        self._config = config
        self._clock = clock

    def guards(self, entry: OutboxEntry, record: Ticket, at: str) -> list[SendGuard]:
        """The allowance the record's acknowledgement spends, for its writer to spend
        in the record's own write (none: the sender decides, e.g. no address)."""
        try:
            address = deliverable_address(record.customer_email or "")
        except Undeliverable:
            return []
        return [SpendAllowance("ack", address, at, self._config.per_day, record.id)]

    def send(self, entry: OutboxEntry) -> Settle | None:
        """Send it, or settle it as rate-limited; raise (giving the allowance back) if
        the mail service refused it, so the dispatcher tries again later."""
        return self._send(self._tickets.get(entry.request_id), guarded=False)

    def send_known(self, entry: OutboxEntry, known: Known) -> Settle | None:
        """The same, for the record its writer just stored (and, `guarded`, the
        allowance it spent in that write)."""
        return self._send(known.ticket, guarded=known.guarded)

    def _send(self, record: Ticket | None, *, guarded: bool) -> Settle | None:
        if record is None or record.origin is None or record.origin.ack != "owed":
            return None  # settled already: nothing is sent twice
        if not record.customer_email:
            return None
        try:
            to_addr = deliverable_address(record.customer_email)
        except Undeliverable as undeliverable:
            obs.logger.warning(
                "acknowledgement undeliverable",
                extra={"id": record.id, "why": undeliverable.reason},
            )
            obs.mail_failed("acknowledgement")
            return Settle(record.id, ack="failed")
        at = to_iso(self._clock())
        if not guarded and not self._markers.take_ack_allowance(
            to_addr, at, self._config.per_day, record.id
        ):
            obs.count(obs.ACKS_RATE_LIMITED)
            return Settle(record.id, ack="rate_limited")
        message = build_ack(
            record_id=record.id,
            to_addr=to_addr,
            from_addr=self._config.sender,
            subject=record.subject,
            in_reply_to=record.origin.message_id,
            kb=record.kb,
            cabinet_url=self._config.cabinet_url,
            domain=self._config.domain,
            clock=self._clock,
            notes=(
                *(self._notes(record) if self._notes else ()),
                *closed_ticket_note(record, self._config.cabinet_url),
            ),
        )
        try:
            self._mailer.send(message, source=self._config.sender, to=to_addr)
        except Exception:
            self._markers.release_ack_allowance(to_addr, at, record.id)
            raise
        obs.count(obs.ACKS_SENT)
        obs.count(obs.MAIL_SENT, kind="acknowledgement")
        return Settle(record.id, ack="sent")

    def failed(self, entry: OutboxEntry, error: str) -> None:
        """The last attempt failed: the record shows it, and the alarm counts it."""
        obs.mail_failed("acknowledgement")
        self._tickets.settle_ack(entry.request_id, "failed")
