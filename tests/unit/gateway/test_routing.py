"""Gated routers: a path none of a router's routes can take skips it; what answers is FastAPI's own."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from starlette.routing import Match

from gateway.routing import GatedRouter


def _app() -> tuple[FastAPI, GatedRouter, GatedRouter]:
    app = FastAPI()
    enrolment = GatedRouter(prefix="/v1/regions/{region}")
    injury = GatedRouter(prefix="/v1/regions/{region}/injury")

    @enrolment.post("/employers", status_code=201)
    async def register(region: str) -> dict[str, str]:
        return {"router": "enrolment", "region": region}

    @enrolment.get("/employers/{code}")
    async def employer(region: str, code: str) -> dict[str, str]:
        return {"router": "enrolment", "code": code}

    @injury.post("/hospitals/{hospital_id}/settlements")
    async def settle(region: str, hospital_id: str) -> dict[str, str]:
        return {"router": "injury", "hospital": hospital_id}

    app.include_router(enrolment)
    app.include_router(injury)
    return app, enrolment, injury


async def _call(app: FastAPI, method: str, path: str) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        return await client.request(method, path)


async def test_each_request_reaches_its_route_through_the_gates() -> None:
    app, _, _ = _app()

    settled = await _call(app, "POST", "/v1/regions/36/injury/hospitals/H1/settlements")
    registered = await _call(app, "POST", "/v1/regions/44/employers")
    read = await _call(app, "GET", "/v1/regions/44/employers/X1")

    assert (settled.status_code, settled.json()) == (200, {"router": "injury", "hospital": "H1"})
    assert (registered.status_code, registered.json()) == (201, {"router": "enrolment", "region": "44"})
    assert read.json() == {"router": "enrolment", "code": "X1"}


async def test_a_router_whose_gate_refuses_the_path_tries_none_of_its_routes(monkeypatch: pytest.MonkeyPatch) -> None:
    app, enrolment, _ = _app()
    tried: list[str] = []
    for route in enrolment.routes:
        original = route.matches

        def spy(scope: Any, original: Any = original, path: str = route.path) -> Any:  # type: ignore[attr-defined]
            tried.append(path)
            return original(scope)

        monkeypatch.setattr(route, "matches", spy)

    settled = await _call(app, "POST", "/v1/regions/36/injury/hospitals/H1/settlements")
    registered = await _call(app, "POST", "/v1/regions/36/employers")

    assert settled.status_code == 200
    assert registered.status_code == 201
    assert tried == ["/v1/regions/{region}/employers"] * 2  # matched, then handled: only for its own path


async def test_wrong_method_unknown_path_and_a_trailing_slash_answer_as_without_gates() -> None:
    app, _, _ = _app()

    wrong_method = await _call(app, "GET", "/v1/regions/36/injury/hospitals/H1/settlements")
    unknown = await _call(app, "POST", "/v1/regions/36/nothing")
    slash = await _call(app, "POST", "/v1/regions/36/employers/")

    assert wrong_method.status_code == 405
    assert unknown.status_code == 404
    assert (slash.status_code, slash.headers["location"]) == (307, "http://t/v1/regions/36/employers")


async def test_a_route_added_after_the_first_request_is_found() -> None:
    app, enrolment, _ = _app()
    assert (await _call(app, "GET", "/v1/regions/36/employees")).status_code == 404

    @enrolment.get("/employees")
    async def employees(region: str) -> list[str]:
        return []

    assert (await _call(app, "GET", "/v1/regions/36/employees")).status_code == 200


def test_a_route_without_a_path_expression_turns_the_gate_off() -> None:
    router = GatedRouter()
    router.routes.append(object())  # type: ignore[arg-type]

    assert router._gate is None
    scope = {"type": "http", "path": "/anything", "root_path": "", "method": "GET"}
    assert router.matches(scope) == (Match.NONE, {})  # not included: FastAPI's own answer, not the gate's
    assert router._gate is None
