"""Cold start and bundle size. Prints figures; asserts nothing.

    make package && .venv/bin/python bench/coldstart_bench.py [--runs 15]

Timed in fresh interpreters, interleaved, with the Lambda environment set, in the
unpacked deployment.zip that `make package` builds (what Lambda runs: its modules and
their bytecode first on the path, boto3 after them as the runtime provides it), never
writing bytecode (`/var/task` is read-only):
- the floor: a Chalice app with Powertools Logger, Metrics and Tracer and one boto3
  DynamoDB client, what any such function pays before its first request;
- `import app` (what our cold start pays before the first request);
- `import app` and the first request's runtime (`get_runtime`: settings, wiring, the
  clients it builds at once);
- the same two from the bundle without its bytecode (as Chalice packages it: every
  module compiled at every cold start), for comparison.
Each is printed as its median and as a ratio to the floor's median (target <= 1.15).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import zipfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUNDLE = ROOT / "build" / "package" / "deployment.zip"
ENV = {
    "SUPPORT_TABLE_NAME": "t",
    "ESCALATION_TOPIC_ARN": "arn:aws:sns:eu-central-1:123456789012:e",
    "MANAGEMENT_TOPIC_ARN": "arn:aws:sns:eu-central-1:123456789012:m",
    "CHAT_SECRET_NAME": "s",
    "USER_POOL_ID": "p",
    "MAIL_BUCKET": "b",
    "AWS_DEFAULT_REGION": "eu-central-1",
    "POWERTOOLS_SERVICE_NAME": "support-intake",
    "POWERTOOLS_METRICS_NAMESPACE": "SupportIntake",
}
FLOOR = """import time
t = time.perf_counter()
import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from chalice.app import Chalice
app, logger, metrics, tracer = Chalice("floor"), Logger(), Metrics(), Tracer()
client = boto3.client("dynamodb", region_name="eu-central-1")
print((time.perf_counter() - t) * 1000)
"""
PROBE = """import os, time
t = time.perf_counter()
import app
imported = (time.perf_counter() - t) * 1000
from chalicelib.runtime import get_runtime
get_runtime(os.environ)
print(imported, (time.perf_counter() - t) * 1000)
"""


def timed(code: str, env: dict[str, str], task: Path) -> list[float]:
    """`code` run in a fresh interpreter in `task`, an unpacked bundle: its modules come
    first on the path (`-c` puts the working directory there), the virtualenv's after."""
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=task, env=env, capture_output=True, text=True, check=True
    )
    return [float(x) for x in result.stdout.strip().splitlines()[-1].split()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="cold start against its floor")
    parser.add_argument("--runs", type=int, default=15)
    runs = parser.parse_args(argv).runs
    if not BUNDLE.exists():
        print(f"no bundle at {BUNDLE}: run `make package` first")
        return 1
    env = {**os.environ, **ENV, "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("AWS_ENDPOINT_URL", None)
    env.pop("PYTHONPATH", None)
    floor, imported, first, source_imported, source_first = [], [], [], [], []
    with tempfile.TemporaryDirectory() as scratch:
        built, source = Path(scratch) / "task", Path(scratch) / "source"
        with zipfile.ZipFile(BUNDLE) as archive:
            archive.extractall(built)
            archive.extractall(source, [n for n in archive.namelist() if not n.endswith(".pyc")])
        for _ in range(runs):  # interleaved, so a busy moment hits all alike
            floor += timed(FLOOR, env, built)
            app_import, app_first = timed(PROBE, env, built)
            imported.append(app_import)
            first.append(app_first)
            app_import, app_first = timed(PROBE, env, source)
            source_imported.append(app_import)
            source_first.append(app_first)
    base = statistics.median(floor)
    print(
        f"== cold start, fresh interpreters, {runs} runs each, interleaved (target ratio <= 1.15)"
    )
    for name, values in (
        ("floor: Chalice + Logger/Metrics/Tracer + 1 DynamoDB client", floor),
        ("import app", imported),
        ("import app + the first request's runtime", first),
        ("without bytecode: import app", source_imported),
        ("without bytecode: import app + the first request's runtime", source_first),
    ):
        median = statistics.median(values)
        print(
            f"  {name:60} median {median:5.0f} ms"
            f"  min {min(values):5.0f}  ratio {median / base:.2f}"
        )
    size = BUNDLE.stat().st_size
    print(f"== bundle {BUNDLE.relative_to(ROOT)}: {size / 2**20:.2f} MiB zipped (target <= 10 MiB)")
    parts: Counter[str] = Counter()
    with zipfile.ZipFile(BUNDLE) as archive:
        for info in archive.infolist():
            parts[info.filename.split("/")[0]] += info.compress_size
    for name, compressed in parts.most_common(6):
        print(f"  {compressed / 2**20:6.2f} MiB  {name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
