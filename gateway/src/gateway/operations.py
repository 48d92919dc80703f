"""What an operator on call looks at first, for one region: does each service answer, has an outbox
parked messages no stream took or held some for another region, which consumers and read models are
behind, and which messages are dead letters.

Read for the dashboard's operations panel on every poll, so each part is one request or a few: a
service's health and its parked count (two requests, short timeouts: a service that does not answer
is shown as such, the rest still shows), the latest alerts (of consumers and of projections, one
read), and the dead letters counted by the stream itself, by consumer.
"""

from __future__ import annotations

import asyncio
from typing import Any

import nats.errors
import orjson
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext

from contracts.subjects import SERVICES, Subjects
from runtime.messaging import DeadLetters, request
from runtime.watch import RECOVERED, read_alerts

ANSWER_WITHIN = 1.0  # seconds a service has to say it is ready; not answering is what is shown
ALERTS_READ = 50  # the latest alerts of the whole stack, of which this region's are kept


async def operations(nc: NatsClient, js: JetStreamContext, root: str, region: str) -> dict[str, Any]:
    services, behind, dead = await asyncio.gather(
        asyncio.gather(*(_service(nc, Subjects(root), region, name) for name in SERVICES)),
        _behind(js, root, region),
        _dead_letters(js, root),
    )
    return {
        "services": list(services),
        "consumers_behind": behind["consumer"],
        "projections_behind": behind["projection"],
        "dead_letters": dead,
    }


async def _service(nc: NatsClient, subjects: Subjects, region: str, service: str) -> dict[str, Any]:
    """Ready (its database and NATS), how many messages its outbox has parked, and how many wait in it
    for each other region (held while that region is out of reach), with the oldest's age."""
    try:
        health, parked = await asyncio.gather(
            request(nc, subjects.query(region, service, "health"), b"", timeout=ANSWER_WITHIN),
            request(nc, subjects.query(region, service, "undeliverable"), b'{"limit": 0}', timeout=ANSWER_WITHIN),
        )
    except (nats.errors.NoRespondersError, nats.errors.TimeoutError, TimeoutError):
        return {"service": service, "answering": False, "ready": False, "parked": None, "for_other_regions": None}
    ready, outbox = orjson.loads(health), orjson.loads(parked).get("result") or {}
    return {
        "service": service,
        "answering": True,
        "ready": bool(ready.get("ok")),
        "parked": outbox.get("total"),
        "for_other_regions": outbox.get("for_other_regions", []),
    }


async def _behind(js: JetStreamContext, root: str, region: str) -> dict[str, list[dict[str, Any]] | dict[str, str]]:
    """This region's consumers (saturated or stalled) and projections (stalled or held back) whose
    latest alert is not "recovered", by kind."""
    try:
        alerts = await read_alerts(js, root, last=ALERTS_READ)
    except nats.errors.Error as error:
        unavailable = {"unavailable": type(error).__name__}
        return {"consumer": unavailable, "projection": unavailable}
    behind: dict[str, list[dict[str, Any]] | dict[str, str]] = {}
    for kind in ("consumer", "projection"):
        latest = {(a["service"], a[kind]): a for a in alerts if a.get("region") == region and kind in a}
        behind[kind] = [a for a in latest.values() if a["state"] != RECOVERED]
    return behind


async def _dead_letters(js: JetStreamContext, root: str) -> dict[str, Any]:
    """Dead letters held on this NATS (every region it serves), by consumer."""
    try:
        held = await DeadLetters(js, root).held_by_consumer()
    except nats.errors.Error as error:
        return {"unavailable": type(error).__name__}
    return {"total": sum(held.values()), "by_consumer": held}
