"""The README's sessions run as written against a local stack on non-default ports.

A real `python -m chalicelib dev` is started on free loopback ports, named the way its
banner tells a user to (`SUPPORT_INTAKE_LOCAL`), and every ```sh block of the README's
"Try it" part runs in bash with `set -euo pipefail`; curl fails on any HTTP error.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.local.stack import clean_environment

ROOT = Path(__file__).resolve().parents[2]


def sessions() -> list[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    part = readme.split("## Try it", 1)[1].split("\n## The local stack", 1)[0]
    return re.findall(r"```sh\n(.*?)```", part, flags=re.DOTALL)


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
