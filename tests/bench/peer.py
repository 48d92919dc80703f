"""The peer: the `eventsourcing` library (PyPI) appending new aggregates to the same PostgreSQL.

Its Application with the PostgreSQL persistence module, one new aggregate (one event) per save,
as our stack appends one new stream per command. Single-threaded, then 16 threads.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import threading
import time
from typing import Any
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event

from tests.bench.common import EVENT_DATA, Figure, median, percentile, say, seconds

THREADS = 16
RUNS = 3
VERSION = importlib.metadata.version("eventsourcing")
_ABORT = threading.Event()  # set when the bench is interrupted, so the threads stop at once


class Employer(Aggregate):
    @event("Registered")
    def __init__(
        self, credit_code: str, name: str, division_code: str, industry_code: str, established_on: str, route: str
    ) -> None:
        self.credit_code = credit_code
        self.name = name
        self.division_code = division_code
        self.industry_code = industry_code
        self.established_on = established_on
        self.route = route


class Employers(Application[UUID]):
    name = "BenchEmployers"

    def register(self) -> None:
        fields = {k: str(EVENT_DATA[k]) for k in ("credit_code", "name", "division_code", "industry_code")}
        employer = Employer(**fields, established_on=str(EVENT_DATA["established_on"]), route="manual")
        self.save(employer)


def peer_env(port: int, dbname: str) -> dict[str, str]:
    return {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": dbname,
        "POSTGRES_HOST": "127.0.0.1",
        "POSTGRES_PORT": str(port),
        "POSTGRES_USER": "postgres",
        "POSTGRES_PASSWORD": "unused-trust-auth",  # the library insists; trust authentication ignores it
        "POSTGRES_POOL_SIZE": str(THREADS),
        "POSTGRES_MAX_OVERFLOW": "0",
    }


def _run(app: Employers, threads: int, duration: float) -> tuple[int, float, list[float]]:
    deadline = time.perf_counter() + duration
    counts = [0] * threads
    latencies: list[list[float]] = [[] for _ in range(threads)]

    def worker(index: int) -> None:
        while True:
            started = time.perf_counter()
            if started >= deadline or _ABORT.is_set():
                return
            app.register()
            counts[index] += 1
            latencies[index].append((time.perf_counter() - started) * 1000)

    started = time.perf_counter()
    workers = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(threads)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    return sum(counts), time.perf_counter() - started, [x for per in latencies for x in per]


def _measure(port: int, dbname: str) -> list[Figure]:
    app = Employers(env=peer_env(port, dbname))
    figures: list[Figure] = []
    try:
        _run(app, 1, 0.5)  # warm-up: tables, pool, prepared statements
        for threads, key in ((1, "peer.single"), (THREADS, "peer.threads")):
            say(f"peer: eventsourcing {VERSION}, {threads} thread(s), {RUNS} runs")
            runs: list[dict[str, float]] = []
            for _ in range(RUNS):
                count, elapsed, latencies = _run(app, threads, seconds(3.0))
                runs.append(
                    {"value": count / elapsed, "p50_ms": percentile(latencies, 50), "p99_ms": percentile(latencies, 99)}
                )
            figures.append(
                Figure(
                    key,
                    f"peer: eventsourcing append, {threads} thread{'s' if threads > 1 else ''}",
                    median([r["value"] for r in runs]),
                    "events/s",
                    "peer",
                    p50_ms=median([r["p50_ms"] for r in runs]),
                    p99_ms=median([r["p99_ms"] for r in runs]),
                    runs=[round(r["value"], 1) for r in runs],
                    notes=f"eventsourcing {VERSION}, Application + postgres, 1 new aggregate/save",
                    extra={"runs": runs},
                )
            )
    finally:
        app.close()
    return figures


async def measure(port: int, dbname: str) -> list[Figure]:
    _ABORT.clear()
    try:
        result: list[Figure] = await asyncio.to_thread(_measure, port, dbname)
    except asyncio.CancelledError:
        _ABORT.set()
        raise
    return result


def describe() -> dict[str, Any]:
    return {"library": "eventsourcing", "version": VERSION}
