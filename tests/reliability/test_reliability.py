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


def test_every_attack_of_the_trust_review_is_refused() -> None:
    from tests.reliability.attacks import attack_rows

    rows = attack_rows()
    assert len(rows) == 7
    for row in rows:
        assert row.inputs > 0 and row.refused == row.inputs, table([row])
        assert row.passed and row.leaked == 0, table([row])
