"""The relay's and the projector's wake-up flag: set before or during a wait ends it at once, the
timeout ends it otherwise, and an event it follows (the stop) sets it."""

from __future__ import annotations

import asyncio

from runtime.wakeup import Wakeup


async def test_a_wait_after_a_set_returns_at_once_and_says_so() -> None:
    wakeup = Wakeup()
    wakeup.set()

    assert await asyncio.wait_for(wakeup.wait(3600), timeout=5) is True


async def test_a_set_during_a_wait_ends_it() -> None:
    wakeup = Wakeup()
    waiting = asyncio.create_task(wakeup.wait(3600))
    await asyncio.sleep(0)
    assert not waiting.done()

    wakeup.set()

    assert await asyncio.wait_for(waiting, timeout=5) is True


async def test_a_wait_with_no_set_ends_at_its_timeout_unset_and_a_clear_undoes_a_set() -> None:
    wakeup = Wakeup()
    wakeup.set()
    wakeup.clear()
    loop = asyncio.get_running_loop()
    started = loop.time()

    assert await wakeup.wait(0.05) is False
    assert loop.time() - started >= 0.04
    assert not wakeup.is_set()


async def test_the_event_it_follows_ends_a_wait_in_progress() -> None:
    wakeup, stop = Wakeup(), asyncio.Event()
    with wakeup.following(stop):
        waiting = asyncio.create_task(wakeup.wait(3600))
        await asyncio.sleep(0)

        stop.set()

        assert await asyncio.wait_for(waiting, timeout=5) is True


async def test_an_event_set_after_the_block_no_longer_sets_it() -> None:
    wakeup, stop = Wakeup(), asyncio.Event()
    with wakeup.following(stop):
        await asyncio.sleep(0)
    await asyncio.sleep(0)

    stop.set()
    await asyncio.sleep(0)

    assert not wakeup.is_set()


async def test_a_timed_out_wait_leaves_nothing_for_a_later_set_to_trip_over() -> None:
    wakeup = Wakeup()
    assert await wakeup.wait(0.01) is False

    wakeup.set()

    assert await asyncio.wait_for(wakeup.wait(3600), timeout=5) is True
