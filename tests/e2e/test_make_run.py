"""`make run`'s launcher: the whole stack from the wheels, Ctrl-C stops all of it, data is kept."""

from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import asyncpg
import httpx
import psutil

from contracts.subjects import SERVICES
from gateway.auth import issue_token
from runtime.embedded import free_port
from tests import cli
from tests.cli import clean_env

POLL_SECONDS = 0.2

EMPLOYER = {
    "credit_code": "91512081MA62K0260E",
    "name": "Foshan Ceramics",
    "division_code": "360111",
    "industry_code": "C3071",
    "established_on": "2026-02-02",
}


def yiwang(nats_url: str, *args: str) -> str:
    """What the operators' command line prints, run against the stack's NATS."""
    done = asyncio.run(cli.yiwang(*args, nats_url=nats_url))
    assert done.status == 0, f"yiwang {' '.join(args)}: exit {done.status}\n{done.err}"
    return done.out


def start(data: Path, port: int, *options: str) -> subprocess.Popen[bytes]:
    env = clean_env()
    return subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "up", "--data", str(data), "--port", str(port), *options],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def wait_until(check: object, within: float) -> object:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            result = check()  # type: ignore[operator]
        except httpx.HTTPError:
            result = None
        if result:
            return result
        time.sleep(POLL_SECONDS)
    raise AssertionError(f"not met within {within}s")


def descendants_using(data: Path) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["cmdline", "environ"]):
        try:
            text = " ".join(proc.info["cmdline"] or [])
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        if str(data) in text:
            found.append(proc)
    return found


def stop(launcher: subprocess.Popen[bytes]) -> str:
    launcher.send_signal(signal.SIGINT)
    out, _ = launcher.communicate(timeout=90)
    return out.decode(errors="replace")


def test_the_stack_starts_serves_stops_cleanly_and_keeps_its_data(tmp_path: Path) -> None:
    data, port = tmp_path / "data", free_port()
    base = f"http://127.0.0.1:{port}"
    token = {
        "Authorization": "Bearer "
        + issue_token("yiwang-development-secret-change-me-32bytes", kind="operator", subject="t", region="36")
    }

    launcher = start(data, port)
    try:
        wait_until(lambda: httpx.get(f"{base}/health/ready").status_code == 200, 90)
        created = wait_until(
            lambda: (
                (r := httpx.post(f"{base}/v1/regions/36/employers", json=EMPLOYER, headers=token)).status_code == 201
                and r
            ),
            60,
        )
        # The registration's trace, from the gateway's and the service's processes, read by its id.
        trace_id = created.headers["x-trace-id"]  # type: ignore[union-attr]
        traced = wait_until(
            lambda: (
                (r := httpx.get(f"{base}/v1/ops/traces/{trace_id}", headers=token)).status_code == 200
                and {"gateway", "enrolment-36"} <= {span["service"] for span in r.json()["spans"]}
                and r.json()["spans"]
            ),
            30,
        )
        # ... and by the operators' command line, as a tree; its audit shows the registration.
        ports = dict(line.split("=") for line in (data / "ports").read_text().split())
        nats = f"nats://127.0.0.1:{ports['nats']}"
        tree = yiwang(nats, "trace", trace_id)
        registration = "201\tPOST /v1/regions/36/employers\toperator:t"
        audit = wait_until(
            lambda: next(
                (
                    line
                    for line in yiwang(nats, "audit", "--last", "20").splitlines()
                    if registration in line and line.endswith(trace_id)
                ),
                None,
            ),
            30,
        )
        dead_letters = yiwang(nats, "dead-letters")
        parked = yiwang(nats, "undeliverable", "enrolment", "--region", "36")
        yiwang(nats, "alerts")  # answers (what it lists depends on the consumers' pace)
        rebuilt = yiwang(nats, "rebuild", "enrolment", "--region", "36")
        calendar = tmp_path / "calendar-2027.json"
        calendar.write_text('{"year": 2027, "holidays": ["2027-01-01"], "workdays": [], "source": "test notice"}')
        published = yiwang(nats, "load-calendar", str(calendar))
        postgres = f"postgresql://postgres@127.0.0.1:{ports['postgres']}"
        loaded_by = wait_until(lambda: asyncio.run(_databases_with_year(postgres, 2027)), 60)
        after_rebuild = httpx.get(f"{base}/v1/regions/36/employers/{EMPLOYER['credit_code']}", headers=token)
        docs = httpx.get(f"{base}/docs")
    finally:
        output = stop(launcher)

    assert created
    assert all(span["trace_id"] == trace_id for span in traced)  # type: ignore[attr-defined]
    assert tree.startswith("gateway: POST /v1/regions/36/employers"), tree
    assert "enrolment-36: " in tree
    assert audit  # the registration's audit record, with its trace id
    assert dead_letters == "none\n"
    assert parked == "none\n"
    assert "enrolment: " in rebuilt and " events replayed in " in rebuilt, rebuilt
    assert published.startswith("calendar 2027 published")
    assert loaded_by == {f"{service}_{region}" for service in SERVICES for region in ("36", "44")}
    assert after_rebuild.json()["name"] == "Foshan Ceramics"
    assert docs.status_code == 200
    assert "API docs" in output and "stopped." in output
    assert wait_until(lambda: not descendants_using(data), 30)
    for log in (data / "logs").glob("*-36.log"):
        assert "service ready" in log.read_text()

    again = start(data, port)
    try:
        wait_until(lambda: httpx.get(f"{base}/health/ready").status_code == 200, 90)
        found = wait_until(
            lambda: (
                (r := httpx.get(f"{base}/v1/regions/36/employers/{EMPLOYER['credit_code']}", headers=token)).status_code
                == 200
                and r
            ),
            60,
        )
    finally:
        stop(again)

    assert found.json()["name"] == "Foshan Ceramics"  # type: ignore[attr-defined]
    assert wait_until(lambda: not descendants_using(data), 30)


def test_with_the_gateways_port_taken_nothing_starts_and_it_says_why(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        launcher = start(data, port)
        output, _ = launcher.communicate(timeout=60)

    assert launcher.returncode == 1
    assert f"port {port} is in use on 127.0.0.1" in output.decode()
    assert "--port 8001" in output.decode()
    assert not data.exists()  # no server was started, nothing written


def test_regions_apart_each_run_on_servers_of_their_own_and_reach_each_other(tmp_path: Path) -> None:
    """`make run-apart`: a NATS server (JetStream domain) and a PostgreSQL server per region, the
    gateway on region 36's NATS reaching region 44's services over the leaf-node link."""
    data, port = tmp_path / "data", free_port()
    base = f"http://127.0.0.1:{port}"
    secret = "yiwang-development-secret-change-me-32bytes"
    employer_44 = {**EMPLOYER, "credit_code": "91440604MA4W0XC02P", "division_code": "440604"}
    registered: dict[str, object] = {}

    launcher = start(data, port, "--apart")
    try:
        wait_until(lambda: httpx.get(f"{base}/health/ready").status_code == 200, 120)
        for region, body in (("36", EMPLOYER), ("44", employer_44)):
            token = {"Authorization": "Bearer " + issue_token(secret, kind="operator", subject="t", region=region)}
            registered[region] = wait_until(
                lambda region=region, body=body, token=token: (
                    (r := httpx.post(f"{base}/v1/regions/{region}/employers", json=body, headers=token)).status_code
                    == 201
                    and r
                ),
                90,
            )
        commands = [" ".join(p.info["cmdline"] or []) for p in psutil.process_iter(["cmdline"])]
        nats_servers = sum("nats-server" in c and str(data) in c for c in commands)
        postmasters = sum("bin/postgres -D" in c and str(data) in c for c in commands)
        ports = dict(line.split("=") for line in (data / "ports-apart").read_text().split())
        in_44 = asyncio.run(_events(f"postgresql://postgres@127.0.0.1:{ports['postgres_44']}/enrolment_44"))
        in_36_server = asyncio.run(_databases(f"postgresql://postgres@127.0.0.1:{ports['postgres_36']}/postgres"))
    finally:
        output = stop(launcher)

    assert set(registered) == {"36", "44"}
    assert "NATS 36" in output and "NATS 44" in output and "stopped." in output
    assert (nats_servers, postmasters) == (2, 2)
    assert in_44 > 0  # region 44's employer is in region 44's own server
    assert "enrolment_44" not in in_36_server and "enrolment_36" in in_36_server
    assert wait_until(lambda: not descendants_using(data), 30)


async def _events(url: str) -> int:
    conn = await asyncpg.connect(url)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM events WHERE event_type = 'EmployerRegistered'"))
    finally:
        await conn.close()


async def _databases_with_year(server: str, year: int) -> set[str] | None:
    """The services' databases that hold the calendar of `year`; None until every one does."""
    names = {f"{service}_{region}" for service in SERVICES for region in ("36", "44")}
    holding = set()
    for name in names:
        conn = await asyncpg.connect(f"{server}/{name}")
        try:
            if await conn.fetchval("SELECT count(*) FROM calendar_years WHERE year = $1", year):
                holding.add(name)
        finally:
            await conn.close()
    return holding if holding == names else None


async def _databases(url: str) -> set[str]:
    conn = await asyncpg.connect(url)
    try:
        return {r["datname"] for r in await conn.fetch("SELECT datname FROM pg_database")}
    finally:
        await conn.close()
