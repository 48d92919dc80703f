"""The audit trail: one record for every state-changing request and every refusal, kept in JetStream.

A record says who (actor kind, pseudonymous id, region), what (method, path, channel), the outcome
(status, problem type) and the trace id, never a body: paths carry no personal data by design, and
the actor of a citizen is its pseudonym. Records are queued after the answer has been sent, so
auditing never slows a caller, and one task stores them: each JetStream message on
`<root>.audit.<region>` (stream `<ROOT>_AUDIT`, kept 400 days) carries, as a JSON array, every record
of that region queued while the previous message waited for its acknowledgement, or within `linger`
(50 ms) of the first one queued after it (a few when the gateway is quiet, hundreds under load: one
fsync for all of them instead of one each). A message that cannot be stored is logged as an error
with its count; the queue is stored before the gateway stops (a crash loses what is queued).
"""

from __future__ import annotations

import asyncio
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


class AuditTrail:
    """Records queued by requests, stored by its task (`start`): a message per region per
    acknowledgement wait."""

    def __init__(
        self,
        js: JetStreamContext,
        root: str,
        *,
        most_per_message: int = 1000,
        most_queued: int = 100_000,
        linger: float = 0.05,
    ) -> None:
        self.js = js
        self.root = root
        self.linger = linger  # seconds a record waits for others to share its message
        self.most_per_message = most_per_message
        self.most_queued = most_queued  # JetStream out of reach for long: memory stays bounded
        self.stored = 0
        self.dropped = 0
        self._queue: list[tuple[str, dict[str, Any]]] = []
        self._queued = asyncio.Event()
        self._closing = False
        self._task: asyncio.Task[None] | None = None

    def add(self, region: str | None, record: dict[str, Any]) -> None:
        if len(self._queue) >= self.most_queued:
            self.dropped += 1
            if self.dropped % self.most_queued == 1:  # the first, then one line per queue's worth
                log.error("audit records dropped: the queue is full", extra={"dropped": self.dropped})
            return
        self._queue.append((region or "none", record))
        self._queued.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="audit-trail")

    async def _run(self) -> None:
        while not self._closing:
            await self._queued.wait()
            if self.linger > 0 and not self._closing:
                await asyncio.sleep(self.linger)
            await self.flush()

    async def flush(self) -> None:
        self._queued.clear()
        queue, self._queue = self._queue, []
        by_region: dict[str, list[dict[str, Any]]] = {}
        for region, record in queue:
            by_region.setdefault(region, []).append(record)
        await asyncio.gather(
            *(
                self._store(region, records[at : at + self.most_per_message])
                for region, records in by_region.items()
                for at in range(0, len(records), self.most_per_message)
            )
        )

    async def _store(self, region: str, records: list[dict[str, Any]]) -> None:
        try:
            await self.js.publish(f"{self.root}.audit.{region}", orjson.dumps(records))
        except Exception:
            log.exception("audit records not stored", extra={"count": len(records), "region": region})
        else:
            self.stored += len(records)

    async def close(self) -> None:
        """Stop the task once the message it is storing is acknowledged (cancelling it would lose
        those records), then store what is still queued."""
        self._closing = True
        self._queued.set()
        if self._task is not None:
            await self._task
        await self.flush()


class AuditMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

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
                _record(scope, status, bytes(problem))


def _record(scope: Scope, status: int, problem: bytes) -> None:
    app = scope.get("app")
    trail: AuditTrail | None = getattr(getattr(app, "state", None), "audit", None)
    if trail is None:
        return
    actor = (scope.get("state") or {}).get("actor")
    channel = next((value for name, value in scope["headers"] if name == b"x-channel"), b"")
    region = _region_of(scope["path"])
    trail.add(
        region,
        {
            "time": datetime.now(UTC).isoformat(),
            "method": scope["method"],
            "path": scope["path"],
            "status": status,
            "problem": _problem_type(problem),
            "actor": actor.model_dump(mode="json", exclude_none=True) if actor is not None else None,
            "channel": channel.decode("latin-1") or None,
            "trace_id": _trace_id(),
            "region": region,
        },
    )


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
    """The latest `last` audit records, oldest first (a message holds one record or an array of them)."""
    records: list[dict[str, Any]] = []
    for data in await latest_messages(js, audit_stream(root).name, last):
        stored = orjson.loads(data or b"{}")
        records.extend(stored if isinstance(stored, list) else [stored])
    return records[-last:] if last > 0 else []
