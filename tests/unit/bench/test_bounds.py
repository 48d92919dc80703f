"""What bounds each rate the bench measures: one process's core, the machine's cores, or waiting."""

from __future__ import annotations

from typing import Any

import pytest

from tests.bench.bounds import bounds, latency_bounds, latency_lines, lines
from tests.bench.common import Figure


def _figure(*runs: dict[str, Any]) -> Figure:
    return Figure(
        "stack.gateway", "stack: gateway", runs[len(runs) // 2]["value"], "cmd/s", "stack", extra={"runs": list(runs)}
    )


def _run(rate: float, cpu_us: dict[str, float], system_us: dict[str, float]) -> dict[str, Any]:
    return {"value": rate, "cpu_us": cpu_us, "cpu_system_us": system_us}


def test_a_python_process_using_nearly_a_whole_core_is_the_bound() -> None:
    # uvicorn alone: 3,500 requests/s x 280 us = 98% of one core, 49% of two.
    (bound,) = bounds([_figure(_run(3_500, {"uvicorn": 280, "bench": 5}, {"uvicorn": 40, "bench": 1}))], cores=2)

    assert bound.kind == "one core"
    assert bound.ceiling == pytest.approx(2e6 / 280)  # this process's own CPU is not the stack's
    assert "bound by uvicorn's one core (98% of it, Python)" in bound.line()


def test_the_cores_busy_split_by_what_the_cpu_is_spent_on() -> None:
    cpu_us = {"gateway": 1_000, "enrolment": 1_300, "postgres": 450, "nats": 400}
    system_us = {"gateway": 100, "enrolment": 200, "postgres": 150, "nats": 300}
    (bound,) = bounds([_figure(_run(540, cpu_us, system_us))], cores=2)

    assert bound.kind == "cores"  # 540 x 3.15 ms = 1.70 of 2 cores; the busiest process 0.70 of one
    assert bound.total_us == 3_150
    assert bound.ceiling == pytest.approx(2e6 / 3_150)
    assert bound.cores_busy == pytest.approx(540 * 3_150 / 2e6)
    assert bound.parts_us() == {"Python code": 2_000, "Python system calls": 300, "PostgreSQL": 450, "NATS": 400}
    assert sum(bound.parts_us().values()) == bound.total_us
    assert bound.line().endswith(
        "bound by the cores: Python code 63%, Python system calls 10%, PostgreSQL 14%, NATS 13% "
        "(PostgreSQL 33% in the kernel, NATS 75% in the kernel)"
    )


def test_a_rate_well_below_its_ceiling_waited() -> None:
    (bound,) = bounds([_figure(_run(280, {"gateway": 1_300, "enrolment": 2_300}, {"gateway": 1, "enrolment": 1}))], 2)

    assert bound.kind == "waiting"  # 280 x 3.6 ms = 0.50 of 2 cores
    assert "bound by waiting" in bound.line()


def test_the_median_run_is_judged_and_figures_without_a_system_split_are_left_out() -> None:
    slow = _run(100, {"gateway": 9_000}, {"gateway": 1})
    median = _run(500, {"gateway": 1_000}, {"gateway": 1})
    fast = _run(900, {"gateway": 100}, {"gateway": 1})
    older = Figure("stack.year", "year", 260, "req/s", "stack", extra={"value": 260, "cpu_us": {"gateway": 1_300}})

    found = bounds([_figure(slow, median, fast), older], cores=2)

    assert [(b.figure, b.rate, b.total_us) for b in found] == [("stack.gateway", 500, 1_000)]
    assert len(lines([_figure(slow, median, fast), older], cores=2)) == 2  # a heading and one figure


def _lag(p99: float, pressure: dict[str, float]) -> Figure:
    run = {
        "value": p99,
        "rate": 1_000.0,
        "rate_unit": "events/s",
        "cpu_us": {"producer": 500, "consumer": 250, "postgres": 250, "nats": 300, "bench": 100},
        "cpu_system_us": {"producer": 50, "consumer": 30, "postgres": 80, "nats": 200, "bench": 10},
        "pressure": pressure,
        "fsync_p50_ms": 0.6,
        "fsync_p99_ms": 5.0,
        "stored_p99_ms": 60.0,
    }
    return Figure("stack.outbox_lag_applied", "stack: lag", p99, "ms", "stack", extra={"runs": [run]})


def test_a_latency_is_bound_by_what_its_work_waited_for_longer() -> None:
    cores = _lag(110.0, {"cpu": 0.60, "io": 0.15, "io_full": 0.05})
    disk = _lag(300.0, {"cpu": 0.10, "io": 0.40, "io_full": 0.30})

    (by_cores, by_disk) = latency_bounds([cores, disk], cores=2)

    assert bounds([cores, disk], cores=2) == []  # a latency is not a rate
    assert by_cores.kind == "the cores"
    assert by_cores.cores_busy == pytest.approx(1_000 * 1_400 / 2e6)  # every process, the measuring one too
    assert "p99 110 ms at 1,000 events/s, 1.40 ms CPU each" in by_cores.line()
    assert "waited for a core 60% of the time, for the disk 15% (all at once 5%)" in by_cores.line()
    assert "fsync on the servers' disk p50 0.6 ms, p99 5.0 ms: bound by the cores" in by_cores.line()
    assert by_disk.kind == "the disk"
    assert latency_lines([disk], cores=2)[1].endswith("bound by the disk")


def test_a_consumer_that_fell_behind_its_stream_is_named_beside_the_bound() -> None:
    cpu_us = {"gateway": 930, "transfer-36": 3_000, "postgres": 2_210, "nats": 1_390}
    system_us = {"gateway": 90, "transfer-36": 300, "postgres": 440, "nats": 900}
    behind = _run(185, cpu_us, system_us) | {"backlog": {"transfer-36-inbox": 2_494, "transfer-44-inbox": 17}}
    kept_up = _run(253, cpu_us, system_us) | {"backlog": {"transfer-36-inbox": 40, "transfer-44-inbox": 0}}
    (slow,) = bounds([_figure(behind)], cores=2)
    (quick,) = bounds([_figure(kept_up)], cores=2)

    assert slow.behind == ("transfer-36-inbox", 2_494)
    assert slow.line().endswith(
        "; and transfer-36-inbox fell behind its stream by up to 2,494 messages: the run ends on its drain"
    )
    assert slow.as_json()["backlog"] == {"transfer-36-inbox": 2_494, "transfer-44-inbox": 17}
    assert quick.behind is None and "fell behind" not in quick.line()


def test_a_run_that_ended_on_emptying_the_outboxes_says_so_beside_the_bound() -> None:
    cpu_us = {"gateway": 660, "enrolment": 798, "postgres": 432, "nats": 351}
    system_us = {"gateway": 60, "enrolment": 80, "postgres": 120, "nats": 250}
    drained = _run(687, cpu_us, system_us) | {"seconds": 6.0, "outbox_left": 7_361, "drain_seconds": 1.83}
    kept_up = _run(559, cpu_us, system_us) | {"seconds": 6.0, "outbox_left": 3, "drain_seconds": 0.05}
    (slow,) = bounds([_figure(drained)], cores=2)
    (quick,) = bounds([_figure(kept_up)], cores=2)

    assert slow.drained == (7_361, 1.83, pytest.approx(1.83 / 7.83))
    assert slow.line().endswith(
        "; and the outboxes held 7,361 messages when the load stopped, 1.83 s (23% of the run) to empty: "
        "the relays and JetStream's fsync'd acknowledgements fell behind the load"
    )
    assert slow.as_json()["drain"] == {"messages": 7_361, "seconds": 1.83}
    assert quick.drained is None and "outboxes held" not in quick.line()
