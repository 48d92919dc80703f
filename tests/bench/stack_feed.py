"""Stack: the zero-touch employer feed through the gateway (employers per second, feed-to-registered time)."""

from __future__ import annotations

import asyncio
import json
import os
import random
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import nats

from contracts.identifiers import credit_code_check_character
from gateway.auth import issue_token
from runtime.embedded import EmbeddedNats, EmbeddedPostgres
from runtime.workdays import local_date
from tests.bench.common import Figure, say, scale
from tests.bench.outboxes import outboxes_drained
from tests.bench.procs import POLL_SECONDS, Children
from tests.bench.stack_gateway import SECRET, start_stack, stop_stack, trace_ratio

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
BATCH = 500
IN_FLIGHT = 4
REBUILDS = int(os.environ.get("YIWANG_BENCH_REBUILDS", "3"))  # more for a profiler to sample


def _code(rng: random.Random) -> str:
    body = "91360102" + "".join(rng.choice(ALPHABET) for _ in range(9))
    return body + credit_code_check_character(body)


def _records(count: int) -> list[dict[str, Any]]:
    rng = random.Random(7)  # noqa: S311 - test data, not secrets
    return [
        {
            "record_id": f"bench-{i}",
            "credit_code": _code(rng),
            "name": f"Feed Co {i}",
            "division_code": "360102",
            "industry_code": rng.choice(["C3110", "I6510", "F5211", "E4710", "G5410"]),
            "established_on": "2026-01-05",
            "market_registered_at": "",
        }
        for i in range(count)
    ]


async def _logged(database_url: str) -> int:
    """How many events the log holds."""
    conn = await asyncpg.connect(database_url)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM events"))
    finally:
        await conn.close()


async def _rebuild(nats_url: str) -> list[dict[str, Any]]:
    """Every projection of enrolment-36 emptied and replayed from its event log (`yiwang rebuild`)."""
    nc = await nats.connect(nats_url, name="bench-rebuild")
    try:
        raw = await nc.request("yiwang.36.enrolment.cmd.rebuild_projections", b'{"projections": null}', timeout=600)
    finally:
        await nc.close()
    rebuilt: list[dict[str, Any]] = json.loads(raw.data)["result"]["rebuilt"]
    return rebuilt


async def measure(children: Children, pg: EmbeddedPostgres, nats_server: EmbeddedNats) -> list[Figure]:
    count = max(200, int(10_000 * scale()))
    records = _records(count)
    stack = await start_stack(children, pg, nats_server, trace_ratio(), "feed")
    base = stack.url.rsplit("/employers", 1)[0]
    feed_token = issue_token(SECRET, kind="system", subject="market-feed", region="36")
    operator = issue_token(SECRET, kind="operator", subject="bench", region="36")
    batches = [records[i : i + BATCH] for i in range(0, count, BATCH)]
    slots = asyncio.Semaphore(IN_FLIGHT)
    registered = 0
    try:
        async with httpx.AsyncClient(timeout=120) as client:

            async def post(batch: list[dict[str, Any]]) -> None:
                nonlocal registered
                async with slots:
                    stamp = datetime.now(UTC).isoformat()
                    body = {"records": [{**r, "market_registered_at": stamp} for r in batch]}
                    r = await client.post(
                        f"{base}/feeds/market-registrations",
                        json=body,
                        headers={"Authorization": f"Bearer {feed_token}"},
                    )
                    r.raise_for_status()
                    registered += sum(1 for x in r.json()["results"] if x.get("outcome") == "registered")

            say(f"stack: zero-touch feed of {count} employers in batches of {BATCH}, {IN_FLIGHT} in flight")
            started = time.perf_counter()
            await asyncio.gather(*(post(b) for b in batches))
            # The feed lasts until its events have left (the rebuild below is then measured alone, not
            # against the relay's publishing).
            backlog, _ = await outboxes_drained([pg.database_url("enrolment_36")])
            took = time.perf_counter() - started
            today = local_date(datetime.now(UTC))
            params = {"first": (today - timedelta(days=1)).isoformat(), "last": (today + timedelta(days=1)).isoformat()}
            deadline = time.monotonic() + 120
            while True:  # the read model takes the feed in a moment after the answers
                figures = (
                    await client.get(
                        f"{base}/statistics/enrolment", params=params, headers={"Authorization": f"Bearer {operator}"}
                    )
                ).json()
                if figures.get("employers_by_route", {}).get("zero_touch", 0) >= registered:
                    break
                if time.monotonic() > deadline:
                    raise TimeoutError(f"the enrolment read model shows {figures.get('employers_by_route')}")
                await asyncio.sleep(POLL_SECONDS)
            median = figures.get("median_feed_to_registered_seconds")
        logged = await _logged(pg.database_url("enrolment_36"))
        say(f"stack: enrolment-36's projections rebuilt from the log, {REBUILDS} times")
        runs = [await _rebuild(nats_server.url) for _ in range(REBUILDS)]
    finally:
        stop_stack(children, stack)
    rate = registered / took if took else 0.0
    rebuilt = sorted(runs, key=lambda run: sum(r["seconds"] for r in run))[len(runs) // 2]  # the median run
    # Each projection rebuilt from the whole log, reading only the event types it folds: the figure is
    # the log's events per second of rebuilding, per projection (as if each had read all of them).
    covered = logged * len(rebuilt)
    rebuild_seconds = sum(r["seconds"] for r in rebuilt)
    each = ", ".join(f"{sum(r['seconds'] for r in run):.2f}" for run in runs)
    return [
        Figure(
            "stack.rebuild",
            f"stack: projection rebuild from the event log, {len(rebuilt)} projections",
            covered / rebuild_seconds if rebuild_seconds else 0.0,
            "events/s",
            "stack",
            target=">=50,000 events/s",
            notes=f"a log of {logged} events rebuilt into {len(rebuilt)} projections in {rebuild_seconds:.2f} s "
            "(enrolment-36, after the feed: "
            + ", ".join(f"{r['projection']} {r['events']} events of its types in {r['seconds']:.2f} s" for r in rebuilt)
            + f"; median of {len(runs)} rebuilds: {each} s)",
        ),
        Figure(
            "stack.feed",
            f"stack: zero-touch feed, {count} employers",
            rate,
            "employers/s",
            "stack",
            notes=f"{registered} registered in {took:.1f} s, {backlog} outbox messages of which were relayed after "
            "the last answer",
        ),
        Figure(
            "stack.feed_median",
            "stack: feed -> registered, median",
            (median or 0.0) * 1000,
            "ms",
            "stack",
            target="employee registration promised within 3 h",
        ),
    ]
