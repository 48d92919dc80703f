"""Stack: work-injury networked settlement, signed hospital postings through the gateway.

The injury service of region 36 and the gateway run as subprocesses; the gateway knows one bench
hospital's key (YIWANG_HOSPITAL_KEYS). As an operator the bench signs the hospital's agreement and
recognises one determination per worker (a determination belongs to one citizen); then the hospital
posts encounters of 2-4 lines from the shipped sample catalogue, each signed (HMAC, fresh message id),
IN_FLIGHT at a time: gateway signature check -> NATS -> injury (pricing, events, outbox, the message
id taken once as the command's id) -> reply. The postings are signed beforehand and sent by wrk (`settle.lua`), each
once, as fast as IN_FLIGHT connections go, in RUNS runs (the figure: their median): a Python client
signing and posting them took nearly half a core of this 2-core machine from the stack it measured
(httpx when wrk is missing). Then the same at about half that rate (fewer connections), RUNS runs, for its latency
(their median p50 and p99, as the gateway's half load; each run's p99 is in the figure's notes); then retries
of settled numbers (new message id, same number and content) must get the first answer, and the
injury database must show every number paid exactly once.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from importlib.resources import files
from pathlib import Path
from typing import Any
from uuid import uuid4

import asyncpg
import httpx

from contracts.signing import sign
from gateway.auth import issue_token
from runtime.embedded import EmbeddedNats, EmbeddedPostgres, free_port
from runtime.workdays import local_date
from tests.bench import cpu
from tests.bench.common import Figure, percentile, say, scale, stack_figure, whole_seconds
from tests.bench.loadgen import find_wrk, half_load_connections
from tests.bench.outboxes import outboxes_drained
from tests.bench.procs import (
    POLL_SECONDS,
    Children,
    contract_messages,
    nats_traffic,
    run_tool,
    wait_http,
    wait_service,
)
from tests.bench.stack_gateway import CONNECTIONS, SECRET, UNLIMITED, trace_ratio
from tests.seeding import young_citizen

# Connections at full rate, the gateway section's (a city's partner hospitals post at once): with 16
# the cores stayed a fifth idle between round trips, and each process woke for fewer messages at a time
# (docs/performance.md).
IN_FLIGHT = CONNECTIONS
RUNS = 3  # full-rate wrk runs; the figure is their median
WORKERS = 32
RETRIES = 50
HOSPITAL = "HBENCH01"
HOSPITAL_KEY = "bench-hospital-key-0123456789abcdef"
BASE = "/v1/regions/36/injury"
SETTLEMENTS = f"{BASE}/hospitals/{HOSPITAL}/settlements"
LUA = Path(__file__).with_name("settle.lua")
PRESIGNED_PER_SECOND = 1500  # the target rate: postings signed for wrk per second of its run


def _catalogue(on: date) -> list[tuple[str, int]]:
    """(code, price in fen) of every item of the shipped sample valid on the day, one version each."""
    raw = json.loads((files("injury") / "catalogue" / "sample.json").read_text(encoding="utf-8"))
    valid: dict[str, tuple[date, int]] = {}
    for row in raw["items"]:
        start = date.fromisoformat(row["valid_from"])
        end = date.fromisoformat(row["valid_to"]) if row["valid_to"] else None
        if start <= on and (end is None or on <= end) and (row["code"] not in valid or valid[row["code"]][0] < start):
            valid[row["code"]] = (start, int(row["price_fen"]))
    return sorted((code, price) for code, (_, price) in valid.items())


def _posting(number: str, worker: int, service_date: date, items: list[tuple[str, int]]) -> dict[str, Any]:
    """An encounter of 2-4 lines; some priced above the catalogue (the worker pays the difference)."""
    rng = random.Random(number)  # noqa: S311 - test data, not secrets
    lines: list[dict[str, Any]] = []
    total = 0
    for line_no, (code, price) in enumerate(rng.sample(items, 2 + rng.randrange(3)), start=1):
        quantity = 1 + rng.randrange(5)
        unit = price + (price // 5 if rng.random() < 0.3 else 0)
        total += quantity * unit
        lines.append(
            {
                "line_no": line_no,
                "item_code": code,
                "quantity": quantity,
                "unit_price_fen": unit,
                "amount_fen": quantity * unit,
            }
        )
    return {
        "hospital_settlement_no": number,
        "citizen_id": young_citizen(worker),
        "determination_ref": f"RD-BENCH-{worker:03d}",
        "service_date": service_date.isoformat(),
        "lines": lines,
        "declared_total_fen": total,
    }


def _signed(body: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    """The body bytes and the four signature headers, as a hospital's system sends them."""
    raw = json.dumps(body).encode()
    timestamp, message_id = int(time.time()), uuid4().hex
    signature = sign(
        HOSPITAL_KEY.encode(), timestamp=timestamp, message_id=message_id, method="POST", path=SETTLEMENTS, body=raw
    )
    headers = {
        "X-Hospital-Id": HOSPITAL,
        "X-Timestamp": str(timestamp),
        "X-Message-Id": message_id,
        "X-Signature": signature,
        "Content-Type": "application/json",
    }
    return raw, headers


def _ok(response: httpx.Response, status: int = 200) -> Any:
    if response.status_code != status:
        raise RuntimeError(
            f"{response.request.method} {response.request.url.path}: {response.status_code} {response.text}"
        )
    return response.json()


async def _prepare(client: httpx.AsyncClient, today: date) -> None:
    """The hospital's agreement, the sample catalogue loaded, a recognised determination per worker."""
    term = {
        "hospital_id": HOSPITAL,
        "name": "Bench Hospital",
        "signed_on": (today - timedelta(days=200)).isoformat(),
        "valid_from": (today - timedelta(days=180)).isoformat(),
        "valid_to": (today + timedelta(days=180)).isoformat(),
    }
    _ok(await client.post(f"{BASE}/agreements", json=term), 201)
    deadline = time.monotonic() + 60
    while (await client.get(f"{BASE}/catalogue/items/110200001")).status_code != 200:
        if time.monotonic() > deadline:
            raise TimeoutError("the injury service did not load its sample catalogue")
        await asyncio.sleep(POLL_SECONDS)
    slots = asyncio.Semaphore(IN_FLIGHT)

    async def recognised(worker: int) -> None:
        determination = f"RD-BENCH-{worker:03d}"
        application = {
            "determination_id": determination,
            "citizen_id": young_citizen(worker),
            "employer_id": "91360102MA35L0XC0X",
            "injury_date": (today - timedelta(days=10)).isoformat(),
        }
        async with slots:
            _ok(await client.post(f"{BASE}/determinations", json=application), 201)
            _ok(await client.post(f"{BASE}/determinations/{determination}/acceptance", json={"facts_clear": True}))
            decided = _ok(
                await client.post(f"{BASE}/determinations/{determination}/decision", json={"outcome": "recognised"})
            )
        if decided.get("status") != "recognised":
            raise RuntimeError(f"determination {determination} not recognised: {decided}")

    await asyncio.gather(*(recognised(w) for w in range(WORKERS)))


def _settled(answer: Any) -> bool:
    return isinstance(answer, dict) and answer.get("status") == "settled"


async def _paid_once(url: str, timeout: float) -> dict[str, int]:
    """What the injury database says was paid: posting events per number, fund total, the read model
    (once it has caught up with the events)."""
    conn = await asyncpg.connect(url)
    try:
        events = await conn.fetchrow(
            """
            SELECT count(*) AS postings, count(DISTINCT stream_id) AS numbers,
                   coalesce(sum((data->>'fund_fen')::bigint), 0) AS fund_fen
            FROM events WHERE event_type = 'SettlementPosted'
            """
        )
        deadline = time.monotonic() + timeout
        while True:  # the projection follows the events asynchronously
            settled = int(await conn.fetchval("SELECT count(*) FROM injury_settlements WHERE status = 'settled'"))
            if settled >= events["numbers"] or time.monotonic() > deadline:
                break
            await asyncio.sleep(POLL_SECONDS)
        return {
            "postings": int(events["postings"]),
            "numbers": int(events["numbers"]),
            "fund_fen": int(events["fund_fen"]),
            "projected_settled": settled,
        }
    finally:
        await conn.close()


async def _posted_by_wrk(
    children: Children, wrk: str, url: str, postings: dict[str, dict[str, Any]], seconds: int, connections: int
) -> dict[str, Any]:
    """wrk sends the postings, signed beforehand, each once and in order, on so many connections."""
    with tempfile.NamedTemporaryFile("w", suffix=".tsv", delete=False) as presigned:
        for posting in postings.values():
            raw, headers = _signed(posting)
            fields = (headers["X-Timestamp"], headers["X-Message-Id"], headers["X-Signature"], raw.decode())
            presigned.write("\t".join(fields) + "\n")
    try:
        args = [wrk, "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s", "--latency", "-s", str(LUA)]
        out = await run_tool(
            children, [*args, url, "--", presigned.name, HOSPITAL], name="wrk-settlements", timeout=seconds + 60
        )
    finally:
        Path(presigned.name).unlink(missing_ok=True)
    summary = next((line for line in out.splitlines() if line.startswith("BENCHJSON ")), None)
    if summary is None:
        raise RuntimeError(f"wrk printed no summary:\n{out}")
    result: dict[str, Any] = json.loads(summary[len("BENCHJSON ") :])
    result["sample_other"] = next((line for line in out.splitlines() if line.startswith("BENCHBODY ")), "")
    return result


async def _funds_posted(url: str) -> dict[str, int]:
    """Fund share posted per settlement number of the bench hospital, from the injury database."""
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch(
            "SELECT stream_id, (data->>'fund_fen')::bigint AS fund FROM events WHERE event_type = 'SettlementPosted'"
        )
    finally:
        await conn.close()
    return {r["stream_id"].removeprefix(f"settlement-{HOSPITAL}-"): int(r["fund"]) for r in rows}


async def _measured(
    load: Callable[[int, int], Awaitable[dict[str, Any]]],
    pids: dict[str, int],
    nats_server: EmbeddedNats,
    database: str,
    seconds: int,
) -> dict[str, Any]:
    """One full-rate wrk run: its rate and latency, with the CPU and messages of each settlement."""
    stored = await contract_messages(nats_server.url, database)
    before, traffic = cpu.snapshot(pids), nats_traffic(nats_server.monitor_url)
    sent = await load(IN_FLIGHT, seconds)
    settled = int(sent["settled"])
    cpu_us, cpu_system_us = cpu.per_operation_us(before, cpu.snapshot(pids), settled)
    moved = nats_traffic(nats_server.monitor_url) - traffic
    published = await contract_messages(nats_server.url, database) - stored
    each = settled or 1
    return {
        "value": sent["rate"],
        "p50_ms": sent["p50_us"] / 1000,
        "p99_ms": sent["p99_us"] / 1000,
        "settled": settled,
        "other": int(sent["other"]),
        "seconds": sent["duration_us"] / 1e6,  # the load's; the run's is this and the drain after it
        "outbox_left": sent["outbox_left"],
        "drain_seconds": sent["drain_seconds"],
        "cpu_us": cpu_us,
        "cpu_system_us": cpu_system_us,
        "events_per_op": published.events / each,
        "letters_per_op": published.inbox / each,
        "nats_in_per_op": moved.into / each,
        "nats_out_per_op": moved.out / each,
    }


async def measure(children: Children, pg: EmbeddedPostgres, nats_server: EmbeddedNats) -> list[Figure]:
    wrk = find_wrk()
    seconds = whole_seconds(6)
    # Signed for: the full runs, three probes for half load and the runs there.
    count = (
        PRESIGNED_PER_SECOND * (2 * RUNS * seconds + 3 * whole_seconds(2)) if wrk else max(200, int(2_000 * scale()))
    )
    common = {
        "YIWANG_NATS_URL": nats_server.url,
        "YIWANG_NATS_MONITOR_URL": nats_server.monitor_url,
        "YIWANG_TRACE_SAMPLE_RATIO": str(trace_ratio()),
    }
    database = pg.create_database("injury_36")
    processes: list[subprocess.Popen[bytes]] = []
    today = local_date(datetime.now(UTC))
    service_date = today - timedelta(days=3)
    items = _catalogue(service_date)
    try:
        env = {**common, "YIWANG_REGION": "36", "YIWANG_DATABASE_URL": database}
        processes.append(children.start_python(["injury"], name="injury-36", env=env))
        await wait_service(nats_server.url, "36", "injury", processes[-1])
        port = free_port()
        keys = json.dumps({HOSPITAL: [HOSPITAL_KEY]})
        env = {
            **common,
            "YIWANG_PORT": str(port),
            "YIWANG_JWT_SECRET": SECRET,
            "YIWANG_HOSPITAL_KEYS": keys,
            **UNLIMITED,
        }
        processes.append(children.start_python(["gateway"], name="gateway-injury", env=env))
        base_url = f"http://127.0.0.1:{port}"
        await wait_http(f"{base_url}/health/ready", process=processes[-1])
        assert pg.process is not None and nats_server.process is not None
        pids = {
            "gateway": processes[1].pid,
            "injury": processes[0].pid,
            "postgres": pg.process.pid,
            "nats": nats_server.process.pid,
        }
        token = issue_token(SECRET, kind="operator", subject="bench", region="36")
        operator = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(base_url=base_url, timeout=60, headers=operator) as client:
            say(f"stack: injury setup: agreement for {HOSPITAL}, {WORKERS} recognised determinations")
            await _prepare(client, today)
        slots = asyncio.Semaphore(IN_FLIGHT)
        outcomes: dict[str, int] = {}
        answers: dict[str, Any] = {}
        latencies: list[float] = []
        postings = {
            f"BENCH-{n:06d}": _posting(f"BENCH-{n:06d}", n % WORKERS, service_date, items)
            for n in range(IN_FLIGHT + count)
        }
        async with httpx.AsyncClient(base_url=base_url, timeout=60) as hospital:

            async def post(number: str, *, timed: bool) -> Any:
                async with slots:
                    raw, headers = _signed(postings[number])
                    started = time.perf_counter()
                    r = await hospital.post(SETTLEMENTS, content=raw, headers=headers)
                    took = (time.perf_counter() - started) * 1000
                body = r.json() if r.status_code == 200 else None
                status = str(body.get("status", r.status_code)) if isinstance(body, dict) else str(r.status_code)
                if timed:
                    latencies.append(took)
                    outcomes[status] = outcomes.get(status, 0) + 1
                    if status != "settled" and outcomes[status] <= 3:
                        say(f"  {number}: {r.status_code} {r.text[:300]}")
                return body

            numbers = list(postings)
            warm, measured = numbers[:IN_FLIGHT], numbers[IN_FLIGHT:]
            answers = dict(zip(warm, await asyncio.gather(*(post(n, timed=False) for n in warm)), strict=True))
            runs: list[tuple[list[str], int, int]] = []  # wrk's: postings signed for it, settled answers, connections
            half: list[dict[str, Any]] = []
            full: list[dict[str, Any]] = []  # the full-rate runs: rate, latency, CPU and messages per settlement
            if wrk is not None:
                queue = iter(measured)

                async def load(connections: int, secs: int) -> dict[str, Any]:
                    batch = list(itertools.islice(queue, PRESIGNED_PER_SECOND * secs))
                    to_send = {n: postings[n] for n in batch}
                    sent = await _posted_by_wrk(children, wrk, f"{base_url}{SETTLEMENTS}", to_send, secs, connections)
                    # The run lasts until its settlements' events have left: their time and CPU count too.
                    sent["outbox_left"], sent["drain_seconds"] = await outboxes_drained([database])
                    run_seconds = sent["duration_us"] / 1e6 + sent["drain_seconds"]
                    sent["rate"] = sent["settled"] / run_seconds if run_seconds else 0.0
                    if sent["other"]:
                        say(f"  not settled: {sent['other']}, the first {sent['first_other']} {sent['sample_other']}")
                    if sent["exhausted"]:
                        say(f"  wrk sent all {len(batch)} postings signed for its run: the rate is a lower bound")
                    runs.append((batch, int(sent["settled"]), connections))
                    return sent

                say(
                    f"stack: signed settlements through the gateway by wrk, {IN_FLIGHT} connections, "
                    f"{RUNS} runs of {seconds} s"
                )
                for _ in range(RUNS):
                    full.append(await _measured(load, pids, nats_server, database, seconds))
                settled_count = sum(int(r["settled"]) for r in full)
                took = sum(float(r["seconds"]) + float(r["drain_seconds"]) for r in full)
                outcomes = {"settled": settled_count, "other": sum(int(r["other"]) for r in full)}
                paid_by_wrk = await _funds_posted(database)
                candidates = [n for n in runs[0][0] if n in paid_by_wrk]
                say("stack: signed settlements at about half that rate (fewer connections)")

                async def rate_at(connections: int) -> float:
                    rate: float = (await load(connections, whole_seconds(2)))["rate"]
                    return rate

                middle = sorted(r["value"] for r in full)[len(full) // 2]
                half_connections = await half_load_connections(rate_at, middle, IN_FLIGHT)
                half = [await load(half_connections, seconds) for _ in range(RUNS)]
            else:
                say(f"stack: {count} signed settlements through the gateway, {IN_FLIGHT} in flight (httpx: no wrk)")
                started = time.perf_counter()
                results = await asyncio.gather(*(post(n, timed=True) for n in measured))
                await outboxes_drained([database])  # the run lasts until its events have left
                took = time.perf_counter() - started
                answers.update(zip(measured, results, strict=True))
                settled_count = sum(1 for n in measured if _settled(answers[n]))
                full = [
                    {
                        "value": settled_count / took if took else 0.0,
                        "p50_ms": percentile(latencies, 50),
                        "p99_ms": percentile(latencies, 99),
                    }
                ]
                candidates = [n for n in measured if _settled(answers[n])]
            if not settled_count:
                raise RuntimeError(f"no settlement went through: {outcomes}")
            retried = random.Random(6).sample(candidates, min(RETRIES, len(candidates)))  # noqa: S311
            say(f"stack: {len(retried)} retries of settled numbers (new message id, same number and content)")
            again = await asyncio.gather(*(post(n, timed=False) for n in retried))
        expected = sum(1 for a in answers.values() if _settled(a)) + (
            sum(settled for _, settled, _ in runs) if wrk else settled_count
        )
        paid = await _paid_once(database, timeout=30.0)
        posted = await _funds_posted(database)
    finally:
        for process in reversed(processes):
            children.stop(process)

    def first_answer(number: str, answer: Any) -> bool:
        """Settled, with the fund share the first posting recorded (and the same answer, where it was seen)."""
        return (
            _settled(answer) and posted.get(number) == int(answer["fund_fen"]) and answers.get(number, answer) == answer
        )

    same = sum(1 for n, a in zip(retried, again, strict=True) if first_answer(n, a))
    twice = paid["postings"] - paid["numbers"]
    say(f"  outcomes: {outcomes}; retries answered as first: {same}/{len(retried)}; database: {paid}")

    def accounted(batch: list[str], answered: int, connections: int) -> bool:
        """A wrk run paid what it read settled answers for, and at most one more per connection plus
        one: it stops with a request in flight on each connection (paid, its answer unread), and it
        takes one request from the script before it starts without sending it (the first posting of
        the 1-connection runs was never paid)."""
        paid_here = sum(1 for n in batch if n in posted)
        return answered <= paid_here <= answered + connections + 1

    if wrk:
        extra = posted.keys() - set(warm).union(*(batch for batch, _, _ in runs))
        unaccounted = [i for i, run in enumerate(runs) if not accounted(*run)]
    else:
        extra = posted.keys() - {n for n in numbers if _settled(answers[n])}
        unaccounted = [n for n in numbers if _settled(answers[n]) and n not in posted]
    once = not twice and not extra and not unaccounted
    if same != len(retried) or not once or paid["projected_settled"] != paid["numbers"]:
        say(f"  PAID-ONCE CHECK FAILED: {expected} settled answers, each number to be paid once")
    notes = (
        f"{settled_count} settled in {took:.1f} s ({outcomes}; "
        + (f"wrk, {count} signed beforehand" if wrk else "httpx client")
        + f"); {len(retried)} retries: {same} got the first answer; "
        f"DB: {paid['postings']} SettlementPosted over {paid['numbers']} numbers ({expected} answered settled, "
        f"{len(extra)} paid not sent, {len(unaccounted)} runs or answers unaccounted; {twice} paid twice; "
        f"fund {paid['fund_fen']} fen), read model settled "
        f"{paid['projected_settled']}; {WORKERS} workers, 2-4 lines, HMAC-signed, client latency"
    )
    figures = [
        stack_figure(
            "stack.injury",
            f"stack: signed settlements through the gateway, {IN_FLIGHT} conns"
            + (f", {len(full)} runs of {seconds} s" if wrk else ""),
            "settlements/s",
            full,
            target="retries never pay twice",
            notes=notes,
            extra={
                "outcomes": outcomes,
                "retries": len(retried),
                "retries_same_answer": same,
                "expected_settled": expected,
                "load": "wrk" if wrk else "httpx",
                **paid,
            },
        )
    ]
    if half:
        each = [{"value": r["rate"], "p50_ms": r["p50_us"] / 1000, "p99_ms": r["p99_us"] / 1000} for r in half]
        tails = " / ".join(f"{r['p99_ms']:.1f}" for r in each)
        figures.append(
            stack_figure(
                "stack.injury_half",
                f"stack: settlements at ~half load, {half_connections} conns, {len(half)} runs of {seconds} s",
                "settlements/s",
                each,
                target="p99 < 50 ms at half load",
                notes=f"{sum(int(r['settled']) for r in half)} settled (wrk, each run with the relay's drain after "
                f"it), client latency; p99 of each run {tails} ms",
            )
        )
    return figures
