"""`yiwang replay` of a dead letter that is not there (replayed before, or a typo): one plain line."""

from __future__ import annotations

import asyncio

from typer.testing import CliRunner

from gateway.cli import app
from runtime.messaging import DeadLetters, connect, ensure_stream
from tests.conftest import Servers


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
