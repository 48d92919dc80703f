"""A minimal HTTP health endpoint for service processes (`/health/live`, `/health/ready`)."""

from __future__ import annotations

import asyncio
import contextlib

import asyncpg
from nats.aio.client import Client as NatsClient


async def is_ready(pool: asyncpg.Pool, nc: NatsClient) -> bool:
    """Ready when PostgreSQL answers a query and NATS is connected."""
    if not nc.is_connected:
        return False
    try:
        async with asyncio.timeout(2):
            await pool.fetchval("SELECT 1")
    except Exception:  # noqa: BLE001 - whatever a dying server raises, the probe answers "not ready"
        return False
    return True


class HealthServer:
    def __init__(self, port: int, pool: asyncpg.Pool, nc: NatsClient, host: str = "0.0.0.0") -> None:  # noqa: S104
        self.port = port
        self.host = host
        self.pool = pool
        self.nc = nc
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self.host, self.port)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, TimeoutError):
            request_line = (await asyncio.wait_for(reader.readline(), 5)).decode(errors="replace")
            path = request_line.split(" ")[1] if request_line.count(" ") >= 2 else "/"
            if path.startswith("/health/live"):
                status, body = 200, b'{"status":"live"}'
            elif path.startswith("/health/ready"):
                ready = await is_ready(self.pool, self.nc)
                status, body = (200, b'{"status":"ready"}') if ready else (503, b'{"status":"not ready"}')
            else:
                status, body = 404, b'{"status":"not found"}'
            reason = {200: "OK", 404: "Not Found", 503: "Service Unavailable"}[status]
            writer.write(
                f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
                + body
            )
            await writer.drain()
        writer.close()

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
