"""The append's figures: against the raw statement measured in the same rounds."""

from __future__ import annotations

import pytest

from tests.bench.common import Figure
from tests.bench.report import ratios
from tests.bench.stack_append import BESIDE, _appends


def test_the_append_is_judged_against_the_raw_statement_of_its_own_rounds() -> None:
    raw = [{"value": 8_000.0}, {"value": 6_000.0}, {"value": 7_000.0}]
    appends = _appends("stack.append", "append", [{"value": 4_400.0}, {"value": 3_000.0}, {"value": 3_850.0}], raw, "")
    beside = {BESIDE: Figure(BESIDE, BESIDE, 7_000.0, "tx/s", "limit"), "stack.append": appends}

    assert appends.limit_key == BESIDE
    assert appends.extra["ratio_by_round"] == [0.55, 0.5, 0.55]
    assert ratios(appends, beside)[0] == pytest.approx(3_850 / 7_000)


def test_rounds_and_raw_runs_must_pair_up() -> None:
    with pytest.raises(ValueError, match="longer"):
        _appends("stack.append", "append", [{"value": 1.0}], [{"value": 2.0}, {"value": 3.0}], "")
