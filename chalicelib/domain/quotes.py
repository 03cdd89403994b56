"""Quotes for paid work (R5.3, R4.7): the values and every allowed step, as pure
functions from a quote to the next one. Money is `Decimal` with its currency, never a
float; what was paid keeps the currency it was paid in, and once anything is paid no
step changes the quote's currency (R5.4). A quote's version makes every stored step
conditional on the one read."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any, Literal

from chalicelib.errors import Conflict
from chalicelib.values import frozen

Side = Literal["staff", "customer"]
CENTS = Decimal("0.01")


@frozen
class Terms:
    scope: str
    deadline: str  # ISO 8601 date or time
    price: Decimal
    currency: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "scope": self.scope,
            "deadline": self.deadline,
            "price": str(self.price),
            "currency": self.currency,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Terms:
        return cls(
            str(data["scope"]),
            str(data["deadline"]),
            Decimal(str(data["price"])),
            str(data["currency"]),
        )


@frozen
class Revision:
    terms: Terms
    by: Side
    at: str

    def to_dict(self) -> dict[str, Any]:
        return {"terms": self.terms.to_dict(), "by": self.by, "at": self.at}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Revision:
        by: Side = "staff" if data["by"] == "staff" else "customer"
        return cls(Terms.from_dict(data["terms"]), by, str(data["at"]))


@frozen
class Step:
    """One step of the quote, as the customer and the audit trail see it."""

    at: str
    side: Side
    by: str
    action: str
    detail: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {
            "at": self.at,
            "side": self.side,
            "by": self.by,
            "action": self.action,
            "detail": self.detail,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Step:
        side: Side = "staff" if data["side"] == "staff" else "customer"
        return cls(
            str(data["at"]), side, str(data["by"]), str(data["action"]), dict(data["detail"])
        )


@frozen
class Quote:
    id: str
    ticket_id: str
    state: str  # proposed, accepted, declined, refused, completed
    terms: Terms
    created_at: str
    revision: Revision | None = None
    paid: Decimal = Decimal("0.00")
    paid_currency: str | None = None  # R5.4: what was paid was paid in this currency
    refund_due: Decimal | None = None
    refusal: str | None = None
    history: tuple[Step, ...] = ()
    version: int = 0

    def to_api(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.id,
            "ticket_id": self.ticket_id,
            "state": self.state,
            **self.terms.to_dict(),
            "paid": str(self.paid),
            "paid_currency": self.paid_currency,
            "revision": self.revision.to_dict() if self.revision else None,
            "created_at": self.created_at,
            "history": [s.to_dict() for s in self.history],
            "version": self.version,
        }
        if self.refund_due is not None:
            body["refund_due"] = str(self.refund_due)
            body["refund_currency"] = self.paid_currency or self.terms.currency
        if self.refusal:
            body["refusal"] = self.refusal
        return body


OPEN_STATES = ("proposed", "accepted")


def _refuse(code: str, message: str) -> Conflict:
    return Conflict(code, message)


def _payable_under(quote: Quote, terms: Terms) -> None:
    """R5.4: terms that would stand after a payment keep its currency and cover it."""
    if quote.paid > 0 and terms.currency != (quote.paid_currency or quote.terms.currency):
        raise _refuse(
            "currency_locked",
            f"{quote.paid} {quote.paid_currency} is paid: the quote stays in that currency",
        )
    if terms.price < quote.paid:
        raise _refuse("price_below_paid", "the price cannot fall below what was paid")


def accept(quote: Quote, side: Side) -> tuple[Quote, str]:
    """The counterparty of an open revision accepts it (the new terms stand, and the
    quote is agreed); with none open, the owner accepts the proposed quote. A revision
    proposed before a payment is judged against what is paid when it is accepted."""
    if quote.revision is not None:
        if quote.revision.by == side:
            raise _refuse("revision_pending", "the other side must accept this revision")
        _payable_under(quote, quote.revision.terms)
        return replace(quote, state="accepted", terms=quote.revision.terms, revision=None), (
            "revision_accepted"
        )
    if side != "customer" or quote.state != "proposed":
        raise _refuse("invalid_quote_step", f"a {quote.state} quote cannot be accepted")
    return replace(quote, state="accepted"), "accepted"


def decline(quote: Quote, side: Side) -> tuple[Quote, str]:
    """The counterparty declines an open revision (the terms stay); with none open,
    the owner declines the proposed quote, which ends it."""
    if quote.revision is not None:
        if quote.revision.by == side:
            raise _refuse("revision_pending", "the other side answers this revision")
        return replace(quote, revision=None), "revision_declined"
    if side != "customer" or quote.state != "proposed":
        raise _refuse("invalid_quote_step", f"a {quote.state} quote cannot be declined")
    return replace(quote, state="declined"), "declined"


def revise(quote: Quote, side: Side, terms: Terms, at: str) -> tuple[Quote, str]:
    if quote.state not in OPEN_STATES:
        raise _refuse("invalid_quote_step", f"a {quote.state} quote cannot be revised")
    if quote.revision is not None:
        raise _refuse("revision_open", "one revision at a time: answer the open one first")
    _payable_under(quote, terms)
    return replace(quote, revision=Revision(terms, side, at)), "revised"


def pay(quote: Quote, amount: Decimal, currency: str) -> tuple[Quote, str]:
    if quote.state != "accepted":
        raise _refuse("invalid_quote_step", f"no payment on a {quote.state} quote")
    if currency != quote.terms.currency:
        raise _refuse("wrong_currency", f"the quote is in {quote.terms.currency}")
    if quote.paid_currency not in (None, currency):
        raise _refuse("currency_locked", f"payments are in {quote.paid_currency}")
    if quote.paid + amount > quote.terms.price:
        raise _refuse("overpaid", f"at most {quote.terms.price - quote.paid} is still due")
    paid = (quote.paid + amount).quantize(CENTS)
    return replace(quote, paid=paid, paid_currency=currency), "payment_recorded"


def refuse(quote: Quote, reason: str) -> tuple[Quote, str]:
    """R5.3: staff may refuse the work at any time; what was paid is refunded, in the
    currency it was paid in (R5.4)."""
    if quote.state not in OPEN_STATES:
        raise _refuse("invalid_quote_step", f"a {quote.state} quote cannot be refused")
    refund = quote.paid.quantize(CENTS)
    return replace(quote, state="refused", revision=None, refusal=reason, refund_due=refund), (
        "refused"
    )


def complete(quote: Quote) -> tuple[Quote, str]:
    if quote.state != "accepted" or quote.revision is not None:
        raise _refuse("invalid_quote_step", "only an agreed quote without an open revision")
    return replace(quote, state="completed"), "completed"
