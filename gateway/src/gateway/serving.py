"""The gateway served by uvicorn, its HTTP protocol writing an answer in one send.

uvicorn writes an answer's head and its body with one `transport.write` each: two sends, and on
loopback (a proxy or a load balancer on the same host, the bench's load) each send runs the
receiver's whole TCP path in the sender's system call, and wakes the receiver twice.
`CoalescingHttpToolsProtocol` hands uvicorn a transport whose writes within one turn of the event
loop leave together, at the end of the turn (docs/performance.md, "Gateway (FastAPI)").
"""

from __future__ import annotations

import asyncio
from typing import Any

import uvicorn
from fastapi import FastAPI
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from gateway.config import GatewaySettings

# Writes waiting past this are sent at once: a large body streamed without a pause reaches the socket,
# and uvicorn's flow control (paused while the socket's buffer is full) sees it, as without coalescing.
MOST_WAITING_BYTES = 64 * 1024


class CoalescingTransport:
    """A transport whose writes are sent together at the end of the loop's turn, or once
    `MOST_WAITING_BYTES` wait; closing sends what waits first. Everything else is the wrapped
    transport's."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._waiting: list[bytes] = []
        self._waiting_bytes = 0

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not self._waiting:
            self._loop.call_soon(self.send_waiting)
        chunk = bytes(data)
        self._waiting.append(chunk)
        self._waiting_bytes += len(chunk)
        if self._waiting_bytes >= MOST_WAITING_BYTES:
            self.send_waiting()

    def writelines(self, lines: Any) -> None:
        for data in lines:
            self.write(data)

    def send_waiting(self) -> None:
        if not self._waiting:
            return
        data = b"".join(self._waiting)  # a lone chunk is returned as it is, not copied
        self._waiting.clear()
        self._waiting_bytes = 0
        if not self._transport.is_closing():  # the peer has gone: nothing to send it
            self._transport.write(data)

    def close(self) -> None:
        self.send_waiting()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class CoalescingHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol over a `CoalescingTransport`."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(CoalescingTransport(transport, self.loop))  # type: ignore[arg-type]


def serve(app: FastAPI, settings: GatewaySettings) -> None:
    """Serve `app` until stopped (uvloop, httptools, no access log: the gateway audits requests)."""
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        http=CoalescingHttpToolsProtocol,
        log_config=None,
        access_log=False,
    )
