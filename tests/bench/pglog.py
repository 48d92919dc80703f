"""PostgreSQL's own work during the bench, read from its log: which section each autovacuum run and
each checkpoint fell in (an autovacuum run or analysis is logged as it ends, a checkpoint as it starts).

A section's figure counts PostgreSQL's CPU, and PostgreSQL's background work is not always the
section's: autovacuum took up an earlier section's tables a minute after it, and a checkpoint the
WAL of one section filled wrote through the next. The bench settles PostgreSQL between sections
(`common.settled`); these counts show what was left inside each one. The bench runs PostgreSQL with
every autovacuum run logged and the log's times in UTC (`LOG_SETTINGS`)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

LOG_SETTINGS = {"log_autovacuum_min_duration": "0", "log_checkpoints": "on", "log_timezone": "UTC"}

KINDS = ("autovacuum", "autoanalyze", "checkpoint")

_LINE = re.compile(
    r"^(?P<at>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?) UTC \[\d+\] LOG:\s+"
    r"(?:(?P<vacuum>automatic (?:aggressive )?vacuum(?: to prevent wraparound)?)|(?P<analyze>automatic analyze)|checkpoint starting: (?P<checkpoint>.*))"
    r"(?: of table \"(?P<table>[^\"]+)\")?"
)


@dataclass(frozen=True)
class Work:
    at: float  # seconds since the epoch
    kind: str  # one of KINDS
    table: str  # "database.schema.table"; "" for a checkpoint


@dataclass(frozen=True)
class Window:
    section: str
    started: float  # seconds since the epoch, the limits measured beside it included
    ended: float


def background(log_lines: Iterable[str]) -> list[Work]:
    """Each autovacuum run, automatic analysis and checkpoint PostgreSQL started on its own (for its
    WAL or on its timer), in the log's order."""
    found = []
    for line in log_lines:
        match = _LINE.match(line)
        if match is None or any(asked in (match["checkpoint"] or "") for asked in ("force", "shutdown")):
            continue  # a checkpoint the bench asked for (CHECKPOINT, DROP DATABASE) or the server's stop
        at = datetime.fromisoformat(match["at"]).replace(tzinfo=UTC).timestamp()
        kind = "autovacuum" if match["vacuum"] else "autoanalyze" if match["analyze"] else "checkpoint"
        found.append(Work(at, kind, match["table"] or ""))
    return found


def by_section(work: Sequence[Work], windows: Sequence[Window]) -> dict[str, dict[str, Any]]:
    """For each section, how many of each kind were logged inside it, and the databases whose tables
    autovacuum took up there, with their runs."""
    counted: dict[str, dict[str, Any]] = {}
    for window in windows:
        inside = [w for w in work if window.started <= w.at < window.ended]
        kinds = Counter(w.kind for w in inside)
        counted[window.section] = {
            **{kind: kinds[kind] for kind in KINDS},
            "databases": dict(Counter(w.table.split(".", 1)[0] for w in inside if w.table)),
        }
    return counted


def of_log(log: Path, section_times: Mapping[str, Sequence[float]]) -> dict[str, dict[str, Any]]:
    """`by_section` of the log file at `log` and the sections' (start, end) times; {} without a log."""
    if not log.exists():
        return {}
    windows = [Window(name, started, ended) for name, (started, ended) in section_times.items()]
    return by_section(background(log.read_text(errors="replace").splitlines()), windows)


def line(counted: dict[str, dict[str, Any]]) -> str:
    """One line for the summary; "" when nothing was counted."""
    if not counted:
        return ""
    parts = []
    for section, inside in counted.items():
        where = ", ".join(f"{name} {runs}" for name, runs in sorted(inside["databases"].items()))
        parts.append(f"{section} {' / '.join(str(inside[kind]) for kind in KINDS)}" + (f" ({where})" if where else ""))
    return (
        "PostgreSQL's own work inside each section, the limits measured beside it included (autovacuum runs /"
        " automatic analyses ended / checkpoints started; the databases autovacuum took up): " + "; ".join(parts)
    )
