"""SLA sweep cost (issue: response-time rule). Prints figures; asserts nothing.

    .venv/bin/python bench/sweep_bench.py [--open 100000]

Seeds OPEN official tickets on moto, of which DUE are past their deadline, runs one
sweep and prints the items DynamoDB read (ScannedCount summed over every Query) per
due deadline, and the sweep's wall time. moto's GSI queries scan the whole table in
Python, so the wall time here overstates DynamoDB's; the items read are the figure that
carries over. moto's TransactWriteItems also deep-copies every table for its rollback,
which makes each write O(table); the bench, with one sweep and no contention, replays
each transaction's parts as single conditional calls instead.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from _moto import moto_tables  # the path, moto and the tables

from chalicelib.domain.clock import first_response_deadline
from chalicelib.domain.tickets import Scope, Ticket
from chalicelib.outbound.delivery import Dispatcher, publishing
from chalicelib.outbound.routing import BREACH, WARNING
from chalicelib.sla.sweep import Sweeper
from chalicelib.storage.codec import dump, ticket_to_item
from chalicelib.storage.dynamo import dynamo_store
from chalicelib.timeutil import to_iso

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


class CountingClient:
    """A DynamoDB client that adds up what every Query read."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.scanned = 0
        self.queries = 0
        self.calls = 0

    def query(self, **params: Any) -> Any:
        response = self._client.query(**params)
        self.scanned += response.get("ScannedCount", response.get("Count", 0))
        self.queries += 1
        self.calls += 1
        return response

    def __getattr__(self, name: str) -> Any:
        self.calls += 1  # every other call the store makes (its methods are looked up here)
        return getattr(self._client, name)


class Recorder:
    def __init__(self) -> None:
        self.sent = 0

    def publish(self, topic_arn: str, kind: str, message: dict) -> None:
        self.sent += 1


def seed(client: Any, table: str, total: int, due: int) -> None:
    template = Ticket(
        id="",
        channel="cabinet",
        official=True,
        status="open",
        subject="Почта не работает",
        text="Письма не уходят, сервер отвечает 451.",
        created_at="",
        updated_at="",
        customer="bench",
        customer_email=None,
        scope=Scope("outage", "email"),
    )
    batch = []
    for n in range(total):
        # `due` tickets were created 61-120 min ago (deadline passed); the rest are fresh
        # (created in the last 40 min: due in 20-60 min, outside the warning window).
        ago = timedelta(minutes=61 + n % 60) if n < due else timedelta(minutes=n % 40)
        created = NOW - ago
        ticket = replace(
            template,
            id=f"T-{n:07d}",
            created_at=to_iso(created),
            updated_at=to_iso(created),
            sla=first_response_deadline(created, 60),
        )
        batch.append({"PutRequest": {"Item": dump(ticket_to_item(ticket))}})
        if len(batch) == 25:
            client.batch_write_item(RequestItems={table: batch})
            batch = []
    if batch:
        client.batch_write_item(RequestItems={table: batch})


def run(total: int, due: int) -> None:
    with moto_tables() as raw:
        started = time.perf_counter()
        seed(raw, "bench", total, due)
        seeded = time.perf_counter() - started
        client = CountingClient(raw)
        publisher = Recorder()
        store = dynamo_store(client, "bench")
        topics = {WARNING: "arn:bench", BREACH: "arn:bench"}
        dispatcher = Dispatcher(store.outbox, publishing(publisher, topics), lambda: NOW)
        sweeper = Sweeper(store.tickets, store.deadlines, dispatcher, lambda: NOW, 15)
        started = time.perf_counter()
        report = sweeper.run(NOW)
        elapsed = time.perf_counter() - started
        print(f"== {total:,} open tickets, {due:,} due (seeded in {seeded:.1f} s)")
        print(f"breached {len(report.breached):,}, escalated {publisher.sent:,}")
        print(f"queries {client.queries}, items read {client.scanned:,}")
        print(f"items read per due deadline {client.scanned / due:.3f}")
        print(
            f"sweep time {elapsed:.2f} s on moto ({elapsed / due * 1000:.1f} ms per due deadline)"
        )
        client.calls = client.queries = 0
        sweeper.run(NOW)  # the breached wait for an answer; nothing is due
        print(f"the next sweep, nothing due: {client.calls} calls, {client.queries} Queries")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--open", type=int, default=100_000)
    parser.add_argument("--due", default="100,1000", help="due deadlines per run, comma-separated")
    args = parser.parse_args()
    for due in (int(n) for n in args.due.split(",")):
        run(args.open, due)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
