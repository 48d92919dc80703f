"""The summary: a table on stdout and a JSON file under bench-results/."""

from __future__ import annotations

import os
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from tests.bench import bounds, floor, pglog, targets
from tests.bench.common import REPO, Figure

SHORT = {
    "limit.pg_event_tx": "pg 1-event tx",
    "limit.pg_event_outbox_tx": "pg event+outbox tx",
    "limit.pg_event_outbox_tx_beside": "pg event+outbox tx, beside",
    "limit.js_publish": "JS publish_async",
    "limit.js_publish_seq": "JS publish seq",
    "limit.js_publish_atomic": "JS atomic batches",
    "limit.js_consume": "JS pull consume",
    "limit.nats_rpc": "NATS req/reply",
    "limit.fastapi": "bare FastAPI POST",
    "limit.js_publish_per_transfer": "JS publish / msgs",
    "target.lag_p99": "target p99 100 ms",
    "target.year_minutes": "target 20 min",
    "peer.single": "1t",
    "peer.threads": "16t",
}

HEADERS = ("figure", "value", "unit", "compared to", "x limit", "x peer", "p50 ms", "p99 ms", "target")


def _number(value: float | None, unit: str = "") -> str:
    if value is None:
        return "-"
    if unit == "ms" or value < 100:
        return f"{value:.2f}" if value < 10 else f"{value:.1f}"
    return f"{value:,.0f}"


def ratios(figure: Figure, by_key: dict[str, Figure]) -> tuple[float | None, float | None]:
    limit = by_key.get(figure.limit_key or "")
    peer = by_key.get(figure.peer_key or "")
    to_limit = figure.value / limit.value if limit and limit.value else None
    to_peer = figure.value / peer.value if peer and peer.value else None
    return to_limit, to_peer


def table(figures: list[Figure]) -> str:
    by_key = {f.key: f for f in figures}
    rows: list[tuple[str, ...]] = []
    for figure in figures:
        if figure.kind in ("target", "limit-beside"):  # the limits measured again: in the targets block
            continue
        to_limit, to_peer = ratios(figure, by_key)
        rows.append(
            (
                figure.label,
                _number(figure.value, figure.unit),
                figure.unit,
                SHORT.get(figure.limit_key or "", "-"),
                f"{to_limit:.2f}" if to_limit is not None else "-",
                f"{to_peer:.2f} ({SHORT.get(figure.peer_key or '', '?')})" if to_peer is not None else "-",
                _number(figure.p50_ms, "ms"),
                _number(figure.p99_ms, "ms"),
                figure.target or "-",
            )
        )
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(HEADERS)]  # no rows: a section failed
    right = {1, 4, 6, 7}

    def line(cells: tuple[str, ...]) -> str:
        return "  ".join(
            c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )

    out = [line(HEADERS), "  ".join("-" * w for w in widths)]
    out += [line(r) for r in rows]
    return "\n".join(out)


def cpu_lines(figures: list[Figure]) -> list[str]:
    """CPU microseconds per successful request, per process, from the median run of each HTTP figure."""
    lines = []
    for figure in figures:
        run = bounds.median_run(figure)
        if run is None:
            continue
        parts = ", ".join(f"{name} {us:.0f}" for name, us in run["cpu_us"].items())
        if run.get("pg_transactions_per_op") is not None:
            parts += f"; PostgreSQL write transactions per request {run['pg_transactions_per_op']:.2f}"
        if run.get("events_per_op") is not None:
            parts += f"; messages stored per request: events {run['events_per_op']:.2f}"
            parts += f", letters to an inbox {run['letters_per_op']:.2f}"
        if run.get("nats_in_per_op") is not None:
            moved = run["nats_in_per_op"] + run["nats_out_per_op"]
            parts += f"; NATS messages per request: in {run['nats_in_per_op']:.1f}, out {run['nats_out_per_op']:.1f}"
            if moved and run["cpu_us"].get("nats"):
                parts += f" ({run['cpu_us']['nats'] / moved:.0f} us of the server's CPU a message)"
        if run.get("outbox_left") is not None:
            parts += (
                f"; outbox at the load's end {run['outbox_left']:,} messages, relayed in "
                f"{run['drain_seconds']:.2f} s (in the rate and the CPU)"
            )
        lines.append(f"  {figure.label}: {parts}")
    return lines


def http_lines(figures: list[Figure]) -> list[str]:
    lines = []
    for figure in figures:
        runs: list[dict[str, Any]] = figure.extra.get("runs", [figure.extra] if "ok" in figure.extra else [])
        runs = [r for r in runs if "ok" in r]
        if runs:
            ok = sum(int(r["ok"]) for r in runs)
            other = sum(int(r["other"]) for r in runs)
            errors = sum(int(r["errors"]) for r in runs)
            sample = next((str(r["sample_other"]) for r in runs if r.get("sample_other")), "")
            lines.append(f"  {figure.label}: {ok} x 201, {other} other, {errors} errors {sample[:120]}".rstrip())
    return lines


def print_summary(figures: list[Figure], meta: dict[str, Any]) -> None:
    print()
    print(f"yiwang bench  {meta['finished_at']}  scale {meta['scale']}")
    print(
        f"machine: {meta['cpu_count']} cores; load average {meta['load_start']} at start, {meta['load_end']} at end; "
        f"python {meta['python']}; PostgreSQL {meta['postgres']}; nats-server {meta['nats']}; "
        f"peer eventsourcing {meta['peer']['version']}"
    )
    print(f"HTTP load: {meta['http_load']}; gateway and service trace sample ratio {meta['trace_ratio']}")
    foreign = meta.get("foreign_cpu", {})
    if foreign:
        parts = ", ".join(f"{name} {share:.0%}" for name, share in foreign.items() if name != "overall")
        print(
            f"CPU used by processes outside the bench: {foreign.get('overall', 0):.0%} of all cores overall "
            f"({parts}); above a few % the figures are understated"
        )
    background = pglog.line(meta.get("postgres_background", {}))
    if background:
        print(background)
    print()
    print(table(figures))
    http = http_lines(figures)
    if http:
        print()
        print("HTTP responses other than 201, and socket errors/timeouts (all runs):")
        print("\n".join(http))
    cpu = cpu_lines(figures)
    if cpu:
        print()
        print(
            "CPU us per operation (a 201, a transfer, a request, an event; median run; 'bench' is this process: the load generator when it is httpx, the lag's own consumer):"
        )
        print("\n".join(cpu))
    cores = int(meta["cpu_count"])
    for block in (bounds.lines(figures, cores), bounds.latency_lines(figures, cores), floor.lines(figures, cores)):
        if block:
            print()
            print("\n".join(block))
    judged = targets.lines(figures, {f.figure: f.ceiling for f in floor.floors(figures, cores)})
    if judged:
        print()
        print("\n".join(judged))
    print()
    print("Stack figures: median of runs (p50/p99: median of the runs' own).")
    print("x limit = value / the limit (or target) named; x peer = value / the peer's rate (1t or 16 threads).")
    print(f"JSON: {meta['json_path']}")


def write_json(figures: list[Figure], meta: dict[str, Any]) -> Path:
    folder = Path(REPO) / "bench-results"
    folder.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = folder / f"bench-{stamp}.json"
    meta["json_path"] = os.path.relpath(path, REPO)
    by_key = {f.key: f for f in figures}
    items = []
    for figure in figures:
        to_limit, to_peer = ratios(figure, by_key)
        items.append({**asdict(figure), "ratio_to_limit": to_limit, "ratio_to_peer": to_peer})
    document = {
        "meta": meta,
        "figures": items,
        **targets.as_json(figures),
        **bounds.as_json(figures, int(meta["cpu_count"])),
        "floor": floor.as_json(figures, int(meta["cpu_count"])),
    }
    path.write_bytes(orjson.dumps(document, option=orjson.OPT_INDENT_2))
    return path
