"""The rebuild's pause of the cycle collector: resumed by the last of overlapping holders, whatever happens."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from runtime.projector import _CyclicGcPause


@pytest.fixture(autouse=True)
def collector_restored() -> Iterator[None]:
    was = gc.isenabled()
    yield
    if was:
        gc.enable()
    else:
        gc.disable()


def test_the_collector_waits_while_held_and_runs_again_after() -> None:
    paused = _CyclicGcPause()
    gc.enable()
    with paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_overlapping_holders_resume_it_when_the_last_one_ends() -> None:
    paused = _CyclicGcPause()
    gc.enable()
    first, second = paused(), paused()
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)
    assert not gc.isenabled()  # the second still holds it
    second.__exit__(None, None, None)
    assert gc.isenabled()


def test_it_resumes_after_a_failure() -> None:
    paused = _CyclicGcPause()
    gc.enable()
    with pytest.raises(RuntimeError), paused():
        raise RuntimeError("a projection bug")
    assert gc.isenabled()


def test_a_collector_switched_off_before_stays_off() -> None:
    paused = _CyclicGcPause()
    gc.disable()
    with paused():
        pass
    assert not gc.isenabled()
