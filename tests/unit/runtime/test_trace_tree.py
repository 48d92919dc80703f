"""The text tree `yiwang trace` prints: a send of several messages says where each went."""

from __future__ import annotations

from typing import Any

from runtime.traces import render_tree
from runtime.tracing import BATCH_TEMPLATES


def _span(span_id: str, parent: str | None, name: str, **attributes: Any) -> dict[str, Any]:
    return {
        "span_id": span_id,
        "parent_id": parent,
        "service": "enrolment",
        "name": name,
        "start_ns": 1_000_000,
        "end_ns": 3_500_000,
        "status": "UNSET",
        "attributes": attributes,
    }


def test_a_batch_send_names_its_destinations_and_a_single_send_its_own() -> None:
    batch = {
        "messaging.batch.message_count": 2,
        BATCH_TEMPLATES: ["t.36.enrolment.evt.a.v1", "t.36.enrolment.evt.b.v1"],
    }
    spans = [
        _span("1", None, "process t.36.enrolment.register_employer"),
        _span("2", "1", "send", **batch),
        _span("3", "1", "send t.36.enrolment.evt.c.v1", **{"messaging.message.id": "m-1"}),
    ]

    assert render_tree(spans).splitlines() == [
        "enrolment: process t.36.enrolment.register_employer (2.5 ms) UNSET",
        "  enrolment: send 2 messages: t.36.enrolment.evt.a.v1, t.36.enrolment.evt.b.v1 (2.5 ms) UNSET",
        "  enrolment: send t.36.enrolment.evt.c.v1 (2.5 ms) UNSET",
    ]
