"""Processes wait for servers that are not up yet, and refuse servers that could lose data."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import pytest

from runtime import db
from runtime.embedded import EmbeddedNats, EmbeddedPostgres, free_port
from runtime.messaging import UnsafeConfigurationError, connect, verify_server_safety
from tests.conftest import Servers
from tests.waiting import eventually


async def logged(caplog: pytest.LogCaptureFixture, text: str) -> bool:
    return text in caplog.text


async def test_a_pool_opened_before_postgres_is_up_connects_once_it_is(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server = EmbeddedPostgres(tmp_path / "pg", port=free_port())
    opening = asyncio.create_task(db.create_pool(server.url, size=2, wait_seconds=60))
    await eventually(lambda: logged(caplog, "postgres not reachable, retrying"))
    await asyncio.to_thread(server.start)
    try:
        pool = await opening
        assert await pool.fetchval("SELECT 1") == 1
        await pool.close()
    finally:
        server.stop()


async def test_a_connection_opened_before_nats_is_up_connects_once_it_is(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server = EmbeddedNats(tmp_path / "nats")
    opening = asyncio.create_task(connect([server.url], name="early", wait_seconds=60))
    await eventually(lambda: logged(caplog, "nats not reachable, retrying"))
    await asyncio.to_thread(server.start)
    try:
        nc = await opening
        assert nc.is_connected
        await nc.close()
    finally:
        server.stop()


def test_jetstream_without_fsync_before_ack_is_refused(tmp_path: Path) -> None:
    unsafe = EmbeddedNats(tmp_path / "nats", sync_always=False).start()
    try:
        with pytest.raises(UnsafeConfigurationError, match="sync_interval"):
            verify_server_safety(unsafe.monitor_url, require_sync_always=True, replicas=1)
    finally:
        unsafe.stop()


def test_jetstream_with_fsync_before_ack_is_accepted(tmp_path: Path) -> None:
    safe = EmbeddedNats(tmp_path / "nats").start()
    try:
        verify_server_safety(safe.monitor_url, require_sync_always=True, replicas=1)
    finally:
        safe.stop()


def test_a_service_without_a_way_to_check_the_server_is_refused() -> None:
    with pytest.raises(UnsafeConfigurationError, match="MONITOR_URL"):
        verify_server_safety(None, require_sync_always=True, replicas=1)


async def test_the_embedded_servers_urls_reach_postgres_over_its_unix_socket_and_tcp_stays_open(
    servers: Servers,
) -> None:
    """Services connect over the socket (cheaper per round trip); psql and other tools keep TCP."""
    if servers.postgres is None:
        pytest.skip("the embedded servers' URLs; containers give their own")
    over_socket = await asyncpg.connect(servers.postgres.database_url("postgres"))
    over_tcp = await asyncpg.connect(host="127.0.0.1", port=servers.postgres.port, user="postgres")
    try:
        assert await over_socket.fetchval("SELECT inet_server_addr()") is None  # NULL: a Unix socket
        assert str(await over_tcp.fetchval("SELECT inet_server_addr()")) == "127.0.0.1"
    finally:
        await over_socket.close()
        await over_tcp.close()
