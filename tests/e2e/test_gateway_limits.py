"""Rate and size limits at the gateway: 429 with Retry-After or 413, nothing stored, others unaffected."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.conftest import Servers
from tests.e2e.working_lives import NANCHANG
from tests.stack import Stack, running_stack


@pytest.fixture
async def stack(servers: Servers, subject_root: str) -> AsyncIterator[Stack]:
    async with running_stack(
        servers,
        subject_root,
        services=("enrolment",),
        regions=("36",),
        rate_limit_per_second=0.01,  # no token back while the test runs, however slow the machine
        rate_limit_burst=3,
        max_body_bytes=2_000,
    ) as s:
        yield s


async def test_a_caller_over_its_rate_gets_429_with_retry_after_and_another_caller_does_not(stack: Stack) -> None:
    busy = stack.token(subject="ops-busy")
    answers = [
        (await stack.client.get(f"/v1/regions/36/employers/{NANCHANG}", headers=busy)).status_code for _ in range(4)
    ]
    limited = await stack.client.get(f"/v1/regions/36/employers/{NANCHANG}", headers=busy)
    other = await stack.client.get(f"/v1/regions/36/employers/{NANCHANG}", headers=stack.token(subject="ops-quiet"))
    health = await stack.client.get("/health/live")

    assert answers[:3] == [404, 404, 404]
    assert answers[3] == 429
    assert limited.status_code == 429
    assert limited.headers["content-type"] == "application/problem+json"
    assert int(limited.headers["retry-after"]) >= 1
    assert other.status_code == 404
    assert health.status_code == 200


async def test_a_body_over_the_size_limit_is_413_and_stores_nothing(stack: Stack) -> None:
    body = {"credit_code": "x", "name": "n" * 5_000}
    response = await stack.client.post("/v1/regions/36/employers", json=body, headers=stack.token())

    assert response.status_code == 413
    assert response.json()["type"].endswith("/payload-too-large")
    pool = stack.services[("enrolment", "36")].resources.pool
    assert await pool.fetchval("SELECT count(*) FROM events") == 0
