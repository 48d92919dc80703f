"""Stall alerts: each service watches its own durable consumers and projections and says when one
cannot keep up.

A consumer is *saturated* when JetStream has handed it `max_ack_pending` messages it has not yet
acknowledged (so it is fed no more) while a backlog waits in the stream, and *stalled* when its
acknowledgement floor has not moved while messages wait. A projection is *stalled* when events it
could apply wait after its position and the position has not moved (its projector failing), and
*held back* when the events waiting are not final yet: an older transaction with an id still runs
somewhere on the PostgreSQL server (any database: transaction ids and snapshots are the server's),
and the projector reads no event past it, so the read models of every database on that server stop
there. The held-back alert names that transaction's database, application, process id, state and
age, never its statement (the state and age of another role's session only where the service's role
has the privileges of `pg_read_all_stats`; else they are null).

Any of these states held for `stall_after` seconds raises one alert: an ERROR log record and a
message on the alerts stream (`<ROOT>_ALERTS`, subject `<root>.alerts.<region>.<service>`, read with
`yiwang alerts`). When nothing waits any more the consumer or projection is *recovered*, which is
said once too. Alerts carry names and counts only, never message contents.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import asyncpg
import orjson
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from runtime.messaging import StreamSpec, ack_floor, latest_messages
from runtime.projector import event_after

log = logging.getLogger(__name__)

SATURATED = "saturated"
STALLED = "stalled"
RECOVERED = "recovered"
HELD_BACK = "held-back"


def alerts_stream(root: str) -> StreamSpec:
    """Every service's alerts, kept for a week (a few bytes each)."""
    return StreamSpec(f"{root.upper()}_ALERTS", (f"{root}.alerts.>",), max_age_seconds=7 * 24 * 3600)


@dataclass(frozen=True)
class Sample:
    at: float
    pending: int  # in the stream, not yet delivered
    ack_pending: int  # delivered, not yet acknowledged
    ack_floor: int  # the stream sequence up to which everything is acknowledged


@dataclass
class _Track:
    stream: str
    durable: str
    max_ack_pending: int
    busy_since: float | None = None  # when it was first seen saturated or stalled in this episode
    floor_since: float | None = None  # when the acknowledgement floor last moved
    last: Sample | None = None
    raised: str | None = None  # the alert raised in this episode, if any


@dataclass
class ConsumerWatch:
    """Samples `consumer_info` of each consumer every `interval` seconds; see the module docstring."""

    js: JetStreamContext
    root: str
    region: str
    service: str
    consumers: Sequence[tuple[str, str, int]]  # (stream, durable, max_ack_pending)
    interval: float = 10.0
    stall_after: float = 30.0
    raised: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=100))  # the latest alerts sent

    def __post_init__(self) -> None:
        self._tracks = [_Track(s, d, m) for s, d, m in self.consumers]

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            for track in self._tracks:
                try:
                    info = await self.js.consumer_info(track.stream, track.durable)
                except NotFoundError:
                    continue
                except Exception as error:  # noqa: BLE001 - a watch never takes the service down
                    log.warning(
                        "consumer watch could not sample", extra={"consumer": track.durable, "error": repr(error)}
                    )
                    continue
                sample = Sample(time.monotonic(), info.num_pending or 0, info.num_ack_pending or 0, ack_floor(info))
                alert = self.observe(track, sample)
                if alert is not None:
                    await self._send(alert)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.interval)

    def observe(self, track: _Track, sample: Sample) -> dict[str, Any] | None:
        """Fold one sample into the consumer's state; returns the alert to send, if this sample raises one."""
        previous, track.last = track.last, sample
        waiting = sample.pending + sample.ack_pending
        if previous is None or sample.ack_floor != previous.ack_floor or previous.pending + previous.ack_pending == 0:
            track.floor_since = sample.at  # progress, or nothing was waiting: no stall began before this sample
        saturated = sample.ack_pending >= track.max_ack_pending and sample.pending > 0
        stalled = waiting > 0 and track.floor_since is not None and sample.at - track.floor_since >= self.stall_after
        if waiting == 0:
            recovered = track.raised is not None
            track.busy_since, track.raised = None, None
            return self._alert(track, RECOVERED, sample) if recovered else None
        if not (saturated or stalled):
            track.busy_since = None
            return None
        if track.busy_since is None:
            track.busy_since = sample.at
        state = STALLED if stalled else SATURATED
        if track.raised is None and (stalled or sample.at - track.busy_since >= self.stall_after):
            track.raised = state
            return self._alert(track, state, sample)
        if track.raised == SATURATED and state == STALLED:
            track.raised = STALLED
            return self._alert(track, STALLED, sample)
        return None

    def _alert(self, track: _Track, state: str, sample: Sample) -> dict[str, Any]:
        since = track.busy_since if state != STALLED else track.floor_since
        return {
            "time": datetime.now(UTC).isoformat(),
            "region": self.region,
            "service": self.service,
            "stream": track.stream,
            "consumer": track.durable,
            "state": state,
            "seconds": round(sample.at - since, 1) if since is not None else 0.0,
            "pending": sample.pending,
            "ack_pending": sample.ack_pending,
            "max_ack_pending": track.max_ack_pending,
            "ack_floor": sample.ack_floor,
        }

    async def _send(self, alert: dict[str, Any]) -> None:
        self.raised.append(alert)
        await _publish_alert(self.js, self.root, f"consumer {alert['state']}", alert)


async def _publish_alert(js: JetStreamContext, root: str, message: str, alert: dict[str, Any]) -> None:
    """Logged (ERROR, or INFO for a recovery) and stored on the alerts stream; the log record stands
    if the stream cannot take it."""
    level = logging.INFO if alert["state"] == RECOVERED else logging.ERROR
    log.log(level, message, extra={k: v for k, v in alert.items() if k != "time"})
    subject = f"{root}.alerts.{alert['region']}.{alert['service']}"
    try:
        await js.publish(subject, orjson.dumps(alert), timeout=5)
    except Exception as error:  # noqa: BLE001 - the log record above stands if the stream cannot take it
        log.warning("alert not stored", extra={"state": alert["state"], "error": repr(error)})


# Per projection: its position, whether any event was committed after it, and whether one of those
# is final (no older transaction of the server still running), each check the projector's own
# (`runtime.projector.event_after`). A projection with no position row yet (its first batch never
# committed) is at the log's start.
_PROJECTIONS = f"""SELECT n.projection, q.tx::text AS tx, q.pos AS position,
    {event_after("q.tx", "q.pos", final=False)} AS waiting,
    {event_after("q.tx", "q.pos", final=True)} AS final
FROM (VALUES {{names}}) AS n (projection)
LEFT JOIN projection_positions p USING (projection)
CROSS JOIN LATERAL (SELECT coalesce(p.transaction_id, '0'::xid8) AS tx, coalesce(p.position, 0) AS pos) AS q"""

# The oldest transaction with an id on the server: what keeps events from being final. A session's
# (its database, application name, process id and state) or a prepared transaction's (its database
# and global id); how long it has been open. Never the statement text.
_HOLDER = """SELECT * FROM (
    SELECT datname AS database, application_name AS application, pid, state,
           extract(epoch FROM now() - xact_start)::float8 AS seconds, age(backend_xid) AS age
    FROM pg_stat_activity WHERE backend_xid IS NOT NULL AND pid <> pg_backend_pid()
    UNION ALL
    SELECT database, 'prepared transaction ' || gid, NULL, 'prepared',
           extract(epoch FROM now() - prepared)::float8, age(transaction)
    FROM pg_prepared_xacts
) h ORDER BY age DESC LIMIT 1"""


def _rows(count: int) -> str:
    """`($1::text), ($2::text), ...`: the names as rows of a VALUES list."""
    return ", ".join(f"(${n}::text)" for n in range(1, count + 1))


@dataclass(frozen=True)
class ProjectionSample:
    at: float
    position: tuple[int, int]  # (transaction id, position) up to which the projection has applied
    waiting: bool  # an event was committed after the position
    final: bool  # one of those is final: the projector could read and apply it


@dataclass
class _ProjectionTrack:
    name: str
    still_since: float | None = None  # since when the position has not moved while events waited
    last: ProjectionSample | None = None
    raised: str | None = None  # the alert raised in this episode, if any


@dataclass
class ProjectionWatch:
    """Samples the service's projection positions every `interval` seconds, in one statement; see the
    module docstring. `pool` is the service's own."""

    js: JetStreamContext
    pool: asyncpg.Pool
    root: str
    region: str
    service: str
    projections: Sequence[str]
    interval: float = 10.0
    stall_after: float = 30.0
    raised: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=100))  # the latest alerts sent

    def __post_init__(self) -> None:
        self._tracks = {name: _ProjectionTrack(name) for name in self.projections}

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.sample_once()
            except Exception as error:  # noqa: BLE001 - a watch never takes the service down
                log.warning("projection watch could not sample", extra={"error": repr(error)})
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.interval)

    async def sample_once(self) -> list[dict[str, Any]]:
        """One sample of every projection; returns the alerts it raised (sent already)."""
        names = list(self._tracks)
        if not names:
            return []
        async with self.pool.acquire() as conn:
            rows = await conn.fetch(_PROJECTIONS.format(names=_rows(len(names))), *names)
            at = time.monotonic()
            samples = {
                r["projection"]: ProjectionSample(at, (int(r["tx"]), r["position"]), r["waiting"], r["final"])
                for r in rows
            }
            held = any(s.waiting and not s.final for s in samples.values())
            holder = await conn.fetchrow(_HOLDER) if held else None
        raised = []
        for name, sample in samples.items():
            alert = self.observe(self._tracks[name], sample, dict(holder) if holder is not None else None)
            if alert is not None:
                self.raised.append(alert)
                await _publish_alert(self.js, self.root, f"projection {alert['state']}", alert)
                raised.append(alert)
        return raised

    def observe(
        self, track: _ProjectionTrack, sample: ProjectionSample, holder: dict[str, Any] | None = None
    ) -> dict[str, Any] | None:
        """Fold one sample into the projection's state; returns the alert to send, if this sample
        raises one. `holder`: the server's oldest transaction with an id, when events wait unfinal."""
        previous, track.last = track.last, sample
        if not sample.waiting:
            recovered = track.raised is not None
            track.still_since, track.raised = None, None
            return self._alert(track, RECOVERED, sample, None) if recovered else None
        if previous is None or not previous.waiting or sample.position != previous.position:
            track.still_since = sample.at  # progress, or nothing waited: no stall began before this sample
            return None
        if track.still_since is None or sample.at - track.still_since < self.stall_after:
            return None
        state = STALLED if sample.final else HELD_BACK
        if track.raised == state:
            return None
        track.raised = state
        return self._alert(track, state, sample, holder if state == HELD_BACK else None)

    def _alert(
        self, track: _ProjectionTrack, state: str, sample: ProjectionSample, holder: dict[str, Any] | None
    ) -> dict[str, Any]:
        alert: dict[str, Any] = {
            "time": datetime.now(UTC).isoformat(),
            "region": self.region,
            "service": self.service,
            "projection": track.name,
            "state": state,
            "seconds": round(sample.at - track.still_since, 1) if track.still_since is not None else 0.0,
            "position": f"{sample.position[0]}/{sample.position[1]}",
        }
        if holder is not None:
            alert["holder"] = {
                "database": holder["database"],
                "application": holder["application"] or None,
                "pid": holder["pid"],
                "state": holder["state"],
                "seconds": round(holder["seconds"], 1) if holder["seconds"] is not None else None,
            }
        return alert


async def read_alerts(js: JetStreamContext, root: str, *, last: int = 50) -> list[dict[str, Any]]:
    """The latest `last` alerts of every service, oldest first."""
    return [orjson.loads(data or b"{}") for data in await latest_messages(js, alerts_stream(root).name, last)]
