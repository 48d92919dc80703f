"""leaf_span: an error is recorded on the span; an expected one (its caller retries) without a stack trace."""

from __future__ import annotations

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from runtime import tracing
from runtime.tracing import leaf_span

MODULE = "tests.unit.runtime.test_leaf_span"


class ConflictError(Exception):
    pass


@pytest.fixture
def spans(monkeypatch: pytest.MonkeyPatch) -> InMemorySpanExporter:
    """Spans of MODULE's tracer, from a provider of this test's own (the global one is set once)."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setitem(tracing._tracers, MODULE, provider.get_tracer(MODULE))
    return exporter


def test_an_unexpected_error_is_recorded_with_its_stack_trace(spans: InMemorySpanExporter) -> None:
    with pytest.raises(ValueError), leaf_span("work", kind=SpanKind.CLIENT, attributes={}, module=MODULE):
        raise ValueError("broken")

    (span,) = spans.get_finished_spans()
    (event,) = span.events
    assert span.status.status_code is StatusCode.ERROR
    assert event.name == "exception"
    assert event.attributes is not None
    assert event.attributes["exception.type"] == "ValueError"
    assert "raise ValueError" in str(event.attributes["exception.stacktrace"])


def test_an_expected_error_is_recorded_without_a_stack_trace(spans: InMemorySpanExporter) -> None:
    with (
        pytest.raises(ConflictError),
        leaf_span("work", kind=SpanKind.CLIENT, attributes={}, module=MODULE, expected=(ConflictError,)),
    ):
        raise ConflictError("stream s-1 is no longer at version 3")

    (span,) = spans.get_finished_spans()
    (event,) = span.events
    assert span.status.status_code is StatusCode.ERROR
    assert span.status.description == "ConflictError: stream s-1 is no longer at version 3"
    assert event.name == "exception"
    assert dict(event.attributes or {}) == {
        "exception.type": "ConflictError",
        "exception.message": "stream s-1 is no longer at version 3",
    }


def test_a_span_without_error_records_no_event(spans: InMemorySpanExporter) -> None:
    with leaf_span("work", kind=SpanKind.CLIENT, attributes={"a": 1}, module=MODULE, expected=(ConflictError,)):
        pass

    (span,) = spans.get_finished_spans()
    assert span.events == ()
    assert span.status.status_code is StatusCode.UNSET


def test_a_span_within_trace_joins_a_recording_trace_and_starts_none_of_its_own(
    spans: InMemorySpanExporter,
) -> None:
    with leaf_span("background", kind=SpanKind.CLIENT, attributes={}, module=MODULE, within_trace=True) as alone:
        assert not alone.is_recording()
    assert spans.get_finished_spans() == ()

    parent = tracing._tracers[MODULE].start_span("request", kind=SpanKind.SERVER)
    context = trace.set_span_in_context(parent)
    with leaf_span(
        "transaction", kind=SpanKind.CLIENT, attributes={}, module=MODULE, context=context, within_trace=True
    ):
        pass
    parent.end()

    child, root = spans.get_finished_spans()
    assert (child.name, root.name) == ("transaction", "request")
    assert child.parent is not None and child.parent.span_id == root.context.span_id
