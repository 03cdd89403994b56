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
    GAUGE_PK,
    GAUGE_PREFIX,
    META,
    PENDING,
    QUEUE_INDEX,
    QUEUE_POSITION,
    WARNED,
    deadline_part,
    deadline_shard,
    open_gauge_index,
    open_gauge_key,
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
        self._gauge: dict[int, int] = {}  # read by the walk in progress
        self._walked: int | None = None  # the gauge the last whole walk read

    def due(self, now: datetime, warning: timedelta) -> Iterator[Ticket]:
        """Every request due in every shard; the walk reads each shard's gauge on the
        way (the first item of its part P), so `open_count` after it makes no call."""
        self._gauge, self._walked = {}, None
        for shard in range(DEADLINE_SHARDS):
            for part, horizon in ((PENDING, now + warning), (WARNED, now)):
                yield from self._part(part, shard, to_iso(horizon))
        self._walked = sum(self._gauge.values())

    def _part(self, part: str, shard: int, upto: str | None) -> Iterator[Ticket]:
        """Requests in one part and shard, due first, up to `upto`; its gauge noted."""
        values: dict[str, Any] = {":pk": partition(part, shard)}
        condition = "GSI2PK = :pk"
        if upto is not None:
            condition += " AND GSI2SK <= :upto"
            values[":upto"] = f"{upto}#~"
        gauge = open_gauge_key(shard)["SK"]
        for item in self._table.query_all(
            IndexName=DUE_DEADLINES_INDEX,
            KeyConditionExpression=condition,
            ExpressionAttributeValues=dump(values),
        ):
            if item.get("SK") == gauge:
                self._gauge[shard] = int(item.get("open_official", 0))
                continue
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
        """The gauge as the last whole `due` walk read it (once), or else read."""
        walked, self._walked = self._walked, None
        if walked is not None:
            return walked
        found = self._table.query_all(
            KeyConditionExpression="PK = :pk AND begins_with(SK, :gauge)",
            ExpressionAttributeValues=dump({":pk": GAUGE_PK, ":gauge": GAUGE_PREFIX}),
        )
        return sum(int(item.get("open_official", 0)) for item in found)


def reindex_requests(table: Table, progress: Callable[[int], None] | None = None) -> int:
    """Put every request where the queue and the lookup indexes expect it (requests
    stored before those indexes existed), and count the official requests waiting for
    staff into each deadline shard's gauge (a table kept one gauge for all before issue
    29); repeating it changes nothing. A Scan: an operator's one-off (`python -m
    chalicelib reindex`) at a quiet moment (a change made while it scans may be counted
    twice or not at all), never a request's path."""
    count, waiting = 0, dict.fromkeys(range(DEADLINE_SHARDS), 0)
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
            if deadline_part(ticket.sla) is not None:
                waiting[deadline_shard(ticket.id)] += 1
        if progress is not None:
            progress(count)  # after each scanned page: the operator sees it move
        if "LastEvaluatedKey" not in page:
            gauges = [
                {**open_gauge_key(s), **open_gauge_index(s), "open_official": n}
                for s, n in waiting.items()
            ]
            table.batch_put(gauges)
            return count
        params["ExclusiveStartKey"] = page["LastEvaluatedKey"]
