"""The outbox relay: moves committed messages from PostgreSQL to JetStream.

Each message is published with `Nats-Msg-Id` = its id and deleted only after JetStream
acknowledged it. A relay killed between the two publishes again on restart, and JetStream's
duplicate window drops the copy; consumers' inboxes catch anything later than that.
One relay per database is active at a time (a session advisory lock), which keeps the order in
which a stream's events were committed.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import asyncpg
import nats.errors
import nats.js.errors
from nats.js import JetStreamContext
from opentelemetry.trace import SpanKind

from runtime.tracing import extract, inject, messaging_attributes, subject_template, tracer

log = logging.getLogger(__name__)

_RELAY_LOCK = 7_361_482_902

_CLAIM = """
SELECT id, message_id, subject, payload, headers FROM outbox
ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED
"""


class TransientNoStreamError(Exception):
    """A publish found no stream, yet the stream exists: a leader election; the batch is retried."""


class OutboxRelay:
    def __init__(
        self,
        pool: asyncpg.Pool,
        js: JetStreamContext,
        *,
        batch: int = 500,
        poll_interval: float = 0.25,
        ack_timeout: float = 10.0,
    ) -> None:
        self.pool = pool
        self.js = js
        self.ack_timeout = ack_timeout
        self.batch = batch
        self.poll_interval = poll_interval
        self.published = 0
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Called after a commit that queued messages, so they leave without waiting for a poll."""
        self._wake.set()

    async def relay_once(self, conn: asyncpg.Connection) -> int:
        """Publish one batch and delete it; returns how many messages left."""
        async with conn.transaction():
            rows = await conn.fetch(_CLAIM, self.batch)
            if not rows:
                return 0
            acks = [await self._publish(row) for row in rows]
            results = await self._settle(acks)
            undeliverable = [
                (row, str(result)) for row, result in zip(rows, results, strict=True) if _no_stream(result)
            ]
            failed = [r for r in results if isinstance(r, BaseException) and not _no_stream(r)]
            if failed:
                raise failed[0]
            if undeliverable and not await self._truly_streamless({row["subject"] for row, _ in undeliverable}):
                # "No responders" also answers a publish while a clustered stream elects its leader.
                raise TransientNoStreamError(undeliverable[0][1])
            if undeliverable:
                # No stream captures the subject: park the row with its reason instead of blocking the rest.
                await conn.executemany(
                    "INSERT INTO outbox_undeliverable (message_id, subject, payload, headers, reason) "
                    "VALUES ($1, $2, $3, $4, $5)",
                    [(r["message_id"], r["subject"], r["payload"], r["headers"], why) for r, why in undeliverable],
                )
                log.error(
                    "outbox messages undeliverable",
                    extra={"count": len(undeliverable), "subject": undeliverable[0][0]["subject"]},
                )
            await conn.execute("DELETE FROM outbox WHERE id = ANY($1::bigint[])", [r["id"] for r in rows])
        self.published += len(rows)
        return len(rows)

    async def _truly_streamless(self, subjects: set[str]) -> bool:
        """Whether no stream captures any of these subjects (asked of JetStream itself)."""
        for subject in subjects:
            try:
                await self.js.find_stream_name_by_subject(subject)
            except nats.js.errors.NotFoundError:
                continue
            return False
        return True

    async def _settle(self, acks: list[asyncio.Future[Any]]) -> list[Any]:
        """Each ack or its error. A server that dies mid-batch never answers: the batch fails and
        is published again, which the duplicate window absorbs."""
        _, pending = await asyncio.wait(acks, timeout=self.ack_timeout)
        for ack in pending:
            ack.cancel()  # releases nats-py's pending-publish slot
        if pending:
            raise TimeoutError(f"{len(pending)} of {len(acks)} publishes not acknowledged in {self.ack_timeout}s")
        return [ack.exception() or ack.result() for ack in acks]

    async def _publish(self, row: asyncpg.Record) -> asyncio.Future[Any]:
        headers: dict[str, str] = dict(row["headers"])
        subject: str = row["subject"]
        message_id = str(row["message_id"])
        with tracer(__name__).start_as_current_span(
            f"send {subject_template(subject)}",
            context=extract(headers),
            kind=SpanKind.PRODUCER,
            attributes=messaging_attributes("publish", subject, message_id=message_id),
        ):
            headers["Nats-Msg-Id"] = message_id
            inject(headers)
            return await self.js.publish_async(subject, row["payload"], headers=headers, wait_stall=30)

    async def run(self, stop: asyncio.Event) -> None:
        """Relay until `stop` is set: leader only, retrying through NATS or PostgreSQL outages."""
        delay = 0.2
        while not stop.is_set():
            try:
                async with self.pool.acquire() as conn:
                    if not await conn.fetchval("SELECT pg_try_advisory_lock($1)", _RELAY_LOCK):
                        await _wait(stop, 1.0)
                        continue
                    try:
                        await self._lead(conn, stop)
                    finally:
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
            if await self.relay_once(conn) == 0:
                waker = asyncio.create_task(self._wake.wait())
                stopper = asyncio.create_task(stop.wait())
                await asyncio.wait({waker, stopper}, timeout=self.poll_interval, return_when=asyncio.FIRST_COMPLETED)
                waker.cancel()
                stopper.cancel()


def _no_stream(result: object) -> bool:
    return isinstance(result, nats.js.errors.NoStreamResponseError | nats.errors.NoRespondersError)


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except TimeoutError:
        return
