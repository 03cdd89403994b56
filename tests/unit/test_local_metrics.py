"""Metrics you can see locally (issue 28): the local stack's EMF, summed by name and
dimensions over a window (`python -m chalicelib metrics`)."""

from __future__ import annotations

import io
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aws_lambda_powertools import Logger

from devtools.local_metrics import (
    EmfTee,
    one_log_context_per_thread,
    parse_since,
    show,
    summed,
)
from tests.at_once import at_once


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
    tee.close()
    tee.write(_emf("TicketsCreated", 1, int(now * 1000), channel="chat") + "\n")
    assert len((tmp_path / "m.jsonl").read_text().splitlines()) == 3  # closed: kept no more
    assert 'channel": "chat' in out.getvalue()  # still printed
    with pytest.raises(ValueError, match="--since"):
        parse_since("soon")


class _Terminal(io.StringIO):
    """A console: writing to it lets other threads run, as a pipe or a tty does."""

    def write(self, text: str) -> int:
        time.sleep(0)
        return super().write(text)


def test_lines_printed_by_threads_at_once_stay_whole(tmp_path: Path) -> None:
    """`print` writes a document and its newline in two calls: threads printing at
    once glued their documents into one line on the stack's console."""
    out = _Terminal()
    tee = EmfTee(out, tmp_path / "m.jsonl")
    document = _emf("ApiRequests", 1, 1_800_000_000_000)

    def printing(_: int) -> None:
        for _ in range(300):
            print(document, file=tee)

    at_once(printing)
    assert out.getvalue().splitlines() == [document] * 2400
    assert (tmp_path / "m.jsonl").read_text().splitlines() == [document] * 2400
    print("a prompt without its newline", end="", file=tee)
    assert out.getvalue().endswith(document + "\n")
    tee.flush()  # what is left of this thread's line goes out on flush
    assert out.getvalue().endswith("a prompt without its newline")
    tee.close()


def test_each_thread_logs_with_its_own_invocations_ids() -> None:
    """`inject_lambda_context` appends the request id to keys all threads shared: on the
    local stack under load a line carried another request's id."""
    out = io.StringIO()
    logger = Logger(service="svc", logger_handler=logging.StreamHandler(out))
    one_log_context_per_thread(logger)

    @logger.inject_lambda_context
    def handler(event: dict[str, Any], context: Any) -> None:
        logger.info("working", extra={"expected": context.aws_request_id})

    def invocations(number: int) -> None:
        for round_ in range(150):
            handler({}, _Context(f"{number}-{round_}"))

    at_once(invocations)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert len(lines) == 8 * 150
    assert [line for line in lines if line["function_request_id"] != line["expected"]] == []


@dataclass
class _Context:
    aws_request_id: str
    function_name: str = "api_handler"
    memory_limit_in_mb: int = 128
    invoked_function_arn: str = ""
