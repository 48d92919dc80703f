"""The embedded trace store: spans kept in a NATS stream, one subject per trace id.

Operators read a whole trace by id with no collector installed. It is a window (memory storage,
three days), not an archive: under compose, Jaeger keeps the traces.
"""

from __future__ import annotations

import re
from typing import Any

import nats.errors
import orjson
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from runtime.messaging import StreamSpec
from runtime.tracing import BATCH_TEMPLATES


def trace_stream(root: str, max_bytes: int = 512 * 1024 * 1024) -> StreamSpec:
    """Spans of the last three days, in memory: JetStream reserves `max_bytes` of its memory store."""
    return StreamSpec(
        name=f"{root.upper()}_TRACES",
        subjects=(f"{root}.traces.*",),
        memory=True,
        max_age_seconds=3 * 24 * 3600,
        max_bytes=max_bytes,
    )


TRACE_ID = re.compile(r"[0-9a-f]{32}")  # a W3C trace id as spans and `X-Trace-Id` write it


def is_trace_id(text: str) -> bool:
    return TRACE_ID.fullmatch(text) is not None


async def read_trace(js: JetStreamContext, root: str, trace_id: str, *, limit: int = 5000) -> list[dict[str, Any]]:
    """Every span stored for `trace_id`, ordered by start time. Anything but a trace id is refused
    (a `*` or `>` would be a subject wildcard: other traces' spans)."""
    if not is_trace_id(trace_id):
        raise ValueError(f"not a trace id: {trace_id!r}")
    stream = trace_stream(root).name
    config = ConsumerConfig(ack_policy=AckPolicy.NONE, deliver_policy=DeliverPolicy.ALL, inactive_threshold=10.0)
    subscription = await js.pull_subscribe(f"{root}.traces.{trace_id}", stream=stream, config=config)
    spans: list[dict[str, Any]] = []
    try:
        while len(spans) < limit:
            try:
                batch = await subscription.fetch(256, timeout=0.5)
            except (TimeoutError, nats.errors.TimeoutError):
                break
            for msg in batch:
                spans.extend(orjson.loads(msg.data))
            if not batch or batch[-1].metadata.num_pending == 0:
                break
    finally:
        await subscription.unsubscribe()
    return sorted(spans, key=lambda s: s["start_ns"])


def render_tree(spans: list[dict[str, Any]]) -> str:
    """A text tree of spans: service, name and duration, children indented under parents."""
    by_parent: dict[str | None, list[dict[str, Any]]] = {}
    ids = {s["span_id"] for s in spans}
    for span in spans:
        parent = span["parent_id"] if span["parent_id"] in ids else None
        by_parent.setdefault(parent, []).append(span)
    lines: list[str] = []

    def walk(parent: str | None, depth: int) -> None:
        for span in by_parent.get(parent, []):
            took = (span["end_ns"] - span["start_ns"]) / 1e6 if span["end_ns"] else 0.0
            name = span["name"]
            batch = span.get("attributes", {}).get(BATCH_TEMPLATES)
            if batch:  # a batch send to several destinations: say which
                name += f" {span['attributes'].get('messaging.batch.message_count', '')} messages: {', '.join(batch)}"
            lines.append(f"{'  ' * depth}{span['service']}: {name} ({took:.1f} ms) {span['status']}")
            walk(span["span_id"], depth + 1)

    walk(None, 0)
    return "\n".join(lines)
