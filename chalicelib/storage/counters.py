"""The SLA report's counters (`chalicelib.reports`): one item per period, group value
and shard, updated with ADD in the event's own transaction, read with one Query per
period and group."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from chalicelib.domain.tallies import Counter, Tally
from chalicelib.storage.codec import dump, load
from chalicelib.storage.keys import REPORT_PREFIX, report_key
from chalicelib.storage.table import Table


def tally_updates(table: Table, tally: Tally) -> list[dict[str, Any]]:
    """Transaction entries adding `tally` to each of its period x group counters."""
    names: dict[str, str] = {}
    values: dict[str, Any] = {":entity": "report"}
    adds: list[str] = []
    for position, (fact, count) in enumerate(tally.counts):
        names[f"#f{position}"] = fact
        values[f":f{position}"] = count
        adds.append(f"#f{position} :f{position}")
    if tally.minute is not None:
        names["#m"] = f"m{tally.minute:04d}"
        values[":m"] = 1
        adds.append("#m :m")
    entries = []
    for period in (tally.day, tally.week):
        for group, value in tally.groups:
            entries.append(
                {
                    "Update": {
                        "TableName": table.name,
                        "Key": dump(report_key(period, group, value, tally.shard)),
                        "UpdateExpression": "SET entity = :entity ADD " + ", ".join(adds),
                        "ExpressionAttributeNames": names,
                        "ExpressionAttributeValues": dump(values),
                    }
                }
            )
    return entries


def counter_of(item: dict[str, Any]) -> tuple[str, Counter]:
    """(group value, its counters) of one shard item."""
    value = str(item["SK"]).split("#", 1)[1].rsplit("#", 1)[0]
    counter = Counter()
    facts = {k: int(v) for k, v in item.items() if k not in ("PK", "SK", "entity") and k[0] != "m"}
    minutes = {int(k[1:]): int(v) for k, v in item.items() if k[:1] == "m" and k[1:].isdigit()}
    counter.add(facts, minutes)
    return value, counter


class DynamoReports:
    def __init__(self, table: Table) -> None:
        self._table = table

    def counters(self, periods: Sequence[str], group: str) -> dict[tuple[str, str], Counter]:
        """Every counter of `group` in `periods`, shards summed: one Query per period."""
        found: dict[tuple[str, str], Counter] = {}
        for period in periods:
            start: dict[str, Any] | None = None
            while True:
                params: dict[str, Any] = {
                    "TableName": self._table.name,
                    "KeyConditionExpression": "PK = :pk AND begins_with(SK, :group)",
                    "ExpressionAttributeValues": dump(
                        {":pk": f"{REPORT_PREFIX}{period}", ":group": f"{group}#"}
                    ),
                }
                if start:
                    params["ExclusiveStartKey"] = start
                page = self._table.client.query(**params)
                for item in page.get("Items", []):
                    value, counter = counter_of(load(item))
                    total = found.setdefault((period, value), Counter())
                    total.add(counter.facts, counter.minutes)
                start = page.get("LastEvaluatedKey")
                if not start:
                    break
        return found
