"""The collector settings a server process takes after start-up."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from runtime.heap import OLDER_THRESHOLDS, YOUNG_THRESHOLD, settle_for_serving


@pytest.fixture
def restored_collector() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


@pytest.mark.usefixtures("restored_collector")
def test_start_up_objects_are_frozen_and_young_ones_collected_less_often() -> None:
    assert gc.get_freeze_count() == 0

    settle_for_serving()

    assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == (YOUNG_THRESHOLD, *OLDER_THRESHOLDS)


@pytest.mark.usefixtures("restored_collector")
def test_garbage_cycles_left_by_start_up_are_collected_not_frozen() -> None:
    class Node:
        other: object

    first, second = Node(), Node()
    first.other, second.other = second, first
    alive = weakref.ref(first)
    del first, second  # a cycle only the collector frees: frozen, it would live on

    settle_for_serving()

    assert alive() is None
