"""The object-level access matrix, built from the OpenAPI document (issue 9, S1-S3): every read route
of region 36 asked by callers who may not read it; forbidden actions that succeeded = 0."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import pytest

from gateway.auth import issue_token
from tests.conftest import Servers
from tests.e2e.working_lives import NANCHANG, YOUNG
from tests.stack import Stack, running_stack

# A value for each path or query parameter that passes validation, so the answer is about access.
VALUES = {
    "region": "36",
    "credit_code": NANCHANG,
    "case_id": "c" * 16,
    "lead_id": "0123456789abcdef",
    "trace_id": "0af7651916cd43dd8448eb211c80319c",
    "hospital_id": "H36001",
    "settlement_no": "S-0001",
    "determination_id": "RD-001",
    "code": "XJ01DCC040",
    "first": "2026-01-01",
    "last": "2026-12-31",
    "district": "360102",
    "day": "2026-12-01",
}


@pytest.fixture
async def stack(servers: Servers, subject_root: str) -> AsyncIterator[Stack]:
    async with running_stack(servers, subject_root, regions=("36", "44")) as s:
        yield s


def read_routes(stack: Stack) -> list[tuple[str, dict[str, str]]]:
    """Every GET of a region's data, its parameters filled in (the caller's own `/me` views aside)."""
    spec = stack.client._transport.app.openapi()  # type: ignore[attr-defined]
    routes = []
    for path, operations in spec["paths"].items():
        get = operations.get("get")
        if get is None or not path.startswith("/v1/regions/{region}") or "/me/" in path or "my-" in path:
            continue
        query = {
            p["name"]: VALUES[p["name"]] for p in get.get("parameters", []) if p["in"] == "query" and p.get("required")
        }
        routes.append((re.sub(r"\{(\w+)\}", lambda m: VALUES[m.group(1)], path), query))
    return routes


async def test_no_caller_reads_what_is_not_theirs(stack: Stack) -> None:
    secret = stack.settings.jwt_secret
    callers = {
        "operator of 44": issue_token(secret, kind="operator", subject="ops-44", region="44"),
        "a citizen": issue_token(secret, kind="citizen", subject="-", citizen_id=YOUNG),
        "an employer": issue_token(secret, kind="employer", subject=NANCHANG),
        "a hospital (JWT)": issue_token(secret, kind="hospital", subject="H36001"),
        "no token": None,
    }
    routes = read_routes(stack)
    outcomes: Counter[tuple[str, int]] = Counter()
    succeeded: list[str] = []
    server_errors: list[str] = []
    for who, token in callers.items():
        headers: dict[str, Any] = {"Authorization": f"Bearer {token}"} if token else {}
        for path, query in routes:
            if who == "an employer" and path.endswith(f"/employers/{NANCHANG}"):
                continue  # an employer reads itself
            response = await stack.client.get(path, params=query, headers=headers)
            outcomes[(who, response.status_code)] += 1
            if response.status_code < 300:
                succeeded.append(f"{who}: GET {path} -> {response.status_code}")
            if response.status_code >= 500:
                server_errors.append(f"{who}: GET {path} -> {response.status_code}")

    print(f"access matrix: {len(routes)} read routes x {len(callers)} callers: {dict(sorted(outcomes.items()))}")
    assert len(routes) >= 20
    assert succeeded == [], f"forbidden actions that succeeded: {succeeded}"
    assert server_errors == []
    assert all(status in (401, 403, 404) for (_, status) in outcomes), outcomes
