"""The bench's targets: as the issue writes them, and scaled by this machine's raw limits."""

from __future__ import annotations

import pytest

from tests.bench.common import Figure
from tests.bench.targets import REFERENCE, machine_factor, verdicts


def _limit(key: str, share: float) -> Figure:
    return Figure(key, key, REFERENCE[key] * share, "/s", "limit")


def _stack(key: str, value: float, p99_ms: float | None = None) -> Figure:
    return Figure(key, key, value, "/s", "stack", p99_ms=p99_ms)


def test_the_factor_is_the_raw_limit_this_machine_is_least_behind_on() -> None:
    factor = machine_factor(
        [_limit("limit.fastapi", 0.25), _limit("limit.js_consume", 0.3), _limit("limit.js_publish", 0.1)]
    )

    assert factor is not None
    assert factor.limit == "limit.js_consume"
    assert factor.value == pytest.approx(0.3)


def test_no_raw_limit_no_factor_and_targets_judged_as_written() -> None:
    judged = verdicts([_stack("stack.gateway", 3_100)], machine_factor([_stack("stack.gateway", 3_100)]))

    assert [(v.met, v.scaled_goal, v.met_scaled) for v in judged] == [(True, None, None)]


def test_a_throughput_scales_with_the_factor_a_duration_against_it() -> None:
    factor = machine_factor([_limit("limit.fastapi", 0.25)])
    judged = {
        v.target.figure: v for v in verdicts([_stack("stack.gateway", 700), _stack("stack.year_minutes", 70)], factor)
    }

    gateway, year = judged["stack.gateway"], judged["stack.year_minutes"]
    assert (gateway.met, gateway.scaled_goal, gateway.met_scaled) == (False, 750, False)
    assert gateway.share_of_scaled == pytest.approx(700 / 750)
    assert (year.met, year.scaled_goal, year.met_scaled) == (False, 80, True)
    assert year.share_of_scaled == pytest.approx(80 / 70)


def test_a_latency_is_judged_on_its_p99_as_written_whatever_the_machine() -> None:
    factor = machine_factor([_limit("limit.fastapi", 0.25)])
    judged = verdicts(
        [_stack("stack.gateway_half", 300, p99_ms=60), _stack("stack.injury_half", 150, p99_ms=20)], factor
    )

    assert [(v.target.figure, v.value, v.met, v.scaled_goal) for v in judged] == [
        ("stack.gateway_half", 60, False, None),
        ("stack.injury_half", 20, True, None),
    ]
