"""Figures agencies report: the online-handling share (线上经办占比) from every service's projection."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from datetime import date
from typing import Annotated, Any

from fastapi import Query, Request

from contracts.envelope import Channel
from contracts.queries import HandledServices
from contracts.subjects import SERVICES
from gateway.auth import Caller, require_operator_of
from gateway.problems import ProblemError
from gateway.routes.common import Region
from gateway.routing import GatedRouter

router = GatedRouter(prefix="/v1/regions/{region}/statistics", tags=["statistics"])


@router.get("/online-share")
async def online_share(
    region: Region,
    request: Request,
    actor: Caller,
    first: Annotated[date, Query(description="First day, inclusive (Beijing date).")],
    last: Annotated[date, Query(description="Last day, inclusive (Beijing date).")],
) -> dict[str, Any]:
    """Services handled by channel between two dates, and the share handled online.

    Which channels count as online is the gateway setting `YIWANG_ONLINE_CHANNELS`
    (default: web hall, mobile app, self-service kiosk, partner systems and zero-touch feeds).
    A service that does not answer is named in `missing_services` and left out; if none answers, 503.
    """
    require_operator_of(region, actor)
    q = HandledServices(first=first, last=last)
    replies = await asyncio.gather(
        *(
            request.app.state.bus.send(
                region=region,
                service=s,
                name="handled_services",
                data=q,
                actor=actor,
                channel=Channel.SYSTEM,
                kind="query",
            )
            for s in SERVICES
        ),
        return_exceptions=True,
    )
    missing = [s for s, rows in zip(SERVICES, replies, strict=True) if isinstance(rows, ProblemError)]
    if len(missing) == len(SERVICES):
        raise next(r for r in replies if isinstance(r, ProblemError))
    by_channel: dict[str, int] = defaultdict(int)
    by_day: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for rows in replies:
        if isinstance(rows, BaseException):
            if not isinstance(rows, ProblemError):
                raise rows
            continue
        for row in rows:
            by_channel[row["channel"]] += row["handled"]
            by_day[row["day"]][row["channel"]] += row["handled"]
    online_channels = request.app.state.settings.online_channels
    total = sum(by_channel.values())
    online = sum(n for c, n in by_channel.items() if c in online_channels)
    counter = by_channel.get(Channel.COUNTER.value, 0)
    return {
        "region": region,
        "first": first.isoformat(),
        "last": last.isoformat(),
        "handled": total,
        "online": online,
        "online_share_percent": round(100 * online / total, 2) if total else None,
        "counter_share_percent": round(100 * counter / total, 2) if total else None,
        "by_channel": dict(sorted(by_channel.items())),
        "by_day": {day: dict(sorted(c.items())) for day, c in sorted(by_day.items())},
        "online_channels": sorted(online_channels),
        # Services that did not answer (not running in this region, or down): the figures leave them out.
        "missing_services": missing,
    }
