"""Wait for a condition with a deadline, never for a fixed time."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from runtime.eventstore import EventStore, Position

if TYPE_CHECKING:
    from runtime.projector import Projector

T = TypeVar("T")


async def eventually(check: Callable[[], Awaitable[T]], *, within: float = 15.0, every: float = 0.05) -> T:
    """Poll `check` until it returns something truthy; fail with the last value after `within` s."""
    deadline = time.monotonic() + within
    last: T | None = None
    while time.monotonic() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(every)
    raise AssertionError(f"condition not met within {within}s (last value: {last!r})")


async def caught_up(projector: Projector, expected: int, *only: Any) -> int:
    """What catch-ups apply until `expected` events are: the events appended just before are final
    once no older transaction runs anywhere on the server (one in another test's database, such as
    an autovacuum's ANALYZE, can hold them back for a moment)."""
    applied = 0

    async def done() -> bool:
        nonlocal applied
        applied += await projector.catch_up(list(only) if only else None)
        return applied >= expected

    await eventually(done)
    return applied


async def final(store: EventStore, expected: int) -> None:
    """Until the log reads `expected` events: those appended just before are final, as `caught_up`
    says, once no older transaction runs anywhere on the server."""

    async def read() -> bool:
        return len(await store.read_all(Position(), expected + 1)) >= expected

    await eventually(read)
