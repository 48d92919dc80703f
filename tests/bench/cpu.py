"""CPU time of the processes under load, from /proc: where each request's CPU goes."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, CPU seconds) of one process, None if it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / TICKS


def _tree_cpu(root: int) -> float:
    """CPU seconds of `root` and its direct children (PostgreSQL's backends)."""
    total = 0.0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        found = _stat(int(entry))
        if found is not None and (int(entry) == root or found[0] == root):
            total += found[1]
    return total


def snapshot(processes: Mapping[str, int]) -> dict[str, float]:
    """CPU seconds so far of each named process tree, and of this bench process."""
    result = {name: _tree_cpu(pid) for name, pid in processes.items()}
    own = os.times()
    result["bench"] = own.user + own.system
    return result


def per_operation_us(before: Mapping[str, float], after: Mapping[str, float], operations: int) -> dict[str, float]:
    """CPU microseconds per operation for each process tree between two snapshots."""
    if operations <= 0:
        return {}
    return {name: round((after[name] - before.get(name, 0.0)) * 1e6 / operations, 1) for name in after}


def _machine_busy_ticks() -> int:
    """Busy CPU ticks of the whole machine so far (user, nice, system, irq, softirq, steal)."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[:8])
    return user + nice + system + irq + softirq + steal


def _own_tree_ticks() -> float:
    """CPU ticks of this process, its waited-for children and every live descendant."""
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            text = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = text[text.rindex(")") + 2 :].split()
        parents[int(entry)] = int(fields[1])
        times[int(entry)] = sum(int(x) for x in fields[11:15])  # utime stime cutime cstime
    me = os.getpid()
    total = 0.0
    for pid in times:
        ancestor = parents.get(pid, 0)
        while ancestor > 1 and ancestor != me:
            ancestor = parents.get(ancestor, 0)
        if ancestor == me:
            total += times[pid]
    own = os.times()
    return total + (own.user + own.system + own.children_user + own.children_system) * TICKS


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
