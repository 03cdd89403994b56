"""Quotes on DynamoDB: `QUOTE#<id>` items in their ticket's partition, each step a
write conditional on the version read, with its audit event in the same transaction."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from chalicelib.domain.quotes import Quote, Revision, Step, Terms
from chalicelib.domain.tickets import AuditEvent
from chalicelib.storage import AlreadyRecorded, StaleState
from chalicelib.storage.codec import dump
from chalicelib.storage.conversation_items import audit_to_item
from chalicelib.storage.keys import QUOTE_PREFIX, quote_key, request_key, request_pk
from chalicelib.storage.table import Table


def quote_to_item(quote: Quote) -> dict[str, Any]:
    return {
        **quote_key(quote.ticket_id, quote.id),
        "entity": "quote",
        "id": quote.id,
        "ticket_id": quote.ticket_id,
        "state": quote.state,
        "terms": quote.terms.to_dict(),
        "created_at": quote.created_at,
        "revision": quote.revision.to_dict() if quote.revision else None,
        "paid": str(quote.paid),  # exact decimals as text: never a float
        "paid_currency": quote.paid_currency,
        "refund_due": str(quote.refund_due) if quote.refund_due is not None else None,
        "refusal": quote.refusal,
        "history": [s.to_dict() for s in quote.history],
        "version": quote.version,
    }


def quote_from_item(item: Mapping[str, Any]) -> Quote:
    refund = item.get("refund_due")
    return Quote(
        id=item["id"],
        ticket_id=item["ticket_id"],
        state=item["state"],
        terms=Terms.from_dict(item["terms"]),
        created_at=item["created_at"],
        revision=Revision.from_dict(item["revision"]) if item.get("revision") else None,
        paid=Decimal(str(item.get("paid") or "0.00")),
        paid_currency=item.get("paid_currency"),
        refund_due=Decimal(str(refund)) if refund is not None else None,
        refusal=item.get("refusal"),
        history=tuple(Step.from_dict(s) for s in item.get("history") or ()),
        version=int(item.get("version") or 0),
    )


class DynamoQuotes:
    def __init__(self, table: Table) -> None:
        self._table = table

    def add(self, quote: Quote, audit: AuditEvent) -> None:
        check = {
            "ConditionCheck": {
                "TableName": self._table.name,
                "Key": dump(request_key(quote.ticket_id)),
                "ConditionExpression": "attribute_exists(PK)",
            }
        }
        failed = self._table.transact(
            [
                check,
                self._table.put_new(quote_to_item(quote)),
                self._table.put(audit_to_item(audit)),
            ]
        )
        if failed == 0:
            raise StaleState(quote.ticket_id)
        if failed is not None:
            raise AlreadyRecorded(quote.id)

    def get(self, ticket_id: str, quote_id: str) -> Quote | None:
        item = self._table.get(quote_key(ticket_id, quote_id))
        return quote_from_item(item) if item else None

    def for_ticket(self, ticket_id: str) -> list[Quote]:
        items = self._table.query_all(
            KeyConditionExpression="PK = :pk AND begins_with(SK, :q)",
            ExpressionAttributeValues=dump({":pk": request_pk(ticket_id), ":q": QUOTE_PREFIX}),
            ConsistentRead=True,
        )
        return sorted((quote_from_item(i) for i in items), key=lambda q: (q.created_at, q.id))

    def save(self, quote: Quote, audit: AuditEvent) -> Quote:
        """Store the next step of a quote read at `quote.version`; StaleState if another
        step was stored since."""
        saved = {**quote_to_item(quote), "version": quote.version + 1}
        put = self._table.put(saved)
        put["Put"]["ConditionExpression"] = "version = :read"
        put["Put"]["ExpressionAttributeValues"] = dump({":read": quote.version})
        if self._table.transact([put, self._table.put(audit_to_item(audit))]) is not None:
            raise StaleState(quote.id)
        return quote_from_item(saved)
