"""What a latency waited for: the kernel's pressure shares, and a timed fsync on the servers' disk."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.bench.waits import FsyncProbe, PressureMeter
from tests.waiting import eventually


def _pressure(folder: Path, cpu_some: int, io_some: int, io_full: int) -> None:
    """The two files as Linux writes them (a `full` line for the CPU too, on newer kernels)."""
    (folder / "cpu").write_text(
        f"some avg10=1.00 avg60=2.00 avg300=3.00 total={cpu_some}\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n"
    )
    (folder / "io").write_text(
        f"some avg10=0.50 avg60=0.40 avg300=0.30 total={io_some}\n"
        f"full avg10=0.10 avg60=0.10 avg300=0.10 total={io_full}\n"
    )


def test_pressure_is_the_time_waited_over_the_time_passed(tmp_path: Path) -> None:
    _pressure(tmp_path, 1_000_000, 500_000, 100_000)
    before_creation = time.monotonic()
    meter = PressureMeter(tmp_path)
    after_creation = time.monotonic()
    _pressure(tmp_path, 1_000_000 + 300_000, 500_000 + 100_000, 100_000 + 50_000)
    before_reading = time.monotonic()
    shares = meter.shares()
    after_reading = time.monotonic()

    assert shares is not None
    # the meter's own time lies between the one from its creation's end to the reading's start
    # and the one from its creation's start to the reading's end
    shortest_us = (before_reading - after_creation) * 1e6
    longest_us = (after_reading - before_creation) * 1e6
    assert 300_000 / longest_us - 0.001 <= shares.cpu <= 300_000 / shortest_us + 0.001
    # each share rounded to 0.001: up to 0.0005 off, whatever the time passed
    assert shares.cpu == pytest.approx(3 * shares.io, rel=0.02, abs=0.002)
    assert shares.io == pytest.approx(2 * shares.io_full, rel=0.02, abs=0.002)


def test_no_pressure_information_no_shares(tmp_path: Path) -> None:
    assert PressureMeter(tmp_path / "absent").shares() is None


async def test_the_probe_times_each_fsync_and_leaves_nothing_behind(tmp_path: Path) -> None:
    with FsyncProbe(tmp_path, every=0.001) as probe:

        async def three_timed() -> bool:
            return len(probe.latencies_ms) >= 3

        assert await eventually(three_timed)
        assert probe.path.exists()

    assert len(probe.latencies_ms) >= 3
    assert all(latency > 0 for latency in probe.latencies_ms)
    assert not probe.path.exists()
