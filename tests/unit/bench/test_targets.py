"""The bench's targets: as the issue writes them, and scaled by this machine's raw limits."""

from __future__ import annotations

import pytest

from tests.bench.common import Figure
from tests.bench.targets import REFERENCE, as_json, beside, lines, machine_factor, verdicts


def _limit(key: str, share: float, section: str = "") -> Figure:
    if section:
        return Figure(beside(key, section), key, REFERENCE[key] * share, "/s", "limit-beside")
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
    assert machine_factor([_stack("stack.gateway", 3_100)]) is None
    judged = verdicts([_stack("stack.gateway", 3_100)])

    assert [(v.met, v.scaled_goal, v.met_scaled) for v in judged] == [(True, None, None)]


def test_a_throughput_scales_with_the_factor_a_duration_against_it() -> None:
    judged = {
        v.target.figure: v
        for v in verdicts(
            [_limit("limit.fastapi", 0.25), _stack("stack.gateway", 700), _stack("stack.year_minutes", 70)]
        )
    }

    gateway, year = judged["stack.gateway"], judged["stack.year_minutes"]
    assert (gateway.met, gateway.scaled_goal, gateway.met_scaled) == (False, 750, False)
    assert gateway.share_of_scaled == pytest.approx(700 / 750)
    assert (year.met, year.scaled_goal, year.met_scaled) == (False, 80, True)
    assert year.share_of_scaled == pytest.approx(80 / 70)


def test_a_latency_is_judged_on_its_p99_as_written_whatever_the_machine() -> None:
    judged = verdicts(
        [
            _limit("limit.fastapi", 0.25),
            _stack("stack.gateway_half", 300, p99_ms=60),
            _stack("stack.injury_half", 150, p99_ms=20),
        ]
    )

    assert [(v.target.figure, v.value, v.met, v.scaled_goal) for v in judged] == [
        ("stack.gateway_half", 60, False, None),
        ("stack.injury_half", 20, True, None),
    ]


def test_a_latency_at_a_fixed_rate_is_judged_scaled_at_the_rate_times_the_factor() -> None:
    judged = {
        v.target.figure: v
        for v in verdicts(
            [
                _limit("limit.fastapi", 0.3),
                Figure("stack.outbox_lag_applied", "lag at 1,000/s", 140, "ms", "stack", p99_ms=140),
                Figure("stack.outbox_lag_applied_scaled", "lag at 300/s", 40, "ms", "stack", p99_ms=40),
                _stack("stack.transfer_paced", 100, p99_ms=1_500),
                _stack("stack.transfer_paced_scaled", 30, p99_ms=1_200),
            ]
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
    assert printed[1].endswith("< 100 ms: not met                scaled x0.300: < 100 at the rate x factor: 42.5, met")


def test_without_the_run_at_the_scaled_rate_a_fixed_rate_latency_has_no_scaled_verdict() -> None:
    (lag,) = verdicts([_limit("limit.fastapi", 0.3), Figure("stack.outbox_lag_applied", "lag", 140, "ms", "stack")])

    assert (lag.met, lag.scaled_goal, lag.met_scaled) == (False, None, None)


def test_what_the_parts_allow_is_printed_beside_the_targets_it_prices() -> None:
    figures = [_limit("limit.fastapi", 0.25), _stack("stack.gateway", 700), _stack("stack.gateway_half", 300, 60)]

    _, gateway, half = lines(figures, {"stack.gateway": 3_610.2})

    assert gateway.endswith("not met (0.93x); its parts allow 3,610 here")
    assert "its parts allow" not in half
    assert "its parts allow" not in lines(figures)[1]


def test_a_target_is_scaled_by_the_limits_measured_just_before_its_own_section() -> None:
    figures = [
        _limit("limit.fastapi", 0.5),
        _limit("limit.nats_rpc", 0.6),  # the run's first factor
        _limit("limit.nats_rpc", 0.8, "stack injury"),
        _limit("limit.fastapi", 0.85, "stack injury"),  # the factor beside the settlements
        _limit("limit.nats_rpc", 0.5, "stack gateway"),
        _stack("stack.injury", 1_200),
        _stack("stack.gateway", 1_000),
        _stack("stack.transfer", 200),  # nothing measured beside it: the run's first
    ]

    judged = {v.target.figure: v for v in verdicts(figures)}

    injury, gateway, transfers = judged["stack.injury"], judged["stack.gateway"], judged["stack.transfer"]
    assert injury.factor is not None and (injury.factor.limit, injury.factor.section) == (
        "limit.fastapi",
        "stack injury",
    )
    assert injury.scaled_goal == pytest.approx(1_500 * 0.85)
    assert injury.met_scaled is False
    assert gateway.scaled_goal == pytest.approx(3_000 * 0.5)
    assert transfers.factor is not None and transfers.factor.section == ""
    assert transfers.scaled_goal == pytest.approx(300 * 0.6)
    factor = machine_factor(figures)
    assert factor is not None and (factor.limit, factor.value) == ("limit.nats_rpc", pytest.approx(0.6))


def test_the_limits_measured_again_are_in_the_json_and_their_factor_on_each_target_line() -> None:
    figures = [
        _limit("limit.nats_rpc", 0.6),
        _limit("limit.nats_rpc", 0.8, "stack injury"),
        _stack("stack.injury", 1_300),
    ]

    document = as_json(figures)
    _, injury = lines(figures)

    assert document["machine_factor"]["value"] == pytest.approx(0.6)
    assert list(document["machine_factors_beside"]) == ["stack injury"]
    assert document["machine_factors_beside"]["stack injury"]["value"] == pytest.approx(0.8)
    assert document["targets"][0]["factor"] == pytest.approx(0.8)
    assert injury.endswith("scaled x0.800: >= 1,200: met (1.08x)")
