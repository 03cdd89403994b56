"""Unit tests call no AWS, not even moto: any AWS API call fails the test."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture(autouse=True)
def _no_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    from botocore.client import BaseClient

    def refuse(self: Any, operation: str, params: Any) -> Any:
        raise AssertionError(f"a unit test called AWS ({operation}); use a fake")

    monkeypatch.setattr(BaseClient, "_make_api_call", refuse)
