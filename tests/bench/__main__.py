"""`make bench`: this machine's raw limits, the peer library and the stack, in one run.

Starts its own PostgreSQL and NATS (JetStream, fsync always) in a temporary folder, measures, prints a
summary table and writes bench-results/bench-<UTC time>.json. Everything it starts it stops, also on
Ctrl-C, SIGTERM or an error. YIWANG_BENCH_SCALE (default 1.0) scales every duration; 0.1 is a smoke run.
YIWANG_BENCH_ONLY="stack transfer,raw NATS" runs only the named sections.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.request
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

import asyncpg
import uvloop

from runtime.embedded import EmbeddedNats, EmbeddedPostgres
from tests.bench import (
    cpu,
    limits_http,
    limits_nats,
    limits_pg,
    peer,
    pglog,
    stack_append,
    stack_feed,
    stack_gateway,
    stack_growth,
    stack_injury,
    stack_lag,
    stack_transfer,
    stack_year,
    targets,
)
from tests.bench.common import Figure, dropped, say, scale, settled
from tests.bench.loadgen import Load, find_wrk
from tests.bench.procs import Children
from tests.bench.report import print_summary, write_json


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


async def _versions(pg: EmbeddedPostgres, nats_server: EmbeddedNats) -> tuple[str, str]:
    conn = await asyncpg.connect(pg.url)
    try:
        pg_version = str(await conn.fetchval("SHOW server_version"))
    finally:
        await conn.close()
    with urllib.request.urlopen(f"{nats_server.monitor_url}/varz", timeout=5) as response:  # noqa: S310 - loopback
        nats_version = str(json.loads(response.read()).get("version", "?"))
    return pg_version, nats_version


async def run_all(
    pg: EmbeddedPostgres, nats_server: EmbeddedNats, children: Children, workdir: Path, meta: dict[str, Any]
) -> list[Figure]:
    meta["postgres"], meta["nats"] = await _versions(pg, nats_server)
    load = Load(children, workdir, find_wrk())
    meta["http_load"] = load.tool
    figures: list[Figure] = [Figure("target.lag_p99", "target: outbox lag p99", targets.LAG_P99_MS, "ms", "target")]
    # Each section is given the machine factor measured just before it (the run's first without one).
    sections: list[tuple[str, Callable[[targets.MachineFactor | None], Awaitable[list[Figure]]]]] = [
        ("raw PostgreSQL", lambda _: limits_pg.measure(pg.create_database("bench_raw"), _pid(pg.process))),
        ("raw NATS", lambda _: limits_nats.measure(nats_server.url, _pid(nats_server.process), children)),
        ("raw HTTP", lambda _: limits_http.measure(children, load)),
        ("peer", lambda _: peer.measure(pg.port, _created(pg, "bench_peer"))),
        (
            "stack append",
            lambda _: stack_append.measure(pg.create_database("bench_stack"), children, _pid(pg.process)),
        ),
        ("stack growth", lambda _: stack_growth.measure(pg)),
        ("stack outbox lag", lambda factor: stack_lag.measure(pg, nats_server, children, factor)),
        ("stack gateway", lambda _: stack_gateway.measure(children, load, pg, nats_server)),
        ("stack feed", lambda _: stack_feed.measure(children, pg, nats_server)),
        ("stack transfer", lambda factor: stack_transfer.measure(children, pg, nats_server, factor)),
        ("stack injury", lambda _: stack_injury.measure(children, pg, nats_server)),
        ("stack year", lambda _: stack_year.measure(children, pg, nats_server)),
    ]
    only = {name.strip() for name in os.environ.get("YIWANG_BENCH_ONLY", "").split(",") if name.strip()}
    if only:
        unknown = only - {name for name, _ in sections}
        if unknown:
            raise SystemExit(
                f"YIWANG_BENCH_ONLY names no section {sorted(unknown)}; the sections: {[n for n, _ in sections]}"
            )
        sections = [(name, section) for name, section in sections if name in only]
    # The machine factor's limits again just before each section a target scales, when this run measures them.
    again = not only or any(name.startswith("raw ") for name in only)
    overall = cpu.ForeignLoad()
    for number, (name, section) in enumerate(sections, 1):
        foreign = cpu.ForeignLoad()
        started = time.time()
        try:
            if again and name in targets.SCALED_SECTIONS:
                figures += await limits_beside(name, pg, nats_server, children, load)
            figures += await section(targets.machine_factor(figures, name))
            meta["section_times"][name] = [started, time.time()]
            if number < len(sections):  # the next section, and the limits beside it, then run alone
                took = await settled(pg.url, await _databases(pg))
                say(f"after {name!r}: PostgreSQL's databases vacuumed and analysed, checkpointed ({took:.1f} s)")
        except (asyncio.CancelledError, KeyboardInterrupt):
            raise
        except Exception as error:  # noqa: BLE001 - a report: note the failure, go on with the rest
            say(f"section {name!r} failed: {error!r}")
            traceback.print_exc()
            meta["errors"].append(f"{name}: {error!r}")
        meta["foreign_cpu"][name] = round(foreign.share(), 3)
    meta["foreign_cpu"]["overall"] = round(overall.share(), 3)
    return stack_transfer.publish_ceiling(figures)


async def limits_beside(
    section: str, pg: EmbeddedPostgres, nats_server: EmbeddedNats, children: Children, load: Load
) -> list[Figure]:
    """The raw limits the machine factor is made of, measured again just before `section` (a fresh
    database, as the first ones had, dropped once measured: left, autovacuum took up its rows during
    the section), keyed `<limit>@<section>`."""
    say(f"raw limits again, just before {section!r}")
    name = "bench_raw_" + section.replace(" ", "_")
    measured = await limits_pg.measure(pg.create_database(name), _pid(pg.process))
    await dropped(pg.url, name)
    measured += [
        *await limits_nats.measure(nats_server.url, _pid(nats_server.process), children, reference_only=True),
        *await limits_http.measure(children, load),
    ]
    return [  # the rates alone: the CPU and bounds blocks are of the run's first limits
        replace(
            f, key=targets.beside(f.key, section), label=f"{f.label}, before {section}", kind="limit-beside", extra={}
        )
        for f in measured
        if f.key in targets.REFERENCE
    ]


async def _databases(pg: EmbeddedPostgres) -> list[str]:
    conn = await asyncpg.connect(pg.url)
    try:
        rows = await conn.fetch("SELECT datname FROM pg_database WHERE datallowconn AND NOT datistemplate")
    finally:
        await conn.close()
    return [pg.database_url(str(row["datname"])) for row in rows]


def _created(pg: EmbeddedPostgres, name: str) -> str:
    pg.create_database(name)
    return name


def _pid(process: subprocess.Popen[bytes] | None) -> int:
    assert process is not None, "started before the sections run"
    return process.pid


def _terminate(signum: int, _: FrameType | None) -> None:
    """SIGTERM takes the Ctrl-C path: the runner cancels the running section, whose cleanups run."""
    os.kill(os.getpid(), signal.SIGINT)


def main() -> int:
    signal.signal(signal.SIGINT, signal.default_int_handler)  # also when started with SIGINT ignored (`cmd &`)
    signal.signal(signal.SIGTERM, _terminate)
    workdir = Path(tempfile.mkdtemp(prefix="yiwang-bench-"))
    (workdir / "logs").mkdir()
    children = Children(workdir / "logs")
    pg = EmbeddedPostgres(workdir / "pg", settings=pglog.LOG_SETTINGS)
    nats_server = EmbeddedNats(workdir / "nats")
    meta: dict[str, Any] = {
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "scale": scale(),
        "cpu_count": os.cpu_count(),
        "load_start": _load(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "trace_ratio": stack_gateway.trace_ratio(),
        "peer": peer.describe(),
        "errors": [],
        "foreign_cpu": {},
        "section_times": {},
    }
    say(f"scale {meta['scale']}, {meta['cpu_count']} cores, load {meta['load_start']}; work folder {workdir}")
    clean = False
    try:
        say("starting PostgreSQL and NATS (JetStream, sync_interval: always)")
        pg.start()
        nats_server.start()
        # uvloop, as the services and the gateway run: the raw limits' client side is a part of the floor
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            figures = runner.run(run_all(pg, nats_server, children, workdir, meta))
        clean = not meta["errors"]
    except KeyboardInterrupt:
        say("interrupted: stopping everything")
        return 130
    finally:
        children.stop_all()
        nats_server.stop()
        pg.stop()
        meta["postgres_background"] = pglog.of_log(pg.data_dir / "server.log", meta["section_times"])
        if not clean:
            children.tail_logs()
        if os.environ.get("YIWANG_BENCH_KEEP"):
            say(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    meta["load_end"] = _load()
    meta["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    write_json(figures, meta)
    print_summary(figures, meta)
    if meta["errors"]:
        print("errors: " + "; ".join(meta["errors"]), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
