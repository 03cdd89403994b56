"""The README's sessions run as written against a local stack on non-default ports.

A real `python -m chalicelib dev` is started on free loopback ports, named the way its
banner tells a user to (`SUPPORT_INTAKE_LOCAL`), and every ```sh block of the README's
"Try it" part runs in bash with `set -euo pipefail`; curl fails on any HTTP error.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from chalicelib.config import OPTIONAL, REQUIRED

ROOT = Path(__file__).resolve().parents[2]
STARTUP_SECONDS = 90


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def clean_environment() -> dict[str, str]:
    """The environment of a newcomer's shell: none of the test suite's AWS settings."""
    dropped = set(REQUIRED) | set(OPTIONAL) | {"USER_POOL_ARN", "CORS_ORIGINS"}
    return {
        key: value
        for key, value in os.environ.items()
        if key not in dropped
        and not key.startswith(("AWS_", "POWERTOOLS_", "MAIL_", "SUPPORT_INTAKE"))
    }


def sessions() -> list[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    part = readme.split("## Try it", 1)[1].split("\n## The local stack", 1)[0]
    return re.findall(r"```sh\n(.*?)```", part, flags=re.DOTALL)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    api, aws = free_port(), free_port()
    # The stack's console goes to a file: a pipe nobody reads would fill and block it.
    console = tmp_path_factory.mktemp("stack") / "console.log"
    with console.open("w") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "chalicelib", "dev", "--port", str(api), "--aws-port", str(aws)],
            cwd=ROOT,
            env=clean_environment(),
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + STARTUP_SECONDS
    try:
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{api}/health", timeout=2):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(
                        f"the local stack did not start:\n{console.read_text()}"
                    ) from None
                time.sleep(0.5)
        yield f"{api}:{aws}"
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.mark.skipif(shutil.which("curl") is None, reason="the README's sessions use curl")
@pytest.mark.parametrize("number", range(len(sessions())))
def test_readme_session_runs_as_written(stack: str, number: int, tmp_path: Path) -> None:
    # curl as the README calls it, but failing the session on any HTTP error.
    wrapper = tmp_path / "curl"
    wrapper.write_text(f'#!/bin/sh\nexec {shutil.which("curl")} --fail-with-body "$@"\n')
    wrapper.chmod(0o755)
    env = {**clean_environment(), "SUPPORT_INTAKE_LOCAL": stack}
    env["PATH"] = f"{tmp_path}{os.pathsep}{env.get('PATH', '')}"
    script = "set -euo pipefail\n" + sessions()[number]
    result = subprocess.run(
        [shutil.which("bash") or "bash", "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, f"session {number} failed:\n{result.stdout}\n{result.stderr}"


def test_there_are_sessions_to_run() -> None:
    assert len(sessions()) >= 2
