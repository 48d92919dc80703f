"""make_app(settings): the gateway's composition root; the lifespan opens NATS and tracing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from contracts.replies import Problem
from contracts.subjects import Subjects
from gateway import problems
from gateway.audit import AuditMiddleware, AuditTrail, audit_stream
from gateway.bus import ServiceBus
from gateway.config import GatewaySettings
from gateway.middleware import TracingMiddleware
from gateway.ratelimit import RateLimitMiddleware, TokenBuckets
from gateway.routes import arrears, enrolment, health, injury, ops, statistics, transfer
from gateway.routes import dashboard as dashboard_routes
from runtime.messaging import connect, ensure_stream
from runtime.traces import trace_stream
from runtime.tracing import export_spans_to_nats, setup_tracing

DESCRIPTION = """
One API for the social insurance agencies of every region (一网通办).

* Every request names its region in the path and its channel in `X-Channel`.
* Every state-changing request may carry an `Idempotency-Key`: a retry gets the first answer.
* Errors are RFC 9457 `application/problem+json` with a stable `type` and, for invalid input,
  an `errors` list naming each field.
* Over its rate limit a caller gets `429` with `Retry-After`; bodies over the size limit get `413`.
* Each response carries `X-Trace-Id`: operators open the whole trace with
  `GET /v1/ops/traces/{trace_id}` or `yiwang trace {trace_id}`.
"""


def _inlined(schema: Any, defs: dict[str, Any]) -> Any:
    """A JSON schema with its local `$defs` references written out (they do not resolve inside OpenAPI)."""
    if isinstance(schema, dict):
        if "$ref" in schema:
            return _inlined(defs[schema["$ref"].rsplit("/", 1)[-1]], defs)
        return {k: _inlined(v, defs) for k, v in schema.items() if k != "$defs"}
    if isinstance(schema, list):
        return [_inlined(v, defs) for v in schema]
    return schema


def _problem(description: str) -> dict[str, Any]:
    schema = Problem.model_json_schema()
    return {
        "description": description,
        "content": {"application/problem+json": {"schema": _inlined(schema, schema.get("$defs", {}))}},
    }


# Every route can answer these (RFC 9457 problem+json); each route documents its own successes.
COMMON_PROBLEMS: dict[int | str, dict[str, Any]] = {
    400: _problem("Invalid request: `errors` names each field"),
    401: _problem("No token, an invalid token, or (hospitals) a missing, bad, expired or replayed signature"),
    403: _problem("The caller may not do this here (another region, another role, another hospital)"),
    404: _problem("No such object, or not one this caller may see"),
    409: _problem("A rule of the current state stops it, or the Idempotency-Key is still in use"),
    413: _problem("Body over the size limit"),
    422: _problem("A business rule refuses it, or the Idempotency-Key was used for another request"),
    429: _problem("Over this caller's rate limit: see Retry-After"),
    503: _problem("The region's service is not running: see Retry-After"),
    504: _problem("The service did not answer in time: retry with the same Idempotency-Key"),
}


def make_app(settings: GatewaySettings, *, install_tracing: bool = True) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        provider = (
            setup_tracing(
                "gateway", region=None, otlp_endpoint=settings.otlp_endpoint, sample_ratio=settings.trace_sample_ratio
            )
            if install_tracing
            else None
        )
        nc = await connect(settings.nats_servers, name="gateway")
        js = nc.jetstream(timeout=10)
        for spec in (
            trace_stream(settings.subject_root, settings.trace_stream_max_bytes),
            audit_stream(settings.subject_root),
        ):
            await ensure_stream(
                js, spec, replicas=settings.jetstream_replicas, duplicate_window=settings.duplicate_window_seconds
            )
        spans = export_spans_to_nats(provider, nc, settings.subject_root) if provider is not None else None
        app.state.nc = nc
        app.state.js = js
        app.state.bus = ServiceBus(nc, Subjects(settings.subject_root), timeout=settings.request_timeout_seconds)
        app.state.audit = AuditTrail(js, settings.subject_root)
        app.state.audit.start()
        try:
            yield
        finally:
            await app.state.audit.close()
            if spans is not None:
                await spans.close()
            await nc.drain()
            if provider is not None:
                provider.shutdown()

    app = FastAPI(
        title="yiwang gateway",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        # One SERVER span per request comes from TracingMiddleware; FastAPI's own spans cost more than they show.
        telemetry={"tracing": False},
        responses=COMMON_PROBLEMS,
    )
    app.state.settings = settings
    app.add_middleware(AuditMiddleware)
    app.add_middleware(
        RateLimitMiddleware, buckets=TokenBuckets(settings.rate_limit_per_second, settings.rate_limit_burst)
    )
    app.add_middleware(TracingMiddleware, max_body_bytes=settings.max_body_bytes)
    problems.install(app)
    app.include_router(health.router)
    app.include_router(enrolment.router)
    app.include_router(ops.router)
    app.include_router(transfer.router)
    app.include_router(arrears.router)
    app.include_router(injury.router)
    app.include_router(statistics.router)
    app.include_router(dashboard_routes.router)
    return app
