"""CPU per operation from two /proc snapshots: all of it, and the part in the kernel."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.bench.cpu import CpuTime, _tree_cpu, per_operation_us


def test_user_and_system_time_per_operation_and_the_kernels_part() -> None:
    before = {"gateway": CpuTime(1.0, 0.5), "nats": CpuTime(0.0, 0.0)}
    after = {"gateway": CpuTime(1.8, 0.7), "nats": CpuTime(0.1, 0.3), "bench": CpuTime(0.05, 0.0)}

    total, system = per_operation_us(before, after, 1_000)

    assert total == pytest.approx({"gateway": 1_000.0, "nats": 400.0, "bench": 50.0})
    assert system == pytest.approx({"gateway": 200.0, "nats": 300.0, "bench": 0.0})


def test_no_operation_no_figure() -> None:
    assert per_operation_us({}, {"gateway": CpuTime(1.0, 1.0)}, 0) == ({}, {})


def test_a_child_that_ended_keeps_its_cpu_in_the_tree() -> None:
    """PostgreSQL's backends come and go (a closed connection, an autovacuum worker): the CPU of one
    that ended between two snapshots stays counted, through its parent's waited-for children."""
    burn = "import time\nwhile time.process_time() < 0.3: pass"
    before = _tree_cpu(os.getpid())

    subprocess.run([sys.executable, "-c", burn], check=True)  # started, burnt 0.3 s of CPU, ended, waited for

    after = _tree_cpu(os.getpid())
    assert (after.user + after.system) - (before.user + before.system) >= 0.2
