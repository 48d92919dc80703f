"""`yiwang alerts` prints one line per alert: a consumer's backlog, or a projection's position and,
when it is held back, the transaction holding it."""

from __future__ import annotations

from gateway.cli import _alert_line

HEAD = {"time": "2026-12-06T01:00:00+00:00", "region": "36", "service": "enrolment"}


def test_a_consumer_alert_shows_its_backlog() -> None:
    line = _alert_line(
        {
            **HEAD,
            "stream": "S",
            "consumer": "transfer-36-inbox",
            "state": "saturated",
            "seconds": 31.0,
            "pending": 120,
            "ack_pending": 100,
            "max_ack_pending": 100,
            "ack_floor": 7,
        }
    )
    assert line.split("\t") == [
        HEAD["time"],
        "36",
        "enrolment",
        "transfer-36-inbox",
        "saturated",
        "31.0s",
        "pending 120",
        "in flight 100/100",
    ]


def test_a_held_back_projection_names_what_holds_it() -> None:
    holder = {"database": "reports", "application": "nightly-export", "pid": 812, "state": "idle in transaction"}
    line = _alert_line(
        {
            **HEAD,
            "projection": "employers_view",
            "state": "held-back",
            "seconds": 30.4,
            "position": "7/3",
            "holder": {**holder, "seconds": 340.2},
        }
    )
    assert line.split("\t")[3:] == [
        "projection employers_view",
        "held-back",
        "30.4s",
        "at 7/3",
        "held by database reports, nightly-export (pid 812, idle in transaction, open 340.2s)",
    ]


def test_a_stalled_or_recovered_projection_has_no_holder() -> None:
    line = _alert_line({**HEAD, "projection": "seen", "state": "stalled", "seconds": 30.0, "position": "9/1"})
    assert line.split("\t")[3:] == ["projection seen", "stalled", "30.0s", "at 9/1"]
