"""Per-caller rate limits: a token bucket per bearer token (or client address), 429 with Retry-After.

A caller over its limit is told when to come back; other callers are not slowed. The buckets live
in this gateway process: with N gateway replicas behind a balancer a caller gets up to N times the
rate, which the limit is sized for (docs/security.md). Health probes are never limited.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections import OrderedDict
from collections.abc import Callable

import orjson
from starlette.types import ASGIApp, Receive, Scope, Send

EXEMPT_PREFIXES = ("/health",)


class TokenBuckets:
    """`rate` requests per second on average, bursts up to `burst`; the least recently seen callers
    are forgotten beyond `max_callers` (a forgotten caller starts again with a full bucket)."""

    def __init__(
        self, rate: float, burst: int, *, max_callers: int = 100_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = rate
        self.burst = burst
        self.max_callers = max_callers
        self.clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def take(self, caller: str) -> float:
        """0.0 if the request may go on, else the seconds until one token is back."""
        now = self.clock()
        tokens, last = self._buckets.pop(caller, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - last) * self.rate)
        wait = 0.0
        if tokens >= 1.0:
            tokens -= 1.0
        else:
            wait = (1.0 - tokens) / self.rate
        self._buckets[caller] = (tokens, now)
        if len(self._buckets) > self.max_callers:
            self._buckets.popitem(last=False)
        return wait


def caller_key(scope: Scope) -> str:
    """The bearer token's digest (never the token itself), else the client address."""
    for name, value in scope["headers"]:
        if name == b"authorization":
            return "t:" + hashlib.sha256(value).hexdigest()[:32]
    client = scope.get("client")
    return "a:" + (client[0] if client else "unknown")


class RateLimitMiddleware:
    def __init__(self, app: ASGIApp, *, buckets: TokenBuckets) -> None:
        self.app = app
        self.buckets = buckets

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(EXEMPT_PREFIXES):
            await self.app(scope, receive, send)
            return
        wait = self.buckets.take(caller_key(scope))
        if wait <= 0.0:
            await self.app(scope, receive, send)
            return
        retry_after = str(max(1, math.ceil(wait)))
        body = orjson.dumps(
            {
                "type": "https://yiwang.example/problems/rate-limited",
                "title": "Too many requests",
                "status": 429,
                "detail": f"this caller is over {self.buckets.rate:g} requests per second "
                f"(bursts of {self.buckets.burst}); retry after {retry_after} s",
                "instance": scope["path"],
            }
        )
        await send(
            {
                "type": "http.response.start",
                "status": 429,
                "headers": [
                    (b"content-type", b"application/problem+json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"retry-after", retry_after.encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
