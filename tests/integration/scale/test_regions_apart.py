"""Regions as separate deployments (issue 10): each region its own NATS server and JetStream domain
(r36, r44) and its own PostgreSQL server, joined by a leaf-node link; the link is cut for a while.

During the cut each region goes on serving its own work (applications accepted in 36, its own events
published, reads answered in both), while the messages between them wait in each sender's outbox.
After the link returns every transfer completes, each exactly once, with the funds sent once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from runtime.embedded import EmbeddedNats, EmbeddedPostgres, free_port
from runtime.settings import RuntimeSettings
from tests.conftest import Servers
from tests.netcut import Link
from tests.seeding import seed_transfer_histories, young_citizen
from tests.stack import Stack, running_stack
from tests.waiting import eventually

BEFORE, DURING_THE_CUT = 8, 12  # transfers into 36 applied with the link up, then while it is down
THE_OTHER_WAY = 6  # transfers into 44 (from 36) applied while it is down


def _leaf_connections(node: EmbeddedNats) -> int:
    with urllib.request.urlopen(f"{node.monitor_url}/leafz", timeout=2) as response:  # noqa: S310 - loopback
        found: dict[str, Any] = json.loads(response.read())
    return int(found.get("leafnodes", 0))


@pytest.fixture
async def regions(tmp_path: Path, servers: Servers, subject_root: str) -> AsyncIterator[tuple[Stack, Stack, Link]]:
    """Region 36 (NATS domain r36, with a leaf-node port) and region 44 (domain r44, its own
    PostgreSQL) whose leaf node reaches 36 through a link the test can cut."""
    leaf_port = free_port()
    link = await Link(leaf_port).start()
    east = EmbeddedNats(tmp_path / "nats36", server_name="r36", domain="r36", leaf_port=leaf_port).start()
    south = EmbeddedNats(tmp_path / "nats44", server_name="r44", domain="r44", leaf_remotes=(link.port,)).start()
    postgres44 = EmbeddedPostgres(tmp_path / "pg44").start()
    try:

        async def joined() -> bool:
            return _leaf_connections(east) == 1 and _leaf_connections(south) == 1

        await eventually(joined, within=30)
        async with contextlib.AsyncExitStack() as stacks:
            region36 = await stacks.enter_async_context(
                running_stack(
                    Servers(east.url, east.monitor_url, servers.postgres_admin_url),
                    subject_root,
                    regions=("36",),
                    services=("transfer",),
                )
            )
            region44 = await stacks.enter_async_context(
                running_stack(
                    Servers(south.url, south.monitor_url, postgres44.url),
                    subject_root,
                    regions=("44",),
                    services=("transfer",),
                )
            )
            yield region36, region44, link
    finally:
        await link.close()
        south.stop()
        east.stop()
        postgres44.stop()


def _pool(stack: Stack, region: str) -> asyncpg.Pool:
    return stack.services[("transfer", region)].resources.pool


async def _count(pool: asyncpg.Pool, sql: str) -> int:
    return int(await pool.fetchval(sql))


async def _apply(stack: Stack, citizen: str, to: str = "36", old: str = "44") -> str:
    response = await stack.client.post(
        f"/v1/regions/{to}/transfers",
        json={"citizen_id": citizen, "from_region": old},
        headers={**stack.token(region=to, subject=f"ops-{to}"), "Idempotency-Key": f"apply-{citizen[-8:]}"},
    )
    assert response.status_code == 201, response.text
    case_id: str = response.json()["case_id"]
    return case_id


async def _events_published(stack: Stack, region: str) -> int:
    js = stack.services[("transfer", region)].resources.js
    info = await js.stream_info(f"{stack.settings.subject_root.upper()}_TRANSFER_{region}")
    return int(info.state.messages)


async def _read_figures(stack: Stack, region: str) -> int:
    response = await stack.client.get(
        f"/v1/regions/{region}/statistics/transfers",
        params={"first": "2026-01-01", "last": "2030-12-31"},
        headers=stack.token(region=region, subject=f"ops-{region}"),
    )
    return response.status_code


async def test_the_link_between_two_regions_cut_each_serves_its_own_then_every_transfer_completes_once(
    regions: tuple[Stack, Stack, Link],
) -> None:
    region36, region44, link = regions
    pool36, pool44 = _pool(region36, "36"), _pool(region44, "44")
    people = [young_citizen(9_000 + i) for i in range(BEFORE + DURING_THE_CUT)]
    movers = [young_citizen(9_500 + i) for i in range(THE_OTHER_WAY)]
    salt = RuntimeSettings().pseudonym_salt.encode()
    await seed_transfer_histories(pool44, pool36, people, salt)
    await seed_transfer_histories(pool36, pool44, movers, salt)
    completed = "SELECT count(*) FROM events WHERE event_type = 'TransferCompleted'"

    first = await asyncio.gather(*(_apply(region36, p) for p in people[:BEFORE]))
    await eventually(lambda: _done(pool36, BEFORE), within=60)  # the link works: the first batch crosses

    link.cut()
    published_before = await _events_published(region36, "36")
    during = await asyncio.gather(*(_apply(region36, p) for p in people[BEFORE:]))  # 36 serves its own work
    other_way = await asyncio.gather(*(_apply(region44, p, to="44", old="36") for p in movers))  # and 44 its own
    reads = (await _read_figures(region36, "36"), await _read_figures(region44, "44"))  # and both answer

    async def letters_held() -> int:
        return await _count(pool36, "SELECT count(*) FROM outbox WHERE split_part(subject, '.', 2) = '44'")

    async def letters_held_in_44() -> int:
        return await _count(pool44, "SELECT count(*) FROM outbox WHERE split_part(subject, '.', 2) = '36'")

    held = await eventually(letters_held, within=30)
    held44 = await eventually(letters_held_in_44, within=30)
    own_events = await _events_published(region36, "36") - published_before
    relay36 = region36.services[("transfer", "36")].relay

    async def tried_again() -> bool:  # held after a first try (a pause of 1 s), then tried again (2 s)
        return relay36.held.get("44", (0.0, 0.0))[1] >= 2.0

    await eventually(tried_again, within=30)
    completed_during_cut = await _count(pool36, completed) - BEFORE + await _count(pool44, completed)
    still_held = await letters_held() + await letters_held_in_44()

    link.restore()
    restored = time.monotonic()
    await eventually(lambda: _done(pool36, BEFORE + DURING_THE_CUT), within=120)
    await eventually(lambda: _done(pool44, THE_OTHER_WAY), within=120)
    recovery = time.monotonic() - restored

    async def relayed() -> bool:  # the last completions' own messages commit with them, then leave
        return (
            await _count(pool36, "SELECT count(*) FROM outbox") + await _count(pool44, "SELECT count(*) FROM outbox")
            == 0
        )

    await eventually(relayed, within=30)

    cases = first + during + other_way
    by_case = "SELECT stream_id, count(*) AS n FROM events WHERE event_type = 'TransferCompleted' GROUP BY stream_id"
    completions = [*await pool36.fetch(by_case), *await pool44.fetch(by_case)]
    sent = "SELECT count(*) FROM events WHERE event_type = 'FundsTransferred'"
    sent_cases = "SELECT count(DISTINCT stream_id) FROM events WHERE event_type = 'FundsTransferred'"
    funds = await _count(pool44, sent) + await _count(pool36, sent)
    funds_cases = await _count(pool44, sent_cases) + await _count(pool36, sent_cases)
    outboxes = await _count(pool36, "SELECT count(*) FROM outbox") + await _count(pool44, "SELECT count(*) FROM outbox")
    parked = await _count(pool36, "SELECT count(*) FROM outbox_undeliverable") + await _count(
        pool44, "SELECT count(*) FROM outbox_undeliverable"
    )
    print(
        f"regions apart (own NATS domain and PostgreSQL each, leaf link cut once): {BEFORE} transfers before the "
        f"cut, {DURING_THE_CUT} into 36 and {THE_OTHER_WAY} into 44 applied during it (201 each), reads during "
        f"the cut {reads}, {own_events} of 36's own events published during it, messages held for the other "
        f"region: {held} in 36's outbox, {held44} in 44's ({still_held} in all after the relay tried again), "
        f"{completed_during_cut} completed during the cut; after the link returned all "
        f"{len(completions)} completed in {recovery:.1f} s; duplicates: completions "
        f"{sum(r['n'] for r in completions) - len(completions)}, funds {funds - funds_cases}; parked {parked}"
    )
    total = BEFORE + DURING_THE_CUT + THE_OTHER_WAY
    assert len(set(cases)) == total
    assert reads == (200, 200)
    assert own_events > 0 and held > 0 and held44 > 0 and still_held == held + held44
    assert completed_during_cut == 0
    assert len(completions) == total and all(r["n"] == 1 for r in completions)
    assert funds == funds_cases == total
    assert outboxes == 0 and parked == 0


async def _done(pool: asyncpg.Pool, n: int) -> bool:
    return await _count(pool, "SELECT count(*) FROM events WHERE event_type = 'TransferCompleted'") >= n
