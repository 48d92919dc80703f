"""The projection watch on real PostgreSQL and JetStream: a projection held back by an older
transaction in another database is alerted on with that transaction named (never its statement),
and recovers once it ends; a projection whose projector fails is stalled."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from uuid import uuid4

import asyncpg
import orjson
import pytest
from nats.aio.client import Client as NatsClient

from runtime.eventstore import NewEvent, PostgresEventStore, RecordedEvent
from runtime.messaging import ensure_stream
from runtime.projector import Projector
from runtime.watch import (
    _PROJECTIONS,
    HELD_BACK,
    RECOVERED,
    STALLED,
    ProjectionWatch,
    _rows,
    alerts_stream,
    read_alerts,
)
from tests.conftest import Servers, create_database
from tests.integration.runtime.test_projector import Seen, _projector, generic_plan
from tests.waiting import caught_up, final

CITIZEN_ID = "11010519491231002X"  # in the holder's statement: it must not reach the alert


class Failing(Seen):
    name = "failing"

    async def apply(self, conn: asyncpg.Connection, events: Sequence[RecordedEvent]) -> None:
        raise RuntimeError("a bug in the projection")


async def _append(store: PostgresEventStore, count: int = 1) -> None:
    async with store.transaction() as tx:
        await tx.append(f"s-{uuid4()}", 0, [NewEvent(uuid4(), "Happened", {}, {}) for _ in range(count)])


async def _watch(nc: NatsClient, pool: asyncpg.Pool, root: str, names: list[str]) -> ProjectionWatch:
    js = nc.jetstream()
    await ensure_stream(js, alerts_stream(root), replicas=1, duplicate_window=600)
    # No window: the second sample at the same position raises (the host's window is 30 s, sampled every 10 s).
    return ProjectionWatch(js, pool, root, "36", "svc", names, stall_after=0.0)


@pytest.fixture
async def elsewhere(servers: Servers) -> AsyncIterator[asyncpg.Connection]:
    """A connection to another database of the same server, named as a batch job would name itself."""
    url = await create_database(servers.postgres_admin_url)
    conn = await asyncpg.connect(url, server_settings={"application_name": "nightly-export"})
    await conn.execute("CREATE TABLE exports (citizen_id text)")
    yield conn
    await conn.close()


async def test_a_transaction_open_in_another_database_holds_the_projection_back_and_is_named(
    pool: asyncpg.Pool, nc: NatsClient, subject_root: str, elsewhere: asyncpg.Connection
) -> None:
    store, projector = await _projector(pool)
    watch = await _watch(nc, pool, subject_root, ["seen"])
    await _append(store)
    await caught_up(projector, 1)
    assert await watch.sample_once() == []  # caught up: nothing waits

    holder = elsewhere.transaction()
    await holder.start()
    await elsewhere.execute(f"INSERT INTO exports VALUES ('{CITIZEN_ID}')")  # an id of its own, left open
    await _append(store, 3)
    assert await projector.catch_up() == 0  # committed, not final: nothing applied
    assert await watch.sample_once() == []  # the first sample of the episode
    raised = await watch.sample_once()

    assert [a["state"] for a in raised] == [HELD_BACK]
    held = raised[0]
    assert held["projection"] == "seen" and held["region"] == "36" and held["service"] == "svc"
    assert held["holder"]["database"] == elsewhere._params.database
    assert held["holder"]["application"] == "nightly-export"
    assert held["holder"]["pid"] == elsewhere.get_server_pid()
    assert held["holder"]["state"] == "idle in transaction"
    assert CITIZEN_ID not in orjson.dumps(held).decode() and "INSERT" not in orjson.dumps(held).decode()
    assert (await read_alerts(nc.jetstream(), subject_root))[-1] == held

    await holder.commit()
    await caught_up(projector, 3)
    recovered = await watch.sample_once()
    assert [a["state"] for a in recovered] == [RECOVERED]
    assert [a["state"] for a in await read_alerts(nc.jetstream(), subject_root)] == [HELD_BACK, RECOVERED]


async def test_a_projection_whose_projector_fails_is_stalled(
    pool: asyncpg.Pool, nc: NatsClient, subject_root: str
) -> None:
    store, _ = await _projector(pool)
    projector = Projector(store, [Failing()])
    watch = await _watch(nc, pool, subject_root, ["failing"])
    await _append(store)
    await final(store, 1)
    with pytest.raises(RuntimeError, match="a bug"):
        await projector.catch_up()  # its position row rolled back with the batch: at the log's start

    first, second = await watch.sample_once(), await watch.sample_once()

    assert first == []
    assert [(a["projection"], a["state"]) for a in second] == [("failing", STALLED)]
    assert "holder" not in second[0]


async def test_the_sample_walks_the_commit_order_index_even_in_a_generic_plan(pool: asyncpg.Pool) -> None:
    """Every ten seconds in every service: each check stops at the first event after the position."""
    store = PostgresEventStore(pool)
    await _append(store, 3000)
    await pool.execute("INSERT INTO projection_positions (projection) VALUES ('a')")  # 'b' has none yet
    await pool.execute("ANALYZE events")
    plan = await generic_plan(pool, _PROJECTIONS.format(names=_rows(2)), "text, text", "'a', 'b'")
    assert "Seq Scan on events" not in plan, plan
    assert plan.count("events_in_commit_order") == 2, plan
