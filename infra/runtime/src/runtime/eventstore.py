"""The event store: append with an expected version, load a stream, read everything in order.

One transaction carries a decision: its events, its outbox messages, the command's reply, the
inbox mark of the message that caused it and any deadline, all committed together.
"""

from __future__ import annotations

import functools
import re
from collections.abc import AsyncIterator, Callable, Collection, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple, NoReturn, Protocol
from uuid import UUID

import asyncpg
from opentelemetry.trace import SpanKind

from runtime.db import parameters
from runtime.groupcommit import CommitGroup, Member
from runtime.serialization import dumps
from runtime.tracing import leaf_span

Json = dict[str, Any]


class TransactionAbortedError(Exception):
    """A statement failed inside the transaction, the caller went on, and the commit found it rolled back."""


class ConcurrencyError(Exception):
    """Someone else appended to the stream since it was loaded: reload and decide again."""

    def __init__(self, stream_id: str, expected_version: int) -> None:
        super().__init__(f"stream {stream_id!r} is no longer at version {expected_version}")
        self.stream_id = stream_id
        self.expected_version = expected_version


class AlreadyClaimedError(Exception):
    """A message presumed new (`claim_at_commit`) was claimed before, its effects committed then:
    this transaction wrote nothing."""

    def __init__(self, detail: str) -> None:
        super().__init__(f"a message presumed new was claimed before: {detail}")


@dataclass(frozen=True, slots=True)
class NewEvent:
    """An event to append. `data` is stored as JSON as `runtime.serialization.dumps` writes it: a
    dict, or the decided event itself (a dataclass), written by orjson without a dict in between."""

    event_id: UUID
    event_type: str
    data: Any
    metadata: Json = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    """A message to relay to JetStream once the transaction commits; `message_id` is its Nats-Msg-Id."""

    message_id: UUID
    subject: str
    payload: bytes
    headers: dict[str, str] = field(default_factory=dict)


class DeadlineRow(NamedTuple):
    """A row of the runtime's `deadlines` table (`runtime.deadlines`), written by a decision's
    transaction: held with its append when it can be, like the outbox messages."""

    deadline_id: UUID
    stream_id: str
    kind: str
    due_at: datetime
    provisional: bool
    rule: Json
    payload: Json
    traceparent: str | None


class Position(NamedTuple):
    """A place in the commit-ordered log: (transaction id, position within the table), ordered as such."""

    transaction_id: int = 0
    position: int = 0


class RecordedEvent(NamedTuple):
    """An event as stored. A named tuple, not a frozen dataclass: a rebuild makes tens of thousands
    a second, and a frozen dataclass costs 2.5 times as much to make."""

    stream_id: str
    version: int
    event_id: UUID
    event_type: str
    data: Json
    metadata: Json
    recorded_at: datetime
    at: Position


class StreamEvent(NamedTuple):
    """An event as a decision reads it back from its stream: what folding needs, and no more. The
    rest of the row (ids, metadata, instants, position) is for projections (`RecordedEvent`);
    leaving it out halves what a stream read costs the client (8 -> 4 us of CPU a row, measured on
    a simulated year's person streams) and shortens the server's answer."""

    version: int
    event_type: str
    data: Json


class StreamAppend(NamedTuple):
    """Events (and outbox messages) for one stream at its expected version."""

    stream_id: str
    expected_version: int
    events: Sequence[NewEvent]
    messages: Sequence[OutboxMessage] = ()

    def listed_arguments(self) -> list[Any]:
        """The parameters of a statement listing the events and the messages a row each."""
        arguments: list[Any] = [self.stream_id, self.expected_version]
        for e in self.events:
            arguments += (e.event_id, e.event_type, e.data, e.metadata)
        for m in self.messages:
            arguments += (m.message_id, m.subject, m.payload, m.headers)
        return arguments

    def arguments(self) -> tuple[Any, ...]:
        """The parameters of a statement taking the events and the messages as arrays."""
        return (
            self.stream_id,
            self.expected_version,
            [e.event_id for e in self.events],
            [e.event_type for e in self.events],
            [e.data for e in self.events],
            [e.metadata for e in self.events],
            [m.message_id for m in self.messages],
            [m.subject for m in self.messages],
            [m.payload for m in self.messages],
            [m.headers for m in self.messages],
        )


class Transaction(Protocol):
    """What a decision may do inside one transaction."""

    async def load(self, stream_id: str) -> list[StreamEvent]: ...

    async def load_many(
        self, stream_ids: Sequence[str], *, after: Mapping[str, int] | None = None
    ) -> dict[str, list[StreamEvent]]:
        """Several streams in one round trip: each id given maps to its events (empty if none), a
        stream in `after` to its events after that version only (a cached stream catching up)."""
        ...

    async def append(
        self,
        stream_id: str,
        expected_version: int,
        events: Sequence[NewEvent],
        messages: Sequence[OutboxMessage] = (),
    ) -> int: ...

    async def append_many(self, appends: Sequence[StreamAppend]) -> None:
        """Several streams at once, each at its expected version: all of them, or none and a
        ConcurrencyError (one round trip)."""
        ...

    def expect_unchanged(self, stream_id: str, version: int) -> None:
        """The decision was taken on `stream_id` at `version` without reading it (a state kept in
        the process): the transaction commits only if the stream is still at that version, else a
        ConcurrencyError and nothing written (the decision then runs again, reading)."""
        ...

    async def claim(self, consumer: str, message_id: UUID) -> bool: ...

    async def claim_all(self, consumer: str, message_ids: Sequence[UUID]) -> set[UUID]:
        """Claim many messages at once; returns those not claimed before (one round trip)."""
        ...

    async def claim_at_commit(self, consumer: str, message_ids: Sequence[UUID]) -> None:
        """Claim messages presumed new with the transaction's writes, without asking first: if any
        was claimed before, the commit raises `AlreadyClaimedError` and writes nothing (the caller
        then sorts them out with `claim_all`)."""
        ...

    async def reply_for(self, command_id: UUID) -> Json | None: ...

    async def record_reply(self, command_id: UUID, reply: Json) -> None: ...

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Call `callback` once the transaction has committed: never if it does not (nor for a
        savepoint that rolls back), so that what it keeps in memory is never ahead of the log."""
        ...

    @property
    def memo(self) -> dict[Any, Any]:
        """What this transaction's decisions already read and wrote, for the ones after them in it
        (see `EventRecorder.load`); emptied when a savepoint rolls back, gone with the transaction."""
        ...


class EventStore(Protocol):
    def transaction(self) -> Any:
        """An async context manager yielding a Transaction; commits on clean exit."""
        ...

    async def read_all(
        self, after: Position, limit: int, *, types: Collection[str] | None = None
    ) -> list[RecordedEvent]: ...


# A decision's append as one statement: its events and outbox messages, then (`_append_statement`)
# whatever rides with them, all behind the guard: the command's reply, deadlines cancelled and
# deadlines scheduled. Sub-statements of one statement see the same snapshot, so a cancel sees only
# the deadlines that were there before it, as when it runs first on its own.
_GUARD_WHERE = "WHERE $2::int = 0 OR EXISTS (SELECT 1 FROM events WHERE stream_id = $1 AND version = $2)"
_GUARD = f"""
WITH guard AS (
    SELECT 1 AS ok
    {_GUARD_WHERE}
)"""
_APPENDED = """, appended AS (
    INSERT INTO events (stream_id, version, event_id, event_type, data, metadata)
    SELECT $1, $2 + e.ord, e.event_id, e.event_type, e.data, e.metadata
    FROM {rows} AS e(event_id, event_type, data, metadata, ord), guard
    RETURNING 1
)"""
_QUEUED = """, queued AS (
    INSERT INTO outbox (message_id, subject, payload, headers)
    SELECT m.* FROM {rows} AS m(message_id, subject, payload, headers), guard
    RETURNING 1
)"""
_EVENT_ARRAYS = "unnest($3::uuid[], $4::text[], $5::jsonb[], $6::jsonb[]) WITH ORDINALITY"
_MESSAGE_ARRAYS = "unnest($7::uuid[], $8::text[], $9::bytea[], $10::jsonb[])"
_COUNTED = "\nSELECT {appended} AS appended, {queued} AS queued\n"
# Up to this many events, and as many messages, go in an append's statement as parameters of their
# own, a row each (a decision's usual one to three); more go as arrays, through unnest. One event
# and one message through the store, 16 tasks, in four rounds in turns: 3,088-4,213 -> 3,660-4,826
# appends/s, the client's CPU an append 165-220 -> 142-166 us, PostgreSQL's 224-313 -> 197-269 us.
LISTED = 4
_REPLIED = """, replied AS (
    INSERT INTO command_replies (command_id, reply) SELECT ${0}, ${1} FROM guard
    RETURNING 1
)"""
# Deadlines cancelled and scheduled: on their own in an open transaction (`CANCEL_DEADLINES`,
# `SCHEDULE_DEADLINES`), or behind the guard in an append's statement (`_RIDERS`; a cancel there
# is `_CANCEL_RIDING`).
_CANCEL = (
    "UPDATE deadlines d SET status = 'cancelled', settled_at = now() "
    "FROM unnest(${0}::text[], ${1}::text[]) AS c(stream_id, kind) "
    "WHERE d.stream_id = c.stream_id AND d.status = 'pending' AND (c.kind IS NULL OR d.kind = c.kind)"
)
_SCHEDULE = (
    "INSERT INTO deadlines (deadline_id, stream_id, kind, due_at, provisional, rule, payload, traceparent) "
    "SELECT d.* FROM unnest(${0}::uuid[], ${1}::text[], ${2}::text[], ${3}::timestamptz[], ${4}::boolean[], "
    "${5}::jsonb[], ${6}::jsonb[], ${7}::text[]) AS d{guard} ON CONFLICT (deadline_id) DO NOTHING"
)
# Riding in an append's statement, a cancel passes over a deadline the deadline worker holds (it is
# firing it): waiting for it there could close a circle (the worker, holding the deadline, appends
# to a stream whose next version this statement has just written), which PostgreSQL breaks only
# after a second. The worker's handler then either finds the stream's new version taken and leaves
# the deadline for its next round, which finds the stream settled, or it appended first and this
# statement conflicts and its decision runs again on what the worker wrote.
_CANCEL_RIDING = (
    "UPDATE deadlines d SET status = 'cancelled', settled_at = now() FROM ("
    "SELECT x.deadline_id FROM deadlines x, unnest(${0}::text[], ${1}::text[]) AS c(stream_id, kind), guard "
    "WHERE x.stream_id = c.stream_id AND x.status = 'pending' AND (c.kind IS NULL OR x.kind = c.kind) "
    "FOR UPDATE OF x SKIP LOCKED) AS free WHERE d.deadline_id = free.deadline_id"
)
CANCEL_DEADLINES = _CANCEL.format(1, 2)
SCHEDULE_DEADLINES = _SCHEDULE.format(*range(1, 9), guard="")
_RIDERS = (
    (", replied AS (INSERT INTO command_replies (command_id, reply) SELECT ${0}, ${1} FROM guard RETURNING 1)", 2),
    (", cancelled AS (" + _CANCEL_RIDING + " RETURNING 1)", 2),
    (", scheduled AS (" + _SCHEDULE.replace("{guard}", ", guard") + " RETURNING 1)", 8),
)


def _with_riders(sql: str, taken: int, reply: bool, cancels: bool, schedules: bool) -> str:
    """An append's statement with the riders present, numbered after its own `taken` parameters."""
    for present, (part, width) in zip((reply, cancels, schedules), _RIDERS, strict=True):
        if present:
            sql += part.format(*range(taken + 1, taken + width + 1))
            taken += width
    return sql


_PARAMETER = re.compile(r"\$(\d+)")


def _with_rides(sql: str, taken: int, rides: tuple[tuple[str, int], ...]) -> str:
    """The callers' own writes (`PostgresTransaction.ride`) after the riders, each a CTE of its own
    with its parameters numbered after those `taken` before it."""
    for index, (ride, width) in enumerate(rides):
        sql += f", ride_{index} AS ({_renumbered(ride, taken)} RETURNING 1)"
        taken += width
    return sql


def _renumbered(sql: str, after: int) -> str:
    """`sql` with its parameters `$1`..`$n` numbered `$(after + 1)`..`$(after + n)`."""
    return _PARAMETER.sub(lambda m: f"${int(m.group(1)) + after}", sql)


def _taken(reply: bool, cancels: bool, schedules: bool) -> int:
    """How many parameters the riders present take."""
    return sum(width for present, (_, width) in zip((reply, cancels, schedules), _RIDERS, strict=True) if present)


def _listed(append: StreamAppend) -> tuple[int, int] | None:
    """How many events and messages the append's statement lists, or None when they go as arrays."""
    events, messages = len(append.events), len(append.messages)
    return (events, messages) if events <= LISTED and messages <= LISTED else None


@functools.cache
def _rows(count: int, first: int, casts: tuple[str, ...], ordinal: bool) -> str:
    """`count` rows of parameters numbered from `first`, as VALUES; with each row's number if `ordinal`."""
    width = len(casts)
    rows = []
    for row in range(count):
        values = [f"${first + row * width + i}::{cast}" for i, cast in enumerate(casts)]
        rows.append("(" + ", ".join([*values, str(row + 1)] if ordinal else values) + ")")
    return "(VALUES " + ", ".join(rows) + ")"


def _append_head(listed: tuple[int, int] | None) -> tuple[str, str, int]:
    """The guard with the events' and messages' inserts, the statement's closing SELECT and how many
    parameters they take: arrays (`listed` None) or `listed` = (events, messages) rows."""
    if listed is None:
        head = _GUARD + _APPENDED.format(rows=_EVENT_ARRAYS) + _QUEUED.format(rows=_MESSAGE_ARRAYS)
        return (
            head,
            _COUNTED.format(appended="(SELECT count(*) FROM appended)", queued="(SELECT count(*) FROM queued)"),
            10,
        )
    events, messages = listed
    head, counted = _GUARD, {"appended": "0", "queued": "0"}
    if events:
        head += _APPENDED.format(rows=_rows(events, 3, ("uuid", "text", "jsonb", "jsonb"), ordinal=True))
        counted["appended"] = "(SELECT count(*) FROM appended)"
    if messages:
        rows = _rows(messages, 3 + 4 * events, ("uuid", "text", "bytea", "jsonb"), ordinal=False)
        head += _QUEUED.format(rows=rows)
        counted["queued"] = "(SELECT count(*) FROM queued)"
    return head, _COUNTED.format(**counted), 2 + 4 * events + 4 * messages


@functools.cache
def _append_statement(
    listed: tuple[int, int] | None,
    reply: bool,
    cancels: bool,
    schedules: bool,
    rides: tuple[tuple[str, int], ...] = (),
    unchanged: int = 0,
) -> str:
    head, counted, taken = _append_head(listed)
    sql = _with_riders(head, taken, reply, cancels, schedules)
    taken += _taken(reply, cancels, schedules)
    sql = _with_rides(sql, taken, rides)
    if unchanged:
        sql, counted = _with_unchanged(sql, counted, taken + sum(width for _, width in rides), unchanged)
    return sql + counted


def _with_unchanged(sql: str, counted: str, taken: int, unchanged: int) -> tuple[str, str]:
    """The guard also asks that none of `unchanged` streams, a (stream, version) pair each in the
    parameters after `taken`, has moved past its version; the closing SELECT names one that has."""
    guarded = sql.replace("WITH guard AS (", f"WITH moved AS ({_moved(unchanged, taken + 1)}), guard AS (", 1).replace(
        _GUARD_WHERE, f"WHERE ({_GUARD_WHERE.removeprefix('WHERE ')}) AND NOT EXISTS (SELECT 1 FROM moved)", 1
    )
    return guarded, counted.rstrip("\n") + ", (SELECT min(stream_id) FROM moved) AS moved\n"


def _moved(pairs: int, first: int) -> str:
    """Those of `pairs` (stream, version) parameters from `$first` whose stream has an event past
    that version (`expect_unchanged`)."""
    return (
        f"SELECT u.stream_id, u.version FROM {_rows(pairs, first, ('text', 'int'), ordinal=False)} AS u(stream_id, version) "
        "JOIN events e ON e.stream_id = u.stream_id AND e.version = u.version + 1"
    )


def deadline_columns(rows: Sequence[DeadlineRow]) -> list[list[Any]]:
    """`rows` (one or more) as the eight arrays `SCHEDULE_DEADLINES` takes."""
    return [list(column) for column in zip(*rows, strict=True)]


def json_texts(values: Sequence[Any]) -> list[str | None]:
    """Values as the JSON text of a `text[]` parameter that the statement casts to jsonb, a value
    met again (a command's metadata, on each of its events) written once. asyncpg calls the jsonb
    codec in Python for each element of a `jsonb[]` (1.2-2 us each); strings it copies (0.3 us).
    A chunk of 100 people's events: 800 -> 490 us of the client's CPU an append (the server parses
    the same text either way). None stays NULL."""
    written: dict[int, str] = {}
    texts: list[str | None] = []
    for value in values:
        if value is None:
            texts.append(None)
            continue
        text = written.get(id(value))
        if text is None:
            text = written[id(value)] = dumps(value).decode()
        texts.append(text)
    return texts


def cancelled_pairs(stream_ids: Iterable[str], kinds: Sequence[str] | None) -> list[tuple[str, str | None]]:
    """(stream, kind) pairs for `CANCEL_DEADLINES`; a kind of None cancels every kind."""
    return [(stream_id, kind) for stream_id in stream_ids for kind in (kinds if kinds is not None else [None])]


def cancel_columns(pairs: Sequence[tuple[str, str | None]]) -> tuple[list[str], list[str | None]]:
    """`pairs` as the two arrays `CANCEL_DEADLINES` takes."""
    return [stream_id for stream_id, _ in pairs], [kind for _, kind in pairs]


# Many streams' events in one statement: nothing is written if any stream is not at its expected
# version (a stream moved further on fails on the primary key instead, which is as atomic). The
# same riders as a single append's go behind the same kind of guard.
# The events' data and metadata come as JSON text, cast here (`json_texts`).
_APPEND_MANY = """
WITH input AS (
    SELECT * FROM unnest($1::text[], $2::int[], $3::int[], $4::uuid[], $5::text[], $6::text[], $7::text[])
        AS e(stream_id, expected, ord, event_id, event_type, data, metadata)
), stale AS (
    SELECT DISTINCT i.stream_id FROM input i
    WHERE i.expected > 0 AND NOT EXISTS (SELECT 1 FROM events WHERE stream_id = i.stream_id AND version = i.expected)
), guard AS (
    SELECT 1 AS ok WHERE NOT EXISTS (SELECT 1 FROM stale)
), appended AS (
    INSERT INTO events (stream_id, version, event_id, event_type, data, metadata)
    SELECT stream_id, expected + ord, event_id, event_type, data::jsonb, metadata::jsonb FROM input, guard
    RETURNING 1
), queued AS (
    INSERT INTO outbox (message_id, subject, payload, headers)
    SELECT m.* FROM unnest($8::uuid[], $9::text[], $10::bytea[], $11::jsonb[]) AS m, guard
    RETURNING 1
)"""


@functools.cache
def _append_many_statement(reply: bool, cancels: bool, schedules: bool, rides: tuple[tuple[str, int], ...] = ()) -> str:
    sql = _with_riders(_APPEND_MANY, 11, reply, cancels, schedules)
    sql = _with_rides(sql, 11 + _taken(reply, cancels, schedules), rides)
    return sql + "\nSELECT (SELECT min(stream_id) FROM stale) AS stale, (SELECT count(*) FROM queued) AS queued\n"


class _HeldAppend(NamedTuple):
    """An append held back: one stream's (`append`) or several streams' in one statement
    (`append_many`), with the caller's own writes that go in its statement (`ride`)."""

    appends: tuple[StreamAppend, ...]
    many: bool
    rides: tuple[tuple[str, tuple[Any, ...]], ...] = ()

    def ride_statements(self) -> tuple[tuple[str, int], ...]:
        """The rides' SQL and how many parameters each takes (the statement's cache key)."""
        return tuple((sql, len(args)) for sql, args in self.rides)

    def ride_arguments(self) -> list[Any]:
        return [value for _, args in self.rides for value in args]


_COLUMNS = "stream_id, version, event_id, event_type, data, metadata, recorded_at, transaction_id, position"
_STREAM_COLUMNS = "version, event_type, data"  # a StreamEvent's

# Rows below the oldest running transaction are final: no commit can land before them any more.
# Of some types only (`_READ_ALL_OF_TYPES`): still the walk of the commit-order index, the others
# passed over in the server instead of sent and decoded.
_FINAL_PAST = """
WHERE (transaction_id, position) > ($1::xid8, $2::bigint)
  AND transaction_id < pg_snapshot_xmin(pg_current_snapshot())"""
_IN_ORDER = "\nORDER BY transaction_id, position\nLIMIT $3\n"
_READ_ALL = f"SELECT {_COLUMNS} FROM events{_FINAL_PAST}{_IN_ORDER}"
_READ_ALL_OF_TYPES = f"SELECT {_COLUMNS} FROM events{_FINAL_PAST}\n  AND event_type = ANY($4::text[]){_IN_ORDER}"


def _recorded(row: asyncpg.Record) -> RecordedEvent:
    stream_id, version, event_id, event_type, data, metadata, recorded_at, transaction_id, position = row  # _COLUMNS
    return RecordedEvent(
        stream_id, version, event_id, event_type, data, metadata, recorded_at, Position(int(transaction_id), position)
    )


def _member(
    sql: str,
    arguments: list[Any],
    held: _HeldAppend,
    reply: tuple[UUID, Json] | None,
    cancels: Sequence[tuple[str, str | None]],
) -> Member:
    """One stream's append as a member of a group commit, with the streams it writes (its events,
    the timers it cancels) and its command (`runtime.groupcommit`)."""
    [append] = held.appends
    writes = {stream_id for stream_id, _ in cancels}
    if append.events:
        writes.add(append.stream_id)
    return Member(sql, arguments, frozenset(writes), reply[0] if reply is not None else None)


_REPLY = "INSERT INTO command_replies (command_id, reply) VALUES ($1, $2)"
# Messages presumed new (`claim_at_commit`): a ride of the held append's statement.
_CLAIM_RIDE = "INSERT INTO inbox (consumer, message_id) SELECT $1, m FROM guard, unnest($2::uuid[]) AS m"
_LOCK_KEY = re.compile(r"[0-9A-Za-z:_.\-]{1,200}")


# An append of nothing (as `enqueue`'s, with no message): the statement the claims ride in when no
# append is held.
_NOTHING = _HeldAppend((StreamAppend("", 0, ()),), many=False)


class PostgresTransaction:
    """A transaction that sends nothing before it must.

    Reads before any write run on their own (under READ COMMITTED every statement sees its own
    snapshot anyway), and an append and the command's reply are held back, and so are deadlines
    scheduled or cancelled after a held append. A decision that read, appended to one stream,
    started or stopped its timers and stored its reply then commits as one statement, atomic on its
    own: two round trips instead of five to seven (BEGIN, load, append, cancel, schedule, reply,
    COMMIT). Anything else opens the transaction and sends what was held first, in the order it came:
    a claim, a second append, a read after a held write (it must see it), a cancel after a held
    schedule, or a statement of the caller's own (`connection()`; reads take `reader()`). Inside an
    open transaction the same holds: an append, its timers and the reply wait for the next
    statement or the COMMIT and go as one statement with it when nothing came between. The inbox
    claims of messages presumed new (`claim_at_commit`) wait for the held append and ride in its
    statement, so a consumer's transaction can be that one statement too. A commit that is that one
    statement goes through the store's `CommitGroup`: with others waiting, in one round trip with
    theirs (`runtime.groupcommit`).

    The transaction is begun, committed and rolled back with plain statements, not asyncpg's
    `Transaction`, so that an advisory lock that opens it goes in the same round trip as the BEGIN
    (`lock`); nested blocks take `savepoint()`, not `Connection.transaction()`.
    """

    def __init__(self, conn: asyncpg.Connection, group: CommitGroup | None = None) -> None:
        self._conn = conn
        self._group = group  # a commit that is one statement goes through it
        self._open = False
        self._savepoints = 0
        self._append: _HeldAppend | None = None
        self._reply: tuple[UUID, Json] | None = None
        self._cancels: list[tuple[str, str | None]] = []  # held only behind a held append, and
        self._schedules: list[DeadlineRow] = []  # cancels only before any schedule (their order)
        self._locked: set[tuple[str, int]] = set()  # advisory locks this transaction holds
        self._unchanged: list[tuple[str, int]] = []  # streams decided on unread (`expect_unchanged`)
        self._claims: list[tuple[str, list[UUID]]] = []  # messages presumed new (`claim_at_commit`)
        self.queued_messages = 0
        self.wrote_events = False  # an append of events was sent or held: the projector has work
        self.together = 1  # statements sent with this one's commit, its own counted (`runtime.groupcommit`)
        self._after_commit: list[Callable[[], None]] = []
        self.memo: dict[Any, Any] = {}

    def after_commit(self, callback: Callable[[], None]) -> None:
        self._after_commit.append(callback)

    def expect_unchanged(self, stream_id: str, version: int) -> None:
        """Checked in the held append's statement, behind its guard, when one stream's append is
        held: no round trip of its own. Otherwise by a read of the streams before the commit (under
        READ COMMITTED as good as the read the decision did not make)."""
        self._unchanged.append((stream_id, version))

    async def _check_unchanged(self) -> None:
        """The streams decided on unread, read for a version past the one expected."""
        pairs, self._unchanged = self._unchanged, []
        moved = await self._conn.fetchrow(
            f"{_moved(len(pairs), 1)} LIMIT 1", *[value for pair in pairs for value in pair]
        )
        if moved is not None:
            raise ConcurrencyError(moved["stream_id"], moved["version"])

    async def ride(self, sql: str, *args: Any) -> None:
        """A write of the caller's own that goes in the held append's statement, behind its guard:
        written if and only if the append is (one statement, no BEGIN and no COMMIT of its own).
        `sql` is an INSERT or UPDATE that reads `guard` in its FROM (`INSERT INTO t (a, b) SELECT
        $1, $2 FROM guard`, `UPDATE t SET a = $1 FROM guard WHERE ...`), with its own parameters
        `$1`..`$n` and no other `$`. With no append held it is sent at once, in the transaction."""
        if self._append is not None:
            self._append = self._append._replace(rides=(*self._append.rides, (sql, args)))
            return
        await self._begin()
        await self._conn.execute(f"WITH guard AS (SELECT 1 AS ok) {sql}", *args)

    async def connection(self) -> asyncpg.Connection:
        """The connection, inside the open transaction, for statements of the caller's own."""
        await self._begin()
        return self._conn

    async def _begin(self, *, with_statement: str = "") -> None:
        """Open the transaction (with `with_statement` in the BEGIN's round trip) and send what is
        held; in an open one, send what is held and then `with_statement`."""
        if not self._open:
            await self._conn.execute(f"BEGIN;{with_statement}")
            self._open = True
            await self._send_held()
            return
        await self._send_held()
        if with_statement:
            await self._conn.execute(with_statement)

    async def lock(self, key: str, space: int) -> None:
        """Hold PostgreSQL's advisory lock on (`key`, `space`) until the transaction ends; when the
        lock opens the transaction, it is taken in the BEGIN's round trip, before any write held
        back from before it (taken sooner, it is only held longer). `key` is written into
        the statement (a simple query takes no parameters), so only plain identifier characters
        are accepted."""
        if not _LOCK_KEY.fullmatch(key):
            raise ValueError(f"an advisory lock key of letters, digits and ':_.-' only, not {key!r}")
        if (key, space) in self._locked:  # held until the transaction ends: nothing to send
            return
        await self._begin(with_statement=f"SELECT pg_advisory_xact_lock(hashtextextended('{key}', {int(space)}))")
        self._locked.add((key, space))

    async def lock_each(self, keys: Iterable[str], space: int) -> None:
        """`lock` for several keys in one statement, taken in sorted order: two transactions locking
        overlapping sets then never wait on each other in a circle. Keys this transaction already
        holds are not asked for again (a batch that locked its people first, then each decision)."""
        ordered = sorted({key for key in keys if (key, space) not in self._locked})
        if len(ordered) <= 1:
            for key in ordered:
                await self.lock(key, space)
            return
        await self._begin()
        await self._conn.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended(k, $2)) FROM unnest($1::text[]) AS k", ordered, space
        )
        self._locked.update((key, space) for key in ordered)

    @asynccontextmanager
    async def savepoint(self) -> AsyncIterator[None]:
        """A nested block inside the transaction: an error in it rolls back only what it did."""
        await self._begin()
        await self._send_held(last=True)  # the claims are the whole transaction's: not undone with the block
        self._savepoints += 1
        name = f"yiwang_savepoint_{self._savepoints}"
        await self._conn.execute(f"SAVEPOINT {name}")
        callbacks, locked = len(self._after_commit), set(self._locked)
        try:
            yield
            await self._send_held()  # what the block wrote belongs to the block, errors too
        except BaseException:
            self._take_held()  # never sent: the block's, undone with it
            del self._after_commit[callbacks:]
            self.memo.clear()  # it may hold what the block wrote
            self._locked = locked  # the block's locks are released with it
            await self._conn.execute(f"ROLLBACK TO SAVEPOINT {name}")
            raise
        await self._conn.execute(f"RELEASE SAVEPOINT {name}")

    async def reader(self) -> asyncpg.Connection:
        """The connection for reads of the caller's own: outside the transaction until something
        opens it; a write held back is sent first, so that the read sees it."""
        if self._append is not None or self._reply is not None:
            await self._begin()
        return self._conn

    def _take_held(
        self,
    ) -> tuple[_HeldAppend | None, tuple[UUID, Json] | None, list[tuple[str, str | None]], list[DeadlineRow]]:
        """What is held (append, reply, cancels, schedules), no longer held."""
        held = self._append, self._reply, self._cancels, self._schedules
        self._append, self._reply, self._cancels, self._schedules = None, None, [], []
        return held

    async def _send_held(self, *, last: bool = False) -> None:
        """Whatever is held, as one statement: timers are held only behind an append, and so are
        the claims, which otherwise wait for a later append, or for a reply or the `last` send to go
        in an append of nothing (one statement still, the reply's or the commit's)."""
        held, reply, cancels, schedules = self._take_held()
        if held is None and self._claims and (reply is not None or last):
            held = _NOTHING
        if held is not None:
            if self._claims:
                claims, self._claims = self._claims, []
                held = held._replace(rides=(*held.rides, *((_CLAIM_RIDE, claim) for claim in claims)))
            await self._send_append(held, reply=reply, cancels=cancels, schedules=schedules)
        elif reply is not None:
            await self._send_reply(*reply)

    async def commit(self) -> None:
        if self._unchanged and (self._append is None or self._append.many):
            try:
                await self._check_unchanged()
            except BaseException:
                await self.rollback()
                raise
        if self._open:
            try:
                await self._send_held(last=True)
            except BaseException:
                await self.rollback()
                raise
            self._open, self._locked = False, set()
            if await self._conn.execute("COMMIT") != "COMMIT":  # PostgreSQL answers ROLLBACK to an aborted one
                self._after_commit.clear()
                raise TransactionAbortedError("the transaction failed before its commit and was rolled back")
        else:
            try:
                await self._send_held(last=True)  # one statement: atomic on its own
            except BaseException:
                self._after_commit.clear()
                raise
        committed, self._after_commit = self._after_commit, []
        for callback in committed:
            callback()

    async def rollback(self) -> None:
        self._take_held()
        self._unchanged, self._claims = [], []
        self._after_commit.clear()
        self._locked.clear()
        if self._open:
            self._open = False
            await self._conn.execute("ROLLBACK")

    async def load(self, stream_id: str) -> list[StreamEvent]:
        conn = await self.reader()
        rows = await conn.fetch(
            f"SELECT {_STREAM_COLUMNS} FROM events WHERE stream_id = $1 ORDER BY version", stream_id
        )
        return [StreamEvent(*r) for r in rows]

    async def load_many(
        self, stream_ids: Sequence[str], *, after: Mapping[str, int] | None = None
    ) -> dict[str, list[StreamEvent]]:
        found: dict[str, list[StreamEvent]] = {stream_id: [] for stream_id in stream_ids}
        if not found:
            return found
        conn = await self.reader()
        # A few streams as parameters of their own, more as arrays (`runtime.db.parameters`).
        listed = len(found) <= LISTED
        arguments: list[Any]
        if after:
            # Each stream's range from its own index scan; no ORDER BY over the whole: PostgreSQL's
            # generic plan for one sorted the few rows at twice the cost of the read (0.49 against
            # 0.21 ms here). Each stream's rows are put in order below whatever order they came in.
            pairs = [(stream_id, after.get(stream_id, 0)) for stream_id in found]
            if listed:
                streams = _rows(len(pairs), 1, ("text", "int"), ordinal=False)
                arguments = [value for pair in pairs for value in pair]
            else:
                streams = "unnest($1::text[], $2::int[])"
                arguments = [[stream_id for stream_id, _ in pairs], [version for _, version in pairs]]
            rows = await conn.fetch(
                f"SELECT s.id, e.* FROM {streams} AS s (id, after) CROSS JOIN LATERAL "
                f"(SELECT {_STREAM_COLUMNS} FROM events WHERE stream_id = s.id AND version > s.after "
                "ORDER BY version) AS e",
                *arguments,
            )
            rows = sorted(rows, key=lambda row: (row[0], row[1]))
        else:
            if listed:
                wanted, arguments = f"IN ({parameters(len(found))})", list(found)
            else:
                wanted, arguments = "= ANY($1::text[])", [list(found)]
            rows = await conn.fetch(
                f"SELECT stream_id, {_STREAM_COLUMNS} FROM events WHERE stream_id {wanted} ORDER BY stream_id, version",
                *arguments,
            )
        for stream_id, version, event_type, data in rows:
            found[stream_id].append(StreamEvent(version, event_type, data))
        return found

    async def append(
        self,
        stream_id: str,
        expected_version: int,
        events: Sequence[NewEvent],
        messages: Sequence[OutboxMessage] = (),
    ) -> int:
        """Held back until the next statement or the commit when nothing else is held, or joined to
        the append held (see `_joined`); a conflict is then raised there."""
        one = StreamAppend(stream_id, expected_version, tuple(events), tuple(messages))
        self.wrote_events = self.wrote_events or bool(events)
        if self._append is None and self._reply is None:
            self._append = _HeldAppend((one,), many=False)
        elif (joined := self._joined((one,))) is not None:
            self._append = joined
        else:
            await self._begin()
            await self._send_append(_HeldAppend((one,), many=False))
        return expected_version + len(events)

    def _joined(self, appends: Sequence[StreamAppend]) -> _HeldAppend | None:
        """The append held with `appends` after it, as one statement, or None when they cannot go
        together: nothing held, or a stream already in it other than the last one's next version.

        Decisions applied one after the other in a transaction (a batch of letters) then write as
        one statement at its end, not a round trip each. A stream's next version after the held last
        one extends it (its sheet, then its funds); a stream held earlier, or one at a version that
        does not follow, goes on its own, where it conflicts as before."""
        held = self._append
        if held is None:
            return None
        joined = list(held.appends)
        streams = {a.stream_id for a in joined}
        for one in appends:
            last = joined[-1]
            if one.stream_id == last.stream_id and one.expected_version == last.expected_version + len(last.events):
                joined[-1] = StreamAppend(
                    last.stream_id,
                    last.expected_version,
                    (*last.events, *one.events),
                    (*last.messages, *one.messages),
                )
            elif one.stream_id in streams:
                return None
            else:
                joined.append(one)
                streams.add(one.stream_id)
        return held._replace(appends=tuple(joined), many=held.many or len(joined) > 1)

    async def _send_append(
        self,
        held: _HeldAppend,
        *,
        reply: tuple[UUID, Json] | None = None,
        cancels: Sequence[tuple[str, str | None]] = (),
        schedules: Sequence[DeadlineRow] = (),
    ) -> None:
        """`held` as one statement; outside an open transaction (its commit, the only statement
        it writes) through the store's group, with other transactions' where they wait together."""
        if held.many:
            await self._send_many(held, reply=reply, cancels=cancels, schedules=schedules)
            return
        [append] = held.appends
        listed = _listed(append)
        arguments = [*(append.arguments() if listed is None else append.listed_arguments()), *(reply or ())]
        if cancels:
            arguments += cancel_columns(cancels)
        if schedules:
            arguments += deadline_columns(schedules)
        unchanged, self._unchanged = self._unchanged, []
        sql = _append_statement(
            listed, reply is not None, bool(cancels), bool(schedules), held.ride_statements(), len(unchanged)
        )
        arguments += held.ride_arguments()
        arguments += [value for pair in unchanged for value in pair]
        try:
            if self._open or self._group is None:
                row = await self._conn.fetchrow(sql, *arguments)
            else:
                member = _member(sql, arguments, held, reply, cancels)
                row = await self._group.fetchrow(self._conn, member)
                self.together = member.together
        except asyncpg.UniqueViolationError as error:
            _conflict(error, reply, append)
        if row is None:
            raise RuntimeError("append returned no row")
        if unchanged and row["moved"] is not None:
            raise ConcurrencyError(row["moved"], dict(unchanged)[row["moved"]])
        if append.events and row["appended"] == 0:
            raise ConcurrencyError(append.stream_id, append.expected_version)
        self.queued_messages += row["queued"]

    async def cancel_deadlines(self, pairs: Sequence[tuple[str, str | None]]) -> None:
        """Cancel the pending deadlines of each (stream, kind) pair (a kind of None: every kind); held
        with an append held before it, else sent in the transaction."""
        if not pairs:
            return
        if self._append is not None and not self._schedules:
            self._cancels.extend(pairs)
            return
        await self._begin()
        await self._conn.execute(CANCEL_DEADLINES, *cancel_columns(pairs))

    async def schedule_deadlines(self, rows: Sequence[DeadlineRow]) -> None:
        """Start durable timers; held with an append held before them, else sent in the transaction."""
        if not rows:
            return
        if self._append is not None:
            self._schedules.extend(rows)
            return
        await self._begin()
        await self._conn.execute(SCHEDULE_DEADLINES, *deadline_columns(rows))

    async def enqueue(self, messages: Sequence[OutboxMessage]) -> None:
        """Queue messages with no event (e.g. a reply to another region)."""
        await self.append("", 0, (), messages)

    async def append_many(self, appends: Sequence[StreamAppend]) -> None:
        """Held back, as `append`, when nothing else is: with the reply and the deadlines then riding
        in its statement, a transaction that only appends needs no BEGIN and no COMMIT of its own."""
        if not appends:
            return
        self.wrote_events = self.wrote_events or any(a.events for a in appends)
        if self._append is None and self._reply is None:
            self._append = _HeldAppend(tuple(appends), many=True)
            return
        if (joined := self._joined(appends)) is not None:
            self._append = joined
            return
        await self._begin()
        await self._send_many(_HeldAppend(tuple(appends), many=True))

    async def _send_many(
        self,
        held: _HeldAppend,
        *,
        reply: tuple[UUID, Json] | None = None,
        cancels: Sequence[tuple[str, str | None]] = (),
        schedules: Sequence[DeadlineRow] = (),
    ) -> None:
        appends = held.appends
        columns: tuple[list[Any], ...] = ([], [], [], [], [])
        data, metadata = [], []
        for a in appends:
            for ord_, e in enumerate(a.events, start=1):
                for column, value in zip(
                    columns, (a.stream_id, a.expected_version, ord_, e.event_id, e.event_type), strict=True
                ):
                    column.append(value)
                data.append(e.data)
                metadata.append(e.metadata)
        columns += (json_texts(data), json_texts(metadata))
        messages = [m for a in appends for m in a.messages]
        arguments = [
            *columns,
            [m.message_id for m in messages],
            [m.subject for m in messages],
            [m.payload for m in messages],
            [m.headers for m in messages],
            *(reply or ()),
        ]
        if cancels:
            arguments += cancel_columns(cancels)
        if schedules:
            arguments += deadline_columns(schedules)
        try:
            row = await self._conn.fetchrow(
                _append_many_statement(reply is not None, bool(cancels), bool(schedules), held.ride_statements()),
                *arguments,
                *held.ride_arguments(),
            )
        except asyncpg.UniqueViolationError as error:
            _conflict(error, reply)
        if row is None:
            raise RuntimeError("append returned no row")
        if row["stale"] is not None:
            stale = next(a for a in appends if a.stream_id == row["stale"])
            raise ConcurrencyError(stale.stream_id, stale.expected_version)
        self.queued_messages += row["queued"]

    async def claim(self, consumer: str, message_id: UUID) -> bool:
        await self._begin()
        status = await self._conn.execute(
            "INSERT INTO inbox (consumer, message_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            consumer,
            message_id,
        )
        return bool(status == "INSERT 0 1")

    async def claim_at_commit(self, consumer: str, message_ids: Sequence[UUID]) -> None:
        """Held: in the held append's statement, behind its guard, when one is sent; else in an
        append of nothing, with the reply or at the commit. A transaction that commits as one
        statement then takes no BEGIN, no claim and no COMMIT of its own, and goes with others'
        (`runtime.groupcommit`)."""
        if message_ids:
            self._claims.append((consumer, list(dict.fromkeys(message_ids))))  # each once: one row each

    async def claim_all(self, consumer: str, message_ids: Sequence[UUID]) -> set[UUID]:
        await self._begin()
        rows = await self._conn.fetch(
            "INSERT INTO inbox (consumer, message_id) SELECT $1, unnest($2::uuid[]) ON CONFLICT DO NOTHING "
            "RETURNING message_id",
            consumer,
            list(message_ids),
        )
        return {r["message_id"] for r in rows}

    async def reply_for(self, command_id: UUID) -> Json | None:
        conn = await self.reader()
        reply: Json | None = await conn.fetchval("SELECT reply FROM command_replies WHERE command_id = $1", command_id)
        return reply

    async def record_reply(self, command_id: UUID, reply: Json) -> None:
        """Held back until the next statement or the commit (with a held append, in its statement).
        A retry that ran beside the first attempt loses there: it rolls back, and its rerun finds
        the first attempt's reply."""
        if self._reply is None:
            self._reply = (command_id, reply)
            return
        await self._begin()
        await self._send_reply(command_id, reply)

    async def _send_reply(self, command_id: UUID, reply: Json) -> None:
        try:
            await self._conn.execute(_REPLY, command_id, reply)
        except asyncpg.UniqueViolationError as error:
            raise ConcurrencyError(f"command {command_id}", 0) from error


def _conflict(
    error: asyncpg.UniqueViolationError, reply: tuple[UUID, Json] | None, append: StreamAppend | None = None
) -> NoReturn:
    """Raised for a key written twice, as what it means: a stream moved on (`append`'s, or one of
    several), the command answered, a message claimed before; any other key as it came."""
    if error.constraint_name == "events_pkey":
        stream, version = (append.stream_id, append.expected_version) if append else ("(one of several streams)", -1)
        raise ConcurrencyError(stream, version) from error
    if reply is not None and error.constraint_name == "command_replies_pkey":
        raise ConcurrencyError(f"command {reply[0]}", 0) from error
    if error.constraint_name == "inbox_pkey":
        raise AlreadyClaimedError(error.detail or "") from error
    raise error


_DB = {"db.system.name": "postgresql"}


class PostgresEventStore:
    """The event log of one service's database."""

    def __init__(self, pool: asyncpg.Pool, *, on_commit: Callable[[], None] | None = None) -> None:
        self.pool = pool
        self._on_commit = on_commit
        self.group: CommitGroup | None = CommitGroup()  # commits that are one statement go through it; None: each alone

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[PostgresTransaction]:
        with leaf_span(
            "transaction",
            kind=SpanKind.CLIENT,
            attributes=_DB,
            module=__name__,
            expected=(ConcurrencyError,),
            within_trace=True,
        ) as span:
            async with self.pool.acquire() as conn:
                tx = PostgresTransaction(conn, self.group)
                try:
                    try:
                        yield tx
                    except BaseException:
                        await tx.rollback()
                        raise
                    await tx.commit()
                except (asyncpg.DeadlockDetectedError, asyncpg.SerializationError) as error:
                    # Two decisions crossed (e.g. a payment and a deadline on the same stream): decide again.
                    raise ConcurrencyError("(transaction)", -1) from error
            if tx.together > 1:
                span.set_attribute("db.operation.batch.size", tx.together)
        # Events to project or messages to relay: wake the projector and the relay of this process
        # (events with no public message too: the projector's polls stretch to a second when idle).
        if (tx.queued_messages or tx.wrote_events) and self._on_commit is not None:
            self._on_commit()

    async def read_all(
        self,
        after: Position,
        limit: int = 1000,
        *,
        types: Collection[str] | None = None,
        conn: asyncpg.Connection | None = None,
    ) -> list[RecordedEvent]:
        """Final events after `after`, in commit order, only of `types` if given; on `conn` if given
        (e.g. inside a rebuild)."""
        query, args = (_READ_ALL, ()) if types is None else (_READ_ALL_OF_TYPES, (list(types),))
        if conn is not None:
            rows = await conn.fetch(query, after.transaction_id, after.position, limit, *args)
            return [_recorded(r) for r in rows]
        async with self.pool.acquire() as own:
            rows = await own.fetch(query, after.transaction_id, after.position, limit, *args)
        return [_recorded(r) for r in rows]
