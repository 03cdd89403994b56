"""Metrics added from several threads at once (the outbox drain's senders in one
invocation; the local stack's concurrent requests): no add is lost and no flush fails."""

from __future__ import annotations

import contextlib
import io
import json
from collections import Counter
from typing import Any

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit

from chalicelib.observability import SharedByThreads
from tests.at_once import at_once


def _documents(text: str) -> list[dict[str, Any]]:
    """Every JSON document printed, however threads interleaved their lines."""
    decoder, found, at = json.JSONDecoder(), [], 0
    while (at := text.find("{", at)) != -1:
        document, at = decoder.raw_decode(text, at)
        found.append(document)
    return found


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
    totals: Counter[str] = Counter()
    for document in _documents(out.getvalue()):
        for directive in document["_aws"]["CloudWatchMetrics"]:
            for metric in directive["Metrics"]:
                totals[metric["Name"]] += int(sum(document[metric["Name"]]))
    per_name = threads // 4 * rounds
    assert totals == Counter({"Shared": threads * rounds, **{f"M{n}": per_name for n in range(4)}})
