"""The log's growth: two sizes compared slice by slice, so that the machine's drift cancels."""

from __future__ import annotations

import pytest

from tests.bench.stack_growth import compared


def _slice(count: int, seconds: float, *latencies: float) -> tuple[int, float, list[float]]:
    return count, seconds, list(latencies)


def test_a_phase_both_slices_of_a_pair_share_cancels_out() -> None:
    # The machine is twice as fast in the second pair; the larger log is 10% slower in both.
    slices = [(_slice(1_000, 1.0, 1.0), _slice(900, 1.0, 1.1)), (_slice(2_000, 1.0, 0.5), _slice(1_800, 1.0, 0.6))]

    before, after, change = compared(slices)

    assert change == pytest.approx(-0.10)
    assert before["value"] == pytest.approx(1_500.0)
    assert after["value"] == pytest.approx(1_350.0)


def test_the_change_is_the_median_pair_so_one_disturbed_pair_does_not_move_it() -> None:
    slices = [
        (_slice(1_000, 1.0), _slice(1_000, 1.0)),
        (_slice(1_000, 1.0), _slice(1_020, 1.0)),
        (_slice(1_000, 1.0), _slice(500, 1.0)),  # a checkpoint landed in this slice
    ]

    assert compared(slices)[2] == pytest.approx(0.0)


def test_latencies_are_each_sizes_own_over_all_its_slices() -> None:
    slices = [(_slice(2, 1.0, 1.0, 3.0), _slice(2, 1.0, 2.0, 4.0)), (_slice(1, 1.0, 5.0), _slice(1, 1.0, 6.0))]

    before, after, _ = compared(slices)

    assert (before["p50_ms"], after["p50_ms"]) == (3.0, 4.0)


def test_a_slice_that_did_nothing_is_left_out_of_the_change() -> None:
    slices = [(_slice(0, 0.5), _slice(100, 0.5)), (_slice(100, 1.0), _slice(80, 1.0))]

    assert compared(slices)[2] == pytest.approx(-0.20)
