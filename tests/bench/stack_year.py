"""Stack: a share of Nanchang's 2021 year through the gateway, as operators simulate it by hand.

The issue's target is the city-year (docs/scenarios/nanchang-2021.json, about 1.9 million handled
services) simulated through the real stack in under 20 minutes. Operators measure it with
`yiwang up`, then `yiwang simulate docs/scenarios/nanchang-2021.json --scale 0.02 --seed 643619`;
this section runs the same: the enrolment and transfer services of regions 36 and 44 and the
gateway as `yiwang up` starts them (the gateway's default per-caller rate limit kept: the simulation
spreads its calls over 64 callers, as the city's clerks and employers would), then the plan sent by
the library's own client at its default concurrency. The scale is 0.02 x YIWANG_BENCH_SCALE; the
whole year's minutes are extrapolated from that fraction, as if the stack went on at the same pace.
"""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime
from pathlib import Path

from gateway.simulation import Profile, build_plan, render, run_against
from gateway.simulation.driver import Report
from runtime.embedded import EmbeddedNats, EmbeddedPostgres, free_port
from runtime.workdays import local_date
from tests.bench import cpu
from tests.bench.common import REPO, Figure, say, scale
from tests.bench.outboxes import Drained, outboxes_drained
from tests.bench.procs import Children, wait_http, wait_service
from tests.bench.stack_gateway import SECRET, trace_ratio
from tests.bench.targets import YEAR_MINUTES

PROFILE = Path(REPO) / "docs" / "scenarios" / "nanchang-2021.json"
SEED = 643619
YEAR_SHARE = 0.02  # the share operators send by hand (docs/performance.md): about a minute on 2 cores
TARGET = "target.year_minutes"
REGIONS = ("36", "44")
SERVICES = ("enrolment", "transfer")


def year_share() -> float:
    """The share of the year to send: 0.02 at scale 1.0, in thousandths, never below one."""
    return max(0.001, round(YEAR_SHARE * scale(), 3))


def _common(nats_server: EmbeddedNats) -> dict[str, str]:
    return {
        "YIWANG_NATS_URL": nats_server.url,
        "YIWANG_NATS_MONITOR_URL": nats_server.monitor_url,
        "YIWANG_TRACE_SAMPLE_RATIO": str(trace_ratio()),
    }


async def _start_services(
    children: Children, pg: EmbeddedPostgres, nats_server: EmbeddedNats, processes: dict[str, subprocess.Popen[bytes]]
) -> None:
    """Each region's services with `yiwang up`'s settings (runtime.devstack), on fresh databases; into
    `processes` as each starts, so that the caller stops those started when a later one fails."""
    common = _common(nats_server)
    for region in REGIONS:
        for service in SERVICES:
            name = f"{service}-{region}"
            env = {
                **common,
                "YIWANG_REGION": region,
                "YIWANG_DATABASE_URL": pg.create_database(f"year_{service}_{region}"),
                "OTEL_SERVICE_NAME": name,
            }
            processes[name] = children.start_python([service], name=f"year-{name}", env=env)
    for name, process in processes.items():
        service, region = name.split("-")
        await wait_service(nats_server.url, region, service, process)


async def measure(children: Children, pg: EmbeddedPostgres, nats_server: EmbeddedNats) -> list[Figure]:
    share = year_share()
    plan = build_plan(
        Profile.load(PROFILE), scale=share, seed=SEED, today=local_date(datetime.now(UTC)), other_region="44"
    )
    processes: dict[str, subprocess.Popen[bytes]] = {}
    try:
        await _start_services(children, pg, nats_server, processes)
        port = free_port()
        env = {
            **_common(nats_server),
            "YIWANG_PORT": str(port),
            "YIWANG_REGIONS": json.dumps(REGIONS),
            "YIWANG_JWT_SECRET": SECRET,
        }
        processes["gateway"] = children.start_python(["gateway"], name="gateway-year", env=env)
        url = f"http://127.0.0.1:{port}"
        await wait_http(f"{url}/health/ready", process=processes["gateway"])
        assert pg.process is not None and nats_server.process is not None
        pids = {
            "gateway": processes["gateway"].pid,
            **{name: p.pid for name, p in processes.items() if name != "gateway"},
            "postgres": pg.process.pid,
            "nats": nats_server.process.pid,
        }
        say(f"stack: the city-year at scale {share:g}, seed {SEED}: {plan.calls:,} requests, {plan.handled:,} handled")
        before = cpu.snapshot(pids)
        report = await run_against(url, plan, SECRET)
        # The year lasts until its last events have left too: their time and CPU count.
        drained = await outboxes_drained(
            [pg.database_url(f"year_{service}_{region}") for region in REGIONS for service in SERVICES]
        )
        cpu_us, cpu_system_us = cpu.per_operation_us(before, cpu.snapshot(pids), plan.calls)
    finally:
        for process in reversed(processes.values()):
            children.stop(process)
    for line in render(report).splitlines():
        say(f"  {line}")
    if not report.reproduced:
        problems = "; ".join(report.problems[:5]) or "the measured figures are not the planned ones (above)"
        raise RuntimeError(f"the city-year at scale {share:g} did not reproduce: {problems}")
    return _figures(report, share, cpu_us, cpu_system_us, drained)


def _figures(
    report: Report, share: float, cpu_us: dict[str, float], cpu_system_us: dict[str, float], drained: Drained
) -> list[Figure]:
    plan, seconds = report.plan, report.seconds + drained.seconds
    minutes = seconds / share / 60
    retried = ", ".join(f"{n} after {status}" for status, n in report.retried.items()) or "none"
    about = f"scale {share:g}, seed {SEED}"
    return [
        Figure(TARGET, "target: a city-year through the stack", YEAR_MINUTES, "min", "target"),
        Figure(
            "stack.year",
            f"stack: city-year at {about}, {plan.calls:,} requests",
            seconds,
            "s",
            "stack",
            notes=f"{report.handled:,} handled services in {plan.profile.region}, reproduced; first request to "
            f"projections caught up and outboxes empty ({drained.left:,} messages still in them once the "
            f"projections had caught up, {drained.seconds:.2f} s to empty); the gateway's per-caller rate "
            f"limit in force; sent again: {retried}",
        ),
        Figure(
            "stack.year_requests",
            f"stack: city-year at {about}, requests",
            plan.calls / seconds,
            "req/s",
            "stack",
            notes="CPU per request: every process's CPU over the run / requests sent",
            extra={"value": plan.calls / seconds, "cpu_us": cpu_us, "cpu_system_us": cpu_system_us},
        ),
        Figure(
            "stack.year_handled",
            f"stack: city-year at {about}, handled services",
            report.handled / seconds,
            "services/s",
            "stack",
        ),
        Figure(
            "stack.year_minutes",
            f"stack: whole city-year, extrapolated x{1 / share:,.0f} from {share:g}",
            minutes,
            "min",
            "stack",
            limit_key=TARGET,
            target=f"< {YEAR_MINUTES:.0f} min",
            notes=f"{seconds:.1f} s / {share:g} / 60: the pace of a {share:g} share kept for the whole year "
            f"({plan.profile.total_handled:,} handled services), not a run of it",
        ),
    ]
