"""R13: every projection rebuilt from scratch out of its event log equals the live one, table by table.

Real traffic goes through the gateway to all four services in two regions (a transfer from Foshan
to Nanchang with the enrolments behind it, a wage-arrears case paid, work-injury settlements settled,
held, reversed and refused); then each service's projections are rebuilt by the operators' command
(`yiwang rebuild SERVICE --region R`, a NATS request to the service) and an md5 over every row of
every read-model table is compared before and after.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import asyncpg
import httpx
import pytest

from contracts.identifiers import citizen_id_check_character, credit_code_check_character
from contracts.signing import sign
from runtime.projector import Projection
from runtime.workdays import local_date
from tests.conftest import Servers
from tests.e2e.working_lives import FOSHAN, NANCHANG, OLDER_MAN, YOUNG, history_in_transfer_service, ok, register, work
from tests.stack import Stack, running_stack
from tests.waiting import eventually

REGIONS = ("36", "44")
HOSPITAL_KEYS = {"H36001": ["h36001-key-2026-new-0123456789"]}
BUILDER = "91360111MA38QW1K0" + credit_code_check_character("91360111MA38QW1K0")
ZHANG = "36011119880512301" + citizen_id_check_character("36011119880512301")
LI = "36010319950101452" + citizen_id_check_character("36010319950101452")
WORKER = "36010219850612201" + citizen_id_check_character("36010219850612201")
LINES = [
    {"line_no": 1, "item_code": "XJ01DCC040", "quantity": 10, "unit_price_fen": 180, "amount_fen": 1800},
    {"line_no": 2, "item_code": "110200001", "quantity": 1, "unit_price_fen": 1000, "amount_fen": 1000},
    {"line_no": 3, "item_code": "XD11AXX999", "quantity": 1, "unit_price_fen": 16800, "amount_fen": 16800},
]
TOTAL = 19600
BULK = 60  # further complaints and settlements, so every view holds more than a handful of rows


def bulk_citizen(i: int) -> str:
    body = f"36011119880512{i:03d}"
    return body + citizen_id_check_character(body)


@pytest.fixture
async def stack(servers: Servers, subject_root: str) -> AsyncIterator[Stack]:
    async with running_stack(servers, subject_root, regions=REGIONS, hospital_keys=HOSPITAL_KEYS) as s:
        yield s


def today(stack: Stack) -> date:
    return local_date(stack.clock.now())


async def transfer_traffic(stack: Stack) -> None:
    """A worker's years in Foshan and Nanchang, then the transfer between them; one refused transfer."""
    await register(stack, "44", FOSHAN, "440604")
    await register(stack, "36", NANCHANG, "360102")
    await work(stack, "44", FOSHAN, YOUNG, "2025-01-01", ["2025-01", "2025-02", "2025-03"], ended="2026-09-30")
    await work(stack, "36", NANCHANG, YOUNG, "2026-10-01", ["2026-10", "2026-11"], ended=None, unpaid=("2026-11",))
    await eventually(lambda: history_in_transfer_service(stack, "44", 3))
    await eventually(lambda: history_in_transfer_service(stack, "36", 1))
    applied = await ok(
        await stack.client.post(
            "/v1/regions/36/transfers", json={"citizen_id": YOUNG, "from_region": "44"}, headers=stack.token()
        ),
        201,
    )
    refused = await ok(
        await stack.client.post(
            "/v1/regions/36/transfers", json={"citizen_id": OLDER_MAN, "from_region": "44"}, headers=stack.token()
        ),
        201,
    )
    assert refused["status"] == "refused"

    async def completed() -> bool:
        r = await stack.client.get(f"/v1/regions/36/transfers/{applied['case_id']}", headers=stack.token())
        return bool(r.json().get("status") == "completed")

    await eventually(completed, within=30)


async def arrears_traffic(stack: Stack) -> None:
    """A complaint routed across districts, reported again, accepted, ordered, paid and closed."""
    base = "/v1/regions/36/arrears"
    clerk = {**stack.token(), "X-Channel": "counter"}
    end = today(stack).replace(day=1) - timedelta(days=1)
    complaint = {
        "received_by": "360111",
        "employer_credit_code": BUILDER,
        "employer_name": "南昌某建筑劳务有限公司",
        "division_code": "360102",
        "industry_code": "E4700",
        "workers": [{"citizen_id": ZHANG, "claimed_fen": 680_000}, {"citizen_id": LI, "claimed_fen": 1_250_050}],
        "period_from": (end - timedelta(days=89)).isoformat(),
        "period_to": end.isoformat(),
        "summary": "三个月工资未发",
    }
    lead = await ok(await stack.client.post(f"{base}/complaints", json=complaint, headers=clerk), 201)
    await ok(await stack.client.post(f"{base}/complaints", json=complaint, headers=clerk), 201)
    lead_id = lead["lead_id"]
    await ok(
        await stack.client.post(
            f"{base}/leads/{lead_id}/routing",
            json={"to_district": "360113", "reason": "项目工地在红谷滩区"},
            headers=clerk,
        )
    )
    case_id = (await ok(await stack.client.post(f"{base}/leads/{lead_id}/acceptance", headers=clerk)))["case_id"]
    due_on = (today(stack) + timedelta(days=10)).isoformat()
    await ok(
        await stack.client.post(
            f"{base}/cases/{case_id}/payment-orders", json={"liable_party": BUILDER, "due_on": due_on}, headers=clerk
        ),
        201,
    )
    for payments in (
        [{"citizen_id": ZHANG, "amount_fen": 680_000}, {"citizen_id": LI, "amount_fen": 1_000_000}],
        [{"citizen_id": LI, "amount_fen": 250_050}],
    ):
        await ok(
            await stack.client.post(
                f"{base}/cases/{case_id}/payments", json={"payer": BUILDER, "payments": payments}, headers=clerk
            )
        )
    await ok(await stack.client.post(f"{base}/cases/{case_id}/closure", json={}, headers=clerk))

    async def another(i: int) -> None:  # more leads, each with its own worker
        body = complaint | {"workers": [{"citizen_id": bulk_citizen(i), "claimed_fen": 100_000 + i}]}
        await ok(await stack.client.post(f"{base}/complaints", json=body, headers=clerk), 201)

    for first in range(0, BULK, 10):
        await asyncio.gather(*(another(i) for i in range(first, first + 10)))


async def signed(stack: Stack, method: str, path: str, body: dict[str, Any] | None = None) -> httpx.Response:
    raw = b"" if body is None else json.dumps(body).encode()
    timestamp, mid = int(datetime.now(UTC).timestamp()), uuid4().hex
    key = HOSPITAL_KEYS["H36001"][0].encode()
    headers = {
        "X-Hospital-Id": "H36001",
        "X-Timestamp": str(timestamp),
        "X-Message-Id": mid,
        "X-Signature": sign(key, timestamp=timestamp, message_id=mid, method=method, path=path, body=raw),
        "Content-Type": "application/json",
    }
    return await stack.client.request(method, path, content=raw, headers=headers)


async def injury_traffic(stack: Stack) -> None:
    """An agreement, a recognised injury, settlements settled, held, reversed and refused by line."""
    term = {
        "hospital_id": "H36001",
        "name": "Hospital H36001",
        "signed_on": (today(stack) - timedelta(days=200)).isoformat(),
        "valid_from": (today(stack) - timedelta(days=180)).isoformat(),
        "valid_to": (today(stack) + timedelta(days=180)).isoformat(),
    }
    await ok(await stack.client.post("/v1/regions/36/injury/agreements", json=term, headers=stack.token()), 201)

    async def catalogue_loaded() -> bool:
        r = await stack.client.get("/v1/regions/36/injury/catalogue/items/XJ01DCC040", headers=stack.token())
        return r.status_code == 200

    await eventually(catalogue_loaded)
    base = "/v1/regions/36/injury/determinations"
    application = {
        "determination_id": "RD-001",
        "citizen_id": WORKER,
        "employer_id": "91360102MA35L0XC0X",
        "injury_date": (today(stack) - timedelta(days=10)).isoformat(),
    }
    await ok(await stack.client.post(base, json=application, headers=stack.token()), 201)
    await ok(await stack.client.post(f"{base}/RD-001/acceptance", json={"facts_clear": True}, headers=stack.token()))
    await ok(await stack.client.post(f"{base}/RD-001/decision", json={"outcome": "recognised"}, headers=stack.token()))
    path = "/v1/regions/36/injury/hospitals/H36001/settlements"

    def posting(number: str, ref: str = "RD-001", **changes: Any) -> dict[str, Any]:
        body = {
            "hospital_settlement_no": number,
            "citizen_id": WORKER,
            "determination_ref": ref,
            "service_date": (today(stack) - timedelta(days=3)).isoformat(),
            "lines": LINES,
            "declared_total_fen": TOTAL,
        }
        return body | changes

    assert (await ok(await signed(stack, "POST", path, posting("JS-1"))))["status"] == "settled"
    assert (await ok(await signed(stack, "POST", path, posting("JS-2"))))["status"] == "settled"
    assert (await ok(await signed(stack, "POST", path, posting("JS-3", ref=""))))["status"] == "held"
    await ok(await signed(stack, "POST", f"{path}/JS-2/reversal", {"reason": "billed twice"}))
    unknown = [LINES[0], {**LINES[1], "item_code": "NOPE123"}]
    rejected = await signed(stack, "POST", path, posting("JS-4", lines=unknown, declared_total_fen=2800))
    assert rejected.status_code == 422, rejected.text

    async def another(i: int) -> None:
        await ok(await signed(stack, "POST", path, posting(f"JS-B{i}", ref="" if i % 3 == 0 else "RD-001")))

    for first in range(0, BULK, 10):
        await asyncio.gather(*(another(i) for i in range(first, first + 10)))


async def read_model_tables(pool: asyncpg.Pool, projection: Projection) -> list[str]:
    """The tables the projection's reset empties (TRUNCATE gives a table a new file), found by
    resetting in a transaction that is rolled back."""
    sql = (
        "SELECT c.relname, pg_relation_filenode(c.oid) AS node FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'r' AND n.nspname = 'public'"
    )
    async with pool.acquire() as conn:
        tx = conn.transaction()
        await tx.start()
        try:
            before = {r["relname"]: r["node"] for r in await conn.fetch(sql)}
            await projection.reset(conn)
            after = {r["relname"]: r["node"] for r in await conn.fetch(sql)}
        finally:
            await tx.rollback()
    return sorted(name for name, node in after.items() if before.get(name) != node)


async def checksums(pool: asyncpg.Pool, tables: list[str]) -> dict[str, tuple[int, str]]:
    found = {}
    for table in tables:
        row = await pool.fetchrow(
            f"SELECT count(*) AS n, md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) AS sum "
            f'FROM "{table}" t'
        )
        found[table] = (row["n"], row["sum"])
    return found


async def settled(stack: Stack) -> bool:
    """Nothing left to relay or to project anywhere, and no new event since the last look."""
    for running in stack.services.values():
        pool = running.resources.pool
        if await pool.fetchval("SELECT count(*) FROM outbox") > 0:
            return False
        head = await pool.fetchrow(
            "SELECT transaction_id::text::bigint AS tx, position FROM events ORDER BY transaction_id DESC, position "
            "DESC LIMIT 1"
        )
        for projection in running.parts.projections:
            at = await pool.fetchrow(
                "SELECT transaction_id::text::bigint AS tx, position FROM projection_positions WHERE projection = $1",
                projection.name,
            )
            if head is not None and (at is None or (at["tx"], at["position"]) != (head["tx"], head["position"])):
                return False
    return True


async def cli_rebuild(stack: Stack, service: str, region: str) -> str:
    env = {
        **os.environ,
        "YIWANG_NATS_URL": stack.settings.nats_url,
        "YIWANG_SUBJECT_ROOT": stack.settings.subject_root,
        "COLUMNS": "100",
    }
    yiwang = str(Path(sys.executable).parent / "yiwang")
    process = await asyncio.create_subprocess_exec(
        yiwang,
        "rebuild",
        service,
        "--region",
        region,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, err.decode()
    return out.decode()


async def test_projections_rebuilt_from_the_event_log_equal_the_live_ones(stack: Stack) -> None:
    started = time.monotonic()
    await asyncio.gather(transfer_traffic(stack), arrears_traffic(stack), injury_traffic(stack))
    await eventually(lambda: settled(stack), within=30)
    traffic_seconds = time.monotonic() - started

    before: dict[tuple[str, str], dict[str, tuple[int, str]]] = {}
    tables: dict[tuple[str, str], list[str]] = {}
    events: dict[tuple[str, str], int] = {}
    folded: dict[tuple[str, str], dict[str, int]] = {}  # events of the types each projection folds
    for key, running in sorted(stack.services.items()):
        pool = running.resources.pool
        tables[key] = [t for p in running.projector.projections for t in await read_model_tables(pool, p)]
        before[key] = await checksums(pool, tables[key])
        events[key] = await pool.fetchval("SELECT count(*) FROM events")
        folded[key] = {
            p.name: await pool.fetchval(
                "SELECT count(*) FROM events WHERE $1::text[] IS NULL OR event_type = ANY($1)",
                None if p.event_types is None else list(p.event_types),
            )
            for p in running.projector.projections
        }

    # A read model gone wrong (as after a bug in a projection): the checksum sees it, the rebuild mends it.
    injury = stack.services[("injury", "36")].resources.pool
    await injury.execute(
        "UPDATE injury_settlements SET total_fen = total_fen + 1 WHERE stream_id = (SELECT min(stream_id) FROM "
        "injury_settlements)"
    )
    assert await checksums(injury, ["injury_settlements"]) != {
        "injury_settlements": before[("injury", "36")]["injury_settlements"]
    }

    rebuilt = time.monotonic()
    outputs = await asyncio.gather(*(cli_rebuild(stack, service, region) for service, region in sorted(stack.services)))
    rebuild_seconds = time.monotonic() - rebuilt

    differing = []
    for key, running in sorted(stack.services.items()):
        after = await checksums(running.resources.pool, tables[key])
        differing += [(key, t, before[key][t], after[t]) for t in tables[key] if after[t] != before[key][t]]
        print(
            f"{key[0]}-{key[1]}: {events[key]} events; "
            + ", ".join(f"{t} {before[key][t][0]} rows" for t in tables[key])
        )
    rows = sum(n for sums in before.values() for n, _ in sums.values())
    print(
        f"projection rebuild: {len(stack.services)} services, {sum(len(t) for t in tables.values())} tables, "
        f"{rows} rows, {sum(events.values())} events; traffic {traffic_seconds:.1f} s, "
        f"rebuild {rebuild_seconds:.1f} s; tables differing after rebuild = {len(differing)}"
    )
    print("\n".join(outputs))
    assert differing == []
    assert rows > 0
    # Each projection was replayed from the first event of its service's log to the last, of the types it folds.
    for key, out in zip(sorted(stack.services), outputs, strict=True):
        replayed = {line.split(":")[0]: int(line.split()[1]) for line in out.splitlines() if "events replayed" in line}
        assert replayed == folded[key], (key, out)
    for (service, region), sums in before.items():
        if region == "36" or service in ("enrolment", "transfer"):
            assert any(n > 0 for n, _ in sums.values()), (service, region, sums)
