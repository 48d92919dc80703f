"""The driver: sends a plan through a running gateway, waits for the projections, reads the figures back.

The services stamp their events with their own clock, so every event of the run is dated the day it
runs; the figures are read for the day(s) of the run and measured against what was there before.
"""

from __future__ import annotations

import asyncio
import time
import zlib
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import httpx

from gateway.simulation.http import Answer as LeanAnswer
from gateway.simulation.http import LeanClient
from gateway.simulation.plan import Call, Plan, Shares
from runtime.workdays import local_date

TokenFactory = Callable[..., Mapping[str, str]]  # tokens(kind=, subject=, region=) -> Authorization header
Progress = Callable[[int, str], None]  # (calls done, what is running)
# Busy, or an outcome unknown (a 500 can follow a 504 whose first attempt was still running): the same
# Idempotency-Key again returns the first outcome, so these are safe to send again.
RETRIED = frozenset({429, 500, 502, 503, 504})
ATTEMPTS = 10
# A city's year comes from many people (clerks at the counters, employers' staff on the web hall and
# the app), not from one: its operator calls are spread over this many callers per region, each with
# its own token and so its own rate limit at the gateway (200/s by default, sized for one caller). One
# token for the whole year made the gateway's limit, not the stack, the pace of the simulation.
CALLERS = 64
# Calls in flight at once, from as many of those callers: more than 8 let the stack batch its work
# (at scale 0.02: 66 s at 8, 61 s at 16, 60 s at 32; docs/performance-history.md).
CONCURRENCY = 32


class FigureNotReadError(RuntimeError):
    """A figure the run needs could not be read from the gateway: no answer after every attempt, or
    not the figure (a refusal, or something else at that address)."""


# The driver's client: httpx's (in-process tests) or the lean one `yiwang simulate` sends with.
HttpClient = httpx.AsyncClient | LeanClient
Answer = httpx.Response | LeanAnswer


@dataclass
class Report(Shares):
    plan: Plan
    first: date
    last: date
    seconds: float
    by_channel: dict[str, int]  # handled services in the profile's region during the run
    online_channels: frozenset[str]
    employers: int  # registered zero-touch during the run
    transfers_in: int  # completed into the profile's region
    transfers_out: int  # transferred out of it
    problems: list[str]
    retried: dict[str, int] = field(default_factory=dict)  # answers that were sent again, by status

    @property
    def reproduced(self) -> bool:
        plan = self.plan
        return not self.problems and (
            self.by_channel == dict(plan.by_channel)
            and (self.employers, self.transfers_in, self.transfers_out)
            == (plan.employers, plan.transfers_in, plan.transfers_out)
        )


@dataclass
class _Figures:
    by_channel: dict[str, int]
    online_channels: frozenset[str]
    employers: int
    transfers: dict[tuple[str, str], int]

    def minus(self, before: _Figures) -> _Figures:
        return _Figures(
            {
                c: n - before.by_channel.get(c, 0)
                for c, n in self.by_channel.items()
                if n != before.by_channel.get(c, 0)
            },
            self.online_channels,
            self.employers - before.employers,
            {k: n - before.transfers.get(k, 0) for k, n in self.transfers.items()},
        )


class _Driver:
    def __init__(self, plan: Plan, client: HttpClient, tokens: TokenFactory, concurrency: int) -> None:
        self.plan, self.client, self.slots = plan, client, asyncio.Semaphore(concurrency)
        regions = (plan.profile.region, plan.other_region)
        self.headers = {
            (kind, r): dict(tokens(kind=kind, subject=subject, region=r))
            for r in regions
            for kind, subject in (("operator", "simulator"), ("system", "market-feed"))
        }
        self.callers = {
            r: [dict(tokens(kind="operator", subject=f"simulator-{n:02d}", region=r)) for n in range(CALLERS)]
            for r in regions
        }
        self.problems: list[str] = []
        self.retried: Counter[str] = Counter()

    def _operator(self, region: str) -> dict[str, str]:
        return self.headers[("operator", region)]

    def caller(self, call: Call) -> dict[str, str]:
        """Who sends `call`: the feed, or one of the region's operators, always the same for the same
        call (a command's Idempotency-Key is its caller's: a retry must come from the same one)."""
        if call.actor != "operator":
            return self.headers[(call.actor, call.region)]
        callers = self.callers[call.region]
        return callers[zlib.crc32(call.key.encode()) % len(callers)]

    async def _send(self, method: str, url: str, **kwargs: Any) -> Answer | None:
        """With the same Idempotency-Key each time: busy (429, 503, 504, 409 in use) or unreachable -> again."""
        last = ""
        for attempt in range(ATTEMPTS):
            pause = min(0.2 * 2**attempt, 5.0)
            try:
                response: Answer = await self.client.request(method, url, **kwargs)
            except httpx.TransportError as error:
                last = f"{type(error).__name__}"
                self.retried[last] += 1
                await asyncio.sleep(pause)
                continue
            busy = response.status_code in RETRIED or (
                response.status_code == 409 and "idempotency-key-in-use" in response.text
            )
            if not busy:
                return response
            last = f"{response.status_code}"
            self.retried[last] += 1
            await asyncio.sleep(max(pause, float(response.headers.get("retry-after", "0") or 0)))
        self.problems.append(f"{method} {url}: gave up after {ATTEMPTS} attempts ({last})")
        return None

    async def get(self, region: str, path: str, **params: str) -> Any:
        response = await self._send("GET", f"/v1/regions/{region}{path}", params=params, headers=self._operator(region))
        if response is None or response.status_code != 200:
            raise FigureNotReadError(f"GET {path} in {region}: {response.text if response else 'no answer'}")
        return response.json()

    async def call(self, call: Call) -> None:
        body = call.body
        if call.stamp_feed:
            stamp = datetime.now(UTC).isoformat()
            body = {"records": [{**r, "market_registered_at": stamp} for r in body["records"]]}
        headers = {**self.caller(call), "Idempotency-Key": call.key}
        if call.channel:
            headers["X-Channel"] = call.channel
        async with self.slots:
            response = await self._send("POST", f"/v1/regions/{call.region}{call.path}", json=body, headers=headers)
        if response is None:
            return
        if response.status_code != call.status:
            self.problems.append(f"{call.key} {call.path} in {call.region}: {response.status_code} {response.text}")
            return
        answer = response.json()
        if "registered" in call.expect:
            answer = {"registered": sum(1 for r in answer["results"] if r.get("outcome") == "registered")}
        for name, wanted in call.expect.items():
            if answer.get(name) != wanted:
                self.problems.append(
                    f"{call.key} {call.path} in {call.region}: {name} {answer.get(name)!r} != {wanted!r}"
                    + _reason(answer)
                )

    async def figures(self, first: date, last: date) -> _Figures:
        region, days = self.plan.profile.region, {"first": first.isoformat(), "last": last.isoformat()}
        share_, enrolment, transfers = await asyncio.gather(
            self.get(region, "/statistics/online-share", **days),
            self.get(region, "/statistics/enrolment", **days),
            self.get(region, "/statistics/transfers", **days),
        )
        return _Figures(
            dict(share_["by_channel"]),
            frozenset(share_["online_channels"]),
            int(enrolment["employers_by_route"].get("zero_touch", 0)),
            {(r["direction"], r["status"]): int(r["n"]) for r in transfers["by_direction_and_status"]},
        )


async def _until(check: Callable[[], Awaitable[bool]], seconds: float, every: float = 0.1) -> bool:
    deadline = time.monotonic() + seconds
    while True:
        if await check():
            return True
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(every)


async def run(
    plan: Plan,
    client: HttpClient,
    tokens: TokenFactory,
    *,
    concurrency: int = CONCURRENCY,
    progress: Progress | None = None,
    wait_seconds: float = 60.0,
) -> Report:
    """Send the plan through the gateway at `client`, step by step, then read the figures back.

    Everything is measured against what the projections showed before the run, so a stack that
    already holds data (an earlier simulation, the same day) still gives the run's own figures.
    Give another seed to run again on the same data: the same seed sends the same keys and people.
    """
    driver = _Driver(plan, client, tokens, concurrency)
    started, clock = datetime.now(UTC), time.monotonic()
    first = min(plan.today, local_date(started))
    before = await driver.figures(first, first)

    async def one(call: Call, label: str) -> None:
        await driver.call(call)
        if progress:
            progress(1, label)

    for step in plan.steps:
        await asyncio.gather(*(one(c, step.label) for c in step.calls))
    if progress:
        progress(0, "waiting for the projections")
    measured: _Figures | None = None

    async def settled() -> bool:
        nonlocal measured
        last = max(plan.today, local_date(datetime.now(UTC)))
        measured = (await driver.figures(first, last)).minus(before)
        return (
            sum(measured.by_channel.values()) >= plan.handled
            and measured.employers >= plan.employers
            and measured.transfers.get(("in", "completed"), 0) >= plan.transfers_in
            and measured.transfers.get(("out", "transferred_out"), 0) >= plan.transfers_out
        )

    if not await _until(settled, wait_seconds, every=0.25):
        driver.problems.append(f"the projections did not reach the plan's figures within {wait_seconds:.0f}s")
    assert measured is not None  # noqa: S101 - settled() ran at least once
    return Report(
        plan=plan,
        first=first,
        last=max(plan.today, local_date(datetime.now(UTC))),
        seconds=time.monotonic() - clock,
        by_channel=dict(sorted(measured.by_channel.items())),
        online_channels=measured.online_channels,
        employers=measured.employers,
        transfers_in=measured.transfers.get(("in", "completed"), 0),
        transfers_out=measured.transfers.get(("out", "transferred_out"), 0),
        problems=driver.problems,
        retried=dict(sorted(driver.retried.items())),
    )


def bearer_tokens(secret: str) -> TokenFactory:
    """Tokens for the CLI, signed like `yiwang token`."""
    from gateway.auth import issue_token

    def tokens(*, kind: str, subject: str, region: str) -> Mapping[str, str]:
        return {"Authorization": f"Bearer {issue_token(secret, kind=kind, subject=subject, region=region)}"}

    return tokens


def _reason(answer: dict[str, Any]) -> str:
    """A refusal's code and reason, when the answer gives them (a transfer refused, say; a file's
    first refused line and how many were): what an operator needs to tell a bug from a rule."""
    code = answer.get("reason_code")
    if code:
        return f" ({code}: {answer.get('reason')})"
    lines = next((v for v in answer.values() if isinstance(v, list) and v and isinstance(v[0], dict)), [])
    refused = [(n, line["problem"]) for n, line in enumerate(lines) if "problem" in line]
    if refused:
        n, problem = refused[0]
        kind = str(problem.get("type", "")).rsplit("/", 1)[-1]
        return f" (line {n} {kind}: {problem.get('detail')}; {len(refused)} lines refused)"
    return ""


async def run_against(url: str, plan: Plan, secret: str, **options: Any) -> Report:
    """The plan through the gateway at `url`, sent by a client light enough to leave the machine to
    the stack it measures (`gateway.simulation.http`)."""
    async with LeanClient(url, timeout=60.0) as client:
        return await run(plan, client, bearer_tokens(secret), **options)
