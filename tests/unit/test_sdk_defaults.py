"""SDK defaults set once, where clients are built (issue 28): timeouts under API
Gateway's 29 s, the standard retry mode, and backoff in the batch retry loops."""

from __future__ import annotations

import threading
import time
from collections import Counter
from types import SimpleNamespace
from typing import Any

import pytest

from chalicelib.aws import LazyClient
from chalicelib.runtime import aws_services
from chalicelib.storage import table
from tests.at_once import at_once
from tests.fakes import unit_settings


def test_every_client_times_out_before_the_gateway_and_retries_with_backoff() -> None:
    services = aws_services(unit_settings())
    clients = [
        services.blobs._client,  # type: ignore[attr-defined]
        services.mailer._client,  # type: ignore[attr-defined]
        services.directory._client,  # type: ignore[attr-defined]
        services.publisher._client,  # type: ignore[attr-defined]
    ]
    for client in clients:
        config = client.meta.config
        assert config.connect_timeout == 3 and config.read_timeout == 10
        assert config.retries["mode"] == "standard" and config.retries["total_max_attempts"] == 4


def test_batch_retries_back_off_with_jitter(monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []
    monkeypatch.setattr(table.time, "sleep", slept.append)
    for attempt in range(8):
        table.backoff(attempt)
    assert len(slept) == 7  # none before the first try
    assert all(0 <= s <= min(2.0, 0.05 * 2**a) for a, s in zip(range(1, 8), slept, strict=True))


def test_a_client_is_built_when_a_route_first_needs_it() -> None:
    """Issue 29: five clients built at once cost a cold start about 100 ms."""
    services = aws_services(unit_settings())
    blobs = services.blobs._client  # type: ignore[attr-defined]
    assert blobs._client is None  # nothing built yet
    assert blobs.meta.service_model.service_name == "s3"
    assert blobs._client is not None
    assert services.publisher._client._client is None  # type: ignore[attr-defined]


def test_clients_are_built_once_and_one_at_a_time() -> None:
    """The outbox drain's eight senders may reach the SES and SNS clients first at
    once; boto3's default session is not safe to build clients from in parallel."""
    building, most, built = [0], [0], Counter[str]()
    guard = threading.Lock()

    def build(service: str) -> Any:
        with guard:
            building[0] += 1
            most[0] = max(most[0], building[0])
        time.sleep(0.02)  # long enough for every other thread to arrive
        with guard:
            building[0] -= 1
            built[service] += 1
        return SimpleNamespace(service=service)

    clients = LazyClient(lambda: build("ses")), LazyClient(lambda: build("sns"))
    seen: list[str] = []
    at_once(lambda n: seen.append(clients[n % 2].service), threads=16)
    assert built == Counter({"ses": 1, "sns": 1}) and most[0] == 1
    assert sorted(seen) == ["ses"] * 8 + ["sns"] * 8
