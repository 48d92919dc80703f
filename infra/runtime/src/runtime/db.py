"""PostgreSQL connection pools and migrations."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Iterable
from importlib.resources.abc import Traversable
from typing import Any

import asyncpg
import orjson

from runtime.serialization import dumps

log = logging.getLogger(__name__)

_MIGRATION_LOCK = 7_361_482_901


def _dumps(value: Any) -> str:
    return dumps(value).decode()


async def _init_connection(conn: asyncpg.Connection) -> None:
    for name in ("jsonb", "json"):
        await conn.set_type_codec(name, encoder=_dumps, decoder=orjson.loads, schema="pg_catalog")


# Type oids below this are the server's own types (FirstNormalObjectId): the same in every database
# of a server, and never altered.
_FIRST_NORMAL_OID = 16384
# What the server said about each of its own types, by its major version: asked once per process.
_KNOWN_TYPES: dict[tuple[int, int], Any] = {}


# The server's array types the services' statements take or return (none of which asyncpg knows).
_ARRAY_TYPES_USED = "SELECT " + ", ".join(
    f"NULL::{name}[]"
    for name in ("uuid", "jsonb", "bigint", "int", "date", "bytea", "timestamptz", "numeric", "boolean")
)


class _NothingSent:
    """Stands for the statement an answer about types came with, when none was sent: asyncpg reads
    only its name, to tell whether that statement replaced the caller's unnamed one."""

    name = "known-types"


class _Connection(asyncpg.Connection):  # type: ignore[misc]
    """asyncpg decodes only text[] and oid[] arrays on its own: the first statement with a uuid[],
    jsonb[], bigint[] or date[] on each new connection asks the server about the type (a recursive
    catalogue query, planned afresh on every connection, with JIT turned off and on around it: three
    round trips). In the simulated year that was about 150 such queries and 1.2-1.7 s of PostgreSQL's
    planning, as the services' pools filled. The server's own types are the same on every
    connection, so what it said about each is kept for the process; a type the schema defines (which
    may change) is asked about as before."""

    async def _introspect_types(self, typeoids: Iterable[int], timeout: float | None) -> Any:  # noqa: ASYNC109 - asyncpg's signature
        wanted = frozenset(typeoids)
        if not wanted or max(wanted) >= _FIRST_NORMAL_OID:
            return await super()._introspect_types(wanted, timeout)
        major = self.get_server_version().major
        missing = [oid for oid in wanted if (major, oid) not in _KNOWN_TYPES]
        answered: list[Any] = []
        statement: Any = _NothingSent
        if missing:  # the server's answer whole (what the missing types are made of too), then the kept ones
            answered, statement = await super()._introspect_types(missing, timeout)
            for row in answered:
                _KNOWN_TYPES[(major, row["oid"])] = row
        kept = [_KNOWN_TYPES[(major, oid)] for oid in wanted.difference(missing)]
        return [*answered, *kept], statement


async def _release(conn: asyncpg.Connection) -> None:
    """What a connection needs on its way back to the pool: only a transaction left open rolled back.

    asyncpg's default sends RESET ALL, UNLISTEN, CLOSE ALL and pg_advisory_unlock_all() on every
    release: one more round trip per transaction (on this machine's costly syscalls, about 3% of a
    service's CPU). Nothing here keeps session state: no SET, LISTEN or cursors, and the one session
    lock (the outbox relay's) is released explicitly, or goes with its connection.
    """
    if conn.is_in_transaction():
        await conn.execute("ROLLBACK")


async def create_pool(
    dsn: str, *, size: int = 16, wait_seconds: float = 120.0, application: str | None = None
) -> asyncpg.Pool:
    """Open a pool, retrying while the server is not up yet, with one clear log line per try.
    `application`: the connections' `application_name`, which `pg_stat_activity` shows (and the
    held-back projection alert names, see `runtime.watch`)."""
    deadline = asyncio.get_running_loop().time() + wait_seconds
    delay = 0.2
    while True:
        try:
            pool = await asyncpg.create_pool(
                dsn,
                min_size=min(2, size),
                max_size=size,
                init=_init_connection,
                connection_class=_Connection,
                statement_cache_size=512,
                reset=_release,
                server_settings={"application_name": application} if application else None,
            )
            break
        except (OSError, asyncpg.CannotConnectNowError, asyncpg.PostgresConnectionError) as error:
            if asyncio.get_running_loop().time() > deadline:
                raise
            log.warning("postgres not reachable, retrying", extra={"error": str(error), "retry_in": delay})
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)
    # Asked about at once, before connections opened under load would each ask on their own.
    await pool.fetchrow(_ARRAY_TYPES_USED)
    return pool


@functools.cache
def parameters(count: int, *, first: int = 1, cast: str = "") -> str:
    """`$first, ..., $(first + count - 1)`, each with `::cast` if given: values listed as parameters of
    their own, for `IN (...)` or a VALUES row.

    A statement taking them as one array (`= ANY($1::text[])`, `unnest($1::text[])`) is planned
    again on every run: its generic plan guesses the array's length, so PostgreSQL keeps choosing a
    custom plan (pg_stat_statements in the settlements section: the projector's position lock 676
    plans in 662 calls, the streams' read 869 in 2,222). Listed, the generic plan is the custom one
    and is kept after five runs. Each count is a statement of its own: for short lists only."""
    suffix = f"::{cast}" if cast else ""
    return ", ".join(f"${n}{suffix}" for n in range(first, first + count))


def sql_files(*folders: tuple[str, Traversable]) -> list[tuple[str, str]]:
    """(name, sql) pairs from numbered `.sql` files of each (owner, folder), in the order given."""
    found: list[tuple[str, str]] = []
    for owner, folder in folders:
        files = sorted((f for f in folder.iterdir() if f.name.endswith(".sql")), key=lambda f: f.name)
        found += [(f"{owner}/{f.name}", f.read_text()) for f in files]
    return found


async def migrate(pool: asyncpg.Pool, migrations: Iterable[tuple[str, str]]) -> list[str]:
    """Apply each migration not yet applied, once, under an advisory lock so replicas can race."""
    applied: list[str] = []
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", _MIGRATION_LOCK)
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations "
            "(name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = {r["name"] for r in await conn.fetch("SELECT name FROM schema_migrations")}
        for name, sql in migrations:
            if name in done:
                continue
            await conn.execute(sql)
            await conn.execute("INSERT INTO schema_migrations (name) VALUES ($1)", name)
            applied.append(name)
    if applied:
        log.info("migrations applied", extra={"migrations": applied})
    return applied


def runtime_migrations() -> Traversable:
    from importlib.resources import files

    return files("runtime") / "migrations"


Record = asyncpg.Record
Connection = asyncpg.Connection
Pool = asyncpg.Pool
JsonDict = dict[str, Any]
