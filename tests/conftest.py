"""Real servers for integration and end-to-end tests, started by the tests themselves.

By default NATS and PostgreSQL come from their PyPI wheels (one of each per test session);
with YIWANG_TEST_SERVERS=containers and a Docker engine, testcontainers starts them instead.
Each test gets its own database and its own subject root, so tests never see each other.
"""

from __future__ import annotations

import logging
import os
import subprocess
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import uuid4

import asyncpg
import hypothesis
import pytest
from nats.aio.client import Client as NatsClient

from runtime import db
from runtime.devstack import database_url as database_url_of
from runtime.embedded import EmbeddedNats, EmbeddedPostgres
from runtime.messaging import connect
from runtime.settings import RuntimeSettings
from tests.pii_scan import PiiScan, RecordScanner, scan_spans

# Every test has its own subject root, so its own trace stream: keep each small, or the memory
# JetStream reserves for them runs out over a session.
os.environ.setdefault("YIWANG_TRACE_STREAM_MAX_BYTES", str(4 * 1024 * 1024))

# Hypothesis fails a test whose example took over 200 ms once and not when run again ("Unreliable test
# timings"): a verdict on the machine's speed, never on the code. Tests here judge behaviour only.
hypothesis.settings.register_profile("yiwang", deadline=None)
hypothesis.settings.load_profile("yiwang")


@dataclass(frozen=True)
class Servers:
    nats_url: str
    nats_monitor_url: str | None
    postgres_admin_url: str
    nats: EmbeddedNats | None = None
    postgres: EmbeddedPostgres | None = None


def _containers() -> Iterator[Servers]:
    from testcontainers.core.container import DockerContainer
    from testcontainers.postgres import PostgresContainer

    with (
        PostgresContainer("postgres:18", username="postgres", password="postgres", dbname="postgres") as pg,
        DockerContainer("nats:2.12-alpine").with_command("-js -m 8222").with_exposed_ports(4222, 8222) as nats,
    ):
        host = nats.get_container_host_ip()
        yield Servers(
            nats_url=f"nats://{host}:{nats.get_exposed_port(4222)}",
            nats_monitor_url=None,
            postgres_admin_url=pg.get_connection_url(driver=None),
        )


@pytest.fixture(scope="session")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    if os.environ.get("YIWANG_TEST_SERVERS") == "containers":
        yield from _containers()
        return
    base = tmp_path_factory.mktemp("servers")
    nats = EmbeddedNats(base / "nats").start()
    postgres = EmbeddedPostgres(base / "pg").start()
    try:
        yield Servers(nats.url, nats.monitor_url, postgres.url, nats, postgres)
    finally:
        nats.stop()
        postgres.stop()


async def create_database(admin_url: str) -> str:
    name = f"t_{uuid4().hex[:12]}"
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return database_url_of(admin_url, name)


@pytest.fixture
async def database_url(servers: Servers) -> str:
    return await create_database(servers.postgres_admin_url)


@pytest.fixture
def subject_root() -> str:
    return f"t{uuid4().hex[:10]}"


@pytest.fixture
def settings(servers: Servers, database_url: str, subject_root: str) -> RuntimeSettings:
    return RuntimeSettings(
        region="36",
        nats_url=servers.nats_url,
        nats_monitor_url=servers.nats_monitor_url,
        database_url=database_url,
        subject_root=subject_root,
        require_sync_always=servers.nats_monitor_url is not None,
        pool_size=8,
    )


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await db.create_pool(database_url, size=8)
    await db.migrate(pool, db.sql_files(("runtime", db.runtime_migrations())))
    yield pool
    await pool.close()


@pytest.fixture
async def nc(servers: Servers) -> AsyncIterator[NatsClient]:
    client = await connect([servers.nats_url], name="test")
    yield client
    await client.close()


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return Path(__file__).resolve().parents[1]


def git_tracked(root: Path) -> list[str]:
    return subprocess.run(["git", "ls-files"], cwd=root, capture_output=True, text=True, check=True).stdout.split()


# Issue 9: every log record and span of the whole run is scanned for personal data (tests/pii_scan.py).
_PII = PiiScan()


def pytest_configure(config: pytest.Config) -> None:
    root = logging.getLogger()
    root.addHandler(RecordScanner(_PII))
    if root.level > logging.INFO:
        root.setLevel(logging.INFO)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    from tests.stack import _EXPORTER

    scan_spans(_PII, _EXPORTER.get_finished_spans())
    if _PII.leaks and exitstatus == 0:
        session.exitstatus = 1


def pytest_terminal_summary(terminalreporter: Any) -> None:
    terminalreporter.write_line(
        f"personal-data scan: {_PII.log_records} log records, {_PII.spans} spans, {len(_PII.leaks)} findings"
    )
    for leak in _PII.leaks[:20]:
        terminalreporter.write_line(f"  LEAK {leak}", red=True)
