"""The audit trail on real JetStream: records queued together share a message per region, none is lost."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext

from gateway.audit import AuditTrail, audit_stream, read_audit
from runtime.messaging import ensure_stream, latest_messages
from tests.waiting import eventually


def record(n: int, region: str | None) -> dict[str, Any]:
    return {"method": "POST", "path": f"/v1/regions/{region}/employers", "status": 201, "n": n, "region": region}


@pytest.fixture
async def js(nc: NatsClient, subject_root: str) -> JetStreamContext:
    """JetStream with the audit stream in place."""
    js = nc.jetstream()
    await ensure_stream(js, audit_stream(subject_root), replicas=1, duplicate_window=60)
    return js


async def stream_messages(js: JetStreamContext, root: str) -> list[tuple[str, Any]]:
    info = await js.stream_info(audit_stream(root).name)
    found = []
    for seq in range(info.state.first_seq, info.state.last_seq + 1):
        message = await js.get_msg(audit_stream(root).name, seq)
        found.append((message.subject, orjson.loads(message.data or b"null")))
    return found


async def test_records_queued_together_go_in_one_message_per_region(js: JetStreamContext, subject_root: str) -> None:
    trail = AuditTrail(js, subject_root, most_per_message=3)
    for n, region in enumerate(["36", "44", "36", None, "36", "36", "36"]):
        trail.add(region, record(n, region))
    await trail.flush()

    messages = await stream_messages(js, subject_root)
    per_subject: dict[str, list[list[int]]] = {}
    for subject, records in messages:
        per_subject.setdefault(subject, []).append([r["n"] for r in records])
    assert per_subject == {
        f"{subject_root}.audit.36": [[0, 2, 4], [5, 6]],
        f"{subject_root}.audit.44": [[1]],
        f"{subject_root}.audit.none": [[3]],
    }
    assert trail.stored == 7
    assert sorted(r["n"] for r in await read_audit(js, subject_root, last=50)) == list(range(7))


async def test_the_running_trail_stores_what_requests_queue_and_the_rest_when_it_closes(
    js: JetStreamContext, subject_root: str
) -> None:
    trail = AuditTrail(js, subject_root)
    trail.start()
    trail.add("36", record(0, "36"))

    async def stored_alone() -> bool:  # the task stores it on its own
        return trail.stored == 1

    await eventually(stored_alone)
    for n in range(1, 40):
        trail.add("36", record(n, "36"))
    await trail.close()  # what is still queued is stored before the trail stops

    assert trail._task is not None and trail._task.done()
    assert [r["n"] for r in await read_audit(js, subject_root, last=100)] == list(range(40))


async def test_closing_while_a_message_waits_for_its_ack_loses_none_of_its_records(
    js: JetStreamContext, subject_root: str
) -> None:
    trail = AuditTrail(js, subject_root, linger=0)  # the first record leaves at once
    trail.start()
    trail.add("36", record(0, "36"))
    for _ in range(3):  # the task takes record 0 and publishes it: its ack is on the way
        await asyncio.sleep(0)
    assert trail.stored == 0
    trail.add("36", record(1, "36"))
    await trail.close()

    assert trail.stored == 2
    assert [r["n"] for r in await read_audit(js, subject_root)] == [0, 1]


async def test_records_queued_within_the_linger_of_the_first_share_its_message(
    js: JetStreamContext, subject_root: str
) -> None:
    trail = AuditTrail(js, subject_root, linger=0.5)
    trail.start()
    for n in range(5):  # requests answered one after another on a quiet gateway
        trail.add("36", record(n, "36"))
        for _ in range(3):  # the trail's task runs: without a linger it would send this record now
            await asyncio.sleep(0)

    async def stored() -> bool:
        return trail.stored == 5

    await eventually(stored)
    await trail.close()

    messages = await latest_messages(js, audit_stream(subject_root).name, 10)
    assert [[r["n"] for r in orjson.loads(m)] for m in messages] == [[0, 1, 2, 3, 4]]


async def test_read_audit_takes_single_records_and_arrays_and_keeps_the_last_ones(
    js: JetStreamContext, subject_root: str
) -> None:
    assert await read_audit(js, subject_root) == []  # nothing stored yet: an empty list, not an error
    await js.publish(f"{subject_root}.audit.36", orjson.dumps(record(0, "36")))  # one record per message, as before
    await js.publish(f"{subject_root}.audit.36", orjson.dumps([record(1, "36"), record(2, "36")]))
    await js.publish(f"{subject_root}.audit.36", orjson.dumps([record(3, "36")]))

    assert [r["n"] for r in await read_audit(js, subject_root, last=10)] == [0, 1, 2, 3]
    assert [r["n"] for r in await read_audit(js, subject_root, last=2)] == [2, 3]


async def test_a_full_queue_drops_records_and_says_so(
    js: JetStreamContext, subject_root: str, caplog: pytest.LogCaptureFixture
) -> None:
    trail = AuditTrail(js, subject_root, most_queued=2)  # as when JetStream is out of reach for long
    for n in range(3):
        trail.add("36", record(n, "36"))
    await trail.flush()

    assert (trail.stored, trail.dropped) == (2, 1)
    assert [r["n"] for r in await read_audit(js, subject_root)] == [0, 1]
    assert any("audit records dropped" in r.getMessage() for r in caplog.records)
