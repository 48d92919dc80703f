"""The embedded trace store: each process's spans reach `<root>.traces.<trace_id>` in JetStream,
where an operator reads a whole trace by id (`read_trace`, the gateway's `/v1/ops/traces/{id}`)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from typing import Any

import pytest
from nats.aio.client import Client as NatsClient
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import Link, SpanKind, Status, StatusCode

from runtime.messaging import ensure_stream
from runtime.traces import read_trace, trace_stream
from runtime.tracing import NatsSpanStore, export_spans_to_nats
from tests.waiting import eventually


@pytest.fixture
async def js(nc: NatsClient, subject_root: str) -> AsyncIterator[Any]:
    js = nc.jetstream(timeout=10)
    await ensure_stream(js, trace_stream(subject_root, 1024 * 1024), replicas=1, duplicate_window=120)
    yield js


def provider_of(service: str) -> TracerProvider:
    return TracerProvider(resource=Resource.create({"service.name": service}))


async def test_a_trace_is_read_back_whole_with_what_each_span_says(nc: NatsClient, js: Any, subject_root: str) -> None:
    provider = provider_of("transfer-36")
    store = export_spans_to_nats(provider, nc, subject_root)
    tracer = provider.get_tracer("test")
    with (
        tracer.start_as_current_span("process", kind=SpanKind.CONSUMER, attributes={"case": "c-1"}) as root,
        tracer.start_as_current_span("send", kind=SpanKind.PRODUCER, links=[Link(root.get_span_context())]) as child,
    ):
        child.set_attribute("messaging.batch.message_count", 2)
        child.set_attribute("destinations", ["a", "b"])
        child.set_status(Status(StatusCode.ERROR, "refused"))
    with tracer.start_as_current_span("another trace"):
        pass
    await store.close()

    trace_id = f"{root.get_span_context().trace_id:032x}"
    spans = await eventually(lambda: read_trace(js, subject_root, trace_id))

    assert [s["name"] for s in spans] == ["process", "send"]
    process, send = spans
    assert process == {
        "trace_id": trace_id,
        "span_id": f"{root.get_span_context().span_id:016x}",
        "parent_id": None,
        "name": "process",
        "kind": "CONSUMER",
        "service": "transfer-36",
        "start_ns": root.start_time,  # type: ignore[attr-defined]
        "end_ns": root.end_time,  # type: ignore[attr-defined]
        "status": "UNSET",
        "attributes": {"case": "c-1"},
        "links": [],
    }
    assert send["parent_id"] == process["span_id"]
    assert (send["kind"], send["status"]) == ("PRODUCER", "ERROR")
    assert send["attributes"] == {"messaging.batch.message_count": 2, "destinations": ["a", "b"]}
    assert send["links"] == [f"{trace_id}/{process['span_id']}"]


async def test_spans_waiting_are_published_after_the_delay_without_a_close(
    nc: NatsClient, js: Any, subject_root: str
) -> None:
    provider = provider_of("gateway")
    provider.add_span_processor(
        NatsSpanStore(nc, asyncio.get_running_loop(), subject_root, service="gateway", delay=0.2)
    )
    with provider.get_tracer("test").start_as_current_span("POST /v1/regions/36/employers") as span:
        pass

    trace_id = f"{span.get_span_context().trace_id:032x}"
    spans = await eventually(lambda: read_trace(js, subject_root, trace_id))
    assert [(s["name"], s["service"]) for s in spans] == [("POST /v1/regions/36/employers", "gateway")]


async def test_a_full_batch_is_published_at_once_one_message_per_trace(
    nc: NatsClient, js: Any, subject_root: str
) -> None:
    provider = provider_of("enrolment-36")
    store = NatsSpanStore(
        nc, asyncio.get_running_loop(), subject_root, service="enrolment-36", delay=3600, most_waiting=4
    )
    provider.add_span_processor(store)
    tracer = provider.get_tracer("test")
    roots = []
    for n in range(2):  # two traces of two spans: the fourth span fills the batch
        with tracer.start_as_current_span(f"request {n}") as root:
            tracer.start_span(f"transaction {n}").end()
        roots.append(root)

    for n, root in enumerate(roots):
        trace_id = f"{root.get_span_context().trace_id:032x}"
        spans = await eventually(lambda trace_id=trace_id: read_trace(js, subject_root, trace_id))
        assert sorted(s["name"] for s in spans) == [f"request {n}", f"transaction {n}"]
    info = await js.stream_info(trace_stream(subject_root).name)
    assert info.state.messages == 2  # one message a trace
    await store.close()


async def test_a_span_ended_on_another_thread_reaches_the_store(nc: NatsClient, js: Any, subject_root: str) -> None:
    provider = provider_of("gateway")
    store = export_spans_to_nats(provider, nc, subject_root)
    made: list[Any] = []

    def elsewhere() -> None:
        with provider.get_tracer("test").start_as_current_span("on a worker thread") as span:
            made.append(span)

    worker = threading.Thread(target=elsewhere)
    worker.start()
    # The span's hand-over to the loop is queued before the join's answer is: it has run by now.
    await asyncio.get_running_loop().run_in_executor(None, worker.join)
    await store.close()

    trace_id = f"{made[0].get_span_context().trace_id:032x}"
    spans = await eventually(lambda: read_trace(js, subject_root, trace_id))
    assert [s["name"] for s in spans] == ["on a worker thread"]


async def test_after_its_close_the_store_takes_no_span(nc: NatsClient, js: Any, subject_root: str) -> None:
    provider = provider_of("gateway")
    store = export_spans_to_nats(provider, nc, subject_root)
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span("before the close") as before:
        pass
    await store.close()
    with tracer.start_as_current_span("after the close"):
        pass
    store.flush()
    # A marker sent after on the same connection is stored after anything the store had sent.
    marker = "f" * 32  # a trace id of no span here
    await nc.publish(f"{subject_root}.traces.{marker}", b'[{"name": "marker", "start_ns": 0}]')

    await eventually(lambda: read_trace(js, subject_root, marker))
    trace_id = f"{before.get_span_context().trace_id:032x}"
    assert [s["name"] for s in await read_trace(js, subject_root, trace_id)] == ["before the close"]
    info = await js.stream_info(trace_stream(subject_root).name)
    assert info.state.messages == 2  # the span before the close and the marker
