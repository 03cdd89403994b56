"""Metrics counted `together` (a new request's counts, issue 29) leave in as few EMF
documents as their dimensions allow, and CloudWatch extracts from them exactly what it
extracted from one document per count: the same metrics, dimensions and sums."""

from __future__ import annotations

import contextlib
import io
import json
from typing import Any

import pytest
from hypothesis import given, settings, strategies as st

from chalicelib import observability as obs
from devtools.local_metrics import summed

NAMES = st.sampled_from([obs.TICKETS_CREATED, obs.SCOPE_LABELLED, obs.MAIL_FAILED, "Other"])
DIMENSIONS = st.dictionaries(
    st.sampled_from(["channel", "label", "kind", "how"]),
    st.sampled_from(["cabinet", "mail", "billing"]),
    min_size=1,
    max_size=3,
)
COUNTS = st.lists(st.tuples(NAMES, DIMENSIONS, st.integers(1, 3)), max_size=8)


def printed(block: Any) -> list[dict[str, Any]]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        block()
    return [json.loads(line) for line in out.getvalue().splitlines()]


def extracted(documents: list[dict[str, Any]]) -> dict[tuple[str, str, str], float]:
    """(namespace, metric, dimensions) -> sum, as CloudWatch reads EMF; every name a
    directive refers to is a member of its document."""
    totals: dict[tuple[str, str, str], float] = {}
    for document in documents:
        for directive in document["_aws"]["CloudWatchMetrics"]:
            for names in directive["Dimensions"]:
                assert all(name in document for name in names)
                dims = ",".join(f"{n}={document[n]}" for n in names)
                for metric in directive["Metrics"]:
                    key = (directive["Namespace"], metric["Name"], dims)
                    totals[key] = totals.get(key, 0.0) + sum(document[metric["Name"]])
    return totals


def each(counts: list[tuple[str, dict[str, str], int]]) -> None:
    for name, dimensions, value in counts:
        obs.count(name, value, **dimensions)


@settings(max_examples=200, deadline=None)
@given(COUNTS)
def test_together_cloudwatch_reads_what_it_read_from_a_document_each(
    counts: list[tuple[str, dict[str, str], int]],
) -> None:
    alone = printed(lambda: each(counts))

    def gathered() -> None:
        with obs.together():
            each(counts)

    joined = printed(gathered)
    assert extracted(joined) == extracted(alone)
    assert len(joined) <= len(alone) == len(counts)
    lines = [json.dumps(d) for d in joined]
    assert summed(lines, since_seconds=10**9) == summed(
        [json.dumps(d) for d in alone], since_seconds=10**9
    )


def test_a_new_requests_counts_are_one_document() -> None:
    def created() -> None:
        with obs.together():
            obs.count(obs.TICKETS_CREATED, channel="cabinet")
            obs.count(obs.SCOPE_LABELLED, channel="cabinet", label="consultation")

    (document,) = printed(created)
    assert document["channel"] == "cabinet" and document["label"] == "consultation"
    assert [d["Dimensions"] for d in document["_aws"]["CloudWatchMetrics"]] == [
        [["service", "channel"]],
        [["service", "channel", "label"]],
    ]


def test_a_block_inside_another_leaves_with_it_and_an_error_leaves_what_was_counted() -> None:
    seen: list[int] = []

    def counted_then_failed() -> None:
        with obs.together():
            with obs.together():
                obs.count(obs.TICKETS_CREATED, channel="mail")
            seen.append(len(printed_so_far.getvalue()))
            raise RuntimeError("after the commit, the counts are still true")

    printed_so_far = io.StringIO()
    with contextlib.redirect_stdout(printed_so_far), pytest.raises(RuntimeError):
        counted_then_failed()
    assert seen == [0]  # nothing left with the inner block
    assert json.loads(printed_so_far.getvalue())["TicketsCreated"] == [1.0]


def test_nothing_leaves_when_metrics_are_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")

    def gathered() -> None:
        with obs.together():
            obs.count(obs.TICKETS_CREATED, channel="cabinet")

    assert printed(gathered) == []
