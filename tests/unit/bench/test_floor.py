"""The stack's floor: a request priced as the parts its contracts require, from this run's raw limits."""

from __future__ import annotations

from typing import Any

import pytest

from tests.bench.common import Figure
from tests.bench.floor import as_json, floors, lines, part_costs


def _part(key: str, part_us: dict[str, float]) -> Figure:
    return Figure(key, key, 1.0, "/s", "limit", extra={"value": 1.0, "part_us": part_us})


def _parts() -> list[Figure]:
    http = {"value": 8_000.0, "cpu_us": {"uvicorn": 125.0, "bench": 1.0}, "cpu_system_us": {"uvicorn": 20.0}}
    return [
        Figure("limit.fastapi", "bare", 8_000.0, "req/s", "limit", extra=http),
        _part("limit.nats_rpc", {"nats": 6.0, "responder": 8.0, "bench": 15.0}),
        _part("limit.pg_event_outbox_tx", {"postgres": 98.0, "bench": 33.0}),
        _part("limit.js_publish", {"nats": 86.0, "bench": 24.0}),
        _part("limit.js_consume", {"nats": 6.0, "bench": 17.0}),
    ]


def _stack(key: str, events: float, letters: float, cpu_us: dict[str, float]) -> Figure:
    run: dict[str, Any] = {
        "value": 900.0,
        "cpu_us": {**cpu_us, "bench": 50.0},
        "cpu_system_us": dict.fromkeys(cpu_us, 1.0),
        "events_per_op": events,
        "letters_per_op": letters,
    }
    return Figure(key, f"stack {key}", 900.0, "cmd/s", "stack", extra={"runs": [run]})


def test_each_part_is_split_into_python_postgresql_and_nats() -> None:
    costs = part_costs(_parts())

    assert costs["limit.fastapi"] == {"Python": 125.0, "PostgreSQL": 0.0, "NATS": 0.0}  # wrk's idle parent left out
    assert costs["limit.nats_rpc"] == {"Python": 23.0, "PostgreSQL": 0.0, "NATS": 6.0}  # requester and responder
    assert costs["limit.pg_event_outbox_tx"] == {"Python": 33.0, "PostgreSQL": 98.0, "NATS": 0.0}


def test_a_command_is_one_request_one_transaction_and_its_published_events() -> None:
    stack = _stack("stack.gateway", 3.0, 0.0, {"gateway": 650.0, "enrolment": 620.0, "postgres": 320.0, "nats": 220.0})

    (floor,) = floors([*_parts(), stack], cores=2)

    # 125 + 29 + 131 + 3 x 110 = 615 us, at most 2 cores / 615 us
    assert floor.floor_us == pytest.approx(615.0)
    assert floor.ceiling == pytest.approx(2e6 / 615.0)
    assert floor.floor_by_kind() == {"Python": 125 + 23 + 33 + 3 * 24, "PostgreSQL": 98, "NATS": 6 + 3 * 86}
    assert floor.stack_us == {"Python": 1_270.0, "PostgreSQL": 320.0, "NATS": 220.0}  # the bench's own left out
    assert (
        "2.9x its floor: Python 1,270 against 253, PostgreSQL 320 against 98, NATS 220 against 264 us" in floor.line()
    )


def test_each_letter_is_also_a_delivery_and_the_decision_it_brings_in_the_other_region() -> None:
    cpu_us = {"gateway": 700.0, "transfer-36": 2_700.0, "transfer-44": 1_200.0, "postgres": 1_700.0, "nats": 1_200.0}
    stack = _stack("stack.transfer", 5.0, 3.0, cpu_us)

    (floor,) = floors([*_parts(), stack], cores=2)

    assert floor.counts == {
        "limit.fastapi": 1.0,
        "limit.nats_rpc": 1.0,
        "limit.pg_event_outbox_tx": 4.0,
        "limit.js_publish": 8.0,
        "limit.js_consume": 3.0,
    }
    assert floor.floor_us == pytest.approx(125 + 29 + 4 * 131 + 8 * 110 + 3 * 23)


def test_publishes_are_priced_in_atomic_batches_where_those_were_measured() -> None:
    """The outbox relay sends a stream's messages as atomic batches: one acknowledgement and one fsync a batch."""
    stack = _stack("stack.gateway", 3.0, 0.0, {"gateway": 650.0, "enrolment": 620.0, "postgres": 320.0, "nats": 220.0})
    atomic = _part("limit.js_publish_atomic", {"nats": 9.0, "bench": 6.0})

    (floor,) = floors([*_parts(), atomic, stack], cores=2)

    assert floor.counts["limit.js_publish_atomic"] == 3.0 and "limit.js_publish" not in floor.counts
    assert floor.floor_us == pytest.approx(125 + 29 + 131 + 3 * 15)
    assert "3.00 publish in an atomic batch" in floor.line()


def test_no_floor_without_every_part_it_needs_or_without_the_messages_counted() -> None:
    stack = _stack("stack.transfer", 5.0, 3.0, {"transfer-36": 2_700.0})
    without_delivery = [f for f in _parts() if f.key != "limit.js_consume"]
    uncounted = _stack("stack.gateway", 3.0, 0.0, {"gateway": 650.0})
    del uncounted.extra["runs"][0]["events_per_op"]

    assert floors([*without_delivery, stack], cores=2) == []
    assert floors([*_parts(), uncounted], cores=2) == []
    assert lines([*_parts(), uncounted], cores=2) == []
    assert as_json([*_parts(), uncounted], cores=2)["floors"] == []


def test_the_summary_names_each_part_and_each_priced_request() -> None:
    stack = _stack("stack.injury", 1.0, 0.0, {"gateway": 830.0, "injury": 1_030.0, "postgres": 545.0, "nats": 408.0})

    heading, parts, settlement = lines([*_parts(), stack], cores=2)

    assert heading.startswith("The stack's floor")
    assert "event+outbox transaction 131 (Python 33, PostgreSQL 98)" in parts
    assert settlement.startswith("  stack stack.injury (a settlement): floor 0.40 ms")
