"""The short form of `make reliability` that `make test` runs: every scenario on a sample;
each must lose nothing, duplicate nothing, answer no 5xx and make no mistake."""

from __future__ import annotations

import pytest

from tests.reliability import scenarios
from tests.reliability.__main__ import table


@pytest.mark.parametrize("scenario", scenarios.ALL, ids=lambda s: s.__name__)
def test_scenario_holds(scenario: scenarios.Callable[..., scenarios.Row]) -> None:
    row = scenario(quick=True)
    assert row.inputs > 0 and row.stored > 0
    assert row.passed, table([row])
