"""consumer_caught_up answers by its patience even when the NATS client swallows the cancellation
that `wait_for` sends it (as nats-py does in a publish's flush)."""

from __future__ import annotations

import asyncio
import contextlib
from types import SimpleNamespace
from typing import Any

from runtime.messaging import consumer_caught_up


class BehindAndDeafToCancellation:
    """A JetStream whose consumer never catches up and whose requests swallow a cancellation."""

    def __init__(self) -> None:
        self.asked = 0

    async def stream_info(self, stream: str) -> Any:
        return SimpleNamespace(state=SimpleNamespace(last_seq=10))

    async def consumer_info(self, stream: str, durable: str) -> Any:
        self.asked += 1
        # No answer until the patience runs out, so the cancellation lands here; swallowed, as
        # nats-py's `_flush_pending` does.
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.Event().wait()
        return SimpleNamespace(ack_floor=SimpleNamespace(stream_seq=3), num_pending=7, num_ack_pending=0)


async def test_a_consumer_that_never_catches_up_is_reported_behind_even_if_cancellation_is_swallowed() -> None:
    js = BehindAndDeafToCancellation()

    # Without a deadline of its own the question never ends: `wait_for` waits for the loop it
    # cancelled, and no outer timeout can end that wait either (pytest-timeout fails the test).
    answer = await consumer_caught_up(js, "S", "d", patience=0.2)  # type: ignore[arg-type]

    assert answer is False
    assert js.asked == 1
