"""Metrics you can see locally (issue 28): the local stack keeps every EMF document it
prints (what CloudWatch would receive from Lambda) in a file of its own, and
`python -m chalicelib metrics [--since 15m]` sums them by name and dimensions. Each
thread of the stack logs with its own invocation's keys, as each Lambda process does."""

from __future__ import annotations

import json
import re
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Iterator, MutableMapping
from pathlib import Path
from typing import IO, Any

from devtools.resources import REPO


def metrics_file(api_port: int, aws_port: int) -> Path:
    return REPO / "build" / f"local-metrics-{api_port}-{aws_port}.jsonl"


class EmfTee:
    """stdout as it was, and each EMF line also appended to `path`.

    `print` writes its text and its newline in two calls: threads printing at once
    glued their EMF documents into one line (`{...}{...}`). Each thread's text is
    held until its line is complete, and whole lines go out one thread at a time.
    The file stays open until `close` (opening it for each line was five system
    calls under the lock, each a chance for the interpreter to go to another thread)."""

    def __init__(self, out: IO[str], path: Path) -> None:
        self._out, self._lock = out, threading.Lock()
        self._partial = threading.local()
        path.parent.mkdir(parents=True, exist_ok=True)
        self._kept: IO[str] | None = path.open("w", encoding="utf-8")

    def write(self, text: str) -> int:
        pending = getattr(self._partial, "text", "") + text
        lines, newline, rest = pending.rpartition("\n")
        self._partial.text = rest
        if newline:
            self._emit(lines + newline)
        return len(text)

    def _emit(self, lines: str) -> None:
        with self._lock:
            if '"_aws"' in lines and self._kept is not None:
                self._kept.write(
                    "".join(
                        line + "\n" for line in lines.splitlines() if line.startswith('{"_aws"')
                    )
                )
                self._kept.flush()  # `metrics` reads it while the stack runs
            self._out.write(lines)

    def flush(self) -> None:
        rest, self._partial.text = getattr(self._partial, "text", ""), ""
        if rest:
            self._emit(rest)
        self._out.flush()

    def close(self) -> None:
        """Close the kept file (stdout stays open); later EMF lines go to stdout only."""
        with self._lock:
            kept, self._kept = self._kept, None
        if kept is not None:
            kept.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._out, name)


class PerThread(MutableMapping[str, Any]):
    """A dict each thread sees its own of, each starting as a copy of `seed`."""

    def __init__(self, seed: dict[str, Any] | None = None) -> None:
        self._local = threading.local()
        self._seed = dict(seed or {})

    def _own(self) -> dict[str, Any]:
        own: dict[str, Any] | None = getattr(self._local, "own", None)
        if own is None:
            own = self._local.own = dict(self._seed)
        return own

    def __getitem__(self, key: str) -> Any:
        return self._own()[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self._own()[key] = value

    def __delitem__(self, key: str) -> None:
        del self._own()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._own())

    def __len__(self) -> int:
        return len(self._own())

    def clear(self) -> None:
        self._own().clear()


def one_log_context_per_thread(logger: Any) -> None:
    """Lambda runs one invocation at a time in a process, and Powertools' Logger keeps
    the invocation's keys (its request id and correlation id) in one shared set. The
    local stack serves requests on threads at once: under load a line was logged with
    another request's ids (a fifth of them with eight threads at once). Here each
    thread keeps its own keys, as each Lambda process does."""
    formatter = logger.registered_formatter
    formatter.log_format = PerThread(formatter.log_format)


def parse_since(text: str) -> float:
    """`15m`, `2h`, `30s` -> seconds."""
    found = re.fullmatch(r"(\d+)\s*([smh])", text.strip())
    if not found:
        raise ValueError(f"--since is a number and s, m or h: {text!r}")
    return int(found.group(1)) * {"s": 1, "m": 60, "h": 3600}[found.group(2)]


def summed(
    lines: list[str], since_seconds: float, now: float | None = None
) -> dict[tuple[str, str], float]:
    """(metric, dimensions) -> the sum of its values over the window."""
    cutoff = ((now if now is not None else time.time()) - since_seconds) * 1000
    totals: dict[tuple[str, str], float] = defaultdict(float)
    for line in lines:
        try:
            document = json.loads(line)
            meta = document["_aws"]
        except (ValueError, KeyError, TypeError):
            continue
        if meta.get("Timestamp", 0) < cutoff:
            continue
        for directive in meta.get("CloudWatchMetrics", []):
            for names in directive.get("Dimensions", []):
                dims = ",".join(f"{n}={document.get(n)}" for n in names if n != "service")
                for metric in directive.get("Metrics", []):
                    values = document.get(metric["Name"], [])
                    values = values if isinstance(values, list) else [values]
                    totals[(metric["Name"], dims)] += sum(float(v) for v in values)
    return dict(totals)


def show(path: Path, since_seconds: float, out: IO[str] = sys.stdout) -> int:
    if not path.exists():
        print(f"no metrics at {path}: is the local stack running?", file=sys.stderr)
        return 1
    totals = summed(path.read_text(encoding="utf-8").splitlines(), since_seconds)
    width = max((len(m) for m, _ in totals), default=6)
    for (metric, dims), value in sorted(totals.items()):
        out.write(f"{metric:<{width}}  {value:>10g}  {dims}\n")
    if not totals:
        out.write("no metrics in the window\n")
    return 0
