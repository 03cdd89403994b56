"""The AWS clients of a Lambda copy: built once each, when first used, with the same
timeouts and retry mode (issues 28 and 29)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import boto3
from botocore.config import Config

# Every client: short connect and read timeouts (botocore's 60 s would outlast API
# Gateway's 29 s), and the standard retry mode (exponential backoff with jitter).
# botocore's check of each call's parameters against the service model is off: every
# call is built by `chalicelib.storage` and the outbound code from validated values,
# AWS checks the request again itself, and the check walked every attribute of a new
# ticket's 21-item transaction (0.6 of its 1.9 ms of the client's CPU).
CLIENT_CONFIG = Config(
    connect_timeout=3,
    read_timeout=10,
    retries={"mode": "standard", "max_attempts": 3},
    parameter_validation=False,
)


# boto3's default session is not safe to build clients from in parallel (its
# maintainers: boto/botocore#2985; the symptom is `KeyError: 'credential_provider'`),
# and the outbox drain's eight senders may each reach a client first at once.
_BUILDING = threading.Lock()


class LazyClient:
    """A boto3 client built when it is first used: a cold start pays only for the
    clients its route needs (building one costs tens of milliseconds; SNS about 50).
    Built once, by one thread at a time: the others wait for it."""

    def __init__(self, build: Callable[[], Any]) -> None:
        self._build = build
        self._client: Any = None

    def __getattr__(self, name: str) -> Any:
        client = self._client
        if client is None:
            with _BUILDING:
                if self._client is None:
                    self._client = self._build()
                client = self._client
        return getattr(client, name)


def lazy_client(
    service: str, region: str, prepare: Callable[[Any], Any] = lambda client: client
) -> Any:
    """A client built when first used, then made ready by `prepare`."""
    return LazyClient(
        lambda: prepare(boto3.client(service, region_name=region, config=CLIENT_CONFIG))
    )
