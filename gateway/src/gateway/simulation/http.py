"""A keep-alive HTTP/1.1 client that takes as little CPU as a request can, for load sent from Python.

The simulator and the bench send their load from the same two cores as the stack they measure.
httpx spent 1.6-3 ms of CPU per request here (its connection pool, anyio and sniffio on every
request): in a simulated year the simulator took a sixth of the machine from the stack. This client
writes a request and reads its answer on one asyncio stream per connection, nothing else.

`KeepAliveConnection` is one connection, one request at a time. `LeanClient` offers the part of
`httpx.AsyncClient.request` the simulator uses (JSON body, query parameters, headers; an answer with
`status_code`, `headers`, `text`, `json()`) over as many connections as requests in flight, and
raises httpx's transport errors, so a caller that retries them works with either client. Answers
are read by Content-Length (what the gateway sends) or chunked; a connection the server closed
while it sat idle is replaced once, without the request being counted as sent.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
import orjson


@dataclass(frozen=True, slots=True)
class Answer:
    status_code: int
    content: bytes
    headers: dict[str, str] = field(default_factory=dict)  # names in lower case

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return orjson.loads(self.content) if self.content else None


class StaleConnectionError(ConnectionError):
    """The server had closed this idle connection before the request: nothing of it was answered."""


class KeepAliveConnection:
    """One connection, one request at a time; it reconnects when the server closed it."""

    def __init__(self, host: str, port: int, headers: Mapping[str, str] | None = None) -> None:
        self.host = host
        self.port = port
        self._fixed = "".join(f"{name}: {value}\r\n" for name, value in (headers or {}).items())
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def __aenter__(self) -> KeepAliveConnection:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        await self.close()

    async def post_json(self, path: str, document: Any) -> Answer:
        return await self.request("POST", path, orjson.dumps(document), {"Content-Type": "application/json"})

    async def request(
        self, method: str, target: str, body: bytes = b"", headers: Mapping[str, str] | None = None
    ) -> Answer:
        """Send one request and read its answer. Raises StaleConnectionError when a connection kept
        from an earlier request was found closed before any byte of the answer."""
        reused = self._reader is not None and self._writer is not None
        if self._reader is None or self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        reader, writer = self._reader, self._writer
        extra = "".join(f"{name}: {value}\r\n" for name, value in (headers or {}).items())
        length = f"Content-Length: {len(body)}\r\n" if body or method not in ("GET", "HEAD") else ""
        head = f"{method} {target} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n{self._fixed}{extra}{length}\r\n"
        writer.write(head.encode("latin-1") + body)
        try:
            raw = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionResetError) as error:
            await self.close()
            if reused and not getattr(error, "partial", b""):
                raise StaleConnectionError(f"{self.host}:{self.port} closed the idle connection") from error
            raise
        lines = raw.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        fields = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name:
                fields[name.strip().lower()] = value.strip()
        content = await _body(reader, fields, status, method)
        if fields.get("connection", "").lower() == "close":
            await self.close()
        return Answer(status, content, fields)

    async def close(self) -> None:
        writer, self._reader, self._writer = self._writer, None, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError):  # already reset by the server: closed all the same
                await writer.wait_closed()


async def _body(reader: asyncio.StreamReader, fields: dict[str, str], status: int, method: str) -> bytes:
    if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
        return b""
    if "content-length" in fields:
        return await reader.readexactly(int(fields["content-length"]))
    if fields.get("transfer-encoding", "").lower() == "chunked":
        parts = []
        while size := int((await reader.readuntil(b"\r\n")).split(b";", 1)[0], 16):
            parts.append(await reader.readexactly(size))
            await reader.readexactly(2)
        while await reader.readuntil(b"\r\n") != b"\r\n":  # trailers, if any
            pass
        return b"".join(parts)
    raise ValueError(f"an answer framed neither by length nor in chunks (status {status}): {fields}")


class LeanClient:
    """httpx.AsyncClient's `request`, as the simulator uses it, over keep-alive connections to one server."""

    def __init__(self, base_url: str, *, timeout: float = 60.0) -> None:
        parts = urlsplit(base_url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"a plain http:// base URL is needed, not {base_url!r}")
        self.host, self.port = parts.hostname, parts.port or 80
        self.prefix = parts.path.rstrip("/")
        self.timeout = timeout
        self._idle: list[KeepAliveConnection] = []

    async def __aenter__(self) -> LeanClient:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        await self.aclose()

    async def request(
        self,
        method: str,
        url: str,
        *,
        json: Any = None,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Answer:
        target = f"{self.prefix}{url}" + (f"?{urlencode(params)}" if params else "")
        body, sent = b"", dict(headers or {})
        if json is not None:
            body = orjson.dumps(json)
            sent["Content-Type"] = "application/json"
        connection = self._idle.pop() if self._idle else KeepAliveConnection(self.host, self.port)
        try:
            async with asyncio.timeout(self.timeout):
                try:
                    answer = await connection.request(method, target, body, sent)
                except StaleConnectionError:
                    answer = await connection.request(method, target, body, sent)  # on a new connection
        except TimeoutError as error:
            await connection.close()
            raise httpx.ReadTimeout(f"{method} {url}: no answer within {self.timeout}s") from error
        except ConnectionRefusedError as error:
            raise httpx.ConnectError(f"{method} {url}: {self.host}:{self.port} refused the connection") from error
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as error:
            await connection.close()
            raise httpx.ReadError(f"{method} {url}: {type(error).__name__}: {error}") from error
        except BaseException:  # cancelled mid-answer: the connection is out of step, never reused
            await connection.close()
            raise
        self._idle.append(connection)
        return answer

    async def get(self, url: str, **options: Any) -> Answer:
        return await self.request("GET", url, **options)

    async def post(self, url: str, **options: Any) -> Answer:
        return await self.request("POST", url, **options)

    async def aclose(self) -> None:
        idle, self._idle = self._idle, []
        for connection in idle:
            await connection.close()
