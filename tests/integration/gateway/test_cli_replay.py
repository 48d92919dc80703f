"""`yiwang dead-letters` and `yiwang replay` as operators run them: a letter listed with its reason,
sent back after the fix and applied once; one that is not there (replayed before, or a typo) said in
one plain line."""

from __future__ import annotations

import asyncio

import asyncpg
from nats.aio.client import Client as NatsClient
from typer.testing import CliRunner

from gateway.cli import app
from runtime.messaging import DeadLetters, connect, ensure_stream
from tests.cli import yiwang
from tests.conftest import Servers
from tests.integration.runtime.test_consumers import count, failing_until_fixed, run_consumer
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
    failing = await failing_until_fixed(
        pool, nc, subject_root, "svc-cli", b"refused-until-fixed", "rate table for C3071 missing"
    )
    subject = failing.subject
    stop, task = await run_consumer(failing.consumer)
    settings = {"nats_url": servers.nats_url, "subject_root": subject_root}

    async def listed() -> str | None:
        shown = await yiwang("dead-letters", **settings)
        return shown.out if shown.out != "none\n" else None

    try:
        before = await eventually(listed)
        [(sequence, consumer, origin, reason)] = [line.split("\t") for line in before.splitlines()]
        failing.fixed = True
        replayed = await yiwang("replay", sequence, **settings)
        await eventually(lambda: count(pool, "SELECT count(*) FROM effects", 1))
        after = await yiwang("dead-letters", **settings)
    finally:
        stop.set()
        await task

    assert (consumer, origin) == ("svc-cli", subject)
    assert reason == "failed 2 times: RuntimeError: rate table for C3071 missing"
    assert (replayed.status, replayed.out) == (0, f"replayed {sequence} to {subject}\n")
    assert after.out == "none\n"
    assert await pool.fetch("SELECT body FROM effects") == [("refused-until-fixed",)]
