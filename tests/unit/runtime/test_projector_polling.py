"""The projector's polls for other processes' commits: every `interval` while they find events,
stretching to `idle_interval` while they find none (no real time passes: the waits are recorded)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from runtime.projector import Projector


async def recorded_waits(
    monkeypatch: pytest.MonkeyPatch, catch_up: Callable[[Projector], Awaitable[int]], more: Callable[[], bool]
) -> list[float]:
    """The projector run with `catch_up` for its reads, until `more` says the script is over: the
    timeout of each wait for a wake-up, in order."""
    waits: list[float] = []
    stop = asyncio.Event()
    projector = Projector(None, [])  # type: ignore[arg-type]  # nothing here touches the store

    async def reads(projections: Any = None) -> int:
        return await catch_up(projector)

    async def no_wake_before(seconds: float) -> bool:
        waits.append(seconds)
        if not more():
            stop.set()
        await asyncio.sleep(0)
        return False

    monkeypatch.setattr(projector, "catch_up", reads)
    monkeypatch.setattr(projector._wake, "wait", no_wake_before)
    await projector.run(stop, interval=0.1, idle_interval=1.0)
    return waits


async def test_polls_that_find_nothing_stretch_to_the_idle_interval_and_one_that_finds_events_resets_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    found = [0, 0, 0, 0, 0, 3, 0, 0]  # what each catch-up reads

    async def catch_up(projector: Projector) -> int:
        return found.pop(0)

    waits = await recorded_waits(monkeypatch, catch_up, lambda: bool(found))

    assert waits == [0.2, 0.4, 0.8, 1.0, 1.0, 0.1, 0.2, 0.4]


async def test_a_poll_that_finds_committed_events_not_final_yet_keeps_the_pace(monkeypatch: pytest.MonkeyPatch) -> None:
    coming = [True, True, False, False]  # an older transaction of the server holds them back, then ends

    async def catch_up(projector: Projector) -> int:
        projector.coming = coming.pop(0)
        return 0

    waits = await recorded_waits(monkeypatch, catch_up, lambda: bool(coming))

    assert waits == [0.1, 0.1, 0.2, 0.4]
