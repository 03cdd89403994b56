"""The sparse, sharded deadline index (`DueDeadlines`, see `keys`): the sweep and the queue."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from chalicelib.models import Page, Ticket
from chalicelib.storage.codec import dump, load, ticket_from_item
from chalicelib.storage.keys import (
    DEADLINE_SHARDS,
    DUE_DEADLINES_INDEX,
    LATE,
    PENDING,
    STATS_KEY,
    WARNED,
    decode_queue_token,
    encode_queue_token,
    partition,
)
from chalicelib.storage.table import Table
from chalicelib.timeutil import to_iso


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

    def queue(self, limit: int, next_token: str | None) -> Page:
        """A k-way merge over every part and shard: breaches are due in the past, so
        they lead. The token holds each stream's last position (None once drained)."""
        cursors = decode_queue_token(next_token) if next_token else {}
        streams: list[tuple[str, list[dict[str, Any]], bool]] = []
        for part in (LATE, WARNED, PENDING):
            for shard in range(DEADLINE_SHARDS):
                name = partition(part, shard)
                cursor = cursors.get(name, "")
                if cursor is None:
                    continue
                values: dict[str, Any] = {":pk": name}
                condition = "GSI2PK = :pk"
                if cursor:
                    condition += " AND GSI2SK > :after"
                    values[":after"] = cursor
                response = self._table.query(
                    IndexName=DUE_DEADLINES_INDEX,
                    KeyConditionExpression=condition,
                    ExpressionAttributeValues=dump(values),
                    Limit=limit,
                )
                items = [load(i) for i in response.get("Items", [])]
                streams.append((name, items, "LastEvaluatedKey" not in response))
        merged = sorted(
            ((item["GSI2SK"], name, item) for name, items, _ in streams for item in items),
            key=lambda entry: (entry[0], entry[1]),
        )
        page = merged[:limit]
        new_cursors: dict[str, str | None] = dict(cursors)
        for sort_key, name, _ in page:
            new_cursors[name] = sort_key
        more = False
        for name, items, finished in streams:
            cursor = new_cursors.get(name)
            consumed = [i for i in items if cursor and i["GSI2SK"] <= cursor]
            if finished and len(consumed) == len(items):
                new_cursors[name] = None
            else:
                more = True
        token = encode_queue_token(new_cursors) if more else None
        return Page(items=tuple(ticket_from_item(item) for _, _, item in page), next=token)

    def open_count(self) -> int:
        item = self._table.get(STATS_KEY, consistent=False) or {}
        return int(item.get("open_official", 0))
