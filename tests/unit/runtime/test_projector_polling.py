"""The projector's polls for other processes' commits: every `interval` while they find events,
stretching to `idle_interval` while they find none (no real time passes: the waits are recorded)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from runtime import projector as projector_module
from runtime.projector import Projector


async def test_polls_that_find_nothing_stretch_to_the_idle_interval_and_one_that_finds_events_resets_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    found = [0, 0, 0, 0, 0, 3, 0, 0]  # what each catch-up reads
    waits: list[float] = []
    stop = asyncio.Event()
    projector = Projector(None, [])  # type: ignore[arg-type]  # nothing here touches the store

    async def catch_up(projections: Any = None) -> int:
        return found.pop(0)

    async def no_wake_before(tasks: set[asyncio.Task[Any]], *, timeout: float, return_when: str) -> None:
        waits.append(timeout)
        if not found:
            stop.set()
        await asyncio.sleep(0)

    monkeypatch.setattr(projector, "catch_up", catch_up)
    monkeypatch.setattr(projector_module.asyncio, "wait", no_wake_before)
    await projector.run(stop, interval=0.1, idle_interval=1.0)

    assert waits == [0.2, 0.4, 0.8, 1.0, 1.0, 0.1, 0.2, 0.4]


async def test_a_poll_that_finds_committed_events_not_final_yet_keeps_the_pace(monkeypatch: pytest.MonkeyPatch) -> None:
    coming = [True, True, False, False]  # an older transaction of the server holds them back, then ends
    waits: list[float] = []
    stop = asyncio.Event()
    projector = Projector(None, [])  # type: ignore[arg-type]  # nothing here touches the store

    async def catch_up(projections: Any = None) -> int:
        projector.coming = coming.pop(0)
        return 0

    async def no_wake_before(tasks: set[asyncio.Task[Any]], *, timeout: float, return_when: str) -> None:
        waits.append(timeout)
        if not coming:
            stop.set()
        await asyncio.sleep(0)

    monkeypatch.setattr(projector, "catch_up", catch_up)
    monkeypatch.setattr(projector_module.asyncio, "wait", no_wake_before)
    await projector.run(stop, interval=0.1, idle_interval=1.0)

    assert waits == [0.1, 0.1, 0.2, 0.4]
