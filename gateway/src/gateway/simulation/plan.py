"""The plan: a profile's year laid out, month by month, as the requests that give its handled services.

`build_plan` is pure: the same profile, scale, seed and today give the same plan, call for call.
Everything random comes from one seeded generator, drawn in a fixed order (employers, the movers'
months, the people and their jobs, the feed's records, then the channels), so keep that order when
changing anything here.
"""

from __future__ import annotations

import calendar
import itertools
import math
import random
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from contracts.enrolment.commands import ASSESSED_TOGETHER, ENROLLED_TOGETHER, PAID_TOGETHER
from contracts.identifiers import citizen_id_check_character, credit_code_check_character
from gateway.simulation.profile import PlanError, Profile

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
ENROLMENT = "/employees"
END = "/employments/end"
PAYMENT = "/contributions/payments"
MONTHS = 12
# Last month an in-mover works in the old region (then one month here, then the application);
# last month an out-mover works here (then two months in the new region, then the application there).
LAST_OLD_MONTH_IN = 8
LAST_MONTH_OUT = 9
# Draws of the movers' months before giving up on leaving a remainder the other workers can hold.
MOVE_DRAWS = 200

# A transfer application: (citizen ID number, region applied in, region moved from).
Application = tuple[str, str, str]


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


class Shares:
    """Handled services by channel and the shares they give: the same sums for a plan and for what a
    run measured."""

    by_channel: Mapping[str, int]
    online_channels: frozenset[str]

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


@dataclass(frozen=True)
class Plan(Shares):
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
    counts = _Counts.of(profile, scale)
    targets = _targets(counts.online, counts.total - counts.online, counts.feed, online_channels)
    year = _Year.start(profile, counts, seed, today, other_region)
    jobs, applications = _cast(year, counts)
    steps = [_employers_registered(year)]
    for m in range(len(year.months)):
        steps += _employments_ended(year, jobs, m)
        steps.append(_employees_enrolled(year, jobs, m))
        steps += _contributions_assessed_and_paid(year, jobs, m)
        steps += _transfers_applied(year, applications[m], m)
    _allocate(year.counted, targets, year.rng)
    steps = [_filed(step) for step in steps]
    by_channel = _handled_here_by_channel(steps, year.here)
    if sum(by_channel.values()) != counts.total:
        raise PlanError(f"internal: the plan counts {sum(by_channel.values())} handled services, not {counts.total}")
    return Plan(
        profile=profile,
        scale=scale,
        seed=seed,
        today=today,
        other_region=other_region,
        months=year.months,
        steps=tuple(steps),
        online_channels=online_channels,
        by_channel=by_channel,
        employers=counts.feed,
        transfers_in=counts.moving_in,
        transfers_out=counts.moving_out,
    )


@dataclass(frozen=True)
class _Counts:
    """The profile's figures at the plan's scale, each rounded half up; the online part follows the total."""

    total: int
    online: int
    feed: int
    moving_in: int
    moving_out: int

    @classmethod
    def of(cls, profile: Profile, scale: Decimal) -> _Counts:
        total = round_half_up(profile.total_handled * scale)
        return cls(
            total=total,
            online=round_half_up(total * Decimal(profile.online_handled) / profile.total_handled),
            feed=round_half_up(profile.employers_via_one_network * scale),
            moving_in=round_half_up(profile.transfers_in * scale),
            moving_out=round_half_up(profile.transfers_out * scale),
        )


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


@dataclass
class _Year:
    """What every step of the year draws on: the generator, the months, both regions' employers, the calls so far."""

    seed: int
    rng: random.Random
    ids: _Identities
    today: date
    months: tuple[str, ...]
    here: str
    there: str
    employers: list[str]  # registered through the feed here
    far_employers: list[str]  # in the other region, where movers work before or after
    counted: list[Call] = field(default_factory=list)  # counted here, to be given a channel
    keys: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    @classmethod
    def start(cls, profile: Profile, counts: _Counts, seed: int, today: date, there: str) -> _Year:
        """Draw the employers: one per feed record here, one per twenty movers in the other region."""
        rng = random.Random(seed)  # noqa: S311 - simulated people, not secrets
        ids = _Identities(rng, profile.city_division_code, today)
        city = profile.city_division_code
        employers = [ids.credit_code(f"{city[:4]}{2 + i % 20:02d}") for i in range(counts.feed)]
        movers = counts.moving_in + counts.moving_out
        far_employers = [ids.credit_code(f"{there}0{1 + i % 9}04") for i in range(math.ceil(movers / 20))]
        if not employers and counts.total > counts.feed:
            raise PlanError("no employer registered through the feed at this scale to enrol anyone with")
        return cls(seed, rng, ids, today, months_up_to(today), profile.region, there, employers, far_employers)

    def call(self, region: str, path: str, body: dict[str, Any], **extra: Any) -> Call:
        """The next request; uncounted work gets the web hall, counted work here waits for `_allocate`."""
        made = Call(f"sim-{self.seed}-{next(self.keys):07d}", region, path, body, **extra)
        if region == self.here and made.counted and made.actor != "system":
            self.counted.append(made)
        elif made.channel is None and made.actor != "system":
            made.channel = "web_hall"
        return made

    def job(self, person: str, region: str, month: int, end: int | None = None) -> _Job:
        """A job from `month` (to `end`) with an employer of the region, hired on a day no later than today."""
        pool = self.employers if region == self.here else self.far_employers
        wage = self.rng.randrange(400_000, 1_500_000, 100)
        employer = self.rng.choice(pool)
        hired_on = min(month_first(self.months[month]) + timedelta(days=self.rng.randrange(28)), self.today)
        return _Job(person, region, employer, month, hired_on, wage, end)


def _cast(year: _Year, counts: _Counts) -> tuple[list[_Job], defaultdict[int, list[Application]]]:
    """Everyone's jobs, so that with the feed's employers the handled services here come to the total.

    Counted here: an in-mover enrols, pays months a+1..11 and applies; an out-mover enrols, pays h..c
    and leaves. Everyone else works here from a month on: enrolled once, then paid every month to the last.
    """
    ins, outs, rest = _draw_moves(year.rng, counts)
    jobs: list[_Job] = []
    applications: defaultdict[int, list[Application]] = defaultdict(list)  # by the month applied in
    for a in ins:
        person = year.ids.citizen()
        jobs += [year.job(person, year.there, 0, a), year.job(person, year.here, a + 1)]
        applications[a + 2].append((person, year.here, year.there))
    for h, c in outs:
        person = year.ids.citizen()
        jobs += [year.job(person, year.here, h, c), year.job(person, year.there, LAST_MONTH_OUT + 1)]
        applications[MONTHS - 1].append((person, year.there, year.here))
    jobs += [year.job(year.ids.citizen(), year.here, MONTHS + 1 - cost) for cost in _split_rest(rest, year.rng)]
    return jobs, applications


def _draw_moves(rng: random.Random, counts: _Counts) -> tuple[list[int], list[tuple[int, int]], int]:
    """The movers' months, and the handled services they leave to everyone else.

    In-movers by their last month in the old region, out-movers by (hired, last month here). Drawn
    again while the rest is negative or 1: everyone else costs at least two (an enrolment and a payment).
    """
    for _ in range(MOVE_DRAWS):
        ins = [rng.randint(0, LAST_OLD_MONTH_IN) for _ in range(counts.moving_in)]
        outs = [
            (h, rng.randint(h, LAST_MONTH_OUT))
            for h in (rng.randint(0, LAST_MONTH_OUT) for _ in range(counts.moving_out))
        ]
        rest = counts.total - counts.feed - sum(MONTHS + 1 - a for a in ins) - sum(c - h + 3 for h, c in outs)
        if rest == 0 or rest >= 2:
            return ins, outs, rest
    movers = counts.moving_in + counts.moving_out
    raise PlanError(f"{counts.total} handled services cannot hold {counts.feed} employers and {movers} transfers")


def _split_rest(rest: int, rng: random.Random) -> list[int]:
    """The rest of the handled services as one worker's each: 2..13, enrolled in month 13 - cost."""
    costs: list[int] = []
    while rest > 2 * (MONTHS + 1):
        costs.append(MONTHS + 1 - rng.randrange(MONTHS))
        rest -= costs[-1]
    if rest > MONTHS + 1:
        costs += [rest // 2, rest - rest // 2]
    elif rest:
        costs.append(rest)
    return costs


def _employers_registered(year: _Year) -> Step:
    """First of all, every employer arrives through the zero-touch feed; only those here are counted."""
    here = _feed_calls(year, year.here, year.employers, counts=True)
    there = _feed_calls(year, year.there, year.far_employers, counts=False)
    return Step("employers", tuple(here + there))


def _feed_calls(year: _Year, region: str, codes: list[str], *, counts: bool) -> list[Call]:
    """The market-registration feed's records for `codes`, in batches; the stamp is set when sent."""
    records = [
        {
            "record_id": f"sim-{year.seed}-{region}-{i}",
            "credit_code": code,
            "name": f"Simulated employer {region}-{i}",
            "division_code": code[2:8],
            "industry_code": year.rng.choice(INDUSTRIES),
            "established_on": (year.today - timedelta(days=year.rng.randrange(30, 3650))).isoformat(),
            "market_registered_at": "",
        }
        for i, code in enumerate(codes)
    ]
    return [
        year.call(
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


def _employments_ended(year: _Year, jobs: list[_Job], m: int) -> list[Step]:
    """Jobs whose last month was the month before end on its last day, before the month's other work."""
    ending = [j for j in jobs if j.end_month == m - 1]
    if not ending:
        return []
    ended_on = month_last(year.months[m - 1]).isoformat()
    calls = tuple(
        year.call(
            j.region,
            END,
            {"citizen_id": j.person, "employer_credit_code": j.employer, "ended_on": ended_on},
            counted=1 if j.region == year.here else 0,
        )
        for j in ending
    )
    for j in ending:
        j.ended = True
    return [Step(f"{year.months[m]} employments ended", calls)]


def _employees_enrolled(year: _Year, jobs: list[_Job], m: int) -> Step:
    """Jobs that start in the month are enrolled (the step is there even when none do)."""
    starting = [j for j in jobs if j.hire_month == m]
    calls = tuple(
        year.call(
            j.region,
            ENROLMENT,
            {
                "citizen_id": j.person,
                "employer_credit_code": j.employer,
                "hired_on": j.hired_on.isoformat(),
                "declared_monthly_wage_fen": j.wage_fen,
            },
            status=201,
            counted=1 if j.region == year.here else 0,
        )
        for j in starting
    )
    for j in starting:
        j.enrolled = True
    return Step(f"{year.months[m]} enrolments", calls)


def _contributions_assessed_and_paid(year: _Year, jobs: list[_Job], m: int) -> list[Step]:
    """Every employer with anyone on its payroll is assessed, as the agency's monthly run assesses
    them (a batch of employers per request), then pays: one handled service per employee, through a
    channel of its own (each payment is sent in a collection file of its channel, `_filed`)."""
    month = year.months[m]
    payroll = sorted(Counter((j.region, j.employer) for j in jobs if j.active_in(m)).items())
    assessed = tuple(
        year.call(
            region,
            "/contributions/assessments/batch",
            {"month": month, "employer_credit_codes": [e for (_, e), _ in batch]},
            expect={"assessed": sum(n for _, n in batch)},
        )
        for region, in_region in itertools.groupby(payroll, key=lambda item: item[0][0])
        for batch in _batches(list(in_region), ASSESSED_TOGETHER)
    )
    paid_on = min(month_last(month) + timedelta(days=10), year.today).isoformat()
    paid = tuple(
        year.call(
            r,
            PAYMENT,
            {"employer_credit_code": e, "month": month, "paid_on": paid_on},
            counted=n if r == year.here else 0,
            expect={"paid": n},
        )
        for (r, e), n in payroll
    )
    return [Step(f"{month} contributions assessed", assessed), Step(f"{month} contributions paid", paid)]


@dataclass(frozen=True)
class _File:
    """How a kind of request goes as files: lines per file, the body's list, the answer expected."""

    most: int
    lines: str
    expect: Callable[[list[Call]], dict[str, Any]]


FILES = {
    ENROLMENT: _File(ENROLLED_TOGETHER, "enrolments", lambda lines: {"enrolled": len(lines)}),
    END: _File(ENROLLED_TOGETHER, "ends", lambda lines: {"ended": len(lines)}),
    PAYMENT: _File(PAID_TOGETHER, "payments", lambda lines: {"paid": sum(line.expect["paid"] for line in lines)}),
}


def _filed(step: Step) -> Step:
    """A month's enrolments, ends of employment and payments, each given its channel, sent as files
    (an employer's or a platform's enrolments and ends, the day's collection file): up to the
    file's most lines per region and channel, the file's key its first line's. Other steps as they
    are."""
    if not step.calls or step.calls[0].path not in FILES:
        return step
    path = step.calls[0].path
    kind = FILES[path]
    by_file: defaultdict[tuple[str, str | None], list[Call]] = defaultdict(list)
    for call in step.calls:
        by_file[(call.region, call.channel)].append(call)
    files = tuple(
        Call(
            lines[0].key,
            region,
            f"{path}/batch",
            {kind.lines: [line.body for line in lines]},
            channel=channel,
            counted=sum(line.counted for line in lines),
            expect=kind.expect(lines),
        )
        for (region, channel), calls in sorted(by_file.items(), key=lambda item: (item[0][0], item[0][1] or ""))
        for lines in _batches(calls, kind.most)
    )
    return Step(step.label, files)


def _batches(items: list[Any], size: int) -> list[list[Any]]:
    return [items[start : start + size] for start in range(0, len(items), size)]


def _transfers_applied(year: _Year, applications: list[Application], m: int) -> list[Step]:
    """Movers apply in the new region, which sends the old one a contact letter at once."""
    if not applications:
        return []
    calls = tuple(
        year.call(
            region,
            "/transfers",
            {"citizen_id": person, "from_region": old},
            status=201,
            counted=1 if region == year.here else 0,
            expect={"status": "contact_letter_sent"},
        )
        for person, region, old in applications
    )
    return [Step(f"{year.months[m]} transfers applied", calls)]


def _handled_here_by_channel(steps: list[Step], here: str) -> dict[str, int]:
    by_channel: Counter[str] = Counter()
    for step in steps:
        for sent in step.calls:
            if sent.region == here and sent.counted and sent.channel:
                by_channel[sent.channel] += sent.counted
    return dict(sorted(by_channel.items()))


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
