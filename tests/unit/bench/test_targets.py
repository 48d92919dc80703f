"""The bench's targets: as the issue writes them, and scaled by this machine's raw limits."""

from __future__ import annotations

import pytest

from tests.bench.common import Figure
from tests.bench.targets import REFERENCE, lines, machine_factor, verdicts


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


def test_a_latency_at_a_fixed_rate_is_judged_scaled_at_the_rate_times_the_factor() -> None:
    factor = machine_factor([_limit("limit.fastapi", 0.3)])
    judged = {
        v.target.figure: v
        for v in verdicts(
            [
                Figure("stack.outbox_lag_applied", "lag at 1,000/s", 140, "ms", "stack", p99_ms=140),
                Figure("stack.outbox_lag_applied_scaled", "lag at 300/s", 40, "ms", "stack", p99_ms=40),
                _stack("stack.transfer_paced", 100, p99_ms=1_500),
                _stack("stack.transfer_paced_scaled", 30, p99_ms=1_200),
            ],
            factor,
        )
    }

    lag, transfers = judged["stack.outbox_lag_applied"], judged["stack.transfer_paced"]
    assert (lag.value, lag.met, lag.scaled_value, lag.scaled_goal, lag.met_scaled) == (140, False, 40, 100, True)
    assert lag.share_of_scaled == pytest.approx(100 / 40)
    assert (transfers.value, transfers.scaled_value, transfers.met_scaled) == (1_500, 1_200, False)
    printed = lines(
        [
            _limit("limit.fastapi", 0.3),
            Figure("stack.outbox_lag_applied", "lag at 1,000/s", 140, "ms", "stack"),
            Figure("stack.outbox_lag_applied_scaled", "lag at 300/s", 42.5, "ms", "stack"),
        ]
    )
    assert printed[1].endswith("< 100 ms: not met                scaled < 100 at the rate x factor: 42.5, met")


def test_without_the_run_at_the_scaled_rate_a_fixed_rate_latency_has_no_scaled_verdict() -> None:
    (lag,) = verdicts(
        [Figure("stack.outbox_lag_applied", "lag", 140, "ms", "stack")], machine_factor([_limit("limit.fastapi", 0.3)])
    )

    assert (lag.met, lag.scaled_goal, lag.met_scaled) == (False, None, None)


def test_what_the_parts_allow_is_printed_beside_the_targets_it_prices() -> None:
    figures = [_limit("limit.fastapi", 0.25), _stack("stack.gateway", 700), _stack("stack.gateway_half", 300, 60)]

    _, gateway, half = lines(figures, {"stack.gateway": 3_610.2})

    assert gateway.endswith("not met (0.93x); its parts allow 3,610 here")
    assert "its parts allow" not in half
    assert "its parts allow" not in lines(figures)[1]
