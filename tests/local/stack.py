"""A real local stack (`python -m chalicelib dev`) on free loopback ports, as a newcomer
starts it: a clean environment, named the way its banner tells (`SUPPORT_INTAKE_LOCAL`)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

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


@contextlib.contextmanager
def running_stack(extra_env: dict[str, str] | None = None) -> Iterator[tuple[int, int]]:
    """(API port, AWS port) of a stack that runs until the block ends; `extra_env` on top of
    a newcomer's environment (the browser tests give it an outbox of their own)."""
    api, aws = free_port(), free_port()
    # The stack's console goes to a file: a pipe nobody reads would fill and block it.
    with tempfile.TemporaryDirectory() as folder:
        console = Path(folder) / "console.log"
        with console.open("w") as output:
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "chalicelib",
                    "dev",
                    "--port",
                    str(api),
                    "--aws-port",
                    str(aws),
                ],
                cwd=ROOT,
                env={**clean_environment(), **(extra_env or {})},
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
            yield api, aws
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
