"""The packaged template, built once per test session as `make package` builds it."""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def package_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`chalice package --merge-template` into a temporary folder, then finalize.py.

    One worker at a time: Chalice writes its cached bundle in `.chalice/deployments` and
    copies it from there, so two workers packaging at once can copy a half-written zip.
    A clean clone has no cached bundle: its `make test` once failed that way ("File is
    not a zip file" in finalize.py), and two `chalice package` at once with no cache
    gave 2 bad zips of 6."""
    out = tmp_path_factory.mktemp("package")
    env = {**os.environ, "AWS_DEFAULT_REGION": "eu-central-1"}
    env.pop("AWS_ENDPOINT_URL", None)
    chalice = Path(sys.executable).parent / "chalice"
    (ROOT / "build").mkdir(exist_ok=True)
    with (ROOT / "build" / "package.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        package(chalice, out, env)
    return out


def package(chalice: Path, out: Path, env: dict[str, str]) -> None:
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


@pytest.fixture(scope="session")
def packaged(package_dir: Path) -> dict[str, Any]:
    """The packaged template."""
    return dict(json.loads((package_dir / "sam.json").read_text()))


@pytest.fixture(scope="session")
def bundle(package_dir: Path) -> list[str]:
    """The file names inside the Lambda deployment package."""
    with zipfile.ZipFile(package_dir / "deployment.zip") as archive:
        return archive.namelist()
