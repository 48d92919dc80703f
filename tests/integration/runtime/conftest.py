"""Fixtures of the runtime's integration tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from runtime.eventstore import PostgresEventStore
from runtime.testing import InMemoryEventStore


@pytest.fixture(params=["memory", "postgres"])
async def store(request: pytest.FixtureRequest, pool: asyncpg.Pool) -> AsyncIterator[Any]:
    """The in-memory fake and the PostgreSQL adapter, for contract tests that run on both."""
    yield InMemoryEventStore() if request.param == "memory" else PostgresEventStore(pool)
