"""Runs one service process: opens its resources in order, serves, and closes them in reverse.

A service hands over what it is made of (`ServiceParts`); the host owns the loops around it:
request server, outbox relay, consumers, projector, deadline worker and health endpoint.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib.resources.abc import Traversable
from typing import Any

import asyncpg
import uvloop
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from opentelemetry.sdk.trace import TracerProvider
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from contracts.codec import invalid, reply_bytes
from contracts.envelope import Envelope
from contracts.queries import HandledServices
from contracts.replies import ok, problem, refused
from runtime import db
from runtime.clock import Clock, SystemClock
from runtime.deadlines import (
    CalendarBook,
    DeadlineHandler,
    DeadlineWorker,
    calendar_consumer_spec,
    calendar_stream,
)
from runtime.eventstore import PostgresEventStore
from runtime.handled import HandledServicesProjection, handled_by_channel
from runtime.health import HealthServer, is_ready
from runtime.heap import settle_for_serving
from runtime.messaging import (
    ConsumerSpec,
    DeadLetters,
    PullConsumer,
    Request,
    RequestHandler,
    RequestServer,
    StreamSpec,
    connect,
    ensure_stream,
    verify_server_safety,
)
from runtime.outbox import OutboxRelay, for_other_regions, parked, resend_parked
from runtime.projector import Projection, Projector
from runtime.requests import query
from runtime.settings import RuntimeSettings
from runtime.traces import trace_stream
from runtime.tracing import export_spans_to_nats, setup_tracing
from runtime.watch import ConsumerWatch, ProjectionWatch, alerts_stream

log = logging.getLogger(__name__)


@dataclass
class Resources:
    """What a service's bootstrap may use to build its parts."""

    settings: RuntimeSettings
    pool: asyncpg.Pool
    nc: NatsClient
    js: JetStreamContext
    store: PostgresEventStore
    clock: Clock
    calendar: CalendarBook


@dataclass
class ServiceParts:
    name: str
    migrations: Sequence[Traversable]
    requests: Mapping[str, RequestHandler]
    events_stream: StreamSpec | None = None
    handled: frozenset[str] = frozenset()  # the service's own event types that each complete a service
    streams: Sequence[StreamSpec] = ()
    consumers: Sequence[ConsumerSpec] = ()
    projections: Sequence[Projection] = ()
    on_deadline: DeadlineHandler | None = None
    extra_tasks: Sequence[Callable[[asyncio.Event], Awaitable[None]]] = field(default_factory=tuple)


@dataclass
class RunningService:
    resources: Resources
    parts: ServiceParts
    relay: OutboxRelay
    projector: Projector
    consumers: list[PullConsumer]
    deadlines: DeadlineWorker | None
    watch: ConsumerWatch
    projection_watch: ProjectionWatch
    server: RequestServer
    stop: asyncio.Event
    tasks: list[asyncio.Task[None]]

    async def close(self) -> None:
        self.stop.set()
        await self.server.stop()
        await asyncio.gather(*self.tasks, return_exceptions=True)


Build = Callable[[Resources], ServiceParts]


async def start_service(
    settings: RuntimeSettings,
    service: str,
    build: Build,
    stack: contextlib.AsyncExitStack,
    *,
    clock: Clock | None = None,
    calendar: CalendarBook | None = None,
    spans_of: TracerProvider | None = None,
) -> RunningService:
    """Open everything the service needs and start its loops; `stack` closes them in reverse.
    `spans_of`: a tracer provider whose spans go to the embedded trace store over this service's
    NATS connection (the last of them published after the loops stop, before it closes)."""
    verify_server_safety(
        settings.nats_monitor_url,
        require_sync_always=settings.require_sync_always,
        replicas=settings.jetstream_replicas,
    )
    pool = await db.create_pool(
        settings.database_url, size=settings.pool_size, application=f"{service}-{settings.region}"
    )
    stack.push_async_callback(pool.close)
    nc = await connect(settings.nats_servers, name=f"{service}-{settings.region}")
    stack.push_async_callback(_close_nats, nc)
    js = nc.jetstream(timeout=10)
    relay_holder: list[OutboxRelay] = []
    projector_holder: list[Projector] = []

    def on_commit() -> None:
        for relay in relay_holder:
            relay.wake()
        for projector in projector_holder:
            projector.wake()

    store = PostgresEventStore(pool, on_commit=on_commit)
    book = calendar or CalendarBook()
    resources = Resources(settings, pool, nc, js, store, clock or SystemClock(), book)
    parts = build(resources)
    await db.migrate(
        pool, db.sql_files(("runtime", db.runtime_migrations()), *((service, m) for m in parts.migrations))
    )
    await book.load_stored_years(pool)
    dead_letters = DeadLetters(js, settings.subject_root)
    calendar_spec = calendar_stream(settings.subject_root)
    own_streams = [parts.events_stream] if parts.events_stream else []
    for spec in (
        *own_streams,
        *parts.streams,
        dead_letters.stream,
        trace_stream(settings.subject_root, settings.trace_stream_max_bytes),
        calendar_spec,
        alerts_stream(settings.subject_root),
    ):
        await ensure_stream(
            js, spec, replicas=settings.jetstream_replicas, duplicate_window=settings.duplicate_window_seconds
        )
    if spans_of is not None:  # its stream is there now; closed after the loops stop, before NATS
        stack.push_async_callback(export_spans_to_nats(spans_of, nc, settings.subject_root).close)
    relay = OutboxRelay(
        pool, js, linger=settings.relay_linger_seconds, foreign=frozenset(settings.regions) - {settings.region}
    )
    projector = Projector(store, [*parts.projections, HandledServicesProjection(parts.handled)])
    relay_holder.append(relay)
    projector_holder.append(projector)
    stop = asyncio.Event()
    calendar_consumer = calendar_consumer_spec(calendar_spec, book, f"calendar-{service}-{settings.region}")
    builtin = [calendar_consumer]
    consumers = [PullConsumer(js, store, spec, dead_letters) for spec in (*parts.consumers, *builtin)]
    deadlines = DeadlineWorker(store, resources.clock, parts.on_deadline) if parts.on_deadline else None
    watch = ConsumerWatch(
        js,
        settings.subject_root,
        settings.region,
        service,
        [(c.stream, c.durable, c.max_ack_pending) for c in (*parts.consumers, calendar_consumer)],
        interval=settings.watch_interval_seconds,
        stall_after=settings.stall_after_seconds,
    )
    projection_watch = ProjectionWatch(
        js,
        pool,
        settings.subject_root,
        settings.region,
        service,
        [p.name for p in projector.projections],
        interval=settings.watch_interval_seconds,
        stall_after=settings.stall_after_seconds,
    )
    loops: list[Awaitable[None]] = [
        relay.run(stop),
        projector.run(stop),
        watch.run(stop),
        projection_watch.run(stop),
        *(c.run(stop) for c in consumers),
    ]
    if deadlines is not None:
        loops.append(deadlines.run(stop))
    loops += [task(stop) for task in parts.extra_tasks]
    tasks = [asyncio.create_task(_logged(loop)) for loop in loops]
    requests = {
        "health": _health_handler(pool, nc),
        "handled_services": _handled_handler(pool),
        "rebuild_projections": _rebuild_handler(projector),
        "undeliverable": _undeliverable_handler(pool, relay),
        **parts.requests,
    }
    server = RequestServer(nc, f"{settings.subject_root}.{settings.region}.{service}", requests)
    await server.start()
    running = RunningService(
        resources, parts, relay, projector, consumers, deadlines, watch, projection_watch, server, stop, tasks
    )
    stack.push_async_callback(running.close)
    return running


async def _close_nats(nc: NatsClient) -> None:
    """Loops are stopped and in-flight work finished by now: flush what is sent, then close."""
    with contextlib.suppress(Exception):
        await nc.flush(timeout=5)
    await nc.close()


def _health_handler(pool: asyncpg.Pool, nc: NatsClient) -> RequestHandler:
    async def health(_: Request) -> bytes:
        ready = await is_ready(pool, nc)
        return b'{"ok":true,"result":{"status":"ready"}}' if ready else b'{"ok":false}'

    return health


def _handled_handler(pool: asyncpg.Pool) -> RequestHandler:
    async def handled(q: HandledServices, _: Envelope[HandledServices]) -> list[Any]:
        return await handled_by_channel(pool, q.first, q.last)

    return query(HandledServices, handled, {})


class RebuildProjections(BaseModel):
    """`yiwang rebuild`: which projections to rebuild (all when omitted; none just lists them)."""

    model_config = ConfigDict(extra="forbid")

    projections: list[str] | None = None


def _rebuild_handler(projector: Projector) -> RequestHandler:
    """Operators' `rebuild_projections` command: each named projection emptied and replayed from the log."""

    async def rebuild(request: Request) -> bytes:
        try:
            asked = RebuildProjections.model_validate_json(request.data or b"{}")
        except ValidationError as error:
            return reply_bytes(refused(invalid(error)))
        available = [p.name for p in projector.projections]
        names = available if asked.projections is None else asked.projections
        unknown = sorted(set(names) - set(available))
        if unknown:
            detail = f"no projection {', '.join(unknown)}; this service has {', '.join(available) or 'none'}"
            return reply_bytes(refused(problem("unknown-projection", "Unknown projection", 404, detail)))
        rebuilt = []
        for name in names:
            started = time.monotonic()
            events = await projector.rebuild(name)
            seconds = round(time.monotonic() - started, 3)
            log.info("projection rebuilt", extra={"projection": name, "events": events, "seconds": seconds})
            rebuilt.append({"projection": name, "events": events, "seconds": seconds})
        return reply_bytes(ok({"available": available, "rebuilt": rebuilt}))

    return rebuild


class Undeliverable(BaseModel):
    """`yiwang undeliverable`: list the outbox's parked messages, or queue them again (after the fix)."""

    model_config = ConfigDict(extra="forbid")

    resend: bool = False
    limit: int = Field(default=1000, ge=0)  # listed at most; `total` counts them all


def _undeliverable_handler(pool: asyncpg.Pool, relay: OutboxRelay) -> RequestHandler:
    """Operators' `undeliverable` command: the messages no stream took, listed or queued again; with
    the list, the messages still waiting for each other region (held while it is out of reach)."""

    async def undeliverable(request: Request) -> bytes:
        try:
            asked = Undeliverable.model_validate_json(request.data or b"{}")
        except ValidationError as error:
            return reply_bytes(refused(invalid(error)))
        if not asked.resend:
            total = await pool.fetchval("SELECT count(*) FROM outbox_undeliverable")
            listed = await parked(pool, asked.limit) if total and asked.limit else []
            waiting = await for_other_regions(pool, relay.foreign)
            return reply_bytes(ok({"parked": listed, "total": total, "for_other_regions": waiting}))
        resent = await resend_parked(pool)
        relay.wake()
        log.info("parked outbox messages queued again", extra={"count": resent})
        return reply_bytes(ok({"resent": resent}))

    return undeliverable


async def _logged(loop: Awaitable[None]) -> None:
    try:
        await loop
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("service loop stopped")
        raise


def run_forever(service: str, build: Build) -> None:
    """The body of a service's `__main__`: run until SIGTERM or SIGINT, then close in order."""
    from runtime.logs import setup_logging

    settings = RuntimeSettings()
    setup_logging(settings.log_level)

    async def main() -> None:
        provider = setup_tracing(
            f"{service}-{settings.region}",
            region=settings.region,
            otlp_endpoint=settings.otlp_endpoint,
            sample_ratio=settings.trace_sample_ratio,
        )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        async with contextlib.AsyncExitStack() as stack:
            stack.callback(provider.shutdown)
            running = await start_service(settings, service, build, stack, spans_of=provider)
            if settings.health_port:
                health = HealthServer(settings.health_port, running.resources.pool, running.resources.nc)
                await health.start()
                stack.push_async_callback(health.stop)
            settle_for_serving()
            log.info("service ready", extra={"service": service, "region": settings.region})
            await stop.wait()
            log.info("service stopping", extra={"service": service, "region": settings.region})

    # uvloop, as uvicorn gives the gateway: each PostgreSQL statement and NATS message is a socket
    # operation, and asyncio's own transports spent a fifth of a service's CPU on them.
    uvloop.run(main())
