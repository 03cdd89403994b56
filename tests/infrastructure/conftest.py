"""The packaged template, built once per test session as `make package` builds it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def packaged(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """`chalice package --merge-template` into a temporary folder, then finalize.py."""
    out = tmp_path_factory.mktemp("package")
    env = {**os.environ, "AWS_DEFAULT_REGION": "eu-central-1"}
    env.pop("AWS_ENDPOINT_URL", None)
    chalice = Path(sys.executable).parent / "chalice"
    subprocess.run(
        [
            str(chalice),
            "package",
            "--stage",
            "prod",
            "--merge-template",
            "infrastructure/resources.json",
            str(out),
        ],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [sys.executable, "infrastructure/finalize.py", str(out / "sam.json")],
        cwd=ROOT,
        check=True,
    )
    return dict(json.loads((out / "sam.json").read_text()))
