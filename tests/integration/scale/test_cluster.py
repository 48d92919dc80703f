"""A 3-node JetStream cluster (streams at R3, fsync always): one node killed during a batch of
transfers loses nothing acknowledged, the work goes on, and the node rejoins; the outbox relay's
atomic batches are stored once each, in order."""

from __future__ import annotations

import asyncio
import json
import urllib.request
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, cast

import asyncpg
import pytest

from runtime.embedded import EmbeddedNats, nats_cluster
from runtime.eventstore import PostgresEventStore
from runtime.messaging import StreamSpec, connect, ensure_stream
from runtime.outbox import OutboxRelay
from runtime.settings import RuntimeSettings
from tests.conftest import Servers
from tests.integration.faults.test_relay_duplicates import DyingConnection, RelayCrash
from tests.integration.runtime.test_outbox_relay import queue_messages, stored_batches
from tests.seeding import seed_transfer_histories, young_citizen
from tests.stack import Stack, running_stack
from tests.waiting import eventually

TRANSFERS = 24


def _varz(node: EmbeddedNats, path: str = "varz") -> dict[str, Any]:
    with urllib.request.urlopen(f"{node.monitor_url}/{path}", timeout=2) as response:  # noqa: S310 - loopback
        found: dict[str, Any] = json.loads(response.read())
        return found


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[list[EmbeddedNats]]:
    nodes = nats_cluster(tmp_path / "nats")
    try:
        for node in nodes:
            node.start()
        yield nodes
    finally:
        for node in nodes:
            node.stop()


async def _meta_leader(nodes: list[EmbeddedNats]) -> bool:
    try:
        return all(_varz(n, "jsz").get("meta_cluster", {}).get("leader") for n in nodes if n.process)
    except OSError:
        return False


@pytest.fixture
async def stack(cluster: list[EmbeddedNats], servers: Servers, subject_root: str) -> AsyncIterator[Stack]:
    await eventually(lambda: _meta_leader(cluster), within=30)
    on_cluster = Servers(",".join(n.url for n in cluster), cluster[0].monitor_url, servers.postgres_admin_url)
    async with running_stack(
        on_cluster, subject_root, services=("transfer",), regions=("36", "44"), jetstream_replicas=3
    ) as s:
        yield s


async def _completed(stack: Stack) -> int:
    pool = stack.services[("transfer", "36")].resources.pool
    return int(await pool.fetchval("SELECT count(*) FROM events WHERE event_type = 'TransferCompleted'"))


async def test_a_node_killed_during_a_batch_of_transfers_loses_nothing_and_rejoins(
    cluster: list[EmbeddedNats], stack: Stack
) -> None:
    people = [young_citizen(i) for i in range(TRANSFERS)]
    salt = RuntimeSettings().pseudonym_salt.encode()
    await seed_transfer_histories(
        stack.services[("transfer", "44")].resources.pool,
        stack.services[("transfer", "36")].resources.pool,
        people,
        salt,
    )
    streams = await _stream_replicas(cluster[0].url, stack.settings.subject_root)
    assert streams and all(replicas == 3 for replicas in streams.values())

    async def apply(citizen: str) -> str:
        """As a client does: a 503 or 504 is retried with the same Idempotency-Key."""
        headers = {**stack.token(), "Idempotency-Key": f"apply-{citizen[-8:]}"}

        async def answered() -> Any:
            response = await stack.client.post(
                "/v1/regions/36/transfers", json={"citizen_id": citizen, "from_region": "44"}, headers=headers
            )
            return None if response.status_code in (503, 504) else response

        response = await eventually(answered, within=60)
        assert response.status_code == 201, response.text
        case_id: str = response.json()["case_id"]
        return case_id

    first = await asyncio.gather(*(apply(p) for p in people[: TRANSFERS // 2]))
    victim = cluster[1]
    victim.kill()  # -9 in the middle of the batch: leaders move, clients reconnect
    rest = [await apply(p) for p in people[TRANSFERS // 2 :]]
    await eventually(lambda: _all_done(stack), within=120)
    victim.start()

    async def rejoined() -> bool:
        try:
            return len(_varz(victim, "routez").get("routes", [])) >= 2 and await _meta_leader(cluster)
        except OSError:
            return False

    await eventually(rejoined, within=60)
    assert len(set(first) | set(rest)) == TRANSFERS
    assert await _completed(stack) == TRANSFERS  # each exactly once
    pool44 = stack.services[("transfer", "44")].resources.pool
    assert await pool44.fetchval("SELECT count(*) FROM events WHERE event_type = 'FundsTransferred'") == TRANSFERS


async def _all_done(stack: Stack) -> bool:
    return await _completed(stack) >= TRANSFERS


async def _stream_replicas(url: str, root: str) -> dict[str, int]:
    nc = await connect([url], name="probe")
    try:
        js = nc.jetstream()
        names = await js.streams_info()
        return {s.config.name: s.config.num_replicas for s in names if s.config.name.startswith(root.upper())}
    finally:
        await nc.close()


async def test_the_relays_atomic_batches_are_stored_once_each_in_order_at_r3(
    cluster: list[EmbeddedNats], pool: asyncpg.Pool, subject_root: str
) -> None:
    """A batch stored by the cluster, and the same batch again (its relay died before its delete):
    JetStream refuses the second whole, the relay sends it one by one, and each copy is dropped."""
    await eventually(lambda: _meta_leader(cluster), within=30)
    nc = await connect([n.url for n in cluster], name="relay")
    try:
        js = nc.jetstream()
        stream = StreamSpec(f"{subject_root.upper()}_R3", (f"{subject_root}.>",))
        await ensure_stream(js, stream, replicas=3, duplicate_window=600)
        await queue_messages(PostgresEventStore(pool), f"{subject_root}.36.svc.evt.happened.v1", 300)
        relay = OutboxRelay(pool, js)
        async with pool.acquire() as conn:
            with pytest.raises(RelayCrash):
                await relay.relay_once(cast(asyncpg.Connection, DyingConnection(conn)))
            assert await relay.relay_once(conn) == 300

        stored = await stored_batches(js, stream.name)
        assert [json.loads(body)["i"] for body, *_ in stored] == list(range(300))
        assert len({batch for _, batch, _, _ in stored}) == 1
        assert [place for _, _, place, _ in stored] == [str(i) for i in range(1, 301)]
        assert await pool.fetchval("SELECT count(*) FROM outbox") == 0
    finally:
        await nc.close()
