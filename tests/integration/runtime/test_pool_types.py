"""A pool's connections ask the server about its own array types once per process, and about the
schema's own types every time (`runtime.db`)."""

from __future__ import annotations

from datetime import date
from ipaddress import IPv4Address
from typing import Any
from uuid import uuid4

import asyncpg

from runtime import db

ASKED_ABOUT_TYPES = "typeinfo_tree"  # asyncpg's catalogue query for types it cannot decode alone
INET_ARRAY = 1041  # inet[]'s oid: no other test reads one, so this process has not asked about it


def _logging(conn: asyncpg.Connection) -> list[Any]:
    """The queries `conn` sends from now on, as asyncpg's LoggedQuery records."""
    records: list[Any] = []
    conn.add_query_logger(records.append)
    return records


def _asked(records: list[Any]) -> list[Any]:
    return [record for record in records if ASKED_ABOUT_TYPES in record.query]


async def test_a_pools_connections_read_the_servers_array_types_without_asking_again(database_url: str) -> None:
    pool = await db.create_pool(database_url, size=2)
    statement = "SELECT $1::uuid[] AS ids, $2::date[] AS days, $3::jsonb[] AS docs"
    values = ([uuid4(), uuid4()], [date(2026, 1, 31)], [{"a": [1, "x"]}, {}])
    try:
        async with pool.acquire() as first, pool.acquire() as second:
            assert first is not second
            # The pool asked on one of its connections when it opened; neither asks again.
            for conn in (first, second):
                asked = _logging(conn)
                row = await conn.fetchrow(statement, *values)
                assert tuple(row) == values
                assert not _asked(asked)
            # One type known to the process, one it has not met: asked about the new one only.
            hosts = [IPv4Address("10.0.0.1")]
            mixed = await second.fetchrow("SELECT $1::uuid[] AS ids, $2::inet[] AS hosts", values[0], hosts)
            assert tuple(mixed) == (values[0], hosts)
            [question] = _asked(asked)
            assert question.args == ([INET_ARRAY],)
    finally:
        await pool.close()


async def test_a_type_the_schema_defines_is_asked_about_on_each_connection(database_url: str) -> None:
    pool = await db.create_pool(database_url, size=2)
    try:
        await pool.execute("CREATE TYPE shift AS ENUM ('day', 'night')")
        async with pool.acquire() as first, pool.acquire() as second:
            for conn in (first, second):
                asked = _logging(conn)
                assert await conn.fetchval("SELECT $1::shift[]", ["night", "day"]) == ["night", "day"]
                assert _asked(asked)
    finally:
        await pool.close()
