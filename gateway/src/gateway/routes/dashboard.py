"""The operators' dashboard: one page, and the one call it polls for everything it shows.

The page (`GET /dashboard`) is static; it reads the operator's token and region from its URL
fragment (`#token=...&region=36`, never sent to a server or logged) and polls
`GET /v1/regions/{region}/dashboard` every few seconds, so what it shows follows the events as the
projections take them in. A service that does not answer leaves its panel marked unavailable; the
rest still shows.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse

from contracts.arrears import commands as ac
from contracts.envelope import Actor, Channel
from contracts.injury import commands as ic
from contracts.transfer import commands as tc
from gateway.auth import Caller, require_operator_of
from gateway.operations import operations
from gateway.problems import ProblemError
from gateway.routes.common import Region
from gateway.routes.statistics import online_share
from gateway.routing import GatedRouter
from runtime.workdays import local_date

router = GatedRouter(tags=["dashboard"])
# Beside the package's modules (not importlib.resources: the repo's top-level gateway/ folder would
# make `gateway` a namespace package when run from the checkout).
PAGE = Path(__file__).resolve().parents[1] / "static" / "dashboard.html"
DAYS = 30


@router.get("/dashboard", response_class=HTMLResponse, include_in_schema=False)
async def page() -> HTMLResponse:
    return HTMLResponse(PAGE.read_text(encoding="utf-8"))


async def _query(request: Request, region: str, service: str, name: str, data: Any, actor: Actor) -> Any:
    try:
        return await request.app.state.bus.send(
            region=region, service=service, name=name, data=data, actor=actor, channel=Channel.SYSTEM, kind="query"
        )
    except ProblemError as error:
        return {"unavailable": error.problem.detail or error.problem.title}


@router.get("/v1/regions/{region}/dashboard")
async def dashboard(region: Region, request: Request, actor: Caller) -> dict[str, Any]:
    """Everything the dashboard shows for a region: the online share by channel and day over the last
    30 days, open transfers on their three-day path (on track, at risk, breached), wage-arrears leads
    and cases under supervision, work-injury settlement totals (service dates in the 30 days), and
    how the region runs (services answering, parked messages, consumers behind, dead letters)."""
    require_operator_of(region, actor)
    today = local_date(datetime.now(UTC))
    first = today - timedelta(days=DAYS - 1)
    state = request.app.state
    share, transfers, supervised, settlements, running = await asyncio.gather(
        _online(request, region, actor, today),
        _query(request, region, "transfer", "list_transfers", tc.ListTransfers(at_risk_only=False, limit=200), actor),
        _query(request, region, "arrears", "list_supervised", ac.ListSupervised(limit=200), actor),
        _query(request, region, "injury", "injury_figures", ic.InjuryFigures(first=first, last=today), actor),
        operations(state.nc, state.js, state.settings.subject_root, region),
    )
    return {
        "region": region,
        "as_of": datetime.now(UTC).isoformat(timespec="seconds"),
        "online": share,
        "transfers": transfers,
        "arrears_supervised": supervised,
        "settlements": settlements,
        "operations": running,
    }


async def _online(request: Request, region: str, actor: Actor, today: Any) -> Any:
    try:
        return await online_share(region, request, actor, today - timedelta(days=DAYS - 1), today)
    except ProblemError as error:
        return {"unavailable": error.problem.detail or error.problem.title}
