"""A span as the trace store keeps it: what the public API of the span says, read the quick way."""

from __future__ import annotations

from typing import Any

import orjson
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags

from runtime.tracing import span_json


def by_the_public_api(span: ReadableSpan, service: str) -> dict[str, Any]:
    ctx = span.context
    assert ctx is not None
    return {
        "trace_id": f"{ctx.trace_id:032x}",
        "span_id": f"{ctx.span_id:016x}",
        "parent_id": f"{span.parent.span_id:016x}" if span.parent else None,
        "name": span.name,
        "kind": span.kind.name,
        "service": service,
        "start_ns": span.start_time,
        "end_ns": span.end_time,
        "status": span.status.status_code.name,
        "attributes": {k: list(v) if isinstance(v, tuple) else v for k, v in (span.attributes or {}).items()},
        "links": [f"{link.context.trace_id:032x}/{link.context.span_id:016x}" for link in span.links],
    }


def finished_spans() -> tuple[ReadableSpan, ...]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span("root", kind=SpanKind.SERVER, attributes={"url.path": "/v1/x"}) as root:
        linked = Link(root.get_span_context())
        with tracer.start_as_current_span("child", kind=SpanKind.CLIENT, links=[linked]) as child:
            child.set_attributes({"count": 3, "ratio": 0.5, "ok": True, "names": ["a", "b"]})
            child.set_status(Status(StatusCode.ERROR, "refused"))
    return exporter.get_finished_spans()


def test_the_stored_span_says_what_the_public_api_says() -> None:
    for span in finished_spans():
        assert orjson.loads(span_json(span, "gateway")) == by_the_public_api(span, "gateway")


def test_a_span_made_with_plain_attributes_is_stored_the_same() -> None:
    ctx = SpanContext(0x1F, 0x2A, is_remote=False, trace_flags=TraceFlags(TraceFlags.SAMPLED))
    span = ReadableSpan(
        name="made elsewhere", context=ctx, attributes={"a": 1, "b": ("x", "y")}, start_time=5, end_time=9
    )

    stored = orjson.loads(span_json(span, None))

    assert stored == by_the_public_api(span, "") | {"service": None}
    assert stored["attributes"] == {"a": 1, "b": ["x", "y"]}
