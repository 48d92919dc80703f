"""CPU time of the processes under load, from /proc: where each request's CPU goes."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


class CpuTime(NamedTuple):
    """CPU seconds in user mode (for a Python process: the interpreter running its code) and in
    the kernel on its behalf (system calls: sockets, and for NATS and PostgreSQL the fsyncs)."""

    user: float
    system: float


def _stat(pid: int) -> tuple[int, CpuTime, CpuTime] | None:
    """(parent pid, CPU time, CPU time of its children it has waited for) of one process, None if
    it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()
    utime, stime, cutime, cstime = (int(x) / TICKS for x in fields[11:15])
    return int(fields[1]), CpuTime(utime, stime), CpuTime(cutime, cstime)


def _tree_cpu(root: int) -> CpuTime:
    """CPU time of `root` and its children (PostgreSQL's backends and workers): those alive, and
    those that ended, which the root waited for (an autovacuum worker, a closed connection's
    backend), so that a child ending between two snapshots does not take its CPU out of the sum."""
    user = system = 0.0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        found = _stat(int(entry))
        if found is None:
            continue
        parent, own, ended = found
        if int(entry) == root:
            user += own.user + ended.user
            system += own.system + ended.system
        elif parent == root:
            user += own.user
            system += own.system
    return CpuTime(user, system)


def snapshot(processes: Mapping[str, int]) -> dict[str, CpuTime]:
    """CPU time so far of each named process tree, and of this bench process."""
    result = {name: _tree_cpu(pid) for name, pid in processes.items()}
    own = os.times()
    result["bench"] = CpuTime(own.user, own.system)
    return result


def per_operation_us(
    before: Mapping[str, CpuTime], after: Mapping[str, CpuTime], operations: int
) -> tuple[dict[str, float], dict[str, float]]:
    """CPU microseconds per operation for each process tree between two snapshots: all of it (user
    and system time), and the part of it in the kernel (system time)."""
    if operations <= 0:
        return {}, {}
    zero = CpuTime(0.0, 0.0)
    total: dict[str, float] = {}
    system: dict[str, float] = {}
    for name, now in after.items():
        then = before.get(name, zero)
        total[name] = round((now.user - then.user + now.system - then.system) * 1e6 / operations, 1)
        system[name] = round((now.system - then.system) * 1e6 / operations, 1)
    return total, system


def part_run(
    rate: float, before: Mapping[str, CpuTime], after: Mapping[str, CpuTime], operations: int
) -> dict[str, Any]:
    """A raw limit's run as one of the stack's parts (tests/bench/floor.py): its rate and its CPU per
    operation by process, this process included (the part's client: the bench's own loop, uvloop as
    in the services). Kept apart from a stack run's `cpu_us`, which leaves this process out."""
    total, _ = per_operation_us(before, after, operations)
    return {"value": rate, "part_us": total}


def _machine_busy_ticks() -> int:
    """Busy CPU ticks of the whole machine so far (user, nice, system, irq, softirq, steal)."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[:8])
    return user + nice + system + irq + softirq + steal


def _own_tree_ticks() -> float:
    """CPU ticks of this process, its waited-for children and every live descendant."""
    stats = {int(entry): _stat(int(entry)) for entry in os.listdir("/proc") if entry.isdigit()}
    parents = {pid: found[0] for pid, found in stats.items() if found is not None}
    me = os.getpid()
    total = 0.0
    for pid, found in stats.items():
        if found is None or pid == me:
            continue
        ancestor = parents.get(pid, 0)
        while ancestor > 1 and ancestor != me:
            ancestor = parents.get(ancestor, 0)
        if ancestor == me:
            _, own, ended = found
            total += own.user + own.system + ended.user + ended.system
    times = os.times()
    return (total + times.user + times.system + times.children_user + times.children_system) * TICKS


class ForeignLoad:
    """How much of the machine's CPU processes outside the bench used since `start()`."""

    def __init__(self) -> None:
        self.start()

    def start(self) -> None:
        self._wall = time.monotonic()
        self._busy = _machine_busy_ticks()
        self._own = _own_tree_ticks()

    def share(self) -> float:
        """Share (0-1) of all cores' time used by other processes."""
        wall = time.monotonic() - self._wall
        if wall <= 0:
            return 0.0
        foreign = (_machine_busy_ticks() - self._busy) - (_own_tree_ticks() - self._own)
        return max(0.0, foreign / (wall * TICKS * (os.cpu_count() or 1)))
