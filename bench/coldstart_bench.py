"""Cold start and bundle size. Prints figures; asserts nothing.

    make package && .venv/bin/python bench/coldstart_bench.py [--runs 15]

Timed in fresh interpreters, interleaved, with the Lambda environment set:
- the floor: a Chalice app with Powertools Logger, Metrics and Tracer and one boto3
  DynamoDB client, what any such function pays before its first request;
- `import app` (what our cold start pays before the first request);
- `import app` and the first request's runtime (`get_runtime`: settings, wiring, the
  clients it builds at once).
Each is printed as its median and as a ratio to the floor's median (target <= 1.15).
The zipped bundle is the deployment.zip that `make package` builds.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
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


def timed(code: str, env: dict[str, str]) -> list[float]:
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    return [float(x) for x in result.stdout.strip().splitlines()[-1].split()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="cold start against its floor")
    parser.add_argument("--runs", type=int, default=15)
    runs = parser.parse_args(argv).runs
    env = {**os.environ, **ENV}
    env.pop("AWS_ENDPOINT_URL", None)
    floor, imported, first = [], [], []
    for _ in range(runs):  # interleaved, so a busy moment hits all three alike
        floor += timed(FLOOR, env)
        app_import, app_first = timed(PROBE, env)
        imported.append(app_import)
        first.append(app_first)
    base = statistics.median(floor)
    print(
        f"== cold start, fresh interpreters, {runs} runs each, interleaved (target ratio <= 1.15)"
    )
    for name, values in (
        ("floor: Chalice + Logger/Metrics/Tracer + 1 DynamoDB client", floor),
        ("import app", imported),
        ("import app + the first request's runtime", first),
    ):
        median = statistics.median(values)
        print(
            f"  {name:58} median {median:5.0f} ms"
            f"  min {min(values):5.0f}  ratio {median / base:.2f}"
        )
    if not BUNDLE.exists():
        print(f"no bundle at {BUNDLE}: run `make package` first")
        return 1
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
