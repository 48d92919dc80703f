"""What a run leaves in the services' outboxes, and how long their relays take to send it.

A closed-loop load can commit faster than a relay publishes: under the gateway section's 64
connections the enrolment's outbox grew all through each 6-second run (to 2,600-6,400 messages, the
oldest 1.6-2.5 s old) and emptied in about a second once the load stopped. The requests answered in
the run are then not yet done: their events still wait. So a run lasts until the outboxes are empty,
and its rate and CPU count that time and that work too.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import NamedTuple

import asyncpg

POLL_SECONDS = 0.02  # a drain of about a second, timed to a few percent


class Drained(NamedTuple):
    left: int  # messages in the outboxes when the load stopped
    seconds: float  # until the last of them had left


async def outboxes_drained(database_urls: Sequence[str], *, timeout: float = 300.0) -> Drained:
    """Wait until the outbox of each database is empty: how many messages waited when called, and the
    seconds until none did. Raises TimeoutError after `timeout` (a relay stopped, a stream missing)."""
    started = time.monotonic()
    conns = [await asyncpg.connect(url) for url in database_urls]
    try:
        left = sum([await conn.fetchval("SELECT count(*) FROM outbox") for conn in conns])
        waiting = list(conns) if left else []
        while waiting:
            if time.monotonic() - started > timeout:
                raise TimeoutError(f"outboxes not empty after {timeout:.0f}s")
            await asyncio.sleep(POLL_SECONDS)
            waiting = [conn for conn in waiting if await conn.fetchval("SELECT EXISTS (SELECT 1 FROM outbox)")]
        return Drained(left, time.monotonic() - started if left else 0.0)
    finally:
        for conn in conns:
            await conn.close()
