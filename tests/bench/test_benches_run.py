"""Benches that cannot rot (issue 29): `make test` runs each bench once on a tiny input,
so a bench broken by a change in the code it measures (the sweep bench once crashed on
the sweep's new constructor) fails CI; `make bench` runs them in full and prints the
figures. Nothing here asserts a figure: only that each bench runs and reports."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TINY = [
    ("queue_bench.py", ["--sizes", "50,100", "--limit", "10"], "Query"),
    ("report_bench.py", ["--days", "7", "--per-day", "5"], "twice the requests a day"),
    ("sweep_bench.py", ["--open", "200", "--due", "10"], "items read per due deadline"),
    ("classify_bench.py", ["--quick"], "4 KB mail body"),
    ("coldstart_bench.py", ["--runs", "2"], "import app + the first request's runtime"),
    ("mail_corpus_check.py", [], "result: every expectation met"),
]


@pytest.mark.parametrize(("bench", "args", "reports"), TINY, ids=[b for b, _, _ in TINY])
def test_the_bench_runs_on_a_tiny_input(bench: str, args: list[str], reports: str) -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / bench), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert reports in done.stdout


def test_the_mail_bench_runs_on_small_mails(monkeypatch: pytest.MonkeyPatch) -> None:
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        import mail_bench
    finally:
        sys.path.remove(str(ROOT / "bench"))
    monkeypatch.setattr(mail_bench, "ATTACHMENT_SIZES", (100 * 1024,))
    mail_bench.per_mail()
