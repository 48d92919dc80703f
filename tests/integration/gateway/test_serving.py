"""The gateway's uvicorn protocol on a real socket: each answer in one send, and what uvicorn sends
besides (a streamed answer, its refusal of a malformed request) still arrives whole."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from gateway.serving import CoalescingHttpToolsProtocol
from runtime.embedded import free_port
from tests.waiting import eventually


class Posted(BaseModel):
    name: str


SENT: list[bytes] = []  # what the protocol's connections handed to their sockets, one entry per send


class RecordingTransport:
    def __init__(self, transport: asyncio.Transport) -> None:
        self._transport = transport

    def write(self, data: bytes) -> None:
        SENT.append(bytes(data))
        self._transport.write(data)

    def __getattr__(self, name: str) -> object:
        return getattr(self._transport, name)


class RecordedProtocol(CoalescingHttpToolsProtocol):
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(RecordingTransport(transport))  # type: ignore[arg-type]


def _app() -> FastAPI:
    app = FastAPI()

    @app.post("/v1/things")
    async def post(body: Posted) -> dict[str, str]:
        return {"hello": body.name}

    @app.get("/v1/stream")
    async def stream() -> StreamingResponse:
        async def parts() -> AsyncIterator[bytes]:
            for part in (b"[1,", b"2,", b"3]"):
                await asyncio.sleep(0)  # each part in a later turn of the loop
                yield part

        return StreamingResponse(parts(), media_type="application/json")

    return app


@pytest.fixture
async def port() -> AsyncIterator[int]:
    SENT.clear()
    port = free_port()
    config = uvicorn.Config(_app(), host="127.0.0.1", port=port, http=RecordedProtocol, log_config=None)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())

    async def started() -> bool:
        return server.started

    await eventually(started)
    yield port
    server.should_exit = True
    await task


async def _exchange(port: int, raw: bytes) -> bytes:
    """Send `raw` and read until the server closes the connection."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(raw)
    await writer.drain()
    answer = await reader.read()
    writer.close()
    await writer.wait_closed()
    return answer


def _post(name: str, *, close: bool = False) -> bytes:
    body = b'{"name": "%s"}' % name.encode()
    connection = b"connection: close\r\n" if close else b""
    return (
        b"POST /v1/things HTTP/1.1\r\nhost: test\r\ncontent-type: application/json\r\n"
        + connection
        + b"content-length: %d\r\n\r\n" % len(body)
        + body
    )


async def test_each_answer_on_a_kept_connection_is_one_send_with_its_head_and_body(port: int) -> None:
    answer = await _exchange(port, _post("a") + _post("b") + _post("c", close=True))

    assert answer.count(b"HTTP/1.1 200 OK") == 3
    bodies = [made.rsplit(b"\r\n\r\n", 1)[1] for made in SENT]
    assert bodies == [b'{"hello":"a"}', b'{"hello":"b"}', b'{"hello":"c"}']
    assert all(made.startswith(b"HTTP/1.1 200 OK") for made in SENT)
    assert b"".join(SENT) == answer


async def test_a_streamed_answer_arrives_whole_its_parts_sent_as_they_come(port: int) -> None:
    answer = await _exchange(port, b"GET /v1/stream HTTP/1.1\r\nhost: test\r\nconnection: close\r\n\r\n")

    head, _, chunked = answer.partition(b"\r\n\r\n")
    assert b"transfer-encoding: chunked" in head
    assert chunked == b"3\r\n[1,\r\n2\r\n2,\r\n2\r\n3]\r\n0\r\n\r\n"
    assert b"".join(SENT) == answer
    assert len(SENT) > 1  # the parts came in later turns: they are not held back for the end


async def test_a_malformed_request_still_gets_uvicorns_400_before_the_connection_closes(port: int) -> None:
    answer = await _exchange(port, b"NOT A REQUEST\r\n\r\n")

    assert answer.startswith(b"HTTP/1.1 400 Bad Request")
    assert b"".join(SENT) == answer
