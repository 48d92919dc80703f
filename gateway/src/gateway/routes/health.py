"""Liveness and readiness of the gateway."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import JSONResponse

from gateway.routing import GatedRouter

router = GatedRouter(tags=["health"])


@router.get("/health/live")
async def live() -> dict[str, str]:
    """The process is up."""
    return {"status": "live"}


@router.get("/health/ready", responses={503: {"description": "NATS not connected"}})
async def ready(request: Request) -> JSONResponse:
    """Ready when connected to NATS (the services answer through it)."""
    nc = getattr(request.app.state, "nc", None)
    if nc is None or not nc.is_connected:
        return JSONResponse({"status": "not ready"}, status_code=503)
    return JSONResponse({"status": "ready"})
