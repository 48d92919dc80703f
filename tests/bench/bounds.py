"""What bounds each measured rate: one process's core, the machine's cores, or waiting.

From the CPU per operation each section reads off /proc for its processes (the median run, as the
CPU block prints it): the operation's CPU over all of them gives the rate this machine's cores
could carry at most (its *CPU ceiling*: cores / CPU per operation), and each process's share of a
core at the measured rate says whether one of them was the limit.

- **One process's core**: a process that used 90% of a core or more is the limit: a Python
  process runs its code on one core, whatever the machine has (PostgreSQL and NATS spread over
  several, so they are not judged this way).
- **The cores**: the processes together used 75% of the machine's cores or more (what is left went
  to the load generator, which is not counted, the kernel's interrupts and idle gaps between
  wake-ups). The CPU is then split into what bounds it: the Python processes' own code (user time),
  their system calls (sockets), PostgreSQL, and NATS, with the share of each server's CPU spent in
  the kernel (for NATS mostly the fsync before each acknowledgement, for PostgreSQL the WAL's and
  the sockets).
- **Waiting**: less than that: the rate is set by the round trips and fsyncs each operation
  waits for at this concurrency, not by the CPU.

A rate whose run watched its consumers (the transfers) also says when one of them fell behind its
stream by `BEHIND` messages or more at its peak: the run then ends on that consumer's drain, its
round trips one after the other, whatever the cores' share says.

A latency measured at a rate offered (the outbox lag at 1,000 events a second) is judged by what
its work waited for over the run, from the kernel's pressure stall information (tests/bench/waits.py):
the share of the time a ready task waited for a core, and the share a task waited for the disk,
beside a 4 KiB fsync timed on the servers' disk meanwhile and the CPU each event cost. The larger
wait names the bound.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tests.bench.common import Figure

ONE_CORE = 0.9
CORES_BUSY = 0.75
BEHIND = 200  # messages a consumer was behind its stream at its peak: two fetches
DRAIN_SHARE = 0.1  # of a run spent emptying the outboxes after its load: named beside the bound
SERVERS = {"postgres": "PostgreSQL", "nats": "NATS"}


def median_run(figure: Figure) -> dict[str, Any] | None:
    """The run of a figure with CPU figures whose rate is the median of those runs."""
    runs: list[dict[str, Any]] = figure.extra.get("runs", [figure.extra] if figure.extra.get("cpu_us") else [])
    with_cpu = [r for r in runs if r.get("cpu_us")]
    if not with_cpu:
        return None
    return sorted(with_cpu, key=lambda r: float(r["value"]))[len(with_cpu) // 2]


@dataclass(frozen=True)
class Bound:
    figure: str
    label: str
    rate: float
    unit: str
    cores: int
    cpu_us: dict[str, float]  # per operation, by process
    system_us: dict[str, float]  # the part of it in the kernel
    backlog: dict[str, int] = field(default_factory=dict)  # by consumer: most messages behind its stream
    drain: tuple[int, float, float] | None = None  # outbox messages at the load's end, seconds to empty, of the run's

    @property
    def total_us(self) -> float:
        return sum(self.cpu_us.values())

    @property
    def behind(self) -> tuple[str, int] | None:
        """The consumer furthest behind its stream during the run, if `BEHIND` messages or more."""
        if not self.backlog:
            return None
        name, most = max(self.backlog.items(), key=lambda item: item[1])
        return (name, most) if most >= BEHIND else None

    def _behind_clause(self) -> str:
        if self.behind is None:
            return ""
        name, most = self.behind
        return f"; and {name} fell behind its stream by up to {most:,} messages: the run ends on its drain"

    @property
    def drained(self) -> tuple[int, float, float] | None:
        """(messages, seconds, share of the run) when the outboxes' drain after the load took
        `DRAIN_SHARE` of the run or more."""
        if self.drain is None:
            return None
        left, seconds, run_seconds = self.drain
        share = seconds / run_seconds if run_seconds else 0.0
        return (left, seconds, share) if share >= DRAIN_SHARE else None

    def _drain_clause(self) -> str:
        if self.drained is None:
            return ""
        left, seconds, share = self.drained
        return (
            f"; and the outboxes held {left:,} messages when the load stopped, {seconds:.2f} s ({share:.0%} of the "
            "run) to empty: the relays and JetStream's fsync'd acknowledgements fell behind the load"
        )

    @property
    def ceiling(self) -> float:
        """The rate the machine's cores could carry at this CPU per operation."""
        return self.cores * 1e6 / self.total_us if self.total_us else 0.0

    @property
    def cores_busy(self) -> float:
        """Share of the machine's cores the processes used at the measured rate."""
        return self.rate / self.ceiling if self.ceiling else 0.0

    def core_share(self, process: str) -> float:
        """Share of one core the process used at the measured rate."""
        return self.rate * self.cpu_us.get(process, 0.0) / 1e6

    @property
    def busiest_python(self) -> str | None:
        python = [p for p in self.cpu_us if p not in SERVERS]
        return max(python, key=self.core_share) if python else None

    @property
    def kind(self) -> str:
        """ "one core", "cores" or "waiting"."""
        busiest = self.busiest_python
        if busiest is not None and self.core_share(busiest) >= ONE_CORE:
            return "one core"
        return "cores" if self.cores_busy >= CORES_BUSY else "waiting"

    def parts_us(self) -> dict[str, float]:
        """The operation's CPU by what it is spent on."""
        python = [p for p in self.cpu_us if p not in SERVERS]
        parts = {
            "Python code": sum(self.cpu_us[p] - self.system_us.get(p, 0.0) for p in python),
            "Python system calls": sum(self.system_us.get(p, 0.0) for p in python),
        }
        for process, name in SERVERS.items():
            if process in self.cpu_us:
                parts[name] = self.cpu_us[process]
        return parts

    def line(self) -> str:
        head = (
            f"  {self.label}: {self.rate:,.0f} {self.unit} at {self.total_us / 1000:.2f} ms CPU each; "
            f"CPU ceiling {self.ceiling:,.0f}, {self.cores_busy:.0%} of {self.cores} cores busy: "
        )
        return head + self._verdict() + self._behind_clause() + self._drain_clause()

    def _verdict(self) -> str:
        if self.kind == "one core":
            busiest = str(self.busiest_python)
            return f"bound by {busiest}'s one core ({self.core_share(busiest):.0%} of it, Python)"
        if self.kind == "waiting":
            return "bound by waiting (round trips and fsyncs at this concurrency), not by the CPU"
        total = self.total_us
        split = ", ".join(f"{name} {us / total:.0%}" for name, us in self.parts_us().items())
        kernel = ", ".join(
            f"{name} {self.system_us.get(process, 0.0) / self.cpu_us[process]:.0%} in the kernel"
            for process, name in SERVERS.items()
            if self.cpu_us.get(process)
        )
        return f"bound by the cores: {split}" + (f" ({kernel})" if kernel else "")

    def as_json(self) -> dict[str, Any]:
        return {
            "figure": self.figure,
            "rate": self.rate,
            "cpu_us_per_operation": round(self.total_us, 1),
            "cpu_ceiling": round(self.ceiling, 1),
            "cores_busy": round(self.cores_busy, 3),
            "bound": self.kind,
            "parts_us": {name: round(us, 1) for name, us in self.parts_us().items()},
            "backlog": dict(self.backlog),
            "drain": None if self.drain is None else {"messages": self.drain[0], "seconds": round(self.drain[1], 3)},
        }


def bounds(figures: list[Figure], cores: int) -> list[Bound]:
    """A bound for every figure whose runs carry CPU per operation (user and system)."""
    found = []
    for figure in figures:
        run = median_run(figure)
        if run is None or not run.get("cpu_system_us") or figure.unit == "ms":  # a latency: `latency_lines`
            continue
        cpu_us = {p: us for p, us in run["cpu_us"].items() if p != "bench"}  # this process: not the stack
        system_us = {p: us for p, us in run["cpu_system_us"].items() if p in cpu_us}
        backlog = dict(run.get("backlog") or {})
        drain = None
        if run.get("outbox_left") is not None and run.get("seconds") is not None:
            drained = float(run["drain_seconds"])
            drain = (int(run["outbox_left"]), drained, float(run["seconds"]) + drained)
        found.append(
            Bound(figure.key, figure.label, float(run["value"]), figure.unit, cores, cpu_us, system_us, backlog, drain)
        )
    return found


def _block(head: str, found: list[Bound] | list[LatencyBound]) -> list[str]:
    return [head, *(bound.line() for bound in found)] if found else []


def lines(figures: list[Figure], cores: int) -> list[str]:
    return _block(
        "What bounds each rate (CPU per operation of the median run; ceiling = cores / that CPU; "
        f"a process at {ONE_CORE:.0%} of a core is the bound, else the cores at {CORES_BUSY:.0%} busy, else waiting):",
        bounds(figures, cores),
    )


@dataclass(frozen=True)
class LatencyBound:
    figure: str
    label: str
    p99_ms: float
    rate: float
    rate_unit: str
    cores: int
    cpu_us: dict[str, float]  # per event, by process, the bench's own (a consumer measuring) included
    pressure: dict[str, float]  # cpu, io, io_full: shares of the run's time
    fsync_p50_ms: float
    fsync_p99_ms: float
    stored_p99_ms: float | None

    @property
    def total_us(self) -> float:
        return sum(self.cpu_us.values())

    @property
    def cores_busy(self) -> float:
        return self.rate * self.total_us / 1e6 / self.cores

    @property
    def kind(self) -> str:
        """ "the cores" or "the disk": whichever the work waited for longer."""
        return "the cores" if self.pressure["cpu"] >= self.pressure["io"] else "the disk"

    def line(self) -> str:
        relay = f"; commit -> stored in the stream p99 {self.stored_p99_ms:,.0f} ms" if self.stored_p99_ms else ""
        return (
            f"  {self.label}: p99 {self.p99_ms:,.0f} ms at {self.rate:,.0f} {self.rate_unit}, "
            f"{self.total_us / 1000:.2f} ms CPU each, the bench's own consumer included "
            f"({self.cores_busy:.0%} of {self.cores} cores busy){relay}; "
            f"a ready task waited for a core {self.pressure['cpu']:.0%} of the time, for the disk "
            f"{self.pressure['io']:.0%} (all at once {self.pressure['io_full']:.0%}); a 4 KiB fsync on the servers' disk "
            f"p50 {self.fsync_p50_ms:.1f} ms, p99 {self.fsync_p99_ms:.1f} ms: bound by {self.kind}"
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "figure": self.figure,
            "p99_ms": self.p99_ms,
            "rate": self.rate,
            "cpu_us_per_event": round(self.total_us, 1),
            "cores_busy": round(self.cores_busy, 3),
            "pressure": self.pressure,
            "fsync_p50_ms": self.fsync_p50_ms,
            "fsync_p99_ms": self.fsync_p99_ms,
            "bound": self.kind,
        }


def latency_bounds(figures: list[Figure], cores: int) -> list[LatencyBound]:
    """A bound for every latency figure whose median run carries what it waited for."""
    found = []
    for figure in figures:
        run = median_run(figure)
        if run is None or figure.unit != "ms" or not run.get("pressure"):
            continue
        found.append(
            LatencyBound(
                figure.key,
                figure.label,
                float(run["value"]),
                float(run["rate"]),
                str(run.get("rate_unit", "/s")),
                cores,
                dict(run["cpu_us"]),
                dict(run["pressure"]),
                float(run["fsync_p50_ms"]),
                float(run["fsync_p99_ms"]),
                run.get("stored_p99_ms"),
            )
        )
    return found


def latency_lines(figures: list[Figure], cores: int) -> list[str]:
    return _block(
        "What bounds each latency (its median run; the machine's pressure stall information: the share of the run "
        "a ready task waited for a core, or for the disk; the larger names the bound):",
        latency_bounds(figures, cores),
    )


def as_json(figures: list[Figure], cores: int) -> dict[str, Any]:
    return {
        "bounds": [bound.as_json() for bound in bounds(figures, cores)],
        "latency_bounds": [bound.as_json() for bound in latency_bounds(figures, cores)],
    }
