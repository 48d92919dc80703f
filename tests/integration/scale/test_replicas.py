"""Two replicas of each transfer service per region share the durable consumers and the database:
both do work, nothing is done twice, every case completes once."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest

from runtime.host import RunningService, start_service
from runtime.settings import RuntimeSettings
from tests.conftest import Servers
from tests.seeding import seed_transfer_histories, young_citizen
from tests.stack import Stack, builders, running_stack
from tests.waiting import eventually

TRANSFERS = 40


@pytest.fixture
async def stack(servers: Servers, subject_root: str) -> AsyncIterator[Stack]:
    async with running_stack(servers, subject_root, services=("transfer",), regions=("36", "44")) as s:
        yield s


async def _count(stack: Stack, region: str, event_type: str) -> int:
    pool = stack.services[("transfer", region)].resources.pool
    return int(await pool.fetchval("SELECT count(*) FROM events WHERE event_type = $1", event_type))


async def test_two_replicas_per_region_share_the_work_and_do_nothing_twice(stack: Stack) -> None:
    async with contextlib.AsyncExitStack() as exits:
        twins: dict[str, RunningService] = {}
        for region in ("36", "44"):
            settings: RuntimeSettings = stack.service_settings[("transfer", region)]
            twins[region] = await start_service(settings, "transfer", builders()["transfer"], exits, clock=stack.clock)
        people = [young_citizen(1000 + i) for i in range(TRANSFERS)]
        await seed_transfer_histories(
            stack.services[("transfer", "44")].resources.pool,
            stack.services[("transfer", "36")].resources.pool,
            people,
            RuntimeSettings().pseudonym_salt.encode(),
        )

        async def apply(citizen: str) -> int:
            response = await stack.client.post(
                "/v1/regions/36/transfers", json={"citizen_id": citizen, "from_region": "44"}, headers=stack.token()
            )
            return response.status_code

        statuses = await asyncio.gather(*(apply(p) for p in people))

        async def all_completed() -> bool:
            return await _count(stack, "36", "TransferCompleted") >= TRANSFERS

        await eventually(all_completed, within=120)
        inbox_work = {
            region: [
                next(c.processed for c in running.consumers if c.spec.durable == f"transfer-{region}-inbox")
                for running in (stack.services[("transfer", region)], twins[region])
            ]
            for region in ("36", "44")
        }

    assert statuses == [201] * TRANSFERS
    assert await _count(stack, "36", "TransferCompleted") == TRANSFERS
    assert await _count(stack, "36", "FundsReceived") == TRANSFERS
    assert await _count(stack, "44", "FundsTransferred") == TRANSFERS
    assert await _count(stack, "44", "ContactLetterReceived") == TRANSFERS
    # Both replicas of each region took letters, sheets or funds from the shared durable consumer.
    assert all(min(counts) > 0 for counts in inbox_work.values()), inbox_work
    assert sum(inbox_work["44"]) >= TRANSFERS
