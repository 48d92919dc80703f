"""The stall alerts' state machines, sample by sample (the real consumer is in faults/test_slow_consumer,
the real projections in integration/runtime/test_projection_watch)."""

from __future__ import annotations

from typing import Any

from runtime.watch import (
    HELD_BACK,
    RECOVERED,
    SATURATED,
    STALLED,
    ConsumerWatch,
    ProjectionSample,
    ProjectionWatch,
    Sample,
    _ProjectionTrack,
    _Track,
)


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


# Projections: (at, position, waiting, final) samples, position as (transaction id, position).
HOLDER = {
    "database": "other",
    "application": "batch-job",
    "pid": 4242,
    "state": "idle in transaction",
    "seconds": 95.04,
}


def projection_watch(stall_after: float = 30.0) -> tuple[ProjectionWatch, _ProjectionTrack]:
    w = ProjectionWatch(
        js=None, pool=None, root="t", region="36", service="svc", projections=["view"], stall_after=stall_after
    )  # type: ignore[arg-type]
    return w, _ProjectionTrack("view")


def follow(
    w: ProjectionWatch, track: _ProjectionTrack, *samples: tuple[float, int, bool, bool]
) -> list[dict[str, Any] | None]:
    return [
        w.observe(track, ProjectionSample(at, (7, position), waiting, final), HOLDER if waiting and not final else None)
        for at, position, waiting, final in samples
    ]


def test_a_projection_keeping_up_under_load_raises_nothing() -> None:
    w, t = projection_watch()
    assert follow(w, t, *((float(i * 10), i * 50, True, True) for i in range(20))) == [None] * 20


def test_a_projection_held_back_by_an_older_transaction_names_it_once_then_recovers() -> None:
    w, t = projection_watch(stall_after=30)
    alerts = follow(
        w,
        t,
        (0.0, 5, True, False),
        (10.0, 5, True, False),
        (20.0, 5, True, False),
        (30.0, 5, True, False),  # 30 s at the same position, nothing final after it: held back
        (40.0, 5, True, False),
        (50.0, 9, True, True),  # the holder ended: the projector moves on
        (60.0, 12, False, False),  # caught up
        (70.0, 12, False, False),
    )
    assert [a and a["state"] for a in alerts] == [None, None, None, HELD_BACK, None, None, RECOVERED, None]
    held = alerts[3]
    assert held is not None
    assert held["projection"] == "view" and held["seconds"] == 30.0 and held["position"] == "7/5"
    assert held["holder"] == {
        "database": "other",
        "application": "batch-job",
        "pid": 4242,
        "state": "idle in transaction",
        "seconds": 95.0,
    }


def test_final_events_waiting_at_a_position_that_does_not_move_are_stalled_with_no_holder() -> None:
    w, t = projection_watch(stall_after=30)
    alerts = follow(w, t, (0.0, 5, True, True), (15.0, 5, True, True), (30.0, 5, True, True), (40.0, 5, True, True))
    assert [a and a["state"] for a in alerts] == [None, None, STALLED, None]
    assert alerts[2] is not None and "holder" not in alerts[2]


def test_held_back_then_stalled_says_both() -> None:
    w, t = projection_watch(stall_after=30)
    alerts = follow(w, t, (0.0, 5, True, False), (30.0, 5, True, False), (40.0, 5, True, True), (50.0, 5, True, True))
    assert [a and a["state"] for a in alerts] == [None, HELD_BACK, STALLED, None]


def test_a_moment_held_back_or_an_idle_projection_is_not_an_alert() -> None:
    w, t = projection_watch(stall_after=30)
    alerts = follow(
        w,
        t,
        (0.0, 5, False, False),
        (40.0, 5, False, False),
        (50.0, 5, True, False),  # an event waits behind a transaction...
        (60.0, 8, True, False),  # ...which ended: the projector moved, another waits now
        (70.0, 8, False, False),
    )
    assert alerts == [None] * 5
    later = follow(w, t, (80.0, 8, True, False), (100.0, 8, True, False), (110.0, 8, True, False))
    assert [a and a["state"] for a in later] == [None, None, HELD_BACK]  # 30 s after the episode began
