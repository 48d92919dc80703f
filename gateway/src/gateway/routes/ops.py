"""Operator routes: traces (and, as services land, paths, dead letters, rebuilds)."""

from __future__ import annotations

from typing import Any

from fastapi import Path, Request

from contracts.envelope import ActorKind
from contracts.replies import problem
from gateway.auth import Caller
from gateway.problems import ProblemError
from gateway.routing import GatedRouter
from runtime.traces import TRACE_ID, read_trace

router = GatedRouter(prefix="/v1/ops", tags=["operations"])


@router.get("/traces/{trace_id}")
async def get_trace(
    request: Request, actor: Caller, trace_id: str = Path(pattern=f"^{TRACE_ID.pattern}$")
) -> dict[str, Any]:
    """Every span of one trace across gateway, services and regions, ordered by start."""
    if actor.kind is not ActorKind.OPERATOR:
        raise ProblemError(problem("forbidden", "Forbidden", 403, "operators only"))
    spans = await read_trace(request.app.state.js, request.app.state.settings.subject_root, trace_id)
    if not spans:
        raise ProblemError(problem("trace-not-found", "Trace not found", 404, trace_id))
    return {"trace_id": trace_id, "spans": spans}
