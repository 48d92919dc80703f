"""A transfer's path by stage, from the steps both regions recorded: who held it, for how long, and
whether it stayed within its 15 working days (a breach is the durable timer's verdict, not a guess)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

STAGE_LIMIT_WORKING_DAYS = 15

# stage -> (region key, steps that start it (the latest present counts), steps that end it (the first present))
_STAGES: tuple[tuple[str, str, tuple[str, ...], tuple[str, ...]], ...] = (
    (
        "review",
        "to_region",
        ("applied",),
        ("contact_letter_sent", "refused", "temporary_account_opened", "accounts_merged"),
    ),
    (
        "old_agency",
        "from_region",
        ("contact_letter_sent",),
        ("funds_transferred",),
    ),
    (
        "new_agency",
        "to_region",
        ("information_sheet_received", "funds_received"),
        ("completed", "funds_mismatch_detected"),
    ),
)


def stages(case: dict[str, Any], steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each stage that has begun: region, start, end, seconds taken (so far, if open), limit, breached."""
    at = {s["step"]: datetime.fromisoformat(s["at"]) for s in steps}
    now = datetime.fromisoformat(case["started_at"]) + timedelta(seconds=case["elapsed_seconds"])
    out: list[dict[str, Any]] = []
    for name, region_key, starts, ends in _STAGES:
        if not all(step in at for step in starts):
            continue
        started = max(at[step] for step in starts)
        ended = next((at[step] for step in ends if step in at), None)
        out.append(
            {
                "stage": name,
                "region": case[region_key],
                "started_at": started.isoformat(),
                "ended_at": ended.isoformat() if ended else None,
                "seconds": round(((ended or now) - started).total_seconds(), 3),
                "limit_working_days": STAGE_LIMIT_WORKING_DAYS,
                "breached": f"breached:{name}" in at,
            }
        )
    return out


def render(case: dict[str, Any]) -> str:
    """The path as an operator reads it on a terminal."""
    target = "within three days" if case["within_three_days"] else "OVER three days"
    lines = [
        f"transfer {case['case_id']}  {case['from_region']} -> {case['to_region']}  {case['status']}",
        f"  {case['elapsed_seconds']:.0f} s since application: {target}; trace {case.get('trace_id') or '-'}",
        "  stages:",
    ]
    for s in case.get("stages", []):
        verdict = "BREACHED" if s["breached"] else ("open" if s["ended_at"] is None else "on time")
        lines.append(
            f"    {s['stage']:<11} region {s['region']}  {s['seconds']:>12.0f} s  "
            f"limit {s['limit_working_days']} working days  {verdict}"
        )
    lines.append("  steps:")
    lines += [
        f"    {s['at']}  {s['region']}  {s['step']}" + (f"  ({s['detail']})" if s.get("detail") else "")
        for s in case["steps"]
    ]
    return "\n".join(lines)
