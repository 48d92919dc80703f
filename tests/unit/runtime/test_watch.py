"""The stall alert's state machine, sample by sample (the real consumer is in faults/test_slow_consumer)."""

from __future__ import annotations

from typing import Any

from runtime.watch import RECOVERED, SATURATED, STALLED, ConsumerWatch, Sample, _Track


def watch(stall_after: float = 30.0) -> tuple[ConsumerWatch, _Track]:
    w = ConsumerWatch(
        js=None, root="t", region="36", service="svc", consumers=[("S", "d", 100)], stall_after=stall_after
    )  # type: ignore[arg-type]
    return w, _Track("S", "d", 100)


def feed(w: ConsumerWatch, track: _Track, *samples: tuple[float, int, int, int]) -> list[dict[str, Any] | None]:
    return [w.observe(track, Sample(*s)) for s in samples]


def test_a_consumer_keeping_up_raises_nothing() -> None:
    w, t = watch()
    alerts = feed(w, t, *((float(i * 10), 5, 40, i * 1000) for i in range(20)))
    assert alerts == [None] * 20


def test_saturated_with_a_backlog_for_the_whole_window_raises_once() -> None:
    w, t = watch(stall_after=30)
    alerts = feed(
        w,
        t,
        (0.0, 500, 100, 10),
        (10.0, 900, 100, 40),
        (20.0, 1200, 100, 70),
        (30.0, 1500, 100, 100),  # 30 s at the limit, the floor still moving: saturated
        (40.0, 1800, 100, 130),
    )
    raised = [a for a in alerts if a]
    assert [a["state"] for a in raised] == [SATURATED]
    assert raised[0]["seconds"] == 30.0 and raised[0]["pending"] == 1500 and raised[0]["ack_pending"] == 100
    assert alerts.index(raised[0]) == 3


def test_a_short_burst_at_the_limit_is_not_an_alert() -> None:
    w, t = watch(stall_after=30)
    alerts = feed(w, t, (0.0, 500, 100, 10), (10.0, 200, 100, 400), (20.0, 0, 30, 900), (30.0, 500, 100, 950))
    assert alerts == [None] * 4  # below the limit at 20 s: the episode starts again at 30 s


def test_a_floor_that_does_not_move_is_stalled_even_below_the_limit() -> None:
    w, t = watch(stall_after=30)
    alerts = feed(w, t, (0.0, 10, 5, 7), (15.0, 20, 5, 7), (30.0, 30, 5, 7))
    assert [a and a["state"] for a in alerts] == [None, None, STALLED]


def test_saturated_then_stalled_says_both_then_recovered_when_the_backlog_is_gone() -> None:
    w, t = watch(stall_after=30)
    alerts = feed(
        w,
        t,
        (0.0, 500, 100, 10),
        (30.0, 900, 100, 20),  # saturated
        (45.0, 900, 100, 20),
        (60.0, 900, 100, 20),  # floor still for 30 s: stalled
        (70.0, 900, 100, 20),  # nothing new
        (80.0, 300, 100, 620),
        (90.0, 0, 0, 920),  # drained: recovered
        (100.0, 0, 0, 920),
    )
    assert [a["state"] for a in alerts if a] == [SATURATED, STALLED, RECOVERED]
    assert alerts[6] is not None and alerts[6]["state"] == RECOVERED


def test_no_alert_and_no_recovery_for_an_idle_consumer() -> None:
    w, t = watch(stall_after=1)
    assert feed(w, t, (0.0, 0, 0, 0), (5.0, 0, 0, 0), (10.0, 0, 0, 0)) == [None, None, None]


def test_an_idle_consumer_that_gets_work_is_not_stalled_by_the_time_it_sat_idle() -> None:
    w, t = watch(stall_after=30)
    alerts = feed(w, t, (0.0, 0, 0, 0), (40.0, 0, 0, 0), (50.0, 6, 2, 0), (60.0, 0, 0, 8))
    assert alerts == [None] * 4  # work arrived at 50 s and was done by 60 s
    alerts = feed(w, t, (70.0, 0, 1, 8), (90.0, 0, 1, 8), (100.0, 0, 1, 8))
    assert [a and a["state"] for a in alerts] == [None, None, STALLED]  # 30 s after the last idle sample
