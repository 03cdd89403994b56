"""The quote desk (R5.3, R4.7): staff propose paid work with scope, deadline and price;
the owner accepts or declines; either side revises, the other accepts or declines the
revision; staff record payments, refuse at any time (refunding what was paid), and
complete the work. Each step is one conditional write, audited, kept on the quote as
its history (which the customer sees), and told to the customer by mail."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from chalicelib import observability as obs
from chalicelib.domain.identity import Principal, require_staff, visible_to
from chalicelib.domain.quotes import (
    CENTS,
    Quote,
    Side,
    Step,
    Terms,
    accept,
    complete,
    decline,
    pay,
    refuse,
    revise,
)
from chalicelib.domain.tickets import AuditEvent, Ticket
from chalicelib.errors import Conflict, DomainError, InvalidInput, NotFound
from chalicelib.ids import new_event_id, new_quote_id
from chalicelib.outbound.compose import language_of
from chalicelib.staff.desk import StaffDesk
from chalicelib.storage import Quotes, StaleState, Tickets
from chalicelib.timeutil import Clock, parse_iso, to_iso
from chalicelib.validation import reject_unknown_fields, text_field

CURRENCIES = ("RUB", "USD", "EUR")
PRICE_MAX = Decimal("100000000")
QUOTE_ID = re.compile(r"Q-[0-9A-Z]{10}")
_DEADLINE = re.compile(r"\d{4}-\d\d-\d\d(?:T[0-9:.]{5,15}(?:Z|[+-]\d\d:\d\d))?", re.ASCII)
_AMOUNT = re.compile(r"[0-9]{1,12}(?:\.[0-9]{1,2})?", re.ASCII)
STAFF_ACTIONS = frozenset({"refuse", "payments", "complete"})
CLOSED_ACTIONS = frozenset({"refuse"})  # what may still happen on a closed ticket
ACTIONS = frozenset({"accept", "decline", "revise"}) | STAFF_ACTIONS
_METRIC_STEPS = {"proposed", "accepted", "revision_accepted", "declined", "refused"}


def money(value: object, name: str) -> Decimal:
    """An exact amount as a JSON string of ASCII digits with at most two decimals
    ("1500.00"): never a JSON number (a float is already rounded when it arrives), nor
    the other digits and separators `Decimal` would read (`١٢٣`, `１２３`, `1_000`)."""
    if not isinstance(value, str) or not _AMOUNT.fullmatch(value.strip()):
        raise InvalidInput(
            f"invalid_{name}",
            f'`{name}` is a string of digits with at most two decimals, such as "1500.00"',
            field=name,
        )
    amount = Decimal(value.strip())
    if amount <= 0 or amount > PRICE_MAX:
        raise InvalidInput(
            f"invalid_{name}", f"`{name}` is positive and at most {PRICE_MAX}", field=name
        )
    return amount.quantize(CENTS)


def deadline_of(value: object, now: datetime) -> str:
    """A real date (or time with an offset), today or later: `2027-13-45`, `0000-00-00`
    and yesterday are refused."""
    text = value.strip() if isinstance(value, str) else ""
    when: date | None = None
    if _DEADLINE.fullmatch(text):
        try:
            when = parse_iso(text).date() if "T" in text else date.fromisoformat(text)
        except ValueError:
            when = None
    if when is None:
        raise InvalidInput(
            "invalid_deadline", "`deadline` is an ISO 8601 date or time", field="deadline"
        )
    if when < now.date():
        raise InvalidInput("deadline_in_past", "`deadline` is in the past", field="deadline")
    return text


def currency_of(body: dict[str, Any]) -> str:
    currency = body.get("currency")
    if currency not in CURRENCIES:
        raise InvalidInput(
            "invalid_currency",
            f"`currency` is one of {', '.join(CURRENCIES)}",
            field="currency",
            allowed=list(CURRENCIES),
        )
    return str(currency)


def parse_terms(body: dict[str, Any], now: datetime, base: Terms | None = None) -> Terms:
    """New terms, or (`base`) a revision of some of them."""
    reject_unknown_fields(body, ("scope", "deadline", "price", "currency"))
    if base is not None and not body:
        raise InvalidInput("terms_required", "a revision changes at least one term")
    scope = text_field(body, "scope", max_chars=4_000, required=base is None)
    if base is None:
        deadline = deadline_of(body.get("deadline"), now)
        return Terms(scope or "", deadline, money(body.get("price"), "price"), currency_of(body))
    deadline = deadline_of(body["deadline"], now) if "deadline" in body else base.deadline
    price = money(body["price"], "price") if "price" in body else base.price
    currency = currency_of(body) if "currency" in body else base.currency
    return Terms(scope or base.scope, deadline, price, currency)


class QuoteDesk:
    def __init__(self, quotes: Quotes, tickets: Tickets, desk: StaffDesk, clock: Clock) -> None:
        self._quotes = quotes
        self._tickets = tickets
        self._desk = desk
        self._clock = clock

    def propose(self, staff: Principal, ticket_id: str, body: dict[str, Any]) -> Quote:
        require_staff(staff)
        ticket = self._ticket(staff, ticket_id)
        if not ticket.official or ticket.status == "closed":
            raise Conflict("not_quotable", "quotes are made on open cabinet tickets")
        now = self._clock()
        terms = parse_terms(body, now)
        at = to_iso(now)
        step = Step(at, "staff", staff.sub, "proposed", terms.to_dict())
        quote = Quote(new_quote_id(), ticket_id, "proposed", terms, at, history=(step,))
        self._quotes.add(quote, self._audit(quote, step))
        self._after(staff, quote, step, ticket)
        return quote

    def listing(self, who: Principal, ticket_id: str) -> list[dict[str, Any]]:
        self._ticket(who, ticket_id)
        return [q.to_api() for q in self._quotes.for_ticket(ticket_id)]

    def act(
        self, who: Principal, ticket_id: str, quote_id: str, action: str, body: dict[str, Any]
    ) -> Quote:
        """One step, only from the version the caller read (`version` in the body, if
        given) and the one this call read: anything newer is 409 `quote_changed`."""
        if action not in ACTIONS:
            raise NotFound("not_found", "no such action")
        if action in STAFF_ACTIONS:
            require_staff(who)
        ticket = self._ticket(who, ticket_id)
        quote = self._quotes.get(ticket_id, quote_id) if QUOTE_ID.fullmatch(quote_id) else None
        if quote is None:
            raise NotFound("quote_not_found", "no such quote")
        if ticket.status == "closed" and action not in CLOSED_ACTIONS:
            # The same rule as a new quote: a closed ticket reaches nobody (the customer
            # would never hear of the step). A refusal still records the refund owed.
            raise Conflict("ticket_closed", "the ticket is closed: quote steps need an open ticket")
        body = dict(body)
        seen = body.pop("version", None)
        if seen is not None and seen != quote.version:
            raise Conflict(
                "quote_changed", "the quote changed since it was read", version=quote.version
            )
        side: Side = "staff" if who.is_staff else "customer"
        at = to_iso(self._clock())
        changed, name, detail = self._step(quote, side, action, body, at)
        step = Step(at, side, who.sub, name, detail)
        changed = replace(changed, history=(*changed.history, step))
        try:
            saved = self._quotes.save(changed, self._audit(quote, step))
        except StaleState:
            raise Conflict("quote_changed", "the quote changed since it was read") from None
        self._after(who, saved, step, ticket)
        return saved

    def _step(
        self, quote: Quote, side: Side, action: str, body: dict[str, Any], at: str
    ) -> tuple[Quote, str, dict[str, Any]]:
        if action == "accept":
            reject_unknown_fields(body, ())
            changed, name = accept(quote, side)
            return changed, name, changed.terms.to_dict()
        if action == "decline":
            reject_unknown_fields(body, ())
            changed, name = decline(quote, side)
            return changed, name, {}
        if action == "revise":
            terms = parse_terms(body, parse_iso(at), quote.terms)
            changed, name = revise(quote, side, terms, at)
            return changed, name, terms.to_dict()
        if action == "payments":
            reject_unknown_fields(body, ("amount", "currency", "reference"))
            amount = money(body.get("amount"), "amount")
            reference = text_field(
                body, "reference", max_chars=200, single_line=True, required=False
            )
            changed, name = pay(quote, amount, currency_of(body))
            detail = {"amount": str(amount), "currency": changed.paid_currency}
            detail["paid"] = str(changed.paid)
            return changed, name, {**detail, "reference": reference}
        if action == "refuse":
            reject_unknown_fields(body, ("reason",))
            reason = text_field(body, "reason", max_chars=2_000)
            assert reason is not None  # required
            changed, name = refuse(quote, reason)
            refund = str(changed.refund_due)
            return (
                changed,
                name,
                {
                    "reason": reason,
                    "refund_due": refund,
                    "currency": changed.paid_currency or quote.terms.currency,
                },
            )
        reject_unknown_fields(body, ())
        changed, name = complete(quote)
        return changed, name, {}

    def _after(self, who: Principal, quote: Quote, step: Step, ticket: Ticket) -> None:
        if step.action in _METRIC_STEPS:
            refunded = step.action == "refused" and quote.refund_due and quote.refund_due > 0
            obs.count(obs.QUOTES, step="refused_with_refund" if refunded else step.action)
        if step.side == "staff":
            # The customer is told through the ticket's answer path (R2.6: mailed too).
            # The step is stored: a ticket that cannot take the message does not undo it.
            key = f"quote:{quote.id}:{len(quote.history)}"
            try:
                told = _told(quote, step, language_of(f"{ticket.subject}\n{ticket.text}"))
                self._desk.respond(who, quote.ticket_id, told, key)
            except DomainError as refused:
                obs.logger.warning(
                    "quote step not told", extra={"quote": quote.id, "why": refused.code}
                )

    def _ticket(self, who: Principal, ticket_id: str) -> Ticket:
        return visible_to(who, self._tickets.get(ticket_id))

    @staticmethod
    def _audit(quote: Quote, step: Step) -> AuditEvent:
        detail = {"quote": quote.id, **step.detail}
        return AuditEvent(
            new_event_id(), quote.ticket_id, f"quote_{step.action}", step.by, step.at, detail
        )


# R2.9: what a quote step tells the customer, in the customer's language; the answer is
# then mailed in the notification template of the same language (no English sentence
# spliced into a Russian letter).
_TOLD = {
    "ru": {
        "head": "Смета {id}: {action}.",
        "terms": "{scope} — {price} {currency}, срок: {deadline}.",
        "offer": "Предложено: {scope} — {price} {currency}, срок: {deadline}. "
        "Примите или отклоните изменения.",
        "paid": "Оплачено: {paid} {paid_currency} из {price}.",
        "refund": "{reason} К возврату: {refund}.",
        "proposed": "предложена",
        "accepted": "принята",
        "declined": "отклонена",
        "revised": "изменена",
        "revision_accepted": "изменения приняты",
        "revision_declined": "изменения отклонены",
        "payment_recorded": "оплата получена",
        "refused": "работа отменена",
        "completed": "работа выполнена",
    },
    "en": {
        "head": "Quote {id}: {action}.",
        "terms": "{scope} — {price} {currency}, by {deadline}.",
        "offer": "Proposed: {scope} — {price} {currency}, by {deadline}. Please accept or decline.",
        "paid": "Paid so far: {paid} {paid_currency} of {price}.",
        "refund": "{reason} Refund due: {refund}.",
    },
}


def _told(quote: Quote, step: Step, language: str) -> str:
    words = _TOLD["ru" if language == "ru" else "en"]
    action = words.get(step.action, step.action.replace("_", " "))
    head = words["head"].format(id=quote.id, action=action)
    terms = quote.terms
    if step.action in ("proposed", "revision_accepted"):
        return f"{head} {words['terms'].format(**terms.to_dict())}"
    if step.action == "revised":
        revised = quote.revision.terms if quote.revision else terms
        return f"{head} {words['offer'].format(**revised.to_dict())}"
    if step.action == "payment_recorded":
        paid = words["paid"].format(
            paid=quote.paid, paid_currency=quote.paid_currency, price=terms.price
        )
        return f"{head} {paid}"
    if step.action == "refused":
        refund = f"{quote.refund_due} {quote.paid_currency or terms.currency}"
        return f"{head} {words['refund'].format(reason=quote.refusal, refund=refund)}"
    return head
