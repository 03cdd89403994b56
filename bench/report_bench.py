"""What the SLA report costs to read (issue 24). Prints figures.

    .venv/bin/python bench/report_bench.py [--days 364] [--per-day 40]

Seeds a year of counters on moto as the events write them (a request received, a first
response with its minutes, a breach, a rating: `chalicelib.reports.Tally`), then reads
the report for 7, 14, 28, ... days by day and by week, counting DynamoDB calls and the
items they return. The cost follows the number of periods and group values, never the
number of requests: the same report over a year with twice the requests per day reads
the same number of items.
"""

from __future__ import annotations

import argparse
import random
from datetime import UTC, datetime, timedelta
from typing import Any

from _moto import moto_tables  # the path, moto and the tables

from chalicelib.domain.tallies import SHARDS, tally
from chalicelib.domain.tickets import Scope, Ticket
from chalicelib.reports import ReportQuery
from chalicelib.storage.codec import dump, load
from chalicelib.storage.counters import DynamoReports, tally_updates
from chalicelib.storage.table import Table

START = datetime(2025, 12, 1, 9, 0, tzinfo=UTC)
TZ = "Europe/Moscow"


class CountingClient:
    def __init__(self, client: Any) -> None:
        self._client = client
        self.calls = 0
        self.items = 0

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._client, name)
        if name != "query":
            return method

        def counted(**kwargs: Any) -> Any:
            answer = method(**kwargs)
            self.calls += 1
            self.items += len(answer.get("Items", []))
            return answer

        return counted


def seed(table: Table, days: int, per_day: int, rng: random.Random) -> int:
    """Counters as `per_day` requests a day leave them; how many events they count.

    The events' tallies are summed here and each counter item is written once: the
    stored items are those the events' own updates would leave (same keys, same sums),
    without a year of moto writes. Only the channel group is seeded (what is read)."""
    items: dict[tuple[str, str], dict[str, int]] = {}
    events = 0
    for day in range(days):
        for n in range(per_day):
            at = START + timedelta(days=day, minutes=rng.randint(0, 600))
            ticket = Ticket(
                id=f"T-{day:03d}{n:04d}",
                channel=rng.choice(("cabinet", "email", "chat")),
                official=True,
                status="open",
                subject="s",
                text="t",
                created_at=at.isoformat(),
                updated_at=at.isoformat(),
                customer="c",
                customer_email=None,
                scope=Scope("outage"),
            )
            minutes = rng.randint(1, 150)
            counts = {"received": 1, "first_responses": 1, "within_target": int(minutes <= 60)}
            counts["breaches"] = int(minutes > 60)
            one = tally(ticket, at, TZ, counts, minutes=minutes)
            events += 1
            for entry in tally_updates(table, one):
                key = load(entry["Update"]["Key"])
                if not key["SK"].startswith("channel#"):
                    continue
                item = items.setdefault((key["PK"], key["SK"]), {})
                for name, value in one.counts:
                    item[name] = item.get(name, 0) + value
                minute = f"m{one.minute:04d}"
                item[minute] = item.get(minute, 0) + 1
    for (pk, sk), counts_of in items.items():
        table.client.put_item(
            TableName=table.name, Item=dump({"PK": pk, "SK": sk, "entity": "report", **counts_of})
        )
    return events


def measure(days_list: list[int], per_day: int, total_days: int) -> list[tuple[Any, ...]]:
    rows = []
    with moto_tables() as client:
        counting = CountingClient(client)
        table = Table(counting, "bench")
        events = seed(Table(client, "bench"), total_days, per_day, random.Random(24))
        reports = DynamoReports(table)
        for days in days_list:
            for by in ("day", "week"):
                start = START.date()
                end = start + timedelta(days=days - 1)
                periods = ReportQuery(start, end, by, "channel").periods()
                counting.calls = counting.items = 0
                reports.counters(periods, "channel")
                rows.append((per_day, days, by, len(periods), counting.calls, counting.items))
        print(f"  seeded {events} events over {total_days} days at {per_day} requests a day")
    return rows


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--days", type=int, default=364)
    parser.add_argument("--per-day", type=int, default=60)
    args = parser.parse_args()
    lengths = [d for d in (7, 14, 28, 56, 112, 224, 364) if d <= args.days] or [args.days]
    print("SLA report: DynamoDB reads per report (group=channel)")
    rows = measure(lengths, args.per_day, args.days)
    rows += measure(lengths[-1:], args.per_day * 2, args.days)
    print(f"  {'req/day':>7} {'days':>5} {'by':>5} {'periods':>7} {'queries':>7} {'items':>6}")
    for per_day, days, by, periods, calls, items in rows:
        print(f"  {per_day:>7} {days:>5} {by:>5} {periods:>7} {calls:>7} {items:>6}")
    bound = all(items <= periods * 3 * SHARDS for _, _, _, periods, _, items in rows)
    print(f"  items <= periods x 3 channels x {SHARDS} shards: {'yes' if bound else 'NO'}")
    doubled = [r for r in rows if r[1] == lengths[-1] and r[2] == "day"]
    same = len(doubled) == 2 and doubled[0][4] == doubled[1][4]
    print(f"  twice the requests a day, same queries: {'yes' if same else 'NO'}")
    return 0 if same and bound else 1


if __name__ == "__main__":
    raise SystemExit(main())
