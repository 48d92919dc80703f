"""The stack's floor: what the parts a request cannot do without cost on this machine, in this run.

The issue sets its targets from the raw limits ("the parts add up to a ceiling near 13,000"). Each
raw limit here also measures its CPU per operation, the server's and its client's (the bench's own
process, on uvloop as the services run; a responder in its own process), and a request of each
measured kind is priced as the parts its contracts require:

- one HTTP request: the bare FastAPI POST with a pydantic body (uvicorn's CPU; the load generator's
  is not counted, as in the stack's own figures);
- one NATS request/reply to the service (requester, responder, server);
- one transaction for the request's decision, and one for each letter another region's inbox
  receives (its decision there): an event and its outbox row in one statement, client and server;
- each message the contracts publish (the events and the letters, counted in the streams by the
  stack's own run): a JetStream publish with its acknowledgement, after an fsync, in an atomic
  batch as the outbox relay sends them (one acknowledgement and one fsync a batch; one by one when
  that was not measured); and each letter delivered to the inbox's consumer (a pull and an ack).

The sum is the request's CPU floor with these parts and nothing else: no tracing, audit, read
models, stored replies for retries, signature checks, timers or history reads. `cores / floor` is
the most this machine could carry built from them, the ceiling the issue's targets assume; beside
the stack's own CPU per request, split the same way (Python, PostgreSQL, NATS), it shows how far the
stack is from its parts and where.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tests.bench.bounds import SERVERS, median_run
from tests.bench.common import Figure

# The raw limits that are parts, and which of their processes are which kind (any other process of a
# part is a Python client: the bench's own loop or the responder).
HTTP = "limit.fastapi"
REQUEST = "limit.nats_rpc"
TRANSACTION = "limit.pg_event_outbox_tx"
PUBLISH = "limit.js_publish"
PUBLISH_ATOMIC = "limit.js_publish_atomic"
DELIVERY = "limit.js_consume"
PART_NAMES = {
    HTTP: "HTTP POST",
    REQUEST: "request/reply",
    TRANSACTION: "event+outbox transaction",
    PUBLISH: "publish",
    PUBLISH_ATOMIC: "publish in an atomic batch",
    DELIVERY: "delivery to a consumer",
}
KINDS = ("Python", *SERVERS.values())
# The stack figures priced, and how each names its request.
PRICED = {"stack.gateway": "command", "stack.injury": "settlement", "stack.transfer": "transfer"}


def _by_kind(cpu_us: dict[str, float]) -> dict[str, float]:
    kinds = dict.fromkeys(KINDS, 0.0)
    for process, us in cpu_us.items():
        kinds[SERVERS.get(process, "Python")] += us
    return kinds


def part_costs(figures: list[Figure]) -> dict[str, dict[str, float]]:
    """Each part's CPU per operation by kind, from the raw limits of this run that measured it."""
    by_key = {f.key: f for f in figures}
    costs: dict[str, dict[str, float]] = {}
    for key in PART_NAMES:
        figure = by_key.get(key)
        if figure is None:
            continue
        if key == HTTP:  # a stack-style run: uvicorn's CPU is the part, the bench's is wrk's idle parent
            run = median_run(figure)
            if run is not None and "uvicorn" in run["cpu_us"]:
                costs[key] = {"Python": float(run["cpu_us"]["uvicorn"]), "PostgreSQL": 0.0, "NATS": 0.0}
        elif figure.extra.get("part_us"):
            costs[key] = _by_kind(figure.extra["part_us"])
    return costs


@dataclass(frozen=True)
class Floor:
    figure: str
    label: str
    unit: str
    cores: int
    counts: dict[str, float]  # how many of each part one request needs
    parts: dict[str, dict[str, float]]  # each part's CPU by kind
    stack_us: dict[str, float]  # the stack's own CPU per request by kind

    def floor_by_kind(self) -> dict[str, float]:
        kinds = dict.fromkeys(KINDS, 0.0)
        for key, count in self.counts.items():
            for kind, us in self.parts[key].items():
                kinds[kind] += count * us
        return kinds

    @property
    def floor_us(self) -> float:
        return sum(self.floor_by_kind().values())

    @property
    def ceiling(self) -> float:
        return self.cores * 1e6 / self.floor_us if self.floor_us else 0.0

    @property
    def stack_total_us(self) -> float:
        return sum(self.stack_us.values())

    def line(self) -> str:
        counts = ", ".join(f"{count:.2f} {PART_NAMES[key]}" for key, count in self.counts.items() if count)
        floor, stack = self.floor_by_kind(), self.stack_us
        against = ", ".join(f"{kind} {stack[kind]:,.0f} against {floor[kind]:,.0f}" for kind in KINDS)
        return (
            f"  {self.label}: floor {self.floor_us / 1000:.2f} ms ({counts}) -> at most {self.ceiling:,.0f} "
            f"{self.unit} on {self.cores} cores; the stack {self.stack_total_us / 1000:.2f} ms, "
            f"{self.stack_total_us / self.floor_us:.1f}x its floor: {against} us"
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "figure": self.figure,
            "floor_us": round(self.floor_us, 1),
            "ceiling": round(self.ceiling, 1),
            "stack_us": round(self.stack_total_us, 1),
            "counts": {key: round(count, 3) for key, count in self.counts.items()},
            "floor_by_kind_us": {kind: round(us, 1) for kind, us in self.floor_by_kind().items()},
            "stack_by_kind_us": {kind: round(us, 1) for kind, us in self.stack_us.items()},
        }


def floors(figures: list[Figure], cores: int) -> list[Floor]:
    """A floor for every priced stack figure whose run counted its messages, when every part was measured."""
    parts = part_costs(figures)
    found = []
    for figure in figures:
        request = PRICED.get(figure.key)
        run = median_run(figure) if request else None
        if request is None or run is None or run.get("events_per_op") is None:
            continue
        events, letters = float(run["events_per_op"]), float(run["letters_per_op"])
        counts = {
            HTTP: 1.0,
            REQUEST: 1.0,
            TRANSACTION: 1.0 + letters,
            PUBLISH_ATOMIC if PUBLISH_ATOMIC in parts else PUBLISH: events + letters,
            DELIVERY: letters,
        }
        if any(key not in parts for key, count in counts.items() if count):
            continue
        stack_us = _by_kind({p: us for p, us in run["cpu_us"].items() if p != "bench"})
        found.append(Floor(figure.key, f"{figure.label} (a {request})", figure.unit, cores, counts, parts, stack_us))
    return found


def lines(figures: list[Figure], cores: int) -> list[str]:
    found = floors(figures, cores)
    if not found:
        return []
    parts = part_costs(figures)
    priced = "; ".join(
        f"{PART_NAMES[key]} {sum(cost.values()):,.0f} ("
        + ", ".join(f"{kind} {us:,.0f}" for kind, us in cost.items() if us)
        + ")"
        for key, cost in parts.items()
    )
    return [
        "The stack's floor (each part's CPU measured with its raw limit in this run, in us; a request priced as "
        "the parts its contracts require, tests/bench/floor.py):",
        f"  parts: {priced}",
        *(floor.line() for floor in found),
    ]


def as_json(figures: list[Figure], cores: int) -> dict[str, Any]:
    return {
        "parts_us": part_costs(figures),
        "floors": [floor.as_json() for floor in floors(figures, cores)],
    }
