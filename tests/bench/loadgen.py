"""HTTP load: wrk with a Lua script (a fresh valid credit code per request), or an httpx fallback."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson

from contracts.identifiers import credit_code_check_character
from tests.bench.common import closed_loop, percentile, say
from tests.bench.procs import Children, run_tool

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
BODY = (
    '{"credit_code":"%s","name":"Bench Co","division_code":"360102",'
    '"industry_code":"C3110","established_on":"2026-01-01"}'
)

LUA = Path(__file__).with_name("post.lua")


@dataclass
class LoadResult:
    tool: str
    connections: int
    seconds: float
    requests: int
    ok: int
    other: int
    errors: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    mean_ms: float
    sample_other: str = ""
    cpu_us: dict[str, float] = field(default_factory=dict)
    cpu_system_us: dict[str, float] = field(default_factory=dict)  # the part of cpu_us in the kernel
    pg_transactions_per_op: float | None = None  # writing PostgreSQL transactions per 201
    events_per_op: float | None = None  # messages stored in the services' event streams per 201
    letters_per_op: float | None = None  # and in their inbox streams (letters to another region)
    nats_in_per_op: float | None = None  # messages into the NATS server per 201, every client's
    nats_out_per_op: float | None = None  # and out of it (deliveries, replies, acks)
    outbox_left: int | None = None  # messages still in the service's outbox when the load stopped
    drain_seconds: float = 0.0  # until they had left: part of the run

    @property
    def rate(self) -> float:
        """201s per second, only those counting, over the load and the relay's drain after it."""
        seconds = self.seconds + self.drain_seconds
        return self.ok / seconds if seconds else 0.0

    def as_run(self) -> dict[str, Any]:
        return {"value": self.rate, "p50_ms": self.p50_ms, "p99_ms": self.p99_ms, **asdict(self)}


def find_wrk() -> str | None:
    """`wrk`, installed once with apt-get if missing and we are root; None means use the fallback."""
    found = shutil.which("wrk")
    if found or os.geteuid() != 0 or shutil.which("apt-get") is None:
        return found
    say("wrk is missing: trying apt-get install -y wrk")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-qq", "wrk"]
    if subprocess.run(install, env=env, capture_output=True, timeout=300, check=False).returncode != 0:
        subprocess.run(["apt-get", "update", "-qq"], env=env, capture_output=True, timeout=300, check=False)
        subprocess.run(install, env=env, capture_output=True, timeout=300, check=False)
    return shutil.which("wrk")


class Load:
    """Drives POSTs at one URL; each run uses new credit codes (run number in their serial part)."""

    def __init__(self, children: Children, workdir: Path, wrk: str | None) -> None:
        self.children = children
        self.wrk = wrk
        self.tool = "wrk" if wrk else "httpx-fallback (64 async clients)"
        self.script = workdir / "post.lua"
        self.script.write_text(LUA.read_text().replace("@@BODY@@", BODY))
        self.runs = 0

    async def run(self, url: str, *, connections: int, seconds: int, token: str | None = None) -> LoadResult:
        self.runs += 1
        if self.wrk is None:
            return await self._httpx(url, connections, seconds, token)
        args = [self.wrk, "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s", "--latency"]
        if token:
            args += ["-H", f"Authorization: Bearer {token}"]
        args += ["-s", str(self.script), url, "--", str(self.runs)]
        out = await run_tool(self.children, args, name="wrk", timeout=seconds + 60)
        stats: dict[str, Any] = {}
        sample = ""
        for line in out.splitlines():
            if line.startswith("BENCHJSON "):
                stats = orjson.loads(line[len("BENCHJSON ") :])
            elif line.startswith("BENCHBODY "):
                sample = line[len("BENCHBODY ") :]
        if not stats:
            raise RuntimeError(f"wrk printed no summary:\n{out}")
        return LoadResult(
            tool="wrk",
            connections=connections,
            seconds=stats["duration_us"] / 1e6,
            requests=stats["requests"],
            ok=stats["ok"],
            other=stats["other"],
            errors=stats["socket_errors"] + stats["timeouts"],
            p50_ms=stats["p50_us"] / 1000,
            p90_ms=stats["p90_us"] / 1000,
            p99_ms=stats["p99_us"] / 1000,
            mean_ms=stats["mean_us"] / 1000,
            sample_other=f"{stats['first_other']} {sample}".strip() if stats["other"] else "",
        )

    async def _httpx(self, url: str, connections: int, seconds: int, token: str | None) -> LoadResult:
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        counter = [0]
        counts = {"ok": 0, "other": 0, "errors": 0}
        sample: list[str] = []
        run = self.runs
        limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
        async with httpx.AsyncClient(limits=limits, timeout=10.0, headers=headers) as client:

            async def step(index: int) -> None:
                counter[0] += 1
                serial = _base31(run, 2) + ALPHABET[index % 31] + _base31(counter[0], 6)
                body17 = "91360102" + serial
                code = body17 + credit_code_check_character(body17)
                try:
                    response = await client.post(url, content=(BODY % code).encode())
                except httpx.HTTPError:
                    counts["errors"] += 1
                    return
                if response.status_code == 201:
                    counts["ok"] += 1
                else:
                    counts["other"] += 1
                    if not sample:
                        sample.append(f"{response.status_code} {response.text[:300]}")

            count, elapsed, latencies = await closed_loop(connections, float(seconds), step)
        return LoadResult(
            tool=self.tool,
            connections=connections,
            seconds=elapsed,
            requests=count,
            ok=counts["ok"],
            other=counts["other"],
            errors=counts["errors"],
            p50_ms=percentile(latencies, 50),
            p90_ms=percentile(latencies, 90),
            p99_ms=percentile(latencies, 99),
            mean_ms=sum(latencies) / len(latencies) if latencies else 0.0,
            sample_other=sample[0] if sample else "",
        )


def _base31(n: int, width: int) -> str:
    digits = ""
    for _ in range(width):
        digits = ALPHABET[n % 31] + digits
        n //= 31
    return digits


SETTLE_SECONDS = 0.5


async def settle() -> None:
    """A short pause between runs so sockets in TIME_WAIT and queues drain."""
    await asyncio.sleep(SETTLE_SECONDS)


async def half_load_connections(rate_at: Callable[[int], Awaitable[float]], full_rate: float, most: int) -> int:
    """Fewer connections until the rate `rate_at(connections)` achieves is about half the full rate
    (wrk2, which paces a rate, is not packaged): a probe at 1, then up to two more."""
    target = full_rate / 2
    connections = max(1, min(most, round(target / max(await rate_at(1), 1.0))))
    for _ in range(2):
        await settle()
        rate = await rate_at(connections)
        if abs(rate - target) <= 0.15 * target or rate <= 0:
            break
        connections = max(1, min(most, round(connections * target / rate)))
    return connections
