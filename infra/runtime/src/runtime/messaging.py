"""NATS and JetStream: connections, streams, request/reply servers and durable pull consumers.

Delivery is at-least-once on every hop. A consumer marks each message in its inbox in the same
transaction as the effect, so a redelivery has no second effect; it acks only after the commit.
A message that cannot be processed goes to the dead-letter stream with its reason, and the rest
keep flowing.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import urllib.request
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)
from nats.js.errors import BadRequestError, NotFoundError
from opentelemetry.trace import Link, Span, SpanKind, Status, StatusCode

from runtime.eventstore import AlreadyClaimedError, EventStore, Transaction
from runtime.tracing import extract, inject, leaf_span, messaging_attributes, subject_template, tracer
from runtime.wakeup import Wakeup

log = logging.getLogger(__name__)

MSG_ID = "Nats-Msg-Id"
ORIGINAL_MSG_ID = "Yiwang-Original-Msg-Id"
BATCH_HEADERS = "Nats-Batch-"  # a stored message's atomic batch (id, place, commit): that publish's, never a copy's


class UnsafeConfigurationError(RuntimeError):
    """The server's settings could lose acknowledged messages; the process refuses to start."""


class PoisonMessageError(Exception):
    """This message can never be processed as it is: dead-letter it now, do not retry."""


async def connect(servers: Sequence[str], *, name: str, wait_seconds: float = 120.0) -> NatsClient:
    """Connect, waiting while NATS is not up yet (one clear log line per failed try); then reconnect forever."""

    async def on_error(error: Exception) -> None:
        log.warning("nats not reachable, retrying", extra={"client": name, "error": repr(error)})

    async def on_disconnected() -> None:
        log.warning("nats disconnected", extra={"client": name})

    async def on_reconnected() -> None:
        log.info("nats reconnected", extra={"client": name})

    try:
        async with asyncio.timeout(wait_seconds):
            return await nats.connect(
                servers=list(servers),
                name=name,
                max_reconnect_attempts=-1,
                reconnect_time_wait=0.5,
                connect_timeout=2,
                pending_size=64 * 1024 * 1024,
                error_cb=on_error,
                disconnected_cb=on_disconnected,
                reconnected_cb=on_reconnected,
            )
    except TimeoutError as error:
        raise TimeoutError(f"NATS at {', '.join(servers)} not reachable within {wait_seconds}s") from error


def verify_server_safety(monitor_url: str | None, *, require_sync_always: bool, replicas: int) -> None:
    """Refuse to run on JetStream that acknowledges before fsync, or clustered below R3, or older than
    2.12 (no atomic batches)."""
    if not require_sync_always:
        return
    if monitor_url is None:
        raise UnsafeConfigurationError(
            "YIWANG_REQUIRE_SYNC_ALWAYS is on but YIWANG_NATS_MONITOR_URL is not set: cannot check the server"
        )
    with urllib.request.urlopen(f"{monitor_url.rstrip('/')}/varz", timeout=5) as response:  # noqa: S310
        varz = json.loads(response.read())
    version = str(varz.get("version", "unknown"))
    if not takes_atomic_batches(version):
        raise UnsafeConfigurationError(
            f"nats-server {version}: 2.12 or later is needed, whose streams take atomic batches (the outbox "
            "relay's; an older server would store a batch's messages without acknowledging them)"
        )
    config = varz.get("jetstream", {}).get("config", {})
    if not config.get("sync_always"):
        raise UnsafeConfigurationError("JetStream runs without sync_interval: always; acknowledged data may be lost")
    clustered = bool(varz.get("cluster", {}).get("urls")) or bool(varz.get("cluster", {}).get("name"))
    if clustered and replicas < 3:
        raise UnsafeConfigurationError(f"clustered JetStream with streams at R{replicas}; R3 is the minimum")


def takes_atomic_batches(version: str) -> bool:
    """Whether a nats-server of this version (`2.15.1`, `2.12.0-RC.1`) takes atomic batches (2.12+)."""
    major, _, rest = version.partition(".")
    minor = rest.split(".", 1)[0]
    return major.isdigit() and minor.isdigit() and (int(major), int(minor)) >= (2, 12)


@dataclass(frozen=True, slots=True)
class StreamSpec:
    name: str
    subjects: tuple[str, ...]
    memory: bool = False
    max_age_seconds: float | None = None
    max_bytes: int | None = None


async def latest_messages(js: JetStreamContext, stream: str, last: int) -> list[bytes]:
    """The data of a stream's latest `last` messages, oldest first (for operators' listings)."""
    info = await js.stream_info(stream)
    found = []
    for seq in range(max(info.state.first_seq, info.state.last_seq - last + 1, 1), info.state.last_seq + 1):
        with contextlib.suppress(NotFoundError):  # removed since (limits, or deleted)
            found.append((await js.get_msg(stream, seq)).data or b"")
    return found


async def ensure_stream(js: JetStreamContext, spec: StreamSpec, *, replicas: int, duplicate_window: float) -> None:
    """Create the stream, or bring its settings to these. Every stream takes atomic batches: the
    outbox relay sends a batch's messages for one stream as one (runtime.outbox)."""
    config = StreamConfig(
        name=spec.name,
        subjects=list(spec.subjects),
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.MEMORY if spec.memory else StorageType.FILE,
        num_replicas=replicas,
        duplicate_window=duplicate_window,
        max_age=spec.max_age_seconds,
        max_bytes=spec.max_bytes,
        allow_atomic=True,
    )
    try:
        await js.stream_info(spec.name)
    except NotFoundError:
        await js.add_stream(config)
    else:
        await js.update_stream(config)


@dataclass(frozen=True, slots=True)
class Delivery:
    """One message as a handler sees it."""

    subject: str
    data: bytes
    headers: Mapping[str, str]
    message_id: UUID
    deliveries: int


Handler = Callable[[Transaction, Delivery], Awaitable[None]]
BatchHandler = Callable[[Transaction, Sequence[Delivery]], Awaitable[None]]


@dataclass
class ConsumerSpec:
    """A durable pull consumer: which messages, what to do with each, and how hard to retry.

    With `batch_handler`, a fetch's new messages are handed over together, in stream order, so the
    handler can write them in a few statements instead of a few each; `handler` then hands it one.
    With `linger` (seconds), a take that found fewer than `batch` waits that long once for more: a
    stream that brings one message at a time then has a few share a transaction, each delayed by up
    to `linger`.

    With `prepare`, a fetch applied message by message in one transaction is first handed over whole
    (its new messages, in stream order), to read at once, in its transaction, what the messages'
    handlers will read one by one: the streams they decide on, the rows they check. It only reads
    ahead: a message applied on its own (a retry, a fetch of one) goes without it, to the same end.

    A handler's effects are what it writes in its transaction (what it keeps in memory waits for
    `Transaction.after_commit`): it may run more than once for a message, as a retry does, and for
    a copy of one applied before, presumed new and rolled back at the commit (`PullConsumer`).
    """

    durable: str
    stream: str
    filter_subjects: tuple[str, ...]
    handler: Handler
    max_deliver: int = 5
    backoff: tuple[float, ...] = (0.5, 2.0, 10.0, 30.0)
    ack_wait: float = 30.0
    batch: int = 100
    max_ack_pending: int = 1000
    batch_handler: BatchHandler | None = None
    linger: float = 0.0
    prepare: BatchHandler | None = None

    @classmethod
    def batched(
        cls, durable: str, stream: str, filter_subjects: tuple[str, ...], handler: BatchHandler, **options: Any
    ) -> ConsumerSpec:
        async def one(tx: Transaction, delivery: Delivery) -> None:
            await handler(tx, [delivery])

        return cls(durable, stream, filter_subjects, one, batch_handler=handler, **options)


def ack_floor(info: Any) -> int:
    """The stream sequence up to which a consumer (its `consumer_info`) has acknowledged everything."""
    floor = getattr(info, "ack_floor", None)
    return int(getattr(floor, "stream_seq", 0) or 0)


async def consumer_caught_up(js: JetStreamContext, stream: str, durable: str, *, patience: float) -> bool:
    """Read your own writes across services: wait until `durable` has applied (acknowledged after
    its commit) every message `stream` held at the call, at most `patience` seconds; False if it
    had not by then, or if JetStream could not say.

    The loop keeps its own deadline besides `wait_for`'s: nats-py swallows a cancellation that
    lands in a publish's flush (`Client._flush_pending`), and a loop that only stops when cancelled
    would then ask JetStream forever while `wait_for` waits for it."""
    deadline = asyncio.get_running_loop().time() + patience

    async def caught_up() -> bool:
        held = (await js.stream_info(stream)).state.last_seq
        while True:
            info = await js.consumer_info(stream, durable)
            if ack_floor(info) >= held or (info.num_pending == 0 and info.num_ack_pending == 0):
                return True  # (a filtered consumer's floor stops at its last message: nothing pending then)
            if asyncio.get_running_loop().time() >= deadline:
                raise TimeoutError
            await asyncio.sleep(0.02)

    try:
        return await asyncio.wait_for(caught_up(), patience)
    except (TimeoutError, nats.errors.Error) as error:
        log.warning("consumer not known to be caught up", extra={"consumer": durable, "error": repr(error)})
        return False


def message_id_of(headers: Mapping[str, str]) -> UUID:
    raw = headers.get(ORIGINAL_MSG_ID) or headers.get(MSG_ID)
    if raw is None:
        raise PoisonMessageError("message has no Nats-Msg-Id header")
    try:
        return UUID(raw)
    except ValueError as error:
        raise PoisonMessageError(f"Nats-Msg-Id {raw!r} is not a UUID") from error


class DeadLetters:
    """The dead-letter stream: each failed message with its reason, consumer and origin."""

    def __init__(self, js: JetStreamContext, subject_root: str) -> None:
        self.js = js
        self.root = subject_root

    @property
    def stream(self) -> StreamSpec:
        return StreamSpec(name=f"{self.root.upper()}_DEADLETTER", subjects=(f"{self.root}.deadletter.>",))

    async def put(self, msg: Msg, *, consumer: str, reason: str) -> None:
        headers = _copied(msg.headers)
        metadata = msg.metadata
        headers.update(
            {
                "Yiwang-Dead-Reason": reason[:2000],
                "Yiwang-Dead-Consumer": consumer,
                "Yiwang-Dead-Subject": msg.subject,
                "Yiwang-Dead-Stream": metadata.stream,
                "Yiwang-Dead-Sequence": str(metadata.sequence.stream),
                "Yiwang-Dead-Deliveries": str(metadata.num_delivered),
            }
        )
        original = headers.get(ORIGINAL_MSG_ID) or headers.get(MSG_ID)
        if original:
            headers[ORIGINAL_MSG_ID] = original
        headers[MSG_ID] = f"dead-{consumer}-{metadata.stream}-{metadata.sequence.stream}"
        await self.js.publish(f"{self.root}.deadletter.{consumer}", msg.data, headers=headers)

    async def list(self, limit: int = 100) -> list[dict[str, Any]]:
        """The dead letters held now, oldest first (sequence, consumer, subject, reason)."""
        info = await self.js.stream_info(self.stream.name)
        found: list[dict[str, Any]] = []
        if not info.state.messages:  # a stream never written to says 0 to 0, which is no message's sequence
            return found
        seq = info.state.first_seq
        while seq <= info.state.last_seq and len(found) < limit:
            try:
                raw = await self.js.get_msg(self.stream.name, seq)
            except NotFoundError:
                seq += 1
                continue
            headers = raw.headers or {}
            found.append(
                {
                    "sequence": seq,
                    "consumer": headers.get("Yiwang-Dead-Consumer"),
                    "subject": headers.get("Yiwang-Dead-Subject"),
                    "reason": headers.get("Yiwang-Dead-Reason"),
                    "deliveries": int(headers.get("Yiwang-Dead-Deliveries", "0")),
                    "data": raw.data,
                }
            )
            seq += 1
        return found

    async def held_by_consumer(self) -> dict[str, int]:
        """How many dead letters each consumer has now, from the stream's own count by subject (one
        request, whatever their number: for a dashboard that polls)."""
        prefix = f"{self.root}.deadletter."
        info = await self.js.stream_info(self.stream.name, subjects_filter=f"{prefix}>")
        return {subject.removeprefix(prefix): n for subject, n in sorted((info.state.subjects or {}).items())}

    async def replay(self, sequence: int) -> str:
        """Send a dead letter back to its subject (after a fix) and remove it from the stream.

        The consumer's inbox still knows the original id, so a replay is applied at most once.
        `NoSuchDeadLetterError` when the stream holds none at `sequence`.
        """
        try:
            raw = await self.js.get_msg(self.stream.name, sequence)
        except (NotFoundError, BadRequestError) as error:  # removed (replayed before), or 0: never a sequence
            raise NoSuchDeadLetterError(f"no dead letter {sequence}") from error
        headers = {k: v for k, v in _copied(raw.headers).items() if not k.startswith("Yiwang-Dead-")}
        original = (raw.headers or {}).get("Yiwang-Dead-Subject")
        if original is None:
            raise ValueError(f"dead letter {sequence} has no original subject")
        headers[MSG_ID] = f"replay-{self.stream.name}-{sequence}"
        await self.js.publish(original, raw.data or b"", headers=headers)
        await self.js.delete_msg(self.stream.name, sequence)
        return str(original)


def _copied(headers: Mapping[str, str] | None) -> dict[str, str]:
    """A stored message's headers for a copy published anew (a dead letter, a replay): without the
    atomic batch of its first publish, which JetStream would take as a batch the copy belongs to."""
    return {k: v for k, v in (headers or {}).items() if not k.startswith(BATCH_HEADERS)}


class NoSuchDeadLetterError(LookupError):
    """No dead letter is held at the sequence asked for."""


class ConsumerGoneError(nats.errors.Error):
    """The durable consumer no longer exists on the server (deleted): it is to be created again."""


PULL_EXPIRES = 2.0  # seconds a pull request stays open on the server
PULL_GRACE = 1.0  # past its expiry with no answer, a request is taken as lost (a server restarted)


class PullAhead:
    """A durable consumer's messages, asked for ahead of need (JetStream's "consume" pattern).

    One pull request for up to `batch` messages stays open on the server (for `expires` seconds),
    and another goes out when at most half a batch is still to come or waiting to be taken; messages
    land through a callback in a buffer that `take` empties. nats-py's `fetch` asks anew for every
    batch (a probe, then a waiting request, each answered) and waits for each message with a timer of
    its own: at a few hundred messages a second, where a batch is one or two messages, that was about
    two fifths of the consumer's CPU per message (docs/performance.md).

    A request that ends (its expiry, with the messages it had left) or that the server drops (a 409:
    leadership change, server shutdown) is asked again; one that never answers by its expiry (a
    server restarted meanwhile) is taken as lost then. A consumer deleted on the server (a 409
    "Consumer Deleted", or no one to answer a request) makes `take` raise `ConsumerGoneError`, for
    the caller to create it again. Messages still in the buffer when the consumer stops were
    delivered and not acknowledged: JetStream delivers them again after the consumer's ack wait, as
    it did a fetch's unprocessed messages.
    """

    def __init__(
        self, nc: NatsClient, next_subject: str, batch: int, *, expires: float = PULL_EXPIRES, grace: float = PULL_GRACE
    ) -> None:
        self.nc = nc
        self.next_subject = next_subject
        self.batch = batch
        self.expires = expires
        self.grace = grace
        self.requested = 0  # asked for and not come yet
        self.requests = 0  # pull requests sent, for operators and tests
        self._ready: list[Msg] = []
        self._news = Wakeup()  # a message came, or a request ended
        self._answered_by = 0.0  # the latest request's expiry, plus the grace
        self._gone = ""  # why the consumer is known to be gone from the server
        self._inbox = nc.new_inbox()
        self._subscription: Any = None

    async def start(self) -> None:
        self._subscription = await self.nc.subscribe(self._inbox, cb=self._received)

    async def stop(self) -> None:
        if self._subscription is not None:
            with contextlib.suppress(nats.errors.Error):
                await self._subscription.unsubscribe()
            self._subscription = None

    async def _received(self, msg: Msg) -> None:
        headers = msg.headers or {}
        status = headers.get("Status") if not msg.data else None
        if status is None:
            self.requested = max(0, self.requested - 1)
            self._ready.append(msg)
        elif status in ("404", "408"):  # a request ended, with this many it had still to bring
            self.requested = max(0, self.requested - int(headers.get("Nats-Pending-Messages", 0) or 0))
        elif status == "409" and headers.get("Description") != "Consumer Deleted":
            # The server dropped the requests (leadership change, shutdown, or a limit of the consumer's
            # they exceed): asked again when the wait for them ends, not at once, so a limit that
            # refuses every request is asked about once a `take`, not in a loop.
            log.info("pull requests dropped by the server", extra={"reason": headers.get("Description")})
            self.requested = 0
            return
        elif status in ("409", "503"):  # deleted, or no one answers for the consumer any more
            self._gone = str(headers.get("Description") or "no responders").strip()
            self.requested = 0
        else:  # 100: an idle heartbeat, not asked for
            return
        self._news.set()

    async def _ask(self) -> None:
        now = time.monotonic()
        if self.requested and now > self._answered_by:
            self.requested = 0  # its expiry never came: the server lost it
        wanted = self.batch - self.requested - len(self._ready)
        if wanted >= max(1, self.batch // 2):
            request = {"batch": wanted, "expires": int(self.expires * 1e9)}
            await self.nc.publish(self.next_subject, json.dumps(request).encode(), reply=self._inbox)
            self.requested += wanted
            self.requests += 1
            self._answered_by = now + self.expires + self.grace

    async def take(self, most: int, *, wait: float, linger: float = 0.0) -> list[Msg]:
        """Up to `most` messages in stream order, waiting `wait` seconds at most for the first;
        with `linger`, a take that found fewer waits that long once for more. [] when none came."""
        deadline = time.monotonic() + wait
        while not self._ready:
            if self._gone:
                raise ConsumerGoneError(self._gone)
            await self._ask()
            now = time.monotonic()
            if now >= deadline:
                return []
            # no later than the open request's answer is due, to ask again if it never comes
            until = min(deadline, self._answered_by) if self.requested else deadline
            self._news.clear()
            await self._news.wait(max(until - now, 0.001))
        if linger and len(self._ready) < most:
            await asyncio.sleep(linger)
        taken, self._ready = self._ready[:most], self._ready[most:]
        await self._ask()
        return taken


def _delivery(msg: Msg, headers: Mapping[str, str] | None = None) -> Delivery:
    headers = headers if headers is not None else (msg.headers or {})
    return Delivery(msg.subject, msg.data, headers, message_id_of(headers), msg.metadata.num_delivered)


class PullConsumer:
    """Takes messages in batches, applies each batch in one transaction with its inbox marks, then acks.

    Messages delivered for the first time are presumed new: claimed with the transaction's writes
    (`Transaction.claim_at_commit`), in its last statement, not asked about first. A copy of one
    applied before (a relay's after the duplicate window, a consumer created again from the
    stream's start) is found at the commit, which writes nothing; the fetch is then applied again,
    asking the inbox first, and so are the fetches after it, until one finds every message new
    (copies come in runs)."""

    def __init__(self, js: JetStreamContext, store: EventStore, spec: ConsumerSpec, dead_letters: DeadLetters) -> None:
        self.js = js
        self.store = store
        self.spec = spec
        self.dead_letters = dead_letters
        self.processed = 0
        self.dead_lettered = 0
        self.presuming = True  # first deliveries presumed new: no copy found since a fetch was all new

    async def _subscription(self) -> PullAhead:
        spec = self.spec
        config = ConsumerConfig(
            durable_name=spec.durable,
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            ack_wait=spec.ack_wait,
            max_deliver=spec.max_deliver,
            max_ack_pending=spec.max_ack_pending,
            filter_subjects=list(spec.filter_subjects),
        )
        try:
            await self.js.add_consumer(spec.stream, config=config)
        except nats.js.errors.APIError as error:
            # JetStream updates an existing durable where it can (its filter subjects: a release that
            # reads a new contract version keeps its place); one whose other settings cannot change
            # keeps them: say so rather than fail.
            log.warning("consumer exists with other settings", extra={"consumer": spec.durable, "error": str(error)})
        # nats-py's own pull subscription reads the connection and the API prefix off the context too.
        next_subject = f"{self.js._prefix}.CONSUMER.MSG.NEXT.{spec.stream}.{spec.durable}"
        puller = PullAhead(self.js._nc, next_subject, spec.batch)
        await puller.start()
        return puller

    async def run(self, stop: asyncio.Event) -> None:
        """Take and apply until `stop`; outlives reconnects and JetStream leader elections (a 503
        from the server, an ack that fails): unacknowledged messages are simply delivered again."""
        puller: PullAhead | None = None
        delay = 0.2
        try:
            while not stop.is_set():
                try:
                    if puller is None:
                        puller = await self._subscription()
                    batch = await puller.take(self.spec.batch, wait=1.0, linger=self.spec.linger)
                except (nats.errors.ConnectionClosedError, nats.errors.ConnectionReconnectingError):
                    await asyncio.sleep(0.5)
                    continue
                except nats.errors.Error as error:
                    # A consumer gone from the server is created again, after the same growing pause
                    # (JetStream may still be starting).
                    gone = isinstance(error, ConsumerGoneError)
                    log.warning(
                        "consumer gone from the server, creating it again"
                        if gone
                        else "consumer pull failed, retrying",
                        extra={"consumer": self.spec.durable, "error": repr(error), "retry_in": delay},
                    )
                    if gone and puller is not None:
                        await puller.stop()
                        puller = None
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 5.0)
                    continue
                delay = 0.2
                if not batch:
                    continue
                try:
                    await self.handle_batch(batch)
                except nats.errors.Error as error:
                    log.warning("acknowledgement failed; redelivery will follow", extra={"error": repr(error)})
        finally:
            if puller is not None:
                await puller.stop()

    async def handle_batch(self, batch: list[Msg]) -> None:
        """Apply a whole fetch in one transaction (one commit, then the acks); if any message fails,
        roll back and take them one by one, so only the failing one is retried or dead-lettered.
        A fetch presumed new that held a copy is applied again, asking first."""
        if len(batch) > 1:
            try:
                try:
                    await self._apply_batch(batch, presume=self._presumed_new(batch))
                except AlreadyClaimedError:
                    self.presuming = False
                    await self._apply_batch(batch, presume=False)
            except Exception:  # noqa: BLE001 - the one-by-one pass below sorts out which message failed
                log.info("batch failed, applying one by one", extra={"consumer": self.spec.durable, "size": len(batch)})
            else:
                for msg in batch:
                    await msg.ack()
                self.processed += len(batch)
                return
        for msg in batch:
            await self.handle(msg)

    async def _apply_batch(self, batch: list[Msg], *, presume: bool) -> None:
        async with self.store.transaction() as tx:
            fresh = await self._claimed(tx, [message_id_of(m.headers or {}) for m in batch], presume=presume)
            if self.spec.batch_handler is None:
                if self.spec.prepare is not None:
                    await self.spec.prepare(tx, [one for m in batch if (one := _delivery(m)).message_id in fresh])
                for msg in batch:
                    await self._apply(tx, msg, fresh)
            else:
                await self.spec.batch_handler(tx, [d for m in batch if (d := self._received(m, fresh))])

    def _presumed_new(self, batch: list[Msg]) -> bool:
        return self.presuming and all(msg.metadata.num_delivered == 1 for msg in batch)

    async def _claimed(self, tx: Transaction, message_ids: list[UUID], *, presume: bool) -> set[UUID]:
        """The messages to apply: all of them if `presume`d new (claimed at the commit, which fails
        if one was not), else those the inbox did not know (all of them: presumed new again)."""
        if presume:
            await tx.claim_at_commit(self.spec.durable, message_ids)
            return set(message_ids)
        fresh = await tx.claim_all(self.spec.durable, message_ids)
        self.presuming = len(fresh) == len(set(message_ids))
        return fresh

    @contextlib.contextmanager
    def _processing(self, msg: Msg) -> Iterator[tuple[Delivery, Span]]:
        """The message as a handler sees it, inside its `process` span (in the sender's trace)."""
        headers = dict(msg.headers or {})
        with tracer(__name__).start_as_current_span(
            f"process {subject_template(msg.subject)}",
            context=extract(headers),
            kind=SpanKind.CONSUMER,
            attributes=messaging_attributes("process", msg.subject, client_id=self.spec.durable),
        ) as span:
            delivery = _delivery(msg, headers)
            span.set_attribute("messaging.message.id", str(delivery.message_id))
            yield delivery, span

    def _received(self, msg: Msg, fresh: set[UUID]) -> Delivery | None:
        """The message for a batch handler if it is new (each claimed id is used once); its span
        marks its arrival, the batch's writes follow in one call."""
        with self._processing(msg) as (delivery, _):
            new = delivery.message_id in fresh
            fresh.discard(delivery.message_id)
            return delivery if new else None

    async def _apply(self, tx: Transaction, msg: Msg, fresh: set[UUID]) -> None:
        """Run the handler if the message is new: in `fresh`, the claimed ids (each is used once)."""
        with self._processing(msg) as (delivery, span):
            try:
                new = delivery.message_id in fresh
                fresh.discard(delivery.message_id)
                if new:
                    await self.spec.handler(tx, delivery)
            except Exception as error:
                span.set_status(Status(StatusCode.ERROR, type(error).__name__))
                raise

    async def handle(self, msg: Msg) -> None:
        """Apply one message in its own transaction; retry with backoff, or dead-letter it."""
        spec = self.spec
        deliveries = msg.metadata.num_delivered
        try:
            async with self.store.transaction() as tx:
                fresh = await self._claimed(tx, [message_id_of(msg.headers or {})], presume=self._presumed_new([msg]))
                await self._apply(tx, msg, fresh)
        except AlreadyClaimedError:  # a copy of a message applied before: nothing to apply again
            self.presuming = False
            log.info("message applied before, acknowledged", extra={"consumer": spec.durable, "subject": msg.subject})
        except PoisonMessageError as error:
            await self._dead_letter(msg, f"poison: {error}")
            return
        except Exception as error:  # noqa: BLE001 - any failure is retried, then dead-lettered
            if deliveries >= spec.max_deliver:
                await self._dead_letter(msg, f"failed {deliveries} times: {type(error).__name__}: {error}")
            else:
                delay = spec.backoff[min(deliveries, len(spec.backoff)) - 1]
                log.warning(
                    "message failed, will retry",
                    extra={"consumer": spec.durable, "subject": msg.subject, "error": repr(error), "retry_in": delay},
                )
                await msg.nak(delay=delay)
            return
        await msg.ack()
        self.processed += 1

    async def _dead_letter(self, msg: Msg, reason: str) -> None:
        log.error(
            "message dead-lettered", extra={"consumer": self.spec.durable, "subject": msg.subject, "reason": reason}
        )
        await self.dead_letters.put(msg, consumer=self.spec.durable, reason=reason)
        await msg.term()
        self.dead_lettered += 1


@dataclass(frozen=True, slots=True)
class Request:
    name: str
    subject: str
    data: bytes
    headers: Mapping[str, str] = field(default_factory=dict)


RequestHandler = Callable[[Request], Awaitable[bytes]]

INTERNAL_ERROR_REPLY = json.dumps(
    {"ok": False, "problem": {"type": "about:blank", "title": "Internal error", "status": 500}}
).encode()


# The title of the problem a server answers for a request it has no handler for (a peer running an
# earlier version), which a caller can tell from a refusal.
UNKNOWN_REQUEST = "Unknown request"


class RequestServer:
    """Serves `<prefix>.cmd.*` and `<prefix>.query.*` in a queue group, so replicas share the load."""

    def __init__(
        self, nc: NatsClient, prefix: str, handlers: Mapping[str, RequestHandler], *, concurrency: int = 256
    ) -> None:
        self.nc = nc
        self.prefix = prefix
        self.handlers = handlers
        self._slots = asyncio.Semaphore(concurrency)
        self._tasks: set[asyncio.Task[None]] = set()
        self._subscriptions: list[Any] = []

    async def start(self) -> None:
        queue = self.prefix.replace(".", "-")
        for kind in ("cmd", "query"):
            self._subscriptions.append(
                await self.nc.subscribe(f"{self.prefix}.{kind}.*", queue=queue, cb=self._on_message)
            )

    async def _on_message(self, msg: Msg) -> None:
        await self._slots.acquire()
        task = asyncio.create_task(self._serve(msg))
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._slots.release()

    async def _serve(self, msg: Msg) -> None:
        name = msg.subject.rsplit(".", 1)[-1]
        headers = dict(msg.headers or {})
        with tracer(__name__).start_as_current_span(
            f"process {self.prefix}.{name}",
            context=extract(headers),
            kind=SpanKind.SERVER,
            attributes=messaging_attributes("process", msg.subject),
        ) as span:
            handler = self.handlers.get(name)
            try:
                if handler is None:
                    reply = json.dumps(
                        {"ok": False, "problem": {"title": UNKNOWN_REQUEST, "status": 404, "detail": name}}
                    ).encode()
                else:
                    reply = await handler(Request(name, msg.subject, msg.data, headers))
            except Exception:
                log.exception("request handler crashed", extra={"request": name})
                span.set_status(Status(StatusCode.ERROR))
                reply = INTERNAL_ERROR_REPLY
        if msg.reply:
            try:
                await msg.respond(reply)
            except nats.errors.Error:
                log.warning("could not reply", extra={"request": name})

    async def stop(self) -> None:
        for subscription in self._subscriptions:
            await subscription.unsubscribe()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=10)


async def request(
    nc: NatsClient,
    subject: str,
    payload: bytes,
    *,
    timeout: float,  # noqa: ASYNC109 - passed to nats-py, which enforces it
    headers: dict[str, str] | None = None,
    links: Sequence[Link] = (),
) -> bytes:
    """Request/reply with the trace context in the headers; raises TimeoutError or NoRespondersError.
    `links`: the other traces a request asked on behalf of (several callers' questions in one)."""
    with leaf_span(
        f"send {subject_template(subject)}",
        kind=SpanKind.CLIENT,
        attributes=messaging_attributes("request", subject),
        module=__name__,
        links=links,
    ) as span:
        carrier = inject(dict(headers or {}), span)
        response = await nc.request(subject, payload, timeout=timeout, headers=dict(carrier))
        return bytes(response.data)
