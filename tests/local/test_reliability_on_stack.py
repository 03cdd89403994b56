"""The short form of the reliability scenarios that need a running local stack."""

from __future__ import annotations

import pytest

from tests.reliability import scenarios
from tests.reliability.__main__ import table


@pytest.mark.parametrize("scenario", scenarios.ON_A_STACK, ids=lambda s: s.__name__)
def test_scenario_holds_on_the_local_stack(
    scenario: scenarios.Callable[..., scenarios.Row], local_stack: tuple[int, int]
) -> None:
    row = scenario(quick=True, stack=local_stack)
    assert row.inputs > 0 and row.stored > 0
    assert row.passed, table([row])
