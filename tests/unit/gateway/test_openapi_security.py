"""The API description names how each route is called: a bearer token, or a hospital's signature."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.app import make_app
from gateway.config import GatewaySettings

SIGNATURE_HEADERS = {"authorization", "x-hospital-id", "x-timestamp", "x-message-id", "x-signature"}


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    return make_app(GatewaySettings(), install_tracing=False).openapi()


def _operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(path, method, op) for path, ops in spec["paths"].items() for method, op in ops.items()]


def test_both_schemes_are_described_with_the_headers_they_take(spec: dict[str, Any]) -> None:
    schemes = spec["components"]["securitySchemes"]

    assert schemes["bearer"] == {**schemes["bearer"], "type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    signature = schemes["hospital-signature"]
    assert (signature["type"], signature["in"], signature["name"]) == ("apiKey", "header", "X-Signature")
    assert all(name in signature["description"] for name in ("X-Hospital-Id", "X-Timestamp", "X-Message-Id"))


def test_hospital_routes_ask_for_the_signature_every_other_region_route_for_a_token(spec: dict[str, Any]) -> None:
    routes = [(path, method, op) for path, method, op in _operations(spec) if path.startswith("/v1/")]
    hospital = [op.get("security") for path, _, op in routes if "/hospitals/{hospital_id}" in path]
    others = [op.get("security") for path, _, op in routes if "/hospitals/{hospital_id}" not in path]

    assert hospital and all(security == [{"hospital-signature": []}] for security in hospital)
    assert others and all(security == [{"bearer": []}] for security in others)


def test_credentials_are_no_operation_parameter(spec: dict[str, Any]) -> None:
    declared = {p["name"].lower() for _, _, op in _operations(spec) for p in op.get("parameters", [])}

    assert not declared & SIGNATURE_HEADERS
    assert {"x-channel", "idempotency-key"} <= declared  # the other headers stay parameters of their routes
