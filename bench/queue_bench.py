"""What a page of the staff queue costs as the queue grows (issue 15). Prints figures.

    .venv/bin/python bench/queue_bench.py [--sizes 500,1000,2000,4000] [--limit 50]

Seeds N waiting requests on moto (a quarter breached, half with a running deadline, a
quarter advisory e-mail), then reads the first page, a page from the middle (by
following `next`), and the first page of each filter, counting the DynamoDB calls and
the items they read (ScannedCount, plus the keys a BatchGetItem fetched). The figure
that carries over to DynamoDB is calls and items per page; moto answers a GSI query by
scanning the table in Python, so its wall time grows with N where DynamoDB's does not.

Before this layout the queue merged 3 parts x 8 shards of the deadline index: 24
queries for every page, each reading up to a page of items, and advisory records were
in no queue at all.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from _moto import moto_tables  # the path, moto and the tables

from chalicelib.domain.queue import queue_item
from chalicelib.domain.tickets import Origin, Scope, Sla, Ticket
from chalicelib.storage.codec import index_items, ticket_to_item
from chalicelib.storage.dynamo import dynamo_store
from chalicelib.storage.table import Table
from chalicelib.timeutil import to_iso

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
LABELS = ("outage", "consultation", "paid_admin", "out_of_scope")


class CountingClient:
    """A DynamoDB client that counts calls and the items they read."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.calls: list[str] = []
        self.items = 0

    def query(self, **params: Any) -> Any:
        response = self._client.query(**params)
        self.calls.append("Query")
        self.items += response.get("ScannedCount", response.get("Count", 0))
        return response

    def batch_get_item(self, **params: Any) -> Any:
        response = self._client.batch_get_item(**params)
        self.calls.append("BatchGetItem")
        self.items += sum(len(v) for v in response.get("Responses", {}).values())
        return response

    def reset(self) -> None:
        self.calls, self.items = [], 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


def request(n: int) -> Ticket:
    created = NOW - timedelta(minutes=n % 600 + 1)
    kind = n % 4
    official = kind != 3
    sla = None
    if official:
        due = created + timedelta(minutes=60)
        state = "breached" if kind == 0 else "pending"
        sla = Sla(state=state, due_at=to_iso(due), breached_at=to_iso(due) if kind == 0 else None)
    ticket = Ticket(
        id=f"{'T' if official else 'E'}-{n:07d}",
        channel="cabinet" if official else "email",
        official=official,
        status="open",
        subject=f"Request {n}",
        text="Сайт не открывается",  # every request is found by `сайт` and `request`
        created_at=to_iso(created),
        updated_at=to_iso(created),
        customer=f"sub-{n % 97}",
        customer_email=f"user{n % 97}@example{n % 13}.com",
        scope=Scope(LABELS[n % 4], flags=("needs_details",) if n % 5 == 0 else ()),
        sla=sla,
    )
    return ticket if official else replace(ticket, origin=Origin(f"s3://mail/raw/{n}"))


def seed(table: Table, count: int) -> None:
    items: list[dict[str, Any]] = []
    for n in range(count):
        ticket = request(n)
        items.append(ticket_to_item(ticket))
        items.extend(index_items(ticket))
    table.batch_put(items)


def measure(size: int, limit: int) -> list[tuple[str, int, list[str], int, float, float]]:
    with moto_tables() as raw:
        client = CountingClient(raw)
        store = dynamo_store(client, "bench")
        seed(Table(raw, "bench"), size)
        rows = []
        cases: list[tuple[str, dict[str, str]]] = [
            ("whole queue, page 1", {}),
            ("whole queue, middle page", {}),
            ("channel=email", {"channel": "email"}),
            ("label=outage", {"label": "outage"}),
            ("flag=needs_details", {"flag": "needs_details"}),
            ("assignee=none", {"assignee": "-"}),
            ("search q=сайт request", {"terms": "сайт request"}),
            ("search q=user5@example5.com", {"terms": "user5@example5.com"}),
        ]
        for name, filters in cases:
            token = None
            if name.endswith("middle page"):
                for _ in range(size // limit // 2):
                    token = store.deadlines.queue(limit, token).next
            client.reset()
            started = time.perf_counter()
            if name.startswith("search"):  # GET /staff/search: every request has both words
                page = store.tickets.search(filters["terms"].split(), limit, None, lambda t: True)
            else:
                page = store.deadlines.queue(limit, token, **filters)
            elapsed = (time.perf_counter() - started) * 1000
            items = [queue_item(t) for t in page.items]  # encoded as http.json_response does
            size_kb = (
                len(json.dumps(items, ensure_ascii=False, separators=(",", ":")).encode()) / 1024
            )
            rows.append((name, len(page.items), list(client.calls), client.items, elapsed, size_kb))
        return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="500,1000,2000,4000")
    parser.add_argument("--limit", type=int, default=50)
    args = parser.parse_args()
    print(f"page size {args.limit}; calls and items read per page (moto ms: not DynamoDB's);")
    print("KB: the page's items as GET /staff/queue sends them (API.md: under 30 KB for 50)")
    head = f"{'waiting':>8}  {'page':<26}{'items':>6}  {'calls':<24}{'read':>6}{'moto ms':>9}"
    print(f"{head}{'KB':>7}")
    for size in (int(s) for s in args.sizes.split(",")):
        for name, count, calls, read, ms, kb in measure(size, args.limit):
            call_text = " + ".join(calls)
            print(f"{size:>8}  {name:<26}{count:>6}  {call_text:<24}{read:>6}{ms:>9.1f}{kb:>7.1f}")


if __name__ == "__main__":
    main()
