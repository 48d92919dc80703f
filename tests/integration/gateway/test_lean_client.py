"""The simulator's HTTP client against a real uvicorn server: answers, keep-alive, a connection the
server closed while idle, chunked answers, and httpx's errors for what fails."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse

from gateway.simulation.http import KeepAliveConnection, LeanClient
from runtime.embedded import free_port
from tests.waiting import eventually

KEEP_ALIVE_SECONDS = 5  # two requests in a row stay on one connection, however slow the machine


def _app() -> FastAPI:
    app = FastAPI()
    app.state.release = asyncio.Event()

    @app.post("/v1/echo/{name}")
    async def echo(name: str, request: Request) -> JSONResponse:
        body = await request.json()
        peer = request.client.port if request.client else None
        headers = {"Retry-After": "3"}
        return JSONResponse(
            {"name": name, "body": body, "key": request.headers.get("idempotency-key"), "peer": peer},
            status_code=201,
            headers=headers,
        )

    @app.get("/v1/query")
    async def query(request: Request) -> dict[str, Any]:
        return {"params": dict(request.query_params), "peer": request.client.port if request.client else None}

    @app.get("/v1/missing")
    async def missing() -> JSONResponse:
        return JSONResponse({"type": "not-found"}, status_code=404, media_type="application/problem+json")

    @app.get("/v1/chunked")
    async def chunked() -> StreamingResponse:
        async def parts() -> AsyncIterator[bytes]:
            for part in (b'{"parts": [', b'"a", ', b'"b"', b"]}"):
                yield part

        return StreamingResponse(parts(), media_type="application/json")

    @app.get("/v1/slow")
    async def slow(request: Request) -> dict[str, str]:
        await request.app.state.release.wait()  # answers only when the test is over
        return {"late": "yes"}

    return app


@dataclass
class Served:
    url: str
    uvicorn: uvicorn.Server

    async def idle_connections_closed(self) -> bool:
        return not self.uvicorn.server_state.connections


@pytest.fixture
async def server() -> AsyncIterator[Served]:
    port = free_port()
    app = _app()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, timeout_keep_alive=KEEP_ALIVE_SECONDS, log_level="warning"
    )
    running = uvicorn.Server(config)
    task = asyncio.create_task(running.serve())

    async def started() -> bool:
        return running.started

    await eventually(started)
    yield Served(f"http://127.0.0.1:{port}", running)
    app.state.release.set()
    running.should_exit = True
    await task


async def test_a_json_post_and_a_get_with_parameters_are_answered_on_one_kept_connection(server: Served) -> None:
    async with LeanClient(server.url) as client:
        posted = await client.request(
            "POST", "/v1/echo/x", json={"n": 1, "名": "南昌"}, headers={"Idempotency-Key": "k-1"}
        )
        got = await client.request("GET", "/v1/query", params={"first": "2026-12-01", "last": "2026-12-04 x"})

    assert posted.status_code == 201
    assert posted.headers["retry-after"] == "3"
    answer = posted.json()
    assert (answer["name"], answer["body"], answer["key"]) == ("x", {"n": 1, "名": "南昌"}, "k-1")
    assert got.status_code == 200
    assert got.json()["params"] == {"first": "2026-12-01", "last": "2026-12-04 x"}
    assert got.json()["peer"] == answer["peer"]  # the same connection, kept alive


async def test_an_error_answer_is_returned_with_its_status_and_text(server: Served) -> None:
    async with LeanClient(server.url) as client:
        answer = await client.request("GET", "/v1/missing")

    assert answer.status_code == 404
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.text == '{"type":"not-found"}'


async def test_a_connection_the_server_closed_while_idle_is_replaced_and_the_request_answered(server: Served) -> None:
    async with LeanClient(server.url) as client:
        first = await client.request("GET", "/v1/query")
        await eventually(server.idle_connections_closed)  # after KEEP_ALIVE_SECONDS
        second = await client.request("GET", "/v1/query")

    assert second.status_code == 200
    assert second.json()["peer"] != first.json()["peer"]


async def test_a_chunked_answer_is_read_whole(server: Served) -> None:
    async with LeanClient(server.url) as client:
        answer = await client.request("GET", "/v1/chunked")
        after = await client.request("GET", "/v1/query")  # the connection is still in step

    assert answer.headers.get("transfer-encoding") == "chunked"
    assert answer.json() == {"parts": ["a", "b"]}
    assert after.status_code == 200


async def test_requests_in_flight_at_once_each_get_their_own_answer(server: Served) -> None:
    async with LeanClient(server.url) as client:
        answers = await asyncio.gather(*(client.request("POST", f"/v1/echo/{i}", json={"i": i}) for i in range(12)))

    assert [a.json()["body"]["i"] for a in answers] == list(range(12))
    assert [a.json()["name"] for a in answers] == [str(i) for i in range(12)]


async def test_no_answer_in_time_is_an_httpx_timeout_and_the_client_goes_on(server: Served) -> None:
    async with LeanClient(server.url, timeout=2.0) as client:
        with pytest.raises(httpx.ReadTimeout):
            await client.request("GET", "/v1/slow")
        after = await client.request("GET", "/v1/query")

    assert after.status_code == 200


async def test_a_server_not_listening_is_an_httpx_connect_error() -> None:
    async with LeanClient(f"http://127.0.0.1:{free_port()}") as client:
        with pytest.raises(httpx.ConnectError):
            await client.request("GET", "/v1/query")


def test_only_a_plain_http_base_url_is_taken() -> None:
    with pytest.raises(ValueError, match="plain http"):
        LeanClient("https://gateway.example")


async def test_a_single_connection_posts_json_as_the_bench_does(server: Served) -> None:
    host, port = server.url.removeprefix("http://").split(":")
    async with KeepAliveConnection(host, int(port), {"Idempotency-Key": "k-2"}) as connection:
        answers = [await connection.post_json(f"/v1/echo/{i}", {"i": i}) for i in range(3)]

    assert [a.json()["body"] for a in answers] == [{"i": 0}, {"i": 1}, {"i": 2}]
    assert {a.json()["key"] for a in answers} == {"k-2"}
    assert len({a.json()["peer"] for a in answers}) == 1
