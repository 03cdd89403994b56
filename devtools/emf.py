"""Metrics of a command that runs outside Lambda (a sweep from the CLI), to CloudWatch.

In Lambda, CloudWatch reads the Embedded Metric Format documents Powertools prints. A
command run from a terminal has no log group behind it, so its documents are captured
and sent with `PutMetricData`, same namespace, names, units and dimension sets: the
warnings, breaches and auto-closes of a time-travel session count like the sweep's.
"""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

_BATCH = 1_000  # PutMetricData takes up to 1,000 data points a call


def metric_data(document: dict[str, Any]) -> tuple[str, list[dict[str, Any]]] | None:
    """One EMF document as (namespace, MetricData); None if it is not EMF."""
    meta = document.get("_aws")
    if not isinstance(meta, dict) or not meta.get("CloudWatchMetrics"):
        return None
    stamp = datetime.fromtimestamp(int(meta.get("Timestamp", 0)) / 1000, UTC)
    data: list[dict[str, Any]] = []
    namespace = ""
    for directive in meta["CloudWatchMetrics"]:
        namespace = str(directive.get("Namespace", ""))
        for dimension_set in directive.get("Dimensions") or [[]]:
            dimensions = [{"Name": n, "Value": str(document[n])} for n in dimension_set]
            for metric in directive.get("Metrics", []):
                values = document.get(metric["Name"])
                values = values if isinstance(values, list) else [values]
                data.append(
                    {
                        "MetricName": metric["Name"],
                        "Dimensions": dimensions,
                        "Timestamp": stamp,
                        "Values": [float(v) for v in values],
                        "Counts": [1.0] * len(values),
                        "Unit": metric.get("Unit") or "None",
                    }
                )
    return namespace, data


@contextlib.contextmanager
def captured() -> Iterator[list[dict[str, Any]]]:
    """The EMF documents printed inside the block (other output passes through)."""
    import sys

    found: list[dict[str, Any]] = []
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        yield found
    for line in buffer.getvalue().splitlines():
        try:
            document = json.loads(line)
        except ValueError:
            print(line, file=sys.stderr)
            continue
        if isinstance(document, dict) and "_aws" in document:
            found.append(document)
        else:
            print(line, file=sys.stderr)


def publish(documents: list[dict[str, Any]], cloudwatch: Any) -> int:
    """Send the documents' data points to CloudWatch; how many were sent."""
    by_namespace: dict[str, list[dict[str, Any]]] = {}
    for document in documents:
        converted = metric_data(document)
        if converted is not None:
            by_namespace.setdefault(converted[0], []).extend(converted[1])
    sent = 0
    for namespace, data in by_namespace.items():
        for start in range(0, len(data), _BATCH):
            batch = data[start : start + _BATCH]
            cloudwatch.put_metric_data(Namespace=namespace, MetricData=batch)
            sent += len(batch)
    return sent
