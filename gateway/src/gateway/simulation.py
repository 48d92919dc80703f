"""A year of a city's traffic from a profile (e.g. docs/scenarios/nanchang-2021.json), through the gateway.

`build_plan` is pure: from the profile, a scale and a seed it lays out, month by month, every request
a year of the city's enrolment and transfer work takes in the profile's region (and the few in a
second region that transfers need), and the handled services each adds to the online-share
projection, by channel. `run` sends the plan to a running gateway, waits until the projections
have caught up, and reads the figures back.

What is counted: the events each service names in its `HANDLED` set (enrolment: employer
registered, employee enrolled, employment ended, contribution paid, one per employee; transfer:
transfer applied), in the region where they happen. Employers come through the zero-touch feed
(channel `system`, the profile's `employers_registered_via_one_network`); employees are enrolled,
each month assessed and paid; workers move in from and out to the second region (the profile's
transfers in and out). Every other counted request gets a channel so that the online share of
the region's handled services is the profile's, to the nearest count: offline work at the
counter, online work split over web hall, mobile app and kiosk by `ONLINE_MIX` (the profile does
not split it).

The year is compressed into the run. The services stamp their events with their own clock, so
every event of the simulation is dated the day it runs; the year shows only in the business dates
(hired on, contribution months, paid on), which are the twelve months up to today's month, because
the services refuse a hiring date after today and have rate tables only for recent years. Query the
figures for the day(s) of the run, not for the profile's year.
"""

from __future__ import annotations

import asyncio
import calendar
import json
import math
import random
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import httpx

from contracts.identifiers import citizen_id_check_character, credit_code_check_character
from runtime.workdays import local_date

# How online work that is not a zero-touch feed splits over the online channels (not in the profile).
ONLINE_MIX: Mapping[str, int] = {"web_hall": 45, "mobile_app": 45, "kiosk": 10}
OFFLINE_CHANNEL = "counter"
FEED_CHANNEL = "system"
# The gateway's default YIWANG_ONLINE_CHANNELS.
DEFAULT_ONLINE_CHANNELS = frozenset({"web_hall", "mobile_app", "kiosk", "partner", "system"})
# Industries whose work-injury class is matched at once (no review before contributions can be assessed).
INDUSTRIES = ("C3110", "I6510", "F5211", "E4710", "G5410", "C1810", "M7320", "H6110", "K7010", "C3911")
CREDIT_SYMBOLS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
FEED_BATCH = 500
MONTHS = 12
# Last month an in-mover works in the old region (then one month here, then the application);
# last month an out-mover works here (then two months in the new region, then the application there).
LAST_OLD_MONTH_IN = 8
LAST_MONTH_OUT = 9


class PlanError(ValueError):
    """The profile cannot be laid out at this scale."""


@dataclass(frozen=True)
class Profile:
    """The figures of a city's year the simulation reproduces (the rest of the file is ignored)."""

    name: str
    region: str
    city_division_code: str
    year: int
    total_handled: int
    online_handled: int
    offline_handled: int
    online_share_percent: Decimal
    employers_via_one_network: int
    transfers_in: int
    transfers_out: int

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Profile:
        services, transfers = raw["services"], raw["pension_transfers"]
        profile = cls(
            name=str(raw["name"]),
            region=str(raw["region"]),
            city_division_code=str(raw["city_division_code"]),
            year=int(raw["year"]),
            total_handled=int(services["total_handled"]),
            online_handled=int(services["online_handled"]),
            offline_handled=int(services["offline_handled"]),
            online_share_percent=Decimal(str(services["online_share_percent"])),
            employers_via_one_network=int(raw["enrolment"]["employers_registered_via_one_network"]),
            transfers_in=int(transfers["in"]),
            transfers_out=int(transfers["out"]),
        )
        if profile.online_handled + profile.offline_handled != profile.total_handled:
            raise PlanError(f"{profile.name}: online + offline handled is not the total handled")
        return profile

    @classmethod
    def load(cls, path: Path) -> Profile:
        return cls.from_json(json.loads(path.read_text(encoding="utf-8")))


@dataclass
class Call:
    """One request: POST /v1/regions/{region}{path} with `body`, as `actor` through `channel`."""

    key: str  # the Idempotency-Key, unique in the plan (retries reuse it)
    region: str
    path: str
    body: dict[str, Any]
    status: int = 200
    actor: str = "operator"  # or "system" (the market-registration feed)
    channel: str | None = None  # X-Channel
    counted: int = 0  # handled services this call adds in the profile's region
    expect: dict[str, Any] = field(default_factory=dict)  # fields the answer must carry
    stamp_feed: bool = False  # set each record's market_registered_at when sent


@dataclass(frozen=True)
class Step:
    """Requests that may run at once, after every request of the steps before has been answered."""

    label: str
    calls: tuple[Call, ...] = ()


@dataclass(frozen=True)
class Plan:
    profile: Profile
    scale: Decimal
    seed: int
    today: date
    other_region: str
    months: tuple[str, ...]
    steps: tuple[Step, ...]
    online_channels: frozenset[str]
    by_channel: Mapping[str, int]  # handled services in the profile's region, by channel
    employers: int  # registered through the feed in the profile's region
    transfers_in: int
    transfers_out: int

    @property
    def handled(self) -> int:
        return sum(self.by_channel.values())

    @property
    def online(self) -> int:
        return sum(n for c, n in self.by_channel.items() if c in self.online_channels)

    @property
    def online_share_percent(self) -> float:
        return share(self.online, self.handled)

    @property
    def counter_share_percent(self) -> float:
        return share(self.by_channel.get(OFFLINE_CHANNEL, 0), self.handled)

    @property
    def calls(self) -> int:
        return sum(len(s.calls) for s in self.steps)

    @property
    def tolerance_percent(self) -> float:
        """How far the online share may lie from the profile's: half a count, plus the profile's own rounding."""
        return 50 / self.handled + 0.005 if self.handled else 100.0

    def scaled(self, figure: int) -> Decimal:
        return figure * self.scale


def share(part: int, whole: int) -> float:
    return round(100 * part / whole, 2) if whole else 0.0


def round_half_up(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def months_up_to(today: date) -> tuple[str, ...]:
    """The twelve contribution months ending with today's month."""
    index = today.year * 12 + today.month - 1
    return tuple(f"{i // 12}-{i % 12 + 1:02d}" for i in range(index - MONTHS + 1, index + 1))


def month_first(month: str) -> date:
    return date(int(month[:4]), int(month[5:]), 1)


def month_last(month: str) -> date:
    year, number = int(month[:4]), int(month[5:])
    return date(year, number, calendar.monthrange(year, number)[1])


@dataclass
class _Job:
    person: str  # citizen ID number
    region: str
    employer: str
    hire_month: int
    hired_on: date
    wage_fen: int
    end_month: int | None = None
    enrolled: bool = False
    ended: bool = False

    def active_in(self, month: int) -> bool:
        """As the projection sees it now: enrolled, and not ended before `month`."""
        if not self.enrolled or self.hire_month > month:
            return False
        return not self.ended or (self.end_month is not None and self.end_month >= month)


class _Identities:
    """Distinct, valid citizen ID numbers and credit codes from a seeded generator."""

    def __init__(self, rng: random.Random, city: str, today: date) -> None:
        self.rng, self.city, self.today = rng, city, today
        self.seen: set[str] = set()

    def citizen(self) -> str:
        """Aged 22-36 with hukou in the city: below every age limit of the temporary-account rule."""
        while True:
            born = date(self.today.year - 36, 1, 1) + timedelta(days=self.rng.randrange(14 * 365))
            body = f"{self.city[:4]}{self.rng.randint(2, 30):02d}{born:%Y%m%d}{self.rng.randrange(1000):03d}"
            value = body + citizen_id_check_character(body)
            if value not in self.seen:
                self.seen.add(value)
                return value

    def credit_code(self, division: str) -> str:
        while True:
            body = "91" + division + "".join(self.rng.choice(CREDIT_SYMBOLS) for _ in range(9))
            value = body + credit_code_check_character(body)
            if value not in self.seen:
                self.seen.add(value)
                return value


def _targets(online: int, offline: int, feed: int, online_channels: frozenset[str]) -> dict[str, int]:
    """Handled services each chosen channel must carry besides the feed's (largest remainders)."""
    mix = {c: w for c, w in ONLINE_MIX.items() if c in online_channels}
    if not mix or OFFLINE_CHANNEL in online_channels:
        raise PlanError(f"online channels {sorted(online_channels)} leave no online mix or count the counter online")
    if FEED_CHANNEL in online_channels:
        online -= feed
    else:
        offline -= feed
    if online < 0 or offline < 0:
        raise PlanError("the feed's employers alone exceed the profile's online or offline handled services")
    weight = sum(mix.values())
    exact = {c: Decimal(online * w) / weight for c, w in mix.items()}
    targets = {c: int(x) for c, x in exact.items()}
    for c in sorted(mix, key=lambda c: (-(exact[c] - targets[c]), c))[: online - sum(targets.values())]:
        targets[c] += 1
    return {**targets, OFFLINE_CHANNEL: offline}


def _allocate(calls: list[Call], targets: dict[str, int], rng: random.Random) -> None:
    """Give every call a channel so that the counts per channel are the targets exactly.

    Heaviest first (a payment counts once per employee), each to a channel with room for it, drawn
    in proportion to the room left; the many calls of weight one fill the rest. Should a draw leave
    no room, the allocation is redone by always taking the channel with the most room.
    """
    order = sorted(rng.sample(calls, len(calls)), key=lambda c: -c.counted)
    for greedy in (False, True):
        room = dict(targets)
        chosen: list[str] = []
        for call in order:
            fits = [c for c in sorted(room) if room[c] >= call.counted]
            if not fits:
                break
            pick = max(fits, key=lambda c: room[c]) if greedy else rng.choices(fits, [room[c] for c in fits])[0]
            room[pick] -= call.counted
            chosen.append(pick)
        else:
            for call, channel in zip(order, chosen, strict=True):
                call.channel = channel
            return
    raise PlanError("the payments are too heavy to split over the channels at this scale")


def build_plan(
    profile: Profile,
    *,
    scale: Decimal | float | str = 1,
    seed: int = 2021,
    today: date,
    other_region: str = "44",
    online_channels: frozenset[str] = DEFAULT_ONLINE_CHANNELS,
) -> Plan:
    """The requests of the profile's year at `scale`, month by month; same arguments, same plan."""
    scale = Decimal(str(scale))
    if scale <= 0:
        raise PlanError("the scale must be positive")
    if other_region == profile.region:
        raise PlanError("transfers need a second region")
    rng = random.Random(seed)  # noqa: S311 - simulated people, not secrets
    months = months_up_to(today)
    here, there = profile.region, other_region
    total = round_half_up(profile.total_handled * scale)
    online = round_half_up(total * Decimal(profile.online_handled) / profile.total_handled)
    feed = round_half_up(profile.employers_via_one_network * scale)
    moving_in = round_half_up(profile.transfers_in * scale)
    moving_out = round_half_up(profile.transfers_out * scale)
    targets = _targets(online, total - online, feed, online_channels)
    ids = _Identities(rng, profile.city_division_code, today)
    employers = [ids.credit_code(f"{profile.city_division_code[:4]}{2 + i % 20:02d}") for i in range(feed)]
    movers = moving_in + moving_out
    far_employers = [ids.credit_code(f"{there}0{1 + i % 9}04") for i in range(math.ceil(movers / 20))]
    if not employers and total > feed:
        raise PlanError("no employer registered through the feed at this scale to enrol anyone with")

    def hired(month: int) -> date:
        first = month_first(months[month])
        return min(first + timedelta(days=rng.randrange(28)), today)

    def job(person: str, region: str, month: int, end: int | None = None) -> _Job:
        pool = employers if region == here else far_employers
        wage = rng.randrange(400_000, 1_500_000, 100)
        return _Job(person, region, rng.choice(pool), month, hired(month), wage, end)

    # Counted here: in-movers enrol, pay months a+1..11 and apply; out-movers enrol, pay h..c and leave.
    for _ in range(200):
        ins = [rng.randint(0, LAST_OLD_MONTH_IN) for _ in range(moving_in)]
        outs = [
            (h, rng.randint(h, LAST_MONTH_OUT)) for h in (rng.randint(0, LAST_MONTH_OUT) for _ in range(moving_out))
        ]
        rest = total - feed - sum(MONTHS + 1 - a for a in ins) - sum(c - h + 3 for h, c in outs)
        if rest == 0 or rest >= 2:
            break
    else:
        raise PlanError(f"{total} handled services cannot hold {feed} employers and {movers} transfers")
    jobs: list[_Job] = []
    applications: dict[int, list[tuple[str, str, str]]] = defaultdict(list)  # month -> (citizen, here, from)
    for a in ins:
        person = ids.citizen()
        jobs += [job(person, there, 0, a), job(person, here, a + 1)]
        applications[a + 2].append((person, here, there))
    for h, c in outs:
        person = ids.citizen()
        jobs += [job(person, here, h, c), job(person, there, LAST_MONTH_OUT + 1)]
        applications[MONTHS - 1].append((person, there, here))
    # Everyone else works here from a month on: enrolled once, then paid every month to the last.
    costs: list[int] = []
    while rest > 2 * (MONTHS + 1):
        costs.append(MONTHS + 1 - rng.randrange(MONTHS))
        rest -= costs[-1]
    if rest > MONTHS + 1:
        costs += [rest // 2, rest - rest // 2]
    elif rest:
        costs.append(rest)
    jobs += [job(ids.citizen(), here, MONTHS + 1 - cost) for cost in costs]

    keys = iter(range(1, 10**9))
    steps: list[Step] = []
    counted: list[Call] = []

    def call(region: str, path: str, body: dict[str, Any], **extra: Any) -> Call:
        made = Call(f"sim-{seed}-{next(keys):07d}", region, path, body, **extra)
        if region == here and made.counted and made.actor != "system":
            counted.append(made)
        elif made.channel is None and made.actor != "system":
            made.channel = "web_hall"
        return made

    def feed_calls(region: str, codes: list[str], counts: bool) -> list[Call]:
        records = [
            {
                "record_id": f"sim-{seed}-{region}-{i}",
                "credit_code": code,
                "name": f"Simulated employer {region}-{i}",
                "division_code": code[2:8],
                "industry_code": rng.choice(INDUSTRIES),
                "established_on": (today - timedelta(days=rng.randrange(30, 3650))).isoformat(),
                "market_registered_at": "",
            }
            for i, code in enumerate(codes)
        ]
        return [
            call(
                region,
                "/feeds/market-registrations",
                {"records": batch},
                actor="system",
                channel=FEED_CHANNEL,
                counted=len(batch) if counts else 0,
                expect={"registered": len(batch)},
                stamp_feed=True,
            )
            for batch in (records[i : i + FEED_BATCH] for i in range(0, len(records), FEED_BATCH))
        ]

    steps.append(Step("employers", tuple(feed_calls(here, employers, True) + feed_calls(there, far_employers, False))))

    for m, month in enumerate(months):
        ending = [j for j in jobs if j.end_month == m - 1]
        if ending:
            steps.append(
                Step(
                    f"{month} employments ended",
                    tuple(
                        call(
                            j.region,
                            "/employments/end",
                            {
                                "citizen_id": j.person,
                                "employer_credit_code": j.employer,
                                "ended_on": month_last(months[m - 1]).isoformat(),
                            },
                            counted=1 if j.region == here else 0,
                        )
                        for j in ending
                    ),
                )
            )
            for j in ending:
                j.ended = True
        starting = [j for j in jobs if j.hire_month == m]
        enrolments = tuple(
            call(
                j.region,
                "/employees",
                {
                    "citizen_id": j.person,
                    "employer_credit_code": j.employer,
                    "hired_on": j.hired_on.isoformat(),
                    "declared_monthly_wage_fen": j.wage_fen,
                },
                status=201,
                counted=1 if j.region == here else 0,
            )
            for j in starting
        )
        steps.append(Step(f"{month} enrolments", enrolments))
        for j in starting:
            j.enrolled = True
        on_payroll: Counter[tuple[str, str]] = Counter((j.region, j.employer) for j in jobs if j.active_in(m))
        payroll = sorted(on_payroll.items())
        steps.append(
            Step(
                f"{month} contributions assessed",
                tuple(
                    call(
                        r,
                        "/contributions/assessments",
                        {"employer_credit_code": e, "month": month},
                        expect={"assessed": n},
                    )
                    for (r, e), n in payroll
                ),
            )
        )
        paid_on = min(month_last(month) + timedelta(days=10), today).isoformat()
        steps.append(
            Step(
                f"{month} contributions paid",
                tuple(
                    call(
                        r,
                        "/contributions/payments",
                        {"employer_credit_code": e, "month": month, "paid_on": paid_on},
                        counted=n if r == here else 0,
                        expect={"paid": n},
                    )
                    for (r, e), n in payroll
                ),
            )
        )
        if applications[m]:
            steps.append(
                Step(
                    f"{month} transfers applied",
                    tuple(
                        call(
                            region,
                            "/transfers",
                            {"citizen_id": person, "from_region": old},
                            status=201,
                            counted=1 if region == here else 0,
                            expect={"status": "contact_letter_sent"},
                        )
                        for person, region, old in applications[m]
                    ),
                )
            )

    _allocate(counted, targets, rng)
    by_channel: Counter[str] = Counter()
    for step in steps:
        for sent in step.calls:
            if sent.region == here and sent.counted and sent.channel:
                by_channel[sent.channel] += sent.counted
    if sum(by_channel.values()) != total:
        raise PlanError(f"internal: the plan counts {sum(by_channel.values())} handled services, not {total}")
    return Plan(
        profile=profile,
        scale=scale,
        seed=seed,
        today=today,
        other_region=there,
        months=months,
        steps=tuple(steps),
        online_channels=online_channels,
        by_channel=dict(sorted(by_channel.items())),
        employers=feed,
        transfers_in=moving_in,
        transfers_out=moving_out,
    )


# ---------------------------------------------------------------------------------------------- driver

TokenFactory = Callable[..., Mapping[str, str]]  # tokens(kind=, subject=, region=) -> Authorization header
Progress = Callable[[int, str], None]  # (calls done, what is running)
# Busy, or an outcome unknown (a 500 can follow a 504 whose first attempt was still running): the same
# Idempotency-Key again returns the first outcome, so these are safe to send again.
RETRIED = frozenset({429, 500, 502, 503, 504})
ATTEMPTS = 10


@dataclass
class Report:
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
    def handled(self) -> int:
        return sum(self.by_channel.values())

    @property
    def online(self) -> int:
        return sum(n for c, n in self.by_channel.items() if c in self.online_channels)

    @property
    def online_share_percent(self) -> float:
        return share(self.online, self.handled)

    @property
    def counter_share_percent(self) -> float:
        return share(self.by_channel.get(OFFLINE_CHANNEL, 0), self.handled)

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
    def __init__(self, plan: Plan, client: httpx.AsyncClient, tokens: TokenFactory, concurrency: int) -> None:
        self.plan, self.client, self.slots = plan, client, asyncio.Semaphore(concurrency)
        regions = (plan.profile.region, plan.other_region)
        self.headers = {
            (kind, r): dict(tokens(kind=kind, subject=subject, region=r))
            for r in regions
            for kind, subject in (("operator", "simulator"), ("system", "market-feed"))
        }
        self.problems: list[str] = []
        self.retried: Counter[str] = Counter()

    def _operator(self, region: str) -> dict[str, str]:
        return self.headers[("operator", region)]

    async def _send(self, method: str, url: str, **kwargs: Any) -> httpx.Response | None:
        """With the same Idempotency-Key each time: busy (429, 503, 504, 409 in use) or unreachable -> again."""
        last = ""
        for attempt in range(ATTEMPTS):
            pause = min(0.2 * 2**attempt, 5.0)
            try:
                response = await self.client.request(method, url, **kwargs)
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
            raise RuntimeError(f"GET {path} in {region}: {response.text if response else 'no answer'}")
        return response.json()

    async def call(self, call: Call) -> None:
        body = call.body
        if call.stamp_feed:
            stamp = datetime.now(UTC).isoformat()
            body = {"records": [{**r, "market_registered_at": stamp} for r in body["records"]]}
        headers = {**self.headers[(call.actor, call.region)], "Idempotency-Key": call.key}
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
    client: httpx.AsyncClient,
    tokens: TokenFactory,
    *,
    concurrency: int = 8,
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


def render(report: Report) -> str:
    """The figures side by side: planned, measured from the projections, the profile's scaled and as reported."""
    plan, profile = report.plan, report.plan.profile

    def scaled(figure: int) -> str:
        return f"{plan.scaled(figure).normalize():f}"

    rows: list[tuple[str, object, object, object, object]] = [
        ("handled services", plan.handled, report.handled, scaled(profile.total_handled), profile.total_handled)
    ]
    for channel in sorted(set(plan.by_channel) | set(report.by_channel)):
        rows.append((f"  {channel}", plan.by_channel.get(channel, 0), report.by_channel.get(channel, 0), "", ""))
    reported_counter = share(profile.offline_handled, profile.total_handled)
    rows += [
        ("online share %", f"{plan.online_share_percent:.2f}", f"{report.online_share_percent:.2f}", "", f"{profile.online_share_percent}"),
        ("counter share %", f"{plan.counter_share_percent:.2f}", f"{report.counter_share_percent:.2f}", "", f"{reported_counter:.2f}"),
        ("employers via the feed", plan.employers, report.employers, scaled(profile.employers_via_one_network), profile.employers_via_one_network),
        ("transfers in, completed", plan.transfers_in, report.transfers_in, scaled(profile.transfers_in), profile.transfers_in),
        ("transfers out", plan.transfers_out, report.transfers_out, scaled(profile.transfers_out), profile.transfers_out),
    ]  # fmt: skip
    lines = [
        f"{profile.name}, region {profile.region}, scale {plan.scale.normalize():f}, seed {plan.seed}: "
        f"{plan.calls} requests in {report.seconds:.1f}s, events dated {report.first}..{report.last}",
        f"{'':26}{'planned':>10}{'measured':>10}{'profile x scale':>17}{'profile':>10}",
        *(f"{a:26}{b!s:>10}{c!s:>10}{d!s:>17}{e!s:>10}" for a, b, c, d, e in rows),
        f"online share within {plan.tolerance_percent:.3f} points of the profile's (half a count of "
        f"{plan.handled}): {abs(report.online_share_percent - float(profile.online_share_percent)) <= plan.tolerance_percent}",
        "not simulated: consultations, the insured totals, work-injury settlements, wage arrears, self-service "
        "outlets (other services, or no route yet)",
    ]
    if report.retried:
        lines.append("sent again: " + ", ".join(f"{n} after {status}" for status, n in report.retried.items()))
    if report.problems:
        lines += [f"{len(report.problems)} problems:", *(f"  {p}" for p in report.problems[:20])]
    return "\n".join(lines)


def bearer_tokens(secret: str) -> TokenFactory:
    """Tokens for the CLI, signed like `yiwang token`."""
    from gateway.auth import issue_token

    def tokens(*, kind: str, subject: str, region: str) -> Mapping[str, str]:
        return {"Authorization": f"Bearer {issue_token(secret, kind=kind, subject=subject, region=region)}"}

    return tokens


async def run_against(url: str, plan: Plan, secret: str, **options: Any) -> Report:
    async with httpx.AsyncClient(base_url=url, timeout=httpx.Timeout(60.0)) as client:
        return await run(plan, client, bearer_tokens(secret), **options)
