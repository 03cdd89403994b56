"""The outbox on DynamoDB (see `keys`): entries by the time a sender may next try them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from chalicelib.domain.tickets import Message, OutboxEntry
from chalicelib.storage import Settle
from chalicelib.storage.codec import dump, load, outbox_from_item, outbox_to_item
from chalicelib.storage.keys import (
    OUTBOX_FAILED_PK,
    delay_notice_key,
    message_key,
    outbox_key,
    outbox_partitions,
    request_key,
)
from chalicelib.storage.table import Table
from chalicelib.storage.ticket_items import TRANSACTION_ITEMS


def settle_items(table: Table, settle: Settle) -> list[dict[str, Any]]:
    """What a delivered entry leaves behind, as transaction items: the record's
    acknowledgement state, a staff item's delivery."""
    items: list[dict[str, Any]] = []
    if settle.ack is not None:
        items.append(_set(table, request_key(settle.request_id), "ack", settle.ack))
    if settle.item is not None and settle.delivery is not None:
        item = settle.item
        key = (
            message_key(settle.request_id, item.at, item.id)
            if isinstance(item, Message)
            else delay_notice_key(settle.request_id, item.posted_at, item.id)
        )
        items.append(_set(table, key, "delivery", settle.delivery.to_dict()))
    return items


def _set(table: Table, key: dict[str, str], name: str, value: Any) -> dict[str, Any]:
    return {
        "Update": {
            "TableName": table.name,
            "Key": dump(key),
            "UpdateExpression": f"SET {name} = :v",
            "ConditionExpression": "attribute_exists(PK)",
            "ExpressionAttributeValues": dump({":v": value}),
        }
    }


class DynamoOutbox:
    """The `Outbox`: a claim is a conditional move of the entry's time, so one sender
    holds an entry at a time, and one that dies lets its lease run out."""

    def __init__(self, table: Table) -> None:
        self._table = table

    def due(self, now: str, limit: int) -> list[OutboxEntry]:
        entries: list[OutboxEntry] = []
        for partition in outbox_partitions():
            response = self._table.query(
                KeyConditionExpression="PK = :pk AND SK <= :now",
                ExpressionAttributeValues=dump({":pk": partition, ":now": f"{now}#~"}),
                Limit=limit,
            )
            entries += [outbox_from_item(load(i)) for i in response.get("Items", [])]
        return sorted(entries, key=lambda e: (e.due_at, e.id))[:limit]

    def claim(self, entry: OutboxEntry, until: str) -> OutboxEntry | None:
        claimed = replace(entry, due_at=until, attempts=entry.attempts + 1)
        return claimed if self._move(entry, outbox_to_item(claimed)) else None

    def done(self, entry: OutboxEntry, settle: Settle | None = None) -> None:
        delete = self._delete(entry)
        after = settle_items(self._table, settle) if settle else []
        if self._table.transact([delete, *after]) is not None:
            # What the entry was for is gone (a request deleted meanwhile): it is owed
            # no more either.
            self._table.transact([delete])

    def done_many(self, delivered: Sequence[tuple[OutboxEntry, Settle | None]]) -> None:
        chunk: list[tuple[OutboxEntry, Settle | None]] = []
        items: list[dict[str, Any]] = []
        for entry, settle in delivered:
            mine = [self._delete(entry), *(settle_items(self._table, settle) if settle else [])]
            if len(items) + len(mine) > TRANSACTION_ITEMS:
                self._done_together(chunk, items)
                chunk, items = [], []
            chunk.append((entry, settle))
            items += mine
        if chunk:
            self._done_together(chunk, items)

    def _done_together(
        self, chunk: list[tuple[OutboxEntry, Settle | None]], items: list[dict[str, Any]]
    ) -> None:
        if self._table.transact(items) is not None:
            for entry, settle in chunk:  # one is gone: the rest one by one
                self.done(entry, settle)

    def _delete(self, entry: OutboxEntry) -> dict[str, Any]:
        return {
            "Delete": {
                "TableName": self._table.name,
                "Key": dump(outbox_key(entry.id, entry.due_at)),
            }
        }

    def reschedule(self, entry: OutboxEntry, at: str, error: str) -> None:
        self._move(entry, outbox_to_item(replace(entry, due_at=at, last_error=error[:500])))

    def give_up(self, entry: OutboxEntry, error: str, at: str) -> None:
        item = {
            **outbox_to_item(replace(entry, last_error=error[:500])),
            "PK": OUTBOX_FAILED_PK,
            "SK": f"{at}#{entry.id}",
        }
        self._move(entry, item)

    def given_up(self) -> list[OutboxEntry]:
        return [
            outbox_from_item(item)
            for item in self._table.query_all(
                KeyConditionExpression="PK = :pk",
                ExpressionAttributeValues=dump({":pk": OUTBOX_FAILED_PK}),
            )
        ]

    def _move(self, entry: OutboxEntry, item: dict[str, Any]) -> bool:
        """Delete the entry where it is and put `item`, only if it is still there."""
        old = outbox_key(entry.id, entry.due_at)
        if (item["PK"], item["SK"]) == (old["PK"], old["SK"]):
            # The same key (a retry due exactly when the lease ends): one conditional put,
            # since a transaction may not touch one item twice.
            put = {**self._table.put(item)["Put"], "ConditionExpression": "attribute_exists(PK)"}
            return self._table.transact([{"Put": put}]) is None
        failed = self._table.transact(
            [
                {
                    "Delete": {
                        "TableName": self._table.name,
                        "Key": dump(outbox_key(entry.id, entry.due_at)),
                        "ConditionExpression": "attribute_exists(PK)",
                    }
                },
                self._table.put(item),
            ]
        )
        return failed is None
