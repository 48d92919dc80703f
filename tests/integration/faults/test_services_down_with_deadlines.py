"""Every transfer service down during a batch of transfers with deadlines pending, the clock passing
their limits meanwhile: after the restart every transfer completes, and each deadline fires once.

The services are stopped as a shutdown stops them (in-process; the kill -9 of a whole process is
covered for NATS, PostgreSQL and `make run`): what was committed stays, the rest is redone."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from runtime.settings import RuntimeSettings
from tests.conftest import Servers
from tests.seeding import seed_transfer_histories, young_citizen
from tests.stack import Stack, running_stack
from tests.waiting import eventually

TRANSFERS = 20


@pytest.fixture
async def stack(servers: Servers, subject_root: str) -> AsyncIterator[Stack]:
    async with running_stack(servers, subject_root, services=("transfer",), regions=("36", "44")) as s:
        yield s


async def _count(stack: Stack, region: str, sql: str) -> int:
    return int(await stack.services[("transfer", region)].resources.pool.fetchval(sql))


async def test_every_transfer_completes_and_each_deadline_fires_once_after_the_services_come_back(
    stack: Stack,
) -> None:
    people = [young_citizen(5_000 + i) for i in range(TRANSFERS)]
    await seed_transfer_histories(
        stack.services[("transfer", "44")].resources.pool,
        stack.services[("transfer", "36")].resources.pool,
        people,
        RuntimeSettings().pseudonym_salt.encode(),
    )
    await stack.stop("transfer", "44")  # the letters wait in 44's inbox stream

    async def apply(citizen: str) -> int:
        response = await stack.client.post(
            "/v1/regions/36/transfers", json={"citizen_id": citizen, "from_region": "44"}, headers=stack.token()
        )
        return response.status_code

    assert await asyncio.gather(*(apply(p) for p in people)) == [201] * TRANSFERS
    pending = await _count(stack, "36", "SELECT count(*) FROM deadlines WHERE status = 'pending'")
    await stack.stop("transfer", "36")  # now both regions' transfer services are down
    stack.clock.advance(days=30)  # past every old-agency limit while nothing runs

    await stack.start("transfer", "36")

    async def breached() -> bool:  # the old region is still down: 36's timers fire anyway
        return await _count(stack, "36", "SELECT count(*) FROM deadlines WHERE status = 'fired'") >= TRANSFERS

    await eventually(breached, within=60)
    await stack.start("transfer", "44")

    async def all_completed() -> bool:
        completed = "SELECT count(*) FROM events WHERE event_type = 'TransferCompleted'"
        return await _count(stack, "36", completed) == TRANSFERS

    await eventually(all_completed, within=120)
    breaches = await _count(stack, "36", "SELECT count(*) FROM events WHERE event_type = 'StageDeadlineBreached'")
    fired = await _count(stack, "36", "SELECT count(*) FROM deadlines WHERE status = 'fired'")
    still_pending = await _count(stack, "36", "SELECT count(*) FROM deadlines WHERE status = 'pending'")
    funds = await _count(stack, "44", "SELECT count(*) FROM events WHERE event_type = 'FundsTransferred'")
    print(
        f"services down with {pending} deadlines pending: {TRANSFERS} transfers completed, "
        f"{fired} deadlines fired, {breaches} breaches recorded, {still_pending} pending"
    )
    assert pending == TRANSFERS
    assert (fired, breaches) == (TRANSFERS, TRANSFERS)  # each deadline fired once, each breach once
    assert still_pending == 0
    assert funds == TRANSFERS
