"""Cold start and bundle size (issue: deployable on AWS). Prints figures; asserts nothing.

    make package && .venv/bin/python bench/coldstart_bench.py

`import app` is timed in fresh interpreters (what a Lambda cold start pays before the
first request), with the Lambda environment variables set; the zipped bundle is the
deployment.zip that `make package` builds.
"""

from __future__ import annotations

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
PROBE = "import time; t = time.perf_counter(); import app; print((time.perf_counter() - t) * 1000)"


def main() -> int:
    env = {**os.environ, **ENV}
    env.pop("AWS_ENDPOINT_URL", None)
    runs = []
    for _ in range(7):
        result = subprocess.run(
            [sys.executable, "-c", PROBE],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        runs.append(float(result.stdout.strip().splitlines()[-1]))
    print(f"== import app, fresh interpreter, {len(runs)} runs")
    median, low, high = statistics.median(runs), min(runs), max(runs)
    print(f"median {median:.0f} ms, min {low:.0f} ms, max {high:.0f} ms (target <= 350 ms)")
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
