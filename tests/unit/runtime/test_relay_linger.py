"""The outbox relay's wait before it reads: short, unless messages come fast enough to fill an
atomic batch within its linger; and the recent rate it judges that by."""

from __future__ import annotations

import math

import pytest

from runtime.outbox import ATOMIC_MIN, Arrivals, wait_before_read


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_slow_traffic_waits_only_the_gather() -> None:
    for rate in (0.0, 10.0, ATOMIC_MIN / 0.05 - 1):
        assert wait_before_read(rate, 0.0, gather=0.002, linger=0.05) == 0.002


def test_traffic_that_fills_a_batch_within_the_linger_waits_for_it() -> None:
    assert wait_before_read(1_000.0, 0.0, gather=0.002, linger=0.05) == pytest.approx(ATOMIC_MIN / 1_000)
    assert wait_before_read(ATOMIC_MIN / 0.05, 0.0, gather=0.002, linger=0.05) == pytest.approx(0.05)
    assert wait_before_read(100_000.0, 0.0, gather=0.002, linger=0.05) == 0.002  # a batch sooner than the gather


def test_the_time_since_the_last_read_counts_toward_the_batch() -> None:
    """Messages committed while the last batch was out wait already: only the rest of the time is waited."""
    assert wait_before_read(1_000.0, 0.02, gather=0.002, linger=0.05) == pytest.approx(ATOMIC_MIN / 1_000 - 0.02)
    assert wait_before_read(1_000.0, 0.04, gather=0.002, linger=0.05) == 0.002


def test_no_linger_never_holds_messages_back() -> None:
    assert wait_before_read(1_000_000.0, 0.0, gather=0.002, linger=0.0) == 0.002


def test_arrivals_read_a_steady_rate_and_forget_it_once_it_stops() -> None:
    clock = Clock()
    arrivals = Arrivals(tau=1.0, clock=clock)
    for _ in range(1_000):  # 1,000 a second for 10 seconds, 10 every 10 ms
        clock.now += 0.01
        arrivals.add(10)

    assert arrivals.per_second() == pytest.approx(1_000, rel=0.01)
    clock.now += 1.0
    assert arrivals.per_second() == pytest.approx(1_000 / math.e, rel=0.01)
    clock.now += 9.0
    assert arrivals.per_second() < 1


def test_arrivals_start_at_nothing() -> None:
    assert Arrivals(clock=Clock()).per_second() == 0.0
