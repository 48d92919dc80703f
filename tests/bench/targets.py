"""The performance issue's targets, as written and scaled to the machine of this run.

The issue gives its targets with the raw limits of the machine they were measured on (asyncpg about
26,000 transactions/s, a bare FastAPI POST about 13,000/s, ...) and asks for ratios measured in the
same run. This machine's raw limits are measured at the start of each run, and again just before
each section whose figure a target scales (`BESIDE`): this machine's speed moves by a fifth and more
within minutes, and a factor from limits measured minutes earlier judged a section in another phase.
The largest of the limits' ratios to the issue's is the *machine factor*: the least this machine is
behind on any of them, so the strictest scaling. A target is scaled by the factor measured beside
its own section (the run's first, when none was). A throughput target is multiplied by it, a
duration divided by it. A latency asked at a fraction of the stack's own rate on this machine (half
load) is judged as written; one asked at a fixed rate (the outbox lag at 1,000 events/s, transfers at
100/s) is also measured at that rate times the factor, the same share of this machine as of the
issue's, and that figure gives its scaled verdict against the same goal. Targets given as ratios
(append to its limit and the peer, growth) are their sections' own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tests.bench.common import Figure

REFERENCE = {
    "limit.pg_event_tx": 26_000.0,
    "limit.pg_event_outbox_tx": 24_000.0,
    "limit.js_publish": 22_000.0,
    "limit.js_consume": 60_000.0,
    "limit.nats_rpc": 60_000.0,
    "limit.fastapi": 13_000.0,
}
"""The issue's raw limits, by the key of the same measurement here."""

BESIDE = "@"
"""A raw limit measured again just before a section is keyed `<limit key>@<section>`."""


def beside(key: str, section: str) -> str:
    return f"{key}{BESIDE}{section}"


LAG_P99_MS = 100.0
YEAR_MINUTES = 20.0


@dataclass(frozen=True)
class Target:
    figure: str  # the key of the figure it judges
    label: str
    goal: float
    unit: str
    more_is_better: bool
    scaled: bool  # throughputs and durations scale with the machine; latencies do not
    of_p99: bool = False  # the figure's p99, not its value
    scaled_by: str | None = None  # a latency at a fixed rate: the figure measured at the rate x the factor
    section: str = ""  # the bench section that measures the figure (its factor is measured beside it)


TARGETS = (
    Target(
        "stack.gateway",
        "gateway command round trip",
        3_000,
        "cmd/s",
        more_is_better=True,
        scaled=True,
        section="stack gateway",
    ),
    Target(
        "stack.gateway_half", "gateway at half load, p99", 50, "ms", more_is_better=False, scaled=False, of_p99=True
    ),
    Target(
        "stack.transfer",
        "straight-through transfers",
        300,
        "transfers/s",
        more_is_better=True,
        scaled=True,
        section="stack transfer",
    ),
    Target(
        "stack.transfer_paced",
        "transfers at 100/s, p99",
        1_000,
        "ms",
        more_is_better=False,
        scaled=False,
        of_p99=True,
        scaled_by="stack.transfer_paced_scaled",
        section="stack transfer",
    ),
    Target(
        "stack.injury",
        "signed settlements",
        1_500,
        "settlements/s",
        more_is_better=True,
        scaled=True,
        section="stack injury",
    ),
    Target(
        "stack.injury_half", "settlements at half load, p99", 50, "ms", more_is_better=False, scaled=False, of_p99=True
    ),
    Target(
        "stack.rebuild",
        "projection rebuild",
        50_000,
        "events/s",
        more_is_better=True,
        scaled=True,
        section="stack feed",
    ),
    Target(
        "stack.outbox_lag_applied",
        "outbox lag applied at 1,000/s, p99",
        LAG_P99_MS,
        "ms",
        more_is_better=False,
        scaled=False,
        scaled_by="stack.outbox_lag_applied_scaled",
        section="stack outbox lag",
    ),
    Target(
        "stack.year_minutes",
        "a city-year",
        YEAR_MINUTES,
        "min",
        more_is_better=False,
        scaled=True,
        section="stack year",
    ),
)

SCALED_SECTIONS = frozenset(t.section for t in TARGETS if t.section)
"""The sections whose figures a target scales: the raw limits are measured again just before each."""


@dataclass(frozen=True)
class MachineFactor:
    value: float
    limit: str  # the key of the raw limit that gave it (without the section)
    measured: float
    reference: float
    section: str = ""  # the section it was measured beside; "" for the run's first raw limits


def machine_factor(figures: list[Figure], section: str = "") -> MachineFactor | None:
    """The largest ratio of the raw limits to the issue's: those measured just before `section`
    when there are, else the run's first; None without any measured."""
    for where in dict.fromkeys((section, "")):
        keys = {beside(key, where) if where else key: key for key in REFERENCE}
        measured = [(f.value / REFERENCE[keys[f.key]], f) for f in figures if f.key in keys and f.value > 0]
        if measured:
            ratio, figure = max(measured, key=lambda pair: pair[0])
            limit = keys[figure.key]
            return MachineFactor(ratio, limit, figure.value, REFERENCE[limit], where)
    return None


@dataclass(frozen=True)
class Verdict:
    target: Target
    value: float
    met: bool  # against the goal as the issue writes it
    scaled_goal: float | None  # None when the target does not scale or no raw limit was measured
    met_scaled: bool | None
    share_of_scaled: float | None  # value against the scaled goal, 1.0 = on it (inverted for durations)
    scaled_value: float | None = None  # a latency at a fixed rate: its value at the rate x the factor
    factor: MachineFactor | None = None  # the factor that scaled it


def _meets(target: Target, value: float, goal: float) -> bool:
    return value >= goal if target.more_is_better else value < goal


def verdicts(figures: list[Figure]) -> list[Verdict]:
    """Each target whose figure this run measured, judged as written and scaled by the machine factor
    measured beside its section."""
    by_key = {f.key: f for f in figures}
    judged = []
    for target in TARGETS:
        figure = by_key.get(target.figure)
        value = None if figure is None else figure.p99_ms if target.of_p99 else figure.value
        if value is None:  # not measured in this run (or no p99 for it)
            continue
        factor = machine_factor(figures, target.section) if target.scaled or target.scaled_by else None
        scaled_goal = met_scaled = share = scaled_value = None
        if target.scaled and factor is not None:
            scaled_goal = target.goal * factor.value if target.more_is_better else target.goal / factor.value
            met_scaled = _meets(target, value, scaled_goal)
            share = value / scaled_goal if target.more_is_better else scaled_goal / value
        at_scaled_rate = by_key.get(target.scaled_by or "")
        if at_scaled_rate is not None:
            scaled_value = at_scaled_rate.p99_ms if target.of_p99 else at_scaled_rate.value
        if scaled_value:
            scaled_goal, met_scaled = target.goal, _meets(target, scaled_value, target.goal)
            share = target.goal / scaled_value
        met = _meets(target, value, target.goal)
        judged.append(Verdict(target, value, met, scaled_goal, met_scaled, share, scaled_value, factor))
    return judged


def _amount(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 or value == int(value) else f"{value:.1f}"


def lines(figures: list[Figure], ceilings: Mapping[str, float] | None = None) -> list[str]:
    """The targets block of the summary; `ceilings`: by figure, the most its parts allow on this
    machine (tests/bench/floor.py), printed beside the verdicts."""
    first = machine_factor(figures)
    judged = verdicts(figures)
    if not judged:
        return []
    if first is None:
        head = "Targets (no raw limit measured in this run: as written only):"
    else:
        head = (
            "Targets, as the issue writes them and scaled to this machine by a factor: the largest ratio of the "
            "raw limits to the issue's, measured again just before the target's section (xF below; at the run's "
            f"start {first.value:.3f}, {first.limit} {first.measured:,.0f} / {first.reference:,.0f}); throughputs "
            "x factor, durations / factor; a latency at a fixed rate measured again at the rate x factor, against "
            "the same goal; other latencies as written:"
        )
    out = [head]
    for v in judged:
        sign = ">=" if v.target.more_is_better else "<"
        written = f"{sign} {_amount(v.target.goal)} {v.target.unit}: {'met' if v.met else 'not met'}"
        verdict = "met" if v.met_scaled else "not met"
        if v.scaled_goal is None or v.factor is None:
            here = "-"
        elif v.scaled_value is not None:
            here = (
                f"x{v.factor.value:.3f}: {sign} {_amount(v.scaled_goal)} at the rate x factor: "
                f"{_amount(v.scaled_value)}, {verdict}"
            )
        else:
            here = f"x{v.factor.value:.3f}: {sign} {_amount(v.scaled_goal)}: {verdict} ({v.share_of_scaled:.2f}x)"
        line = f"  {v.target.label:<36} {_amount(v.value):>9} {v.target.unit:<14} {written:<32} scaled {here}"
        if ceilings and v.target.figure in ceilings:
            line += f"; its parts allow {_amount(ceilings[v.target.figure])} here"
        out.append(line)
    return out


def as_json(figures: list[Figure]) -> dict[str, Any]:
    first = machine_factor(figures)
    return {
        "machine_factor": None if first is None else first.__dict__,
        "machine_factors_beside": {
            section: factor.__dict__
            for section in sorted(SCALED_SECTIONS)
            if (factor := machine_factor(figures, section)) is not None and factor.section
        },
        "targets": [
            {
                "figure": v.target.figure,
                "label": v.target.label,
                "value": v.value,
                "unit": v.target.unit,
                "goal": v.target.goal,
                "met": v.met,
                "scaled_goal": v.scaled_goal,
                "met_scaled": v.met_scaled,
                "scaled_value": v.scaled_value,
                "factor": None if v.factor is None else v.factor.value,
                "factor_section": None if v.factor is None else v.factor.section,
            }
            for v in verdicts(figures)
        ],
    }
