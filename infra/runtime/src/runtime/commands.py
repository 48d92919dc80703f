"""Running a command exactly once: the first reply is stored with the effects and returned on retries.

A concurrency conflict (someone appended to the same stream meanwhile) reruns the decision on
fresh state a few times before it is reported.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from uuid import UUID

from runtime.eventstore import ConcurrencyError, EventStore, Transaction

Reply = dict[str, Any]


async def execute_once(
    store: EventStore,
    command_id: UUID,
    decide: Callable[[Transaction], Awaitable[Reply]],
    *,
    attempts: int = 5,
) -> Reply:
    """Run `decide` in a transaction keyed by `command_id`; a retried id gets the stored reply."""
    for attempt in range(1, attempts + 1):
        try:
            async with store.transaction() as tx:
                previous: Reply | None = await tx.reply_for(command_id)
                if previous is not None:
                    return previous
                reply = await decide(tx)
                await tx.record_reply(command_id, reply)
                return reply
        except ConcurrencyError:
            if attempt == attempts:
                raise
    raise AssertionError("unreachable")
