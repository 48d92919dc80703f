"""The outbox relay: moves committed messages from PostgreSQL to JetStream.

Each message is published with `Nats-Msg-Id` = its id and deleted only after JetStream
acknowledged it. A relay killed between the two publishes again on restart, and JetStream's
duplicate window drops the copy; consumers' inboxes catch anything later than that.
One relay per database is active at a time (a session advisory lock), which keeps the order in
which a stream's events were committed.

The messages of a batch bound for one of this region's streams, when they are many (a relay behind
a saturating load), go to it as one *atomic batch* (JetStream 2.12+, a stream with `allow_atomic`):
stored together or not at all, acknowledged once, with one fsync for the batch where each message
alone costs one. A batch JetStream refuses whole because it holds a message id the stream already
has (a relay that died before its delete: the batch was stored), or because the stream takes no
atomic batches, is sent again one message at a time, which the duplicate window answers message
by message.

Messages addressed to another region (`<root>.<region>.…` of a region in `foreign`) may find that
region unreachable: its JetStream domain behind a cut leaf-node link, or its stream electing a
leader. They are then *held* in the outbox, that region only, with a growing pause between tries,
while everything else goes on; they are never parked as undeliverable, since no local answer can
say that the other region has no stream. Only a subject this region's own servers should capture
and none does is parked (`outbox_undeliverable`), so one bad subject cannot block the rest.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import math
import time
import uuid
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import nats.errors
import nats.js.errors
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import Header, PubAck
from opentelemetry.trace import SpanKind

from runtime.tracing import (
    extract,
    inject,
    leaf_span,
    messaging_attributes,
    messaging_batch_attributes,
    subject_template,
)
from runtime.wakeup import Wakeup

log = logging.getLogger(__name__)

_RELAY_LOCK = 7_361_482_902

_CLAIM = """
SELECT id, message_id, subject, payload, headers FROM outbox
WHERE split_part(subject, '.', 2) <> ALL($2::text[])
ORDER BY id LIMIT $1
"""

_DELETE = "DELETE FROM outbox WHERE id = ANY($1::bigint[])"

# The leader's deletes of relayed rows commit without waiting for their WAL flush (a second fsync
# per batch, after JetStream's). A crash can forget a delete, never half of one: the rows are then
# published again, and JetStream's duplicate window drops the copies, as after a relay killed
# between publish and delete. Other sessions keep synchronous commits.
_DELETES_NEED_NO_FLUSH = "SET synchronous_commit = off"

HOLD_FIRST, HOLD_MAX = 1.0, 30.0  # seconds between tries of an unreachable region, doubling

ATOMIC_MAX = 1000  # the most messages JetStream takes in one atomic batch
# The fewest a stream gets as one. NATS 2.15's server spends about 1.4 ms of CPU on an atomic batch
# beside 14 us a message, where a message alone costs it 85-100 us: on this machine a batch of 2
# cost 707 us a message against 213 alone, of 16 about the same, of 64 36 against 86, of 500 16
# against 103 (docs/performance.md). Fewer go one by one, pipelined as before.
ATOMIC_MIN = 32
# The most a woken relay waits for an atomic batch's worth of messages (`OutboxRelay`'s `linger`).
LINGER = 0.05
# JetStream's refusals of a whole atomic batch that sending its messages one by one answers:
ATOMIC_DUPLICATE = 10201  # it holds a message id the stream has: sent before, by a relay that died before its delete
ATOMIC_DISABLED = 10174  # the stream takes no atomic batches (made without `allow_atomic`)
BATCH_ID, BATCH_SEQUENCE, BATCH_COMMIT = (
    h.value for h in (Header.BATCH_ID, Header.BATCH_SEQUENCE, Header.BATCH_COMMIT)
)


class TransientNoStreamError(Exception):
    """A publish found no stream, yet the stream exists: a leader election; the batch is retried."""


@dataclass(slots=True)
class AtomicBatch:
    """One stream's messages of a relay's batch, published as one JetStream atomic batch."""

    stream: str
    size: int
    id: str
    # The last message's acknowledgement, the whole batch's (or JetStream's refusal of it).
    commit: asyncio.Future[PubAck] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


class Acknowledgements:
    """JetStream's answers to the relay's publishes, on an inbox of the relay's own. nats-py's
    `publish_async` never fails its future with a refusal (a full stream, a stream that takes no
    atomic batches, a JetStream out of resources): its reply handler raises the error, to the
    connection's error callback, and the publish would wait out its timeout, logged as NATS out of
    reach. Here a refusal fails its publish at once, with JetStream's reason."""

    def __init__(self, nc: NatsClient) -> None:
        self.nc = nc
        self.inbox: str | None = None
        self.waiting: dict[str, asyncio.Future[PubAck]] = {}
        self._tokens = itertools.count()

    async def publish(
        self, subject: str, payload: bytes, headers: dict[str, str], answer: asyncio.Future[PubAck] | None = None
    ) -> asyncio.Future[PubAck]:
        """Publish a message for JetStream to answer; `answer` (a new future when not given) gets
        its acknowledgement (an atomic batch's commit: the batch's), or JetStream's refusal."""
        if self.inbox is None:
            self.inbox = self.nc.new_inbox()
            await self.nc.subscribe(f"{self.inbox}.*", cb=self._reply)
        if answer is None:
            answer = asyncio.get_running_loop().create_future()
        token = str(next(self._tokens))
        self.waiting[token] = answer
        answer.add_done_callback(lambda _: self.waiting.pop(token, None))  # answered, or cancelled by a timeout
        await self.nc.publish(subject, payload, reply=f"{self.inbox}.{token}", headers=headers)
        return answer

    async def _reply(self, msg: Msg) -> None:
        future = self.waiting.get(msg.subject.rsplit(".", 1)[-1])
        if future is None or future.done():
            return
        if not msg.data:  # a status, not a stream's answer: no stream took the subject
            future.set_exception(nats.js.errors.NoStreamResponseError())
            return
        answer = json.loads(msg.data)
        if "error" not in answer:
            future.set_result(PubAck.from_response(answer))
            return
        try:
            nats.js.errors.APIError.from_error(answer["error"])  # raises its kind: BadRequestError, ...
        except nats.js.errors.APIError as refusal:
            future.set_exception(refusal)


class OutboxRelay:
    def __init__(
        self,
        pool: asyncpg.Pool,
        js: JetStreamContext,
        *,
        batch: int = 500,
        poll_interval: float = 0.25,
        gather: float = 0.002,
        linger: float = LINGER,
        ack_timeout: float = 10.0,
        foreign: frozenset[str] = frozenset(),
    ) -> None:
        """`gather`: when a commit wakes it from a wait, the relay waits this long before it reads, so
        the commits of those milliseconds leave as one batch (one read, one delete, acknowledgements
        that come back together) instead of one or two messages a batch under load; each message
        waits that much longer to leave (`docs/performance.md`: 2 ms took a twentieth off a settlement's
        CPU and a quarter off an event's in the lag section).

        `linger`: when messages came fast enough lately (the last second or so) that `ATOMIC_MIN`
        of them arrive within `linger`, a woken relay waits until that many have come since its last
        read began, so they leave as one atomic batch (one fsync, one acknowledgement) rather than
        one by one; each message then waits up to `linger` longer to leave. 0: never. Slower traffic
        is not held: waiting would not fill a batch."""
        self.pool = pool
        self.foreign = foreign
        self.held: dict[str, tuple[float, float]] = {}  # region -> (try again at, pause)
        self.js = js
        self.ack_timeout = ack_timeout
        self.batch = batch
        self.poll_interval = poll_interval
        self.gather = gather
        self.linger = linger
        self.arrivals = Arrivals()
        self._read_at = time.monotonic()  # the last read: what was committed since waits for the next
        self.published = 0
        self.batches = 0  # reads that found messages: `published / batches` is the mean batch
        self._wake = Wakeup()
        self._streams: dict[str, str] = {}  # subject -> the stream of this region that takes it
        self._one_by_one: set[str] = set()  # streams that take no atomic batches
        self._nc: NatsClient = js._nc  # publishes answered on the relay's own inbox (`Acknowledgements`)
        self._acks = Acknowledgements(self._nc)

    def wake(self) -> None:
        """Called after a commit that queued messages, so they leave without waiting for a poll."""
        self._wake.set()

    def destination(self, subject: str) -> str | None:
        """The other region a subject is addressed to, or None for this region's own servers."""
        region = subject.split(".", 2)[1] if subject.count(".") >= 2 else ""
        return region if region in self.foreign else None

    async def relay_once(self, conn: asyncpg.Connection) -> int:
        """Publish one batch and delete what JetStream took; returns how many messages left."""
        now = self._read_at = time.monotonic()
        waiting = [region for region, (until, _) in self.held.items() if until > now]
        # No row locks and no transaction while the batch is out: this relay is the only one
        # (the advisory lock), and a transaction held open across the acks would hold back every
        # projection of the database (they read below the oldest running transaction).
        rows = await conn.fetch(_CLAIM, self.batch, waiting)
        if not rows:
            return 0
        self.batches += 1
        self.arrivals.add(len(rows))
        atomic = await self._atomic_batches(rows)
        results = await self._send(rows, atomic)
        batched = [(i, result) for i, result in enumerate(results) if rows[i]["id"] in atomic]
        if any(isinstance(result, BaseException) and not _refused_whole(result) for _, result in batched):
            self._streams.clear()  # a stream's subjects may have moved: look them up again
        again = [i for i, result in batched if _refused_whole(result)]
        if again:  # refused as a batch: each message alone, which the duplicate window answers
            disabled = {atomic[rows[i]["id"]][0].stream for i in again if _code(results[i]) == ATOMIC_DISABLED}
            self._one_by_one |= disabled
            for i, result in zip(again, await self._send([rows[i] for i in again], {}), strict=True):
                results[i] = result
        done, parked, failed = [], [], {}  # failed: destination -> its first error
        for row, result in zip(rows, results, strict=True):
            where = self.destination(row["subject"])
            if where in failed:
                continue  # behind a message that did not go: kept, so the region gets them in order
            if not isinstance(result, BaseException):
                done.append(row)
            elif where is None and _no_stream(result) and await self._truly_streamless(row["subject"]):
                parked.append((row, str(result)))
            else:
                failed[where] = result
        if None in failed:  # this region's own servers: retry the whole batch, the duplicate window absorbs it
            error = failed[None]
            raise TransientNoStreamError(str(error)) if _no_stream(error) else error
        gone = [r["id"] for r in done] + [r["id"] for r, _ in parked]
        if parked:
            async with conn.transaction():
                # No stream captures the subject: park the row with its reason instead of blocking the rest.
                await conn.executemany(
                    "INSERT INTO outbox_undeliverable (message_id, subject, payload, headers, reason) "
                    "VALUES ($1, $2, $3, $4, $5)",
                    [(r["message_id"], r["subject"], r["payload"], r["headers"], why) for r, why in parked],
                )
                log.error(
                    "outbox messages undeliverable", extra={"count": len(parked), "subject": parked[0][0]["subject"]}
                )
                await conn.execute(_DELETE, gone)
        elif gone:
            await conn.execute(_DELETE, gone)  # one statement: its own transaction, one round trip
        for region, error in failed.items():
            self._hold(str(region), error)
        for region in {self.destination(r["subject"]) for r in done} - {None}:
            if self.held.pop(str(region), None) is not None:
                log.info("outbox messages for another region flow again", extra={"to_region": region})
        self.published += len(gone)
        return len(gone)

    def _hold(self, region: str, error: BaseException) -> None:
        _, pause = self.held.get(region, (0.0, HOLD_FIRST / 2))
        pause = min(pause * 2, HOLD_MAX)
        if region not in self.held:
            log.warning("outbox messages for another region held", extra={"to_region": region, "error": repr(error)})
        self.held[region] = (time.monotonic() + pause, pause)

    async def _truly_streamless(self, subject: str) -> bool:
        """Whether no stream captures the subject (asked of JetStream itself): "no responders" also
        answers a publish while a clustered stream elects its leader."""
        return await self._look_up_stream(subject) is None

    async def _atomic_batches(self, rows: list[asyncpg.Record]) -> dict[int, tuple[AtomicBatch, int]]:
        """Where each message goes in an atomic batch (row id -> the batch and its place, from 1):
        `ATOMIC_MIN` or more for one of this region's streams that takes them. The rest go one by
        one: fewer for a stream, another region's (its link may drop mid-batch), and those of a
        subject no stream takes."""
        of_stream: dict[str, list[int]] = {}
        for row in rows:
            subject = row["subject"]
            if self.destination(subject) is not None:
                continue
            stream = self._streams.get(subject) or await self._look_up_stream(subject)
            if stream is not None and stream not in self._one_by_one:
                of_stream.setdefault(stream, []).append(row["id"])
        places: dict[int, tuple[AtomicBatch, int]] = {}
        for stream, ids in of_stream.items():
            if len(ids) < ATOMIC_MIN:
                continue
            parts = -(-len(ids) // ATOMIC_MAX)  # as even as can be: never a last batch of a few
            for part in range(parts):
                members = ids[part * len(ids) // parts : (part + 1) * len(ids) // parts]
                batch = AtomicBatch(stream, len(members), uuid.uuid4().hex)
                places.update((row_id, (batch, place)) for place, row_id in enumerate(members, 1))
        return places

    async def _look_up_stream(self, subject: str) -> str | None:
        """The stream of this region that takes `subject`, asked of JetStream, or None when none
        does; kept in `_streams` for the batches to come (a service's outbox holds a few dozen
        subjects)."""
        try:
            stream = await self.js.find_stream_name_by_subject(subject)
        except nats.js.errors.NotFoundError:
            return None
        if len(self._streams) >= 10_000:  # subjects with ids in them: keep the newest only
            self._streams.clear()
        self._streams[subject] = stream
        return stream

    async def _send(self, rows: list[asyncpg.Record], atomic: dict[int, tuple[AtomicBatch, int]]) -> list[Any]:
        """Publish the rows, those of `atomic` in their batches; each row's acknowledgement (a
        batch's members share its commit's) or its error."""
        sent = [ack for together in created_together(rows) for ack in await self._publish(together, atomic)]
        return await self._settle([ack.commit if isinstance(ack, AtomicBatch) else ack for ack in sent])

    async def _settle(self, acks: list[asyncio.Future[Any]]) -> list[Any]:
        """Each ack or its error. A server that dies mid-batch never answers: those publishes count
        as failed (a TimeoutError) and go again, which the duplicate window absorbs."""
        _, pending = await asyncio.wait(acks, timeout=self.ack_timeout)
        for ack in pending:
            ack.cancel()  # forgotten: a late answer finds no one waiting
        unanswered = TimeoutError(f"{len(pending)} of {len(acks)} publishes not acknowledged in {self.ack_timeout}s")
        return [unanswered if ack in pending else ack.exception() or ack.result() for ack in acks]

    async def _publish(
        self, rows: list[asyncpg.Record], atomic: dict[int, tuple[AtomicBatch, int]]
    ) -> list[asyncio.Future[Any] | AtomicBatch]:
        """Hand messages created together to JetStream under one send span, whose context each
        message then carries (its creation context, for the consumers' spans). A message of an
        atomic batch gives its batch, whose commit is its acknowledgement."""
        subjects = [str(row["subject"]) for row in rows]
        templates = {subject_template(subject) for subject in subjects}
        if len(rows) == 1:
            attributes = messaging_attributes("publish", subjects[0], message_id=str(rows[0]["message_id"]))
        else:
            attributes = messaging_batch_attributes("publish", subjects)
        with leaf_span(
            f"send {templates.pop()}" if len(templates) == 1 else "send",
            context=extract(rows[0]["headers"]),
            kind=SpanKind.PRODUCER,
            attributes=attributes,
            module=__name__,
        ) as span:
            creation = inject({}, span)
            acks: list[asyncio.Future[Any] | AtomicBatch] = []
            for row in rows:
                headers: dict[str, str] = {**row["headers"], **creation, "Nats-Msg-Id": str(row["message_id"])}
                place = atomic.get(row["id"])
                if place is None:
                    acks.append(await self._acks.publish(row["subject"], row["payload"], headers))
                    continue
                batch, seq = place
                headers[BATCH_ID], headers[BATCH_SEQUENCE] = batch.id, str(seq)
                if seq < batch.size:  # acknowledged by the batch's commit, not one by one
                    await self._nc.publish(row["subject"], row["payload"], headers=headers)
                else:
                    headers[BATCH_COMMIT] = "1"
                    await self._acks.publish(row["subject"], row["payload"], headers, batch.commit)
                acks.append(batch)
            return acks

    async def run(self, stop: asyncio.Event) -> None:
        """Relay until `stop` is set: leader only, retrying through NATS or PostgreSQL outages."""
        with self._wake.following(stop):
            await self._relay(stop)

    async def _relay(self, stop: asyncio.Event) -> None:
        delay = 0.2
        while not stop.is_set():
            try:
                async with self.pool.acquire() as conn:
                    if not await conn.fetchval("SELECT pg_try_advisory_lock($1)", _RELAY_LOCK):
                        await _wait(stop, 1.0)
                        continue
                    try:
                        await conn.execute(_DELETES_NEED_NO_FLUSH)
                        await self._lead(conn, stop)
                    finally:
                        await conn.execute("RESET synchronous_commit")
                        await conn.execute("SELECT pg_advisory_unlock($1)", _RELAY_LOCK)
                delay = 0.2
            except Exception as error:  # noqa: BLE001 - the relay outlives any outage and retries
                if stop.is_set():
                    return
                log.warning("outbox relay interrupted, retrying", extra={"error": repr(error), "retry_in": delay})
                await _wait(stop, delay)
                delay = min(delay * 2, 5.0)

    async def _lead(self, conn: asyncpg.Connection, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self._wake.clear()
            # Less than a full batch, and no commit since it was read (a commit wakes the relay):
            # everything queued has left, and reading again now would come back empty.
            if await self.relay_once(conn) < self.batch and await self._wake.wait(self.poll_interval):
                if stop.is_set():  # woken by the stop, not a commit: nothing to gather
                    return
                await self._gather()

    async def _gather(self) -> None:
        """Woken by a commit: let the next few commits join its batch."""
        rate, since = self.arrivals.per_second(), time.monotonic() - self._read_at
        await asyncio.sleep(wait_before_read(rate, since, gather=self.gather, linger=self.linger))


def wait_before_read(rate: float, since: float, *, gather: float, linger: float) -> float:
    """How long a relay woken by a commit waits before it reads, messages arriving at `rate` a second
    and `since` seconds gone by since its last read (what came meanwhile is waiting): `gather`, or
    what is left of the time an atomic batch's worth takes to arrive when that is within `linger`."""
    if rate * linger >= ATOMIC_MIN:
        return max(gather, ATOMIC_MIN / rate - since)
    return gather


class Arrivals:
    """Messages a second lately: a count whose every message weighs less as it ages (by e after
    `tau` seconds), which a steady rate brings to that rate times `tau`."""

    def __init__(self, tau: float = 1.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.tau = tau
        self._clock = clock
        self._weight = 0.0
        self._at = clock()

    def add(self, count: int) -> None:
        now = self._clock()
        self._weight = self._weight * math.exp((self._at - now) / self.tau) + count
        self._at = now

    def per_second(self) -> float:
        return self._weight * math.exp((self._at - self._clock()) / self.tau) / self.tau


_RESEND = """
WITH parked AS (DELETE FROM outbox_undeliverable RETURNING id, message_id, subject, payload, headers)
INSERT INTO outbox (message_id, subject, payload, headers)
SELECT message_id, subject, payload, headers FROM parked ORDER BY id
"""


# Messages still in the outbox for each other region, and the age of the oldest: a region out of reach
# has them held (store-and-forward) and the age grows; otherwise they are only in flight.
_FOR_OTHER_REGIONS = """
SELECT split_part(subject, '.', 2) AS region, count(*) AS messages,
       extract(epoch FROM now() - min(created_at))::float8 AS oldest_seconds
FROM outbox WHERE split_part(subject, '.', 2) = ANY($1::text[]) GROUP BY 1 ORDER BY 1
"""


async def for_other_regions(pool: asyncpg.Pool, regions: Collection[str]) -> list[dict[str, Any]]:
    """The outbox's messages addressed to each of `regions` (another region's inbox, say): how many,
    and how long the oldest has waited, in seconds. One statement over the outbox, which holds only
    what has not left yet."""
    if not regions:
        return []
    rows = await pool.fetch(_FOR_OTHER_REGIONS, sorted(regions))
    return [
        {"region": r["region"], "messages": r["messages"], "oldest_seconds": round(r["oldest_seconds"], 1)}
        for r in rows
    ]


async def parked(pool: asyncpg.Pool, limit: int | None = None) -> list[dict[str, Any]]:
    """The messages parked as undeliverable (the first `limit`), in the order they were parked: id,
    subject and reason (not the payload, which may carry personal data)."""
    rows = await pool.fetch(
        "SELECT message_id, subject, reason, parked_at FROM outbox_undeliverable ORDER BY id LIMIT $1", limit
    )
    return [
        {
            "message_id": str(r["message_id"]),
            "subject": r["subject"],
            "reason": r["reason"],
            "parked_at": r["parked_at"].isoformat(),
        }
        for r in rows
    ]


async def resend_parked(pool: asyncpg.Pool) -> int:
    """Queue every parked message in the outbox again, in the order parked, under its own message id
    (a copy JetStream or a consumer's inbox already has is dropped there); returns how many. One
    statement: each message is either parked or queued, never both or neither. A subject that
    still has no stream is parked again by the relay, with the new reason."""
    status = await pool.execute(_RESEND)
    return int(status.rsplit(" ", 1)[-1])


def created_together(rows: list[asyncpg.Record]) -> list[list[asyncpg.Record]]:
    """Rows in the order read, those next to each other with the same trace context together: the
    messages one transaction queued (a registration's two events, say) go under one send span, not
    a span each. A row with no trace context goes alone: each such message starts a trace of its
    own, as it always has, and unrelated ones are not put into one."""
    groups: list[list[asyncpg.Record]] = []
    for row in rows:
        parent = row["headers"].get("traceparent")
        if parent and groups and groups[-1][0]["headers"].get("traceparent") == parent:
            groups[-1].append(row)
        else:
            groups.append([row])
    return groups


def _code(result: object) -> int | None:
    return getattr(result, "err_code", None) if isinstance(result, nats.js.errors.APIError) else None


def _refused_whole(result: object) -> bool:
    """An atomic batch JetStream refused as a whole for a reason its messages alone do not have."""
    return _code(result) in (ATOMIC_DUPLICATE, ATOMIC_DISABLED)


def _no_stream(result: object) -> bool:
    return isinstance(result, nats.js.errors.NoStreamResponseError | nats.errors.NoRespondersError)


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except TimeoutError:
        return
