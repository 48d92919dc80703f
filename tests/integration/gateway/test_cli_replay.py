"""`yiwang dead-letters` and `yiwang replay` as operators run them: a letter listed with its reason,
sent back after the fix and applied once; one that is not there (replayed before, or a typo) said in
one plain line."""

from __future__ import annotations

import asyncio
from typing import Any
from uuid import uuid4

import asyncpg
from nats.aio.client import Client as NatsClient
from typer.testing import CliRunner

from gateway.cli import app
from runtime.eventstore import PostgresEventStore
from runtime.messaging import ConsumerSpec, DeadLetters, Delivery, PullConsumer, connect, ensure_stream
from tests.cli import yiwang
from tests.conftest import Servers
from tests.integration.runtime.test_consumers import run_consumer, setup
from tests.waiting import eventually


async def dead_letter_stream(url: str, root: str) -> None:
    nc = await connect([url], name="test")
    try:
        js = nc.jetstream()
        await ensure_stream(js, DeadLetters(js, root).stream, replicas=1, duplicate_window=120)
    finally:
        await nc.close()


def test_replaying_a_dead_letter_that_is_not_there_says_so(servers: Servers, subject_root: str) -> None:
    asyncio.run(dead_letter_stream(servers.nats_url, subject_root))
    env = {"YIWANG_NATS_URL": servers.nats_url, "YIWANG_SUBJECT_ROOT": subject_root}

    for sequence in ("7", "0"):  # none held; 0 is never a message's sequence
        result = CliRunner().invoke(app, ["replay", sequence], env=env)

        assert result.exit_code == 1
        assert f"no dead letter {sequence}" in result.output
        assert "Traceback" not in result.output


async def test_a_dead_letter_listed_and_replayed_from_the_command_line_is_applied_once(
    servers: Servers, pool: asyncpg.Pool, nc: NatsClient, subject_root: str
) -> None:
    js, stream, dead = await setup(pool, nc, subject_root)
    subject = f"{subject_root}.36.svc.evt.happened.v1"
    await js.publish(subject, b"refused-until-fixed", headers={"Nats-Msg-Id": str(uuid4())})
    fixed = False

    async def handler(tx: Any, delivery: Delivery) -> None:
        if not fixed:
            raise RuntimeError("rate table for C3071 missing")
        await (await tx.connection()).execute(
            "INSERT INTO effects VALUES ($1, $2)", delivery.message_id, delivery.data.decode()
        )

    spec = ConsumerSpec("svc-cli", stream, (subject,), handler, max_deliver=2, backoff=(0.05,))
    stop, task = await run_consumer(PullConsumer(js, PostgresEventStore(pool), spec, dead))
    settings = {"nats_url": servers.nats_url, "subject_root": subject_root}

    async def listed() -> str | None:
        shown = await yiwang("dead-letters", **settings)
        return shown.out if shown.out != "none\n" else None

    try:
        before = await eventually(listed)
        [(sequence, consumer, origin, reason)] = [line.split("\t") for line in before.splitlines()]
        fixed = True
        replayed = await yiwang("replay", sequence, **settings)
        await eventually(lambda: _effects(pool, 1))
        after = await yiwang("dead-letters", **settings)
    finally:
        stop.set()
        await task

    assert (consumer, origin) == ("svc-cli", subject)
    assert reason == "failed 2 times: RuntimeError: rate table for C3071 missing"
    assert (replayed.status, replayed.out) == (0, f"replayed {sequence} to {subject}\n")
    assert after.out == "none\n"
    assert await pool.fetch("SELECT body FROM effects") == [("refused-until-fixed",)]


async def _effects(pool: asyncpg.Pool, n: int) -> bool:
    return bool(await pool.fetchval("SELECT count(*) FROM effects") == n)
