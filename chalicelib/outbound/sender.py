"""The customer mail a staff answer or delay notice owes (R2.6), sent from the outbox.

The entry is written with the answer itself, so an answer is never stored without the
mail it owes; the dispatcher holds the entry while one sender sends it, retries a
refused send with backoff, and on the last failure the delivery shows `failed`. Nothing
goes to a machine sender, a suppressed address, or past a recipient's daily allowance.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from zoneinfo import ZoneInfo

from chalicelib import observability as obs
from chalicelib.accounts import AccountDirectory, Profile
from chalicelib.domain.tickets import (
    DelayNotice,
    Delivery,
    Message,
    OutboxEntry,
    Ticket,
    TicketThread,
)
from chalicelib.ids import REQUEST_ID, is_request_id
from chalicelib.outbound.compose import (
    Kind,
    Letter,
    Undeliverable,
    compose,
    deliverable_address,
    language_of,
    to_message,
)
from chalicelib.outbound.delivery import Known, entry_for
from chalicelib.outbound.mailer import Mailer
from chalicelib.outbound.routing import CUSTOMER_MAIL
from chalicelib.storage import (
    Markers,
    NotSuppressed,
    SendGuard,
    Settle,
    SpendAllowance,
    Tickets,
)
from chalicelib.timeutil import Clock, parse_iso, to_iso
from chalicelib.values import frozen

_OURS = re.compile(r"<?reply-(" + REQUEST_ID + r")\.([A-Z0-9-]{3,40})@")


@frozen
class MailSettings:
    sender: str
    domain: str
    cabinet_url: str
    per_day: int = 50  # mails to one recipient in 24 h, answers and notifications together
    timezone: str = "Europe/Moscow"  # R2.9: times reach customers in the company's zone


def undeliverable(ticket: Ticket) -> str | None:
    """Why no mail can carry a staff answer on `ticket` to anyone, or None if one can:
    machine mail (never answered), a record without an address, a chat or Skype record
    with no account behind it (an address typed into a chat is a claim, R1.7)."""
    origin = ticket.origin
    if ticket.official:
        return None
    if ticket.channel == "email":
        if origin is None or origin.disposition != "advisory":
            return "not_a_customer_mail"
        return None if ticket.customer_email else "no_address"
    return None if origin is not None and origin.account else "no_account"


def mail_owed(ticket: Ticket, item: Message | DelayNotice, at: str) -> OutboxEntry | None:
    """The mail a staff message or delay notice owes its customer, or None when no one
    can receive it (`undeliverable` says why)."""
    if undeliverable(ticket) is not None:
        return None
    to: str | None = None
    if ticket.official:
        kind: Kind = (
            "delay_notification" if isinstance(item, DelayNotice) else ("response_notification")
        )
    elif ticket.channel == "email":
        kind, to = "answer", ticket.customer_email
    else:
        kind = "answer"  # a chat or Skype record linked to an account (R1.6)
    payload = {
        "kind": kind,
        "item": "notice" if isinstance(item, DelayNotice) else "message",
        "item_id": item.id,
        "to": to,
    }
    return entry_for(CUSTOMER_MAIL, ticket.id, item.id, payload, at)


def queued(entry: OutboxEntry | None, at: str, ticket: Ticket) -> Delivery:
    """The delivery a staff item starts with: queued, or undeliverable and why."""
    if entry is None:
        return Delivery("undeliverable", None, at, undeliverable(ticket) or "no_address")
    return Delivery("queued", entry.payload.get("to"), at)


class CustomerMail:
    def __init__(
        self,
        tickets: Tickets,
        markers: Markers,
        directory: AccountDirectory,
        mailer: Mailer,
        settings: MailSettings,
        clock: Clock,
    ) -> None:
        self._tickets = tickets
        self._markers = markers
        self._directory = directory
        self._mailer = mailer
        self._settings = settings
        self._clock = clock

    def guards(self, entry: OutboxEntry, ticket: Ticket, at: str) -> list[SendGuard]:
        """What the writer of the entry may check and spend in its own write: the
        address is not suppressed, and one mail of its daily allowance. Only for an
        address the request holds (a mail record's sender, the e-mail the customer's
        token carried), the one `send` then uses; an account's address looked up in
        the directory is checked when the mail is sent."""
        try:
            to = deliverable_address(str(entry.payload.get("to") or ticket.customer_email or ""))
        except Undeliverable:
            return []
        return [
            NotSuppressed(to),
            SpendAllowance("send", to, at, self._settings.per_day, entry.id),
        ]

    def send(self, entry: OutboxEntry) -> Settle | None:
        """Send the mail an entry owes; raise if the mail service refused it."""
        thread = self._tickets.thread(entry.request_id)
        item = self._item(thread, entry) if thread else None
        if thread is None or item is None:
            return None  # nothing left to carry
        return self._send(entry, thread.ticket, item, guarded=False)

    def send_known(self, entry: OutboxEntry, known: Known) -> Settle | None:
        """The same for the item its writer just stored with the entry (and, `guarded`,
        with the address's suppression checked and its allowance spent in that write)."""
        if known.item is None or known.item.id != entry.payload.get("item_id"):
            return self.send(entry)
        return self._send(entry, known.ticket, known.item, guarded=known.guarded)

    def _send(
        self, entry: OutboxEntry, ticket: Ticket, item: Message | DelayNotice, *, guarded: bool
    ) -> Settle:
        at = to_iso(self._clock())
        account = self._account(ticket)
        profile = self._directory.profile(account) if account else Profile()
        to = entry.payload.get("to") or ticket.customer_email or profile.email
        to, refused = self.cleared(to, at, entry, guarded=guarded)
        if refused is not None:
            return self._refused(ticket, item, refused)
        language = language_of(f"{ticket.subject}\n{ticket.text}", profile.locale)
        letter = self._letter(ticket, item, entry.payload["kind"], to, language)
        message = to_message(letter, sender=self._settings.sender, clock=self._clock)
        tags = {"request": ticket.id, "item": item.id}
        sent_as = self._mailer.send(message, source=self._settings.sender, to=to, tags=tags)
        obs.count(obs.MAIL_SENT, kind=letter.kind)
        return Settle(ticket.id, item=item, delivery=Delivery("sent", to, at, message_id=sent_as))

    def cleared(
        self, to: str | None, at: str, entry: OutboxEntry, *, guarded: bool = False
    ) -> tuple[str, Delivery | None]:
        """The address as SES takes it, and the delivery that says why nothing may be
        sent to it (None: send): no address, one no header may carry, a suppressed one,
        or one whose daily allowance is spent (taken here, per entry, unless the
        entry's writer `guarded` both in its own write)."""
        if not to:
            return "", Delivery("failed", None, at, "no_address")
        try:
            to = deliverable_address(to)
        except Undeliverable as undeliverable:  # staff see why, and the alarm counts it
            obs.mail_failed(str(entry.payload.get("kind") or entry.kind))
            return to, Delivery("failed", to, at, undeliverable.reason)
        if guarded:
            return to, None
        if reason := self._markers.suppression(to):
            return to, Delivery("suppressed", to, at, reason)
        if not self._markers.take_send_allowance(to, at, self._settings.per_day, entry.id):
            return to, Delivery("suppressed", to, at, "rate_limited")
        return to, None

    def failed(self, entry: OutboxEntry, error: str) -> None:
        """The last attempt failed: the delivery shows it, and staff are told."""
        obs.mail_failed(str(entry.payload.get("kind")))
        thread = self._tickets.thread(entry.request_id)
        item = self._item(thread, entry) if thread else None
        if thread is not None and item is not None:
            delivery = Delivery("failed", entry.payload.get("to"), to_iso(self._clock()), error)
            self._tickets.set_delivery(thread.ticket.id, item, delivery)
            self._tickets.mark_attention(thread.ticket.id, "delivery_failed")

    def bounced(
        self,
        message_id: str,
        address: str,
        *,
        permanent: bool,
        complaint: bool,
        tags: Mapping[str, str] | None = None,
    ) -> bool:
        """SES feedback on one of our mails: the delivery failed, staff are told, and a
        complaint or a permanent bounce suppresses the address. False if not ours. The
        mail is found by its tags (SES keeps them), else by our Message-ID (which SES
        may have replaced)."""
        request, item_id = (tags or {}).get("request"), (tags or {}).get("item")
        if not (request and item_id and is_request_id(request)):
            match = _OURS.search(message_id)
            request, item_id = (match.group(1), match.group(2)) if match else (None, None)
        thread = self._tickets.thread(request) if request else None
        if thread is None:
            return False
        at = to_iso(self._clock())
        reason = "complaint" if complaint else ("bounced" if permanent else "bounced_transient")
        item = next((i for i in self._items(thread) if i.id == item_id), None)
        if item is not None:
            self._tickets.set_delivery(
                thread.ticket.id, item, Delivery("failed", address, at, reason)
            )
        self._tickets.mark_attention(thread.ticket.id, "delivery_failed")
        if complaint or permanent:
            self._markers.suppress(address, reason, at)
        obs.mail_failed(reason)
        return True

    # -- helpers ------------------------------------------------------------------------

    @staticmethod
    def _account(ticket: Ticket) -> str | None:
        """The cabinet account the mail goes to, if any (R1.7: only a linked one)."""
        if ticket.official:
            return ticket.customer
        return ticket.origin.account if ticket.origin else None

    @staticmethod
    def _items(thread: TicketThread) -> list[Message | DelayNotice]:
        return [*thread.messages, *thread.delay_notices]

    def _item(self, thread: TicketThread, entry: OutboxEntry) -> Message | DelayNotice | None:
        wanted = entry.payload.get("item_id")
        return next((i for i in self._items(thread) if i.id == wanted), None)

    def _refused(self, ticket: Ticket, item: Message | DelayNotice, delivery: Delivery) -> Settle:
        """Nothing sent: the delivery says why, and a failure asks for staff."""
        if delivery.state == "failed":
            self._tickets.mark_attention(ticket.id, "delivery_failed")
        return Settle(ticket.id, item=item, delivery=delivery)

    def _letter(
        self, ticket: Ticket, item: Message | DelayNotice, kind: Kind, to: str, language: str
    ) -> Letter:
        base = self._settings.cabinet_url.rsplit("/", 1)[0]
        fields = {
            "id": ticket.id,
            "subject": ticket.subject or "",
            "answer": item.text if isinstance(item, Message) else "",
            "reason": item.reason if isinstance(item, DelayNotice) else "",
            "eta": readable_time(item.eta, self._settings.timezone)
            if isinstance(item, DelayNotice)
            else "",
            "cabinet": self._settings.cabinet_url,
            "link": f"{base}/{ticket.id}",
        }
        origin = ticket.origin
        answered = origin.message_id if kind == "answer" and origin else None
        references = (*origin.references, answered) if origin and answered else ()
        return compose(
            kind,
            language,
            fields,
            to=to,
            message_id=f"<reply-{ticket.id}.{item.id}@{self._settings.domain}>",
            in_reply_to=answered,
            references=tuple(r for r in references if r),
            automatic="" if kind == "answer" else "auto-generated",  # RFC 3834
        )


def readable_time(at: str, timezone: str) -> str:
    """R2.9: an instant as the customer reads it, in the company's time zone with its
    name: `2026-11-24 18:30 (Europe/Moscow, MSK)`."""
    local = parse_iso(at).astimezone(ZoneInfo(timezone))
    return f"{local:%Y-%m-%d %H:%M} ({timezone}, {local.tzname()})"
