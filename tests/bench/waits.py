"""What a latency waited for: a core, or the disk.

Linux's pressure stall information (`/proc/pressure/cpu` and `io`) counts the time at least one
task was ready to run and waited for a core, and the time tasks waited for the disk (some of them,
and all non-idle ones at once). Over a measured stretch, each is a share of the wall time. Beside
it, `FsyncProbe` times a small write and fsync, on a thread, on the disk PostgreSQL and NATS write
to: the disk's own latency while the stack runs.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import NamedTuple

PRESSURE = Path("/proc/pressure")
PROBE_BYTES = 4096


class Pressure(NamedTuple):
    """Shares (0-1) of a stretch of wall time."""

    cpu: float  # at least one ready task waited for a core
    io: float  # at least one task waited for the disk
    io_full: float  # every non-idle task waited for the disk at once


def _totals(folder: Path) -> tuple[int, int, int] | None:
    """Microseconds of CPU "some", IO "some" and IO "full" pressure since boot; None without PSI."""
    try:
        cpu = _read(folder / "cpu")
        io = _read(folder / "io")
    except (OSError, ValueError, IndexError):
        return None
    return cpu["some"], io["some"], io["full"]


def _read(path: Path) -> dict[str, int]:
    """`some avg10=0.00 avg60=0.00 avg300=0.00 total=123` per line -> {"some": 123, ...}."""
    return {line.split()[0]: int(line.rsplit("total=", 1)[1]) for line in path.read_text().splitlines() if line}


class PressureMeter:
    """Pressure from its creation to each `shares()`."""

    def __init__(self, folder: Path = PRESSURE) -> None:
        self._folder = folder
        self._wall = time.monotonic()
        self._totals = _totals(folder)

    def shares(self) -> Pressure | None:
        now = _totals(self._folder)
        elapsed_us = (time.monotonic() - self._wall) * 1e6
        if self._totals is None or now is None or elapsed_us <= 0:
            return None
        cpu, io, io_full = ((after - before) / elapsed_us for before, after in zip(self._totals, now, strict=True))
        return Pressure(round(cpu, 3), round(io, 3), round(io_full, 3))


class FsyncProbe:
    """4 KiB written and fsync'd in `folder` every `every` seconds on a thread, each timed (ms)."""

    def __init__(self, folder: Path, every: float = 0.02) -> None:
        self.path = folder / f"fsync-probe-{os.getpid()}.dat"
        self.every = every
        self.latencies_ms: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fsync-probe", daemon=True)

    def _run(self) -> None:
        block = b"\0" * PROBE_BYTES
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            index = 0
            while not self._stop.is_set():
                started = time.perf_counter()
                os.pwrite(fd, block, (index % 256) * PROBE_BYTES)
                os.fsync(fd)
                self.latencies_ms.append((time.perf_counter() - started) * 1000)
                index += 1
                self._stop.wait(self.every)
        finally:
            os.close(fd)

    def __enter__(self) -> FsyncProbe:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join()
        self.path.unlink(missing_ok=True)
