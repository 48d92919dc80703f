"""OpenTelemetry set-up, W3C trace context in NATS headers, and an embedded span store.

Spans go over OTLP when a collector is configured. With the embedded default they are also
published to a NATS stream, one subject per trace, so an operator can open a trace by id with
no extra install (see `runtime.traces`).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import re
from collections import defaultdict
from collections.abc import Iterator, Mapping, MutableMapping, Sequence
from typing import Any

import nats.errors
import orjson
from opentelemetry import context, propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
from opentelemetry.trace import Link, Span, SpanKind, Status, StatusCode, Tracer

log = logging.getLogger(__name__)

MESSAGING_SYSTEM = "nats"


def setup_tracing(
    service_name: str, *, region: str | None, otlp_endpoint: str | None, sample_ratio: float = 1.0
) -> TracerProvider:
    """Create and install this process's tracer provider (once, from `__main__` or lifespan)."""
    provider = tracer_provider(service_name, region=region, otlp_endpoint=otlp_endpoint, sample_ratio=sample_ratio)
    trace.set_tracer_provider(provider)
    return provider


def tracer_provider(
    service_name: str, *, region: str | None, otlp_endpoint: str | None, sample_ratio: float = 1.0
) -> TracerProvider:
    """A tracer provider naming this service, exporting over OTLP/HTTP when an endpoint is set."""
    attributes: dict[str, Any] = {"service.name": service_name, "service.namespace": "yiwang"}
    if region:
        attributes["yiwang.region"] = region
    provider = TracerProvider(
        resource=Resource.create(attributes), sampler=ParentBased(TraceIdRatioBased(sample_ratio))
    )
    if otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter(endpoint=otlp_endpoint.rstrip("/") + "/v1/traces")
        provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider


def tracer(name: str) -> Tracer:
    """The tracer of module `name`, made once: `trace.get_tracer` builds a new one on every call
    (about 20 us here), and every span asked for one."""
    found = _tracers.get(name)
    if found is None:
        found = _tracers[name] = trace.get_tracer(name)
    return found


_tracers: dict[str, Tracer] = {}


@contextlib.contextmanager
def leaf_span(
    name: str,
    *,
    kind: SpanKind,
    attributes: Mapping[str, Any],
    context: context.Context | None = None,
    module: str = __name__,
    expected: tuple[type[BaseException], ...] = (),
    within_trace: bool = False,
    links: Sequence[Link] = (),
) -> Iterator[Span]:
    """A span that is not made the current one, for work that starts no span of its own (a
    publish, a request, a database transaction): it skips attaching and detaching the context,
    32 against 38 us for `start_as_current_span` here (best of 15 runs). Errors are recorded on it
    the same way; an `expected` one (e.g. a concurrency conflict, which the caller retries) without
    its stack trace: Python formats a trace in milliseconds, 4% of a service's CPU when conflicts
    were frequent.

    `within_trace`: only as part of a trace already recording; outside one (a projector's batch, a
    consumer's transaction around messages that each carry their sender's trace) no span is made,
    where each would have been a trace of one span of its own, stored and exported for nothing."""
    if within_trace and not trace.get_current_span(context).is_recording():
        yield trace.INVALID_SPAN
        return
    span = tracer(module).start_span(name, context=context, kind=kind, attributes=attributes, links=links)
    try:
        yield span
    except BaseException as error:
        if span.is_recording():
            if isinstance(error, expected):
                span.add_event(
                    "exception",
                    {"exception.type": type(error).__qualname__, "exception.message": str(error)},
                )
            else:
                span.record_exception(error)
            span.set_status(Status(StatusCode.ERROR, f"{type(error).__name__}: {error}"))
        raise
    finally:
        span.end()


def inject(headers: MutableMapping[str, str], span: Span | None = None) -> MutableMapping[str, str]:
    """Write the trace context (`traceparent`, `tracestate`) of `span`, or of the current one, into
    message headers."""
    propagate.inject(headers, context=None if span is None else trace.set_span_in_context(span))
    return headers


def extract(headers: Mapping[str, str] | None) -> context.Context:
    return propagate.extract(dict(headers or {}))


def current_traceparent() -> str | None:
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier.get("traceparent")


def link_to(traceparent: str | None) -> list[Link]:
    """A span link to the context a traceparent names (for work resumed days later)."""
    if not traceparent:
        return []
    span_context = trace.get_current_span(extract({"traceparent": traceparent})).get_span_context()
    return [Link(span_context)] if span_context.is_valid else []


def messaging_attributes(
    operation: str, destination: str, *, message_id: str | None = None, client_id: str | None = None
) -> dict[str, Any]:
    """OpenTelemetry messaging semantic-convention attributes for NATS."""
    operation_type = {"publish": "send", "request": "send", "fetch": "receive"}.get(operation, "process")
    attributes: dict[str, Any] = {
        "messaging.system": MESSAGING_SYSTEM,
        "messaging.operation.name": operation,
        "messaging.operation.type": operation_type,
        "messaging.destination.name": destination,
    }
    if message_id:
        attributes["messaging.message.id"] = message_id
    if client_id:
        attributes["messaging.client.id"] = client_id
    return attributes


BATCH_TEMPLATES = "messaging.nats.destination.templates"


def messaging_batch_attributes(operation: str, destinations: Sequence[str]) -> dict[str, Any]:
    """The same for a batch of messages: their count, and the destination when they share one
    (a batch to several has none, and its span is named by the operation alone); per-message
    attributes such as the id are left out. Where they went is kept, as templates, in a NATS
    attribute of our own, for a reader of the trace."""
    attributes = messaging_attributes(operation, destinations[0])
    if len(set(destinations)) > 1:
        del attributes["messaging.destination.name"]
    attributes["messaging.batch.message_count"] = len(destinations)
    attributes[BATCH_TEMPLATES] = sorted({subject_template(d) for d in destinations})
    return attributes


_WORD = re.compile(r"^(?:[a-z_]+|v[0-9]+|[*>])$")


@functools.lru_cache(maxsize=4096)
def subject_template(subject: str) -> str:
    """A low-cardinality span name: past root, region and service, tokens that are not words become `{id}`.

    Kept for the subjects seen (a service's are a few dozen, with no ids in them): the relay names a
    span by each message's, a consumer by each delivery's; 1.9 us a call made, 0.1 kept."""
    parts = subject.split(".")
    return ".".join(p if i < 3 or _WORD.match(p) else "{id}" for i, p in enumerate(parts))


def span_to_json(span: ReadableSpan) -> dict[str, Any]:
    ctx = span.get_span_context()
    if ctx is None:
        raise ValueError("span without context")
    return {
        "trace_id": f"{ctx.trace_id:032x}",
        "span_id": f"{ctx.span_id:016x}",
        "parent_id": f"{span.parent.span_id:016x}" if span.parent else None,
        "name": span.name,
        "kind": span.kind.name,
        "service": span.resource.attributes.get("service.name"),
        "start_ns": span.start_time,
        "end_ns": span.end_time,
        "status": span.status.status_code.name,
        "attributes": dict(span.attributes or {}),
        "links": [f"{link.context.trace_id:032x}/{link.context.span_id:016x}" for link in span.links],
    }


class NatsSpanExporter(SpanExporter):
    """Publishes finished spans to `<root>.traces.<trace_id>`, one message per trace per batch.

    The exporter runs on the SDK's worker thread; publishing is handed to the event loop.
    """

    def __init__(self, nc: Any, loop: asyncio.AbstractEventLoop, subject_root: str) -> None:
        self._nc = nc
        self._loop = loop
        self._root = subject_root

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        by_trace: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for span in spans:
            item = span_to_json(span)
            by_trace[item["trace_id"]].append(item)
        if self._loop.is_closed():
            return SpanExportResult.FAILURE
        messages = [
            (f"{self._root}.traces.{trace_id}", orjson.dumps(items, default=str))
            for trace_id, items in by_trace.items()
        ]
        try:  # one hand-over to the event loop per batch, not per trace
            asyncio.run_coroutine_threadsafe(self._publish(messages), self._loop)
        except RuntimeError:
            return SpanExportResult.FAILURE
        return SpanExportResult.SUCCESS

    async def _publish(self, messages: list[tuple[str, bytes]]) -> None:
        for subject, payload in messages:
            with contextlib.suppress(nats.errors.Error):  # a span store out of reach loses spans, nothing else
                await self._nc.publish(subject, payload)

    def shutdown(self) -> None:
        return None


def export_spans_to_nats(provider: TracerProvider, nc: Any, subject_root: str) -> None:
    provider.add_span_processor(
        BatchSpanProcessor(NatsSpanExporter(nc, asyncio.get_running_loop(), subject_root), schedule_delay_millis=500)
    )


__all__ = ["SpanKind", "current_traceparent", "extract", "inject", "link_to", "setup_tracing", "tracer"]
