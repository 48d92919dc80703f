"""Running a command exactly once: the first reply is stored with the effects and returned on retries.

The reply is stored in the decision's own transaction, and nothing asks for it beforehand: one
round trip fewer on every command. A retried id decides again, finds its id taken when it stores
the reply, rolls back everything it did, and answers with the stored reply; so does a retry whose
second decision fails (the other region unreachable, say). A concurrency conflict (someone
appended to the same stream meanwhile) reruns the decision on fresh state a few times before it
is reported.
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
                reply = await decide(tx)
                await tx.record_reply(command_id, reply)  # ConcurrencyError if the id already has one
                return reply
        except Exception as error:
            stored = await _stored_reply(store, command_id, error)
            if stored is not None:
                return stored
            if not isinstance(error, ConcurrencyError) or attempt == attempts:
                raise
    raise AssertionError("unreachable")


async def _stored_reply(store: EventStore, command_id: UUID, error: Exception) -> Reply | None:
    """The reply a first attempt stored, if any; when even that cannot be read, the original error."""
    try:
        async with store.transaction() as tx:
            stored: Reply | None = await tx.reply_for(command_id)
    except Exception:  # noqa: BLE001 - the lookup is a courtesy; what failed first is what to report
        raise error from None
    return stored
