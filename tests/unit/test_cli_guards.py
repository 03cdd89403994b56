"""The command line against production (issue 28): time travel is refused outside the
local stack unless the deployed table is named; a stack on ports in use exits at once."""

from __future__ import annotations

import socket

import pytest

from devtools.cli import time_travel_refused
from devtools.server import ports_in_use


def test_time_travel_needs_the_deployed_tables_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SUPPORT_TABLE_NAME", raising=False)
    assert time_travel_refused("2026-12-04T12:00:00+00:00", None) is None  # the local stack
    monkeypatch.setenv("SUPPORT_TABLE_NAME", "support-intake-prod")
    refusal = time_travel_refused("2026-12-04T12:00:00+00:00", None)
    assert refusal and "--time-travel-on support-intake-prod" in refusal
    assert time_travel_refused("2026-12-04T12:00:00+00:00", "other-table") is not None
    assert time_travel_refused("2026-12-04T12:00:00+00:00", "support-intake-prod") is None
    assert time_travel_refused(None, None) is None  # a sweep at the real time is fine


def test_a_stack_on_a_port_in_use_says_so_and_which_to_use() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        taken = holder.getsockname()[1]
        with socket.socket() as other:
            other.bind(("127.0.0.1", 0))
            free = other.getsockname()[1]
        said = ports_in_use(free, taken)
    assert said is not None and f"Port {taken} is in use" in said
    assert f"AWS_PORT={taken + 100}" in said
