"""Metrics added from several threads at once (the outbox drain's senders in one
invocation; the local stack's concurrent requests): no add is lost and no flush fails."""

from __future__ import annotations

import contextlib
import io

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit

from chalicelib.observability import SharedByThreads
from devtools.local_metrics import summed
from tests.at_once import at_once


def test_threads_adding_and_flushing_at_once_lose_nothing() -> None:
    metrics = Metrics(provider=SharedByThreads(namespace="Test", service="svc"))
    threads, rounds, failures = 8, 150, []

    def invocations(number: int) -> None:
        try:
            for _ in range(rounds):
                metrics.add_metric(name=f"M{number % 4}", unit=MetricUnit.Count, value=1)
                metrics.add_metric(name="Shared", unit=MetricUnit.Count, value=1)
                metrics.flush_metrics()
        except Exception as error:  # the race this is about
            failures.append(error)

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        at_once(invocations, threads)
        metrics.flush_metrics()  # what a flush left behind for the next one
    assert failures == []
    totals = summed(out.getvalue().splitlines(), since_seconds=10**9)  # each line one flush
    per_name = float(threads // 4 * rounds)
    expected = {("Shared", ""): float(threads * rounds)}
    assert totals == expected | {(f"M{n}", ""): per_name for n in range(4)}
