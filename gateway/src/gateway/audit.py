"""The audit trail: one record for every state-changing request and every refusal, kept in JetStream.

A record says who (actor kind, pseudonymous id, region), what (method, path, channel), the outcome
(status, problem type) and the trace id, never a body: paths carry no personal data by design, and
the actor of a citizen is its pseudonym. Records go to `<root>.audit.<region>` on the stream
`<ROOT>_AUDIT` (kept 400 days) after the answer has been sent, so auditing never slows a caller;
a record that cannot be stored is logged as an error.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime
from typing import Any

import orjson
from nats.js import JetStreamContext
from opentelemetry import trace
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from runtime.messaging import StreamSpec, latest_messages

log = logging.getLogger(__name__)

CHANGES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
REFUSALS = frozenset({401, 403, 404, 409, 413, 422, 429})
_REGION = re.compile(r"[0-9]{2}")
_PROBLEM_TYPE_LIMIT = 4096  # bytes of a problem body read for its `type`


def audit_stream(root: str) -> StreamSpec:
    return StreamSpec(name=f"{root.upper()}_AUDIT", subjects=(f"{root}.audit.*",), max_age_seconds=400 * 24 * 3600)


def audited(method: str, status: int) -> bool:
    return method in CHANGES or status in REFUSALS


class AuditMiddleware:
    def __init__(self, app: ASGIApp, *, root: str) -> None:
        self.app = app
        self.root = root

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/health"):
            await self.app(scope, receive, send)
            return
        status = 500
        problem = bytearray()
        headers: dict[bytes, bytes] = {}

        async def watching(message: Message) -> None:
            nonlocal status, headers
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = dict(message.get("headers", []))
            elif (
                message["type"] == "http.response.body"
                and len(problem) < _PROBLEM_TYPE_LIMIT
                and headers.get(b"content-type", b"").startswith(b"application/problem+json")
            ):
                problem.extend(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, watching)
        finally:
            if audited(scope["method"], status):
                await self._record(scope, status, headers, bytes(problem))

    async def _record(self, scope: Scope, status: int, headers: dict[bytes, bytes], problem: bytes) -> None:
        app = scope.get("app")
        js: JetStreamContext | None = getattr(getattr(app, "state", None), "js", None)
        if js is None:
            return
        actor = (scope.get("state") or {}).get("actor")
        request_headers = dict(scope["headers"])
        region = _region_of(scope["path"])
        record: dict[str, Any] = {
            "time": datetime.now(UTC).isoformat(),
            "method": scope["method"],
            "path": scope["path"],
            "status": status,
            "problem": _problem_type(problem),
            "actor": actor.model_dump(mode="json", exclude_none=True) if actor is not None else None,
            "channel": request_headers.get(b"x-channel", b"").decode("latin-1") or None,
            "trace_id": _trace_id(),
            "region": region,
        }
        try:
            await js.publish(f"{self.root}.audit.{region or 'none'}", orjson.dumps(record))
        except Exception:
            log.exception("audit record not stored", extra={"status": status, "method": scope["method"]})


def _trace_id() -> str | None:
    """The request's trace (this middleware runs inside the gateway's SERVER span)."""
    context = trace.get_current_span().get_span_context()
    return f"{context.trace_id:032x}" if context.is_valid else None


def _region_of(path: str) -> str | None:
    """The region a `/v1/regions/{region}/...` path names, if it is a region code at all."""
    parts = path.split("/")
    if len(parts) > 3 and parts[1] == "v1" and parts[2] == "regions" and _REGION.fullmatch(parts[3]):
        return parts[3]
    return None


def _problem_type(body: bytes) -> str | None:
    if not body:
        return None
    try:
        found = orjson.loads(body).get("type")
    except orjson.JSONDecodeError:
        return None
    return found if isinstance(found, str) else None


async def read_audit(js: JetStreamContext, root: str, *, last: int = 50) -> list[dict[str, Any]]:
    """The latest `last` audit records, oldest first."""
    return [orjson.loads(data or b"{}") for data in await latest_messages(js, audit_stream(root).name, last)]
