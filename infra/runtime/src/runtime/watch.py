"""Stall alerts: each service watches its own durable consumers and says when one cannot keep up.

A consumer is *saturated* when JetStream has handed it `max_ack_pending` messages it has not yet
acknowledged (so it is fed no more) while a backlog waits in the stream, and *stalled* when its
acknowledgement floor has not moved while messages wait. Either state held for `stall_after`
seconds raises one alert: an ERROR log record and a message on the alerts stream
(`<ROOT>_ALERTS`, subject `<root>.alerts.<region>.<service>`, read with `yiwang alerts`). When the
backlog is gone the consumer is *recovered*, which is said once too. Alerts carry names and
counts only, never message contents.
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

import orjson
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from runtime.messaging import StreamSpec, ack_floor, latest_messages

log = logging.getLogger(__name__)

SATURATED = "saturated"
STALLED = "stalled"
RECOVERED = "recovered"


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
        level = logging.INFO if alert["state"] == RECOVERED else logging.ERROR
        log.log(level, f"consumer {alert['state']}", extra={k: v for k, v in alert.items() if k != "time"})
        subject = f"{self.root}.alerts.{self.region}.{self.service}"
        try:
            await self.js.publish(subject, orjson.dumps(alert), timeout=5)
        except Exception as error:  # noqa: BLE001 - the log record above stands if the stream cannot take it
            log.warning("alert not stored", extra={"consumer": alert["consumer"], "error": repr(error)})


async def read_alerts(js: JetStreamContext, root: str, *, last: int = 50) -> list[dict[str, Any]]:
    """The latest `last` alerts of every service, oldest first."""
    return [orjson.loads(data or b"{}") for data in await latest_messages(js, alerts_stream(root).name, last)]
