"""Metrics you can see locally (issue 28): the local stack's EMF, summed by name and
dimensions over a window (`python -m chalicelib metrics`)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from devtools.local_metrics import EmfTee, parse_since, show, summed


def _emf(name: str, value: float, at_ms: int, **dims: str) -> str:
    names = ["service", *dims]
    meta = {
        "Timestamp": at_ms,
        "CloudWatchMetrics": [
            {"Namespace": "SupportIntake", "Dimensions": [names], "Metrics": [{"Name": name}]}
        ],
    }
    return json.dumps({"_aws": meta, "service": "support-intake", **dims, name: [value]})


def test_emf_is_kept_and_summed_by_name_and_dimensions(tmp_path: Path) -> None:
    out = io.StringIO()
    tee = EmfTee(out, tmp_path / "m.jsonl")
    now = 1_800_000_000.0
    tee.write(_emf("TicketsCreated", 1, int(now * 1000), channel="cabinet") + "\n")
    tee.write(_emf("TicketsCreated", 1, int(now * 1000), channel="cabinet") + "\n")
    tee.write(_emf("TicketsCreated", 1, int((now - 7200) * 1000), channel="email") + "\n")
    tee.write("local stack started\n")
    assert "local stack started" in out.getvalue()
    lines = (tmp_path / "m.jsonl").read_text().splitlines()
    assert len(lines) == 3
    assert summed(lines, parse_since("15m"), now) == {("TicketsCreated", "channel=cabinet"): 2.0}
    assert summed(lines, parse_since("3h"), now)[("TicketsCreated", "channel=email")] == 1.0
    printed = io.StringIO()
    assert show(tmp_path / "m.jsonl", 10**9, printed) == 0
    assert "channel=cabinet" in printed.getvalue()
    with pytest.raises(ValueError, match="--since"):
        parse_since("soon")
