"""A command through the gateway to a region's service, its event through the outbox and NATS into
a projection, read back through the gateway, in one trace."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from gateway.audit import read_audit
from runtime.tracing import BATCH_TEMPLATES
from runtime.workdays import local_date
from tests.conftest import Servers
from tests.e2e.working_lives import YOUNG
from tests.stack import Stack, running_stack
from tests.waiting import eventually

EMPLOYER = {
    "credit_code": "91350100M000100Y43",
    "name": "Nanchang Steel Works",
    "division_code": "360102",
    "industry_code": "C3110",
    "established_on": "2026-01-05",
}


@pytest.fixture
async def stack(servers: Servers, subject_root: str) -> AsyncIterator[Stack]:
    async with running_stack(servers, subject_root, services=("enrolment", "transfer", "arrears", "injury")) as s:
        yield s


async def read_employer(stack: Stack, region: str = "36") -> httpx.Response | None:
    response = await stack.client.get(
        f"/v1/regions/{region}/employers/{EMPLOYER['credit_code']}", headers=stack.token(region=region)
    )
    return response if response.status_code == 200 else None


async def test_a_registered_employer_is_read_back_and_counted_with_its_channel(stack: Stack) -> None:
    created = await stack.client.post(
        "/v1/regions/36/employers", json=EMPLOYER, headers={**stack.token(), "X-Channel": "counter"}
    )
    found = await eventually(lambda: read_employer(stack))

    assert created.status_code == 201, created.text
    assert found.json()["route"] == "manual"
    assert found.json()["channel"] == "counter"
    assert await read_employer(stack, "44") is None

    today = local_date(stack.clock.now()).isoformat()

    async def counted() -> dict[str, Any] | None:
        r = await stack.client.get(
            "/v1/regions/36/statistics/online-share", params={"first": today, "last": today}, headers=stack.token()
        )
        body: dict[str, Any] = r.json()
        return body if body.get("handled") == 1 else None

    share = await eventually(counted)
    assert share["by_channel"] == {"counter": 1}
    assert share["online_share_percent"] == 0.0


async def test_the_write_path_is_one_trace_from_http_through_nats_postgres_outbox_and_consumer(stack: Stack) -> None:
    """An employee enrolled in 36: the command, its transaction and outbox, the event on NATS, and the
    transfer service of 36 taking it into its contribution-history projection, all one trace."""
    registered = await stack.client.post("/v1/regions/36/employers", json=EMPLOYER, headers=stack.token())
    assert registered.status_code == 201, registered.text
    await eventually(lambda: read_employer(stack))
    stack.spans.clear()
    enrolled = await stack.client.post(
        "/v1/regions/36/employees",
        json={
            "citizen_id": YOUNG,
            "employer_credit_code": EMPLOYER["credit_code"],
            "hired_on": "2026-02-01",
            "declared_monthly_wage_fen": 800_000,
        },
        headers=stack.token(),
    )
    assert enrolled.status_code == 201, enrolled.text
    trace_id = int(enrolled.headers["x-trace-id"], 16)

    def names() -> set[str]:
        return {s.name for s in stack.spans.get_finished_spans() if s.context.trace_id == trace_id}

    async def complete() -> set[str] | None:
        found = names()
        return found if any(n.startswith("process t") and "evt" in n for n in found) else None

    found = await eventually(complete)
    root = stack.settings.subject_root
    assert "POST /v1/regions/36/employees" in found
    assert f"send {root}.36.enrolment.cmd.enrol_employee" in found
    assert f"process {root}.36.enrolment.enrol_employee" in found
    traced = [s for s in stack.spans.get_finished_spans() if s.context.trace_id == trace_id]
    sent = {s.name.removeprefix("send ") for s in traced if s.name.startswith("send ")} | {
        template for s in traced if s.name == "send" for template in (s.attributes or {}).get(BATCH_TEMPLATES, ())
    }  # the enrolment's messages leave together, under one send span naming where each went
    assert f"{root}.36.enrolment.evt.employee_enrolled.v2" in sent
    assert f"process {root}.36.enrolment.evt.employee_enrolled.v2" in found
    assert "transaction" in found
    spans = [s for s in stack.spans.get_finished_spans() if s.context.trace_id == trace_id]
    consumer = next(s for s in spans if s.name.startswith("process") and "evt" in s.name)
    assert consumer.attributes is not None
    assert consumer.attributes["messaging.system"] == "nats"
    assert consumer.attributes["messaging.operation.type"] == "process"
    history = stack.services[("transfer", "36")].resources.pool

    async def in_the_projection() -> bool:
        return bool(await history.fetchval("SELECT count(*) FROM employments") == 1)

    await eventually(in_the_projection)


async def test_a_malformed_request_is_a_400_naming_the_field_and_stores_nothing(stack: Stack) -> None:
    bad = {**EMPLOYER, "credit_code": "91350100M000100Y44", "established_on": "not-a-date"}

    response = await stack.client.post("/v1/regions/36/employers", json=bad, headers=stack.token())

    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    fields = {e["field"] for e in response.json()["errors"]}
    assert fields == {"body.credit_code", "body.established_on"}
    assert await read_employer(stack) is None
    pool = stack.services[("enrolment", "36")].resources.pool
    assert await pool.fetchval("SELECT count(*) FROM events") == 0


async def test_a_rule_broken_is_a_clear_409_and_a_retry_with_the_same_key_gets_the_first_answer(stack: Stack) -> None:
    headers = {**stack.token(), "Idempotency-Key": "register-nanchang-steel-1"}

    first = await stack.client.post("/v1/regions/36/employers", json=EMPLOYER, headers=headers)
    retry = await stack.client.post("/v1/regions/36/employers", json=EMPLOYER, headers=headers)
    again = await stack.client.post("/v1/regions/36/employers", json=EMPLOYER, headers=stack.token())

    assert first.status_code == retry.status_code == 201
    assert first.json() == retry.json()
    assert again.status_code == 409
    assert again.json()["type"].endswith("/employer-already-registered")
    pool = stack.services[("enrolment", "36")].resources.pool
    assert await pool.fetchval("SELECT count(*) FROM events WHERE event_type = 'EmployerRegistered'") == 1


async def test_the_same_key_and_body_twenty_times_then_ten_at_once_change_the_world_once(stack: Stack) -> None:
    """S5: a client retrying hard. Each answer is the first one (or 409 in use while it runs)."""
    headers = {**stack.token(), "Idempotency-Key": "register-nanchang-steel-x20"}
    sent = [await stack.client.post("/v1/regions/36/employers", json=EMPLOYER, headers=headers) for _ in range(20)]
    at_once = await asyncio.gather(
        *(stack.client.post("/v1/regions/36/employers", json=EMPLOYER, headers=headers) for _ in range(10))
    )
    other_key = {**stack.token(), "Idempotency-Key": "register-nanchang-steel-x10"}
    racing = await asyncio.gather(
        *(stack.client.post("/v1/regions/36/employers", json=EMPLOYER, headers=other_key) for _ in range(10))
    )

    first = sent[0].json()
    assert [r.status_code for r in sent] == [201] * 20 and all(r.json() == first for r in sent)
    # At once: one goes through and gets the stored answer; the others, while it runs, 409 + Retry-After.
    assert all(r.json() == first if r.status_code == 201 else r.headers["retry-after"] == "1" for r in at_once)
    assert {r.status_code for r in at_once} <= {201, 409} and any(r.status_code == 201 for r in at_once)
    # A new key raced ten times: one does the work; the rest get its answer or 409 while it runs; the
    # registration itself is refused as a duplicate of the first key's.
    assert {r.status_code for r in racing} <= {409} and len(racing) == 10
    pool = stack.services[("enrolment", "36")].resources.pool
    assert await pool.fetchval("SELECT count(*) FROM events WHERE event_type = 'EmployerRegistered'") == 1


async def test_the_same_idempotency_key_with_another_body_is_refused_and_changes_nothing(stack: Stack) -> None:
    headers = {**stack.token(), "Idempotency-Key": "register-nanchang-steel-2"}
    first = await stack.client.post("/v1/regions/36/employers", json=EMPLOYER, headers=headers)
    other = await stack.client.post(
        "/v1/regions/36/employers", json={**EMPLOYER, "name": "Another Steel Co"}, headers=headers
    )

    assert first.status_code == 201
    assert other.status_code == 422
    assert other.json()["type"].endswith("/idempotency-key-reused")
    stored = await eventually(lambda: read_employer(stack))
    assert stored.json()["name"] == EMPLOYER["name"]


async def test_a_retry_while_the_first_request_is_still_running_gets_409_with_retry_after(stack: Stack) -> None:
    nc = stack.services[("enrolment", "36")].resources.nc
    await nc.subscribe(f"{stack.settings.subject_root}.12.enrolment.cmd.*", cb=_never_answers)
    await nc.flush()  # the server knows the subscriber before the request goes out
    headers = {**stack.token(region="12"), "Idempotency-Key": "slow-registration-1"}
    first = asyncio.create_task(stack.client.post("/v1/regions/12/employers", json=EMPLOYER, headers=headers))
    bus = stack.client._transport.app.state.bus  # type: ignore[attr-defined]

    async def running() -> bool:
        return bool(bus._in_flight)

    await eventually(running)
    retry = await stack.client.post("/v1/regions/12/employers", json=EMPLOYER, headers=headers)

    assert retry.status_code == 409
    assert retry.json()["type"].endswith("/idempotency-key-in-use")
    assert retry.headers["retry-after"] == "1"
    assert (await first).status_code == 504


async def _never_answers(msg: Any) -> None:
    return None


async def test_an_operator_of_another_region_and_a_request_without_a_token_are_refused(stack: Stack) -> None:
    no_token = await stack.client.post("/v1/regions/36/employers", json=EMPLOYER)
    other_region = await stack.client.post("/v1/regions/36/employers", json=EMPLOYER, headers=stack.token(region="44"))

    assert no_token.status_code == 401
    assert other_region.status_code == 403
    assert other_region.headers["content-type"] == "application/problem+json"


async def test_a_region_with_no_service_running_answers_503_not_500(stack: Stack) -> None:
    response = await stack.client.post("/v1/regions/31/employers", json=EMPLOYER, headers=stack.token(region="31"))

    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"


async def test_a_service_too_slow_to_answer_gives_a_504_telling_the_client_to_retry(
    stack: Stack, servers: Servers
) -> None:
    nc = stack.services[("enrolment", "36")].resources.nc
    root = stack.settings.subject_root

    async def never_answers(msg: Any) -> None:
        return None

    await nc.subscribe(f"{root}.12.enrolment.cmd.*", cb=never_answers)
    await nc.flush()  # the server knows the subscriber before the request goes out
    response = await stack.client.post("/v1/regions/12/employers", json=EMPLOYER, headers=stack.token(region="12"))

    assert response.status_code == 504
    assert "Idempotency-Key" in response.json()["detail"]


async def test_every_change_and_every_refusal_leaves_an_audit_record(stack: Stack) -> None:
    created = await stack.client.post("/v1/regions/36/employers", json=EMPLOYER, headers=stack.token())
    other_region = await stack.client.post(
        "/v1/regions/36/employers", json=EMPLOYER, headers=stack.token(subject="ops-44", region="44")
    )
    no_token = await stack.client.get(f"/v1/regions/36/employers/{EMPLOYER['credit_code']}")
    assert (created.status_code, other_region.status_code, no_token.status_code) == (201, 403, 401)
    js = stack.services[("enrolment", "36")].resources.js

    async def recorded() -> list[dict[str, Any]] | None:
        records = await read_audit(js, stack.settings.subject_root)
        return records if len(records) >= 3 else None

    records = await eventually(recorded)
    seen = [(r["method"], r["status"], r["problem"], (r["actor"] or {}).get("id"), r["region"]) for r in records]
    assert seen == [
        ("POST", 201, None, "ops-1", "36"),
        ("POST", 403, "https://yiwang.example/problems/forbidden", "ops-44", "36"),
        ("GET", 401, "https://yiwang.example/problems/unauthorized", None, "36"),
    ]
    assert all(r["trace_id"] for r in records)
