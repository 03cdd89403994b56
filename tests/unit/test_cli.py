"""The command line keeps its word: one name for a local stack, help that works, portable
helpers (issue 11)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from devtools.cli import main, time_from_now
from devtools.stack import ENV_VAR, LocalStack, resolve


@pytest.fixture(autouse=True)
def _keep_the_suites_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    # main() switches metrics off for command output; undo it after each test.
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")


def test_flags_name_the_stack_before_the_environment_and_the_defaults() -> None:
    assert resolve(None, None, {}) == LocalStack(8000, 4599)
    assert resolve(None, None, {ENV_VAR: "8100:4699"}) == LocalStack(8100, 4699)
    assert resolve(9000, None, {ENV_VAR: "8100:4699"}) == LocalStack(9000, 4699)
    assert resolve(9000, 5000, {ENV_VAR: "8100:4699"}) == LocalStack(9000, 5000)


@pytest.mark.parametrize("value", ["x:1", "8100:0", "99999:4599", "8100:abc"])
def test_a_malformed_stack_name_is_refused_with_the_expected_form(value: str) -> None:
    with pytest.raises(SystemExit, match="<api port>:<aws port>"):
        resolve(None, None, {ENV_VAR: value})


def test_dev_url_prints_the_named_stacks_api(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(ENV_VAR, "8100:4699")
    assert main(["dev-url"]) == 0
    assert capsys.readouterr().out.strip() == "http://127.0.0.1:8100"
    assert main(["dev-url", "--port", "8200"]) == 0
    assert capsys.readouterr().out.strip() == "http://127.0.0.1:8200"


@pytest.mark.parametrize("command", ["dev", "dev-token", "replay", "sla-sweep", "dev-sign"])
def test_help_works_and_names_the_port_options(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stop:
        main([command, "--help"])
    assert stop.value.code == 0
    out = capsys.readouterr().out
    assert "--port" in out and "--aws-port" in out


def test_dev_takes_leading_options() -> None:
    with pytest.raises(SystemExit) as stop:
        main(["dev", "--port", "not-a-port"])
    assert stop.value.code == 2  # argparse refuses the value, not the option


@pytest.mark.parametrize(
    ("offset", "expected"),
    [
        ("+3h", "2026-11-25T15:00:00+00:00"),
        ("+61min", "2026-11-25T13:01:00+00:00"),
        ("-5m", "2026-11-25T11:55:00+00:00"),
        ("+2d", "2026-11-27T12:00:00+00:00"),
        ("now", "2026-11-25T12:00:00+00:00"),
        ("+1h50m", "2026-11-25T13:50:00+00:00"),
        ("+1d2h", "2026-11-26T14:00:00+00:00"),
    ],
)
def test_dev_time_needs_no_gnu_date(offset: str, expected: str) -> None:
    assert time_from_now(offset, datetime(2026, 11, 25, 12, tzinfo=UTC)) == expected


def test_dev_time_refuses_what_it_cannot_read(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["dev-time", "tomorrow"]) == 2
    assert "+3h" in capsys.readouterr().err


def test_dev_time_takes_a_negative_offset_on_the_command_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`dev-time -5m` as the README documents it: an offset, not an unknown option."""
    assert main(["dev-time", "-5m"]) == 0
    printed = datetime.fromisoformat(capsys.readouterr().out.strip())
    assert abs((datetime.now(UTC) - printed).total_seconds() - 300) < 5
    assert main(["dev-time", "+1h50m"]) == 0


@pytest.mark.parametrize("now", ["", "  ", "yesterday", "2026-11-25"])
def test_sla_sweep_refuses_a_time_it_cannot_read(
    now: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """An empty --now is an error (exit 2), never a sweep at the real time."""
    assert main(["sla-sweep", "--now", now]) == 2
    assert "--now" in capsys.readouterr().err


def test_a_reader_that_leaves_early_gets_no_traceback() -> None:
    """`python -m chalicelib metrics | head`: the pipe closes before the tool writes."""
    import subprocess
    import sys
    from pathlib import Path

    tool = subprocess.Popen(
        [sys.executable, "-m", "chalicelib", "dev-url"],
        cwd=Path(__file__).resolve().parents[2],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert tool.stdout is not None and tool.stderr is not None
    tool.stdout.close()  # before the tool has even started: its first write finds no reader
    errors = tool.stderr.read().decode()
    assert tool.wait(timeout=60) == 141
    assert "Traceback" not in errors and "BrokenPipeError" not in errors, errors
