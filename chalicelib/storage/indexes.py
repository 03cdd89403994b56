"""The sparse, sharded deadline index (`DueDeadlines`) the sweep reads, and the one
staff queue (`StaffQueue`); both are described in `keys`."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

from chalicelib.domain.tickets import Page, Ticket
from chalicelib.storage.codec import dump, index_items, load, ticket_from_item, ticket_to_item
from chalicelib.storage.keys import (
    DEADLINE_SHARDS,
    DUE_DEADLINES_INDEX,
    META,
    PENDING,
    QUEUE_INDEX,
    QUEUE_POSITION,
    STATS_KEY,
    WARNED,
    partition,
    queue_partition,
    request_key,
    request_pk,
)
from chalicelib.storage.table import Pager, Table
from chalicelib.timeutil import to_iso


def resolve(table: Table, pointers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The request items that index items (facets, pointers) stand for, in their order."""
    if not pointers:
        return []
    found = table.batch_get([request_key(p["id"]) for p in pointers])
    return [found[pk] for p in pointers if (pk := request_pk(p["id"])) in found]


class DynamoDeadlineIndex:
    """The `DeadlineIndex` on DynamoDB: one Query per shard and part that has work."""

    def __init__(self, table: Table) -> None:
        self._table = table

    def due(self, now: datetime, warning: timedelta) -> Iterator[Ticket]:
        for shard in range(DEADLINE_SHARDS):
            for part, horizon in ((PENDING, now + warning), (WARNED, now)):
                yield from self._part(part, shard, to_iso(horizon))

    def _part(self, part: str, shard: int, upto: str | None) -> Iterator[Ticket]:
        """Requests in one part and shard, due first, up to `upto`."""
        values: dict[str, Any] = {":pk": partition(part, shard)}
        condition = "GSI2PK = :pk"
        if upto is not None:
            condition += " AND GSI2SK <= :upto"
            values[":upto"] = f"{upto}#~"
        for item in self._table.query_all(
            IndexName=DUE_DEADLINES_INDEX,
            KeyConditionExpression=condition,
            ExpressionAttributeValues=dump(values),
        ):
            yield ticket_from_item(item)

    def queue(
        self,
        limit: int,
        next_token: str | None,
        *,
        channel: str | None = None,
        label: str | None = None,
        flag: str | None = None,
        assignee: str | None = None,
    ) -> Page:
        """One Query of `StaffQueue` in key order (see `domain.queue`); a filtered page reads
        its facet's partition and then its requests in one BatchGetItem."""
        partition_key, sort_key = queue_partition(channel, label, flag, assignee)
        pager = Pager(
            {
                "IndexName": QUEUE_INDEX,
                "KeyConditionExpression": "QPK = :pk",
                "ExpressionAttributeValues": {":pk": partition_key},
            },
            "QSK",
            QUEUE_POSITION,
            lambda at: {
                "PK": request_pk(at.rsplit("#", 1)[1]),
                "SK": sort_key,
                "QPK": partition_key,
                "QSK": at,
            },
        )
        items, token = self._table.page(pager, limit, next_token)
        if sort_key != META:
            items = resolve(self._table, items)
        return Page(items=tuple(ticket_from_item(i) for i in items), next=token)

    def open_count(self) -> int:
        item = self._table.get(STATS_KEY, consistent=False) or {}
        return int(item.get("open_official", 0))


def reindex_requests(table: Table, progress: Callable[[int], None] | None = None) -> int:
    """Put every request where the queue and the lookup indexes expect it (requests
    stored before those indexes existed); repeating it changes nothing. A Scan: an
    operator's one-off (`python -m chalicelib reindex`), never a request's path."""
    count = 0
    params: dict[str, Any] = {
        "TableName": table.name,
        "FilterExpression": "entity = :request",
        "ExpressionAttributeValues": dump({":request": "request"}),
    }
    while True:
        page = table.client.scan(**params)
        for raw in page.get("Items", []):
            ticket = ticket_from_item(load(raw))
            item = ticket_to_item(ticket)
            keys = {k: item.get(k) for k in ("QPK", "QSK", "LPK", "LSK")}
            sets = [f"{k} = :{k}" for k, v in keys.items() if v is not None]
            removes = [k for k, v in keys.items() if v is None]
            expression = (
                "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
            )
            values = {f":{k}": v for k, v in keys.items() if v is not None}
            table.update(request_key(ticket.id), expression, "attribute_exists(PK)", values)
            table.batch_put(index_items(ticket))
            count += 1
        if progress is not None:
            progress(count)  # after each scanned page: the operator sees it move
        if "LastEvaluatedKey" not in page:
            return count
        params["ExclusiveStartKey"] = page["LastEvaluatedKey"]
