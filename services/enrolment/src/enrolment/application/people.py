"""Employee use cases: enrol, end employment, declare bases, assess and record contributions."""

from __future__ import annotations

import asyncio
import calendar
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import date, timedelta
from typing import Any
from uuid import NAMESPACE_OID, uuid5

from contracts.enrolment.commands import (
    AssessContributions,
    AssessEmployers,
    DeclareBase,
    EndEmployment,
    EndEmployments,
    EnrolEmployee,
    EnrolEmployees,
    RecordPayment,
    RecordPayments,
)
from enrolment.application.ports import Deadlines, PensionRegistry, People, RateBook, Recorder
from enrolment.domain.errors import (
    AssessmentBatchTooLargeError,
    EmployerNotFoundError,
    EnrolmentError,
    InjuryRatePendingError,
    NothingAssessedError,
    PaymentBatchTooLargeError,
)
from enrolment.domain.events import (
    ContributionAssessed,
    ContributionBaseDeclared,
    ContributionOverdue,
    ContributionPaid,
    EmployeeEnrolled,
    EmploymentEnded,
    Event,
)
from enrolment.domain.model import Employer, employer_stream
from enrolment.domain.model import fold as fold_employer
from enrolment.domain.person import (
    decide_assess_month,
    decide_declare_base,
    decide_end_employment,
    decide_enrol_employee,
    decide_mark_overdue,
    decide_record_payment,
    person_stream,
)
from enrolment.domain.person_state import Person
from enrolment.domain.person_state import fold_on as fold_person_on
from enrolment.domain.values import Scheme, month_key
from runtime.commands import execute_once
from runtime.eventstore import EventStore, Transaction
from runtime.recording import CommandContext, Folded, FoldedStreams

CONTRIBUTION_DEADLINE = "contribution_due"
Loaded = Mapping[str, tuple[list[Event], int]]  # streams read whole: their events and versions
DEFAULT_SCHEMES = (Scheme.PENSION, Scheme.WORK_INJURY, Scheme.UNEMPLOYMENT)


def contribution_deadline(employer_credit_code: str, month: str) -> str:
    return f"{CONTRIBUTION_DEADLINE}:{employer_credit_code}:{month}"


def due_basis(month: str) -> date:
    """Contributions for a month fall due 15 days after its last day (the 15th of the next month)."""
    year, number = (int(part) for part in month.split("-"))
    return date(year, number, calendar.monthrange(year, number)[1])


def _schemes(command: EnrolEmployee) -> list[Scheme]:
    return [Scheme(s.value) for s in command.schemes] or list(DEFAULT_SCHEMES)


async def pension_elsewhere(
    command: EnrolEmployee, ctx: CommandContext, *, people: People, pensions: PensionRegistry
) -> dict[str, bool]:
    """Whether another pooling area holds an active pension enrolment of the person this month,
    asked before the enrolment's transaction opens (`runtime.requests.command`'s `ask`): the other
    region may be asking this one the same at the same time."""
    if Scheme.PENSION not in _schemes(command):
        return {"elsewhere": False}
    return {"elsewhere": await pensions.active_elsewhere(people.ref(command.citizen_id), month_key(ctx.today))}


async def pensions_elsewhere(
    command: EnrolEmployees, ctx: CommandContext, *, people: People, pensions: PensionRegistry
) -> dict[str, frozenset[str]]:
    """`pension_elsewhere` for a file: the refs of its people enrolled in a pension whom another
    pooling area holds this month. Asked at once, their questions to each region go together."""
    month = month_key(ctx.today)
    asked = sorted({people.ref(e.citizen_id) for e in command.enrolments if Scheme.PENSION in _schemes(e)})
    answers = await asyncio.gather(*(pensions.active_elsewhere(ref, month) for ref in asked))
    return {"elsewhere": frozenset(ref for ref, active in zip(asked, answers, strict=True) if active)}


def _enrolment(
    state: Person,
    command: EnrolEmployee,
    ref: str,
    ctx: CommandContext,
    *,
    registered: bool,
    elsewhere: bool,
    rates: RateBook,
) -> tuple[list[Event], EmployeeEnrolled]:
    """One enrolment's events (on the person's state), and the enrolment among them."""
    events = decide_enrol_employee(
        state,
        person_ref=ref,
        citizen_id=command.citizen_id,
        employer_credit_code=command.employer_credit_code,
        employer_registered=registered,
        schemes=_schemes(command),
        hired_on=command.hired_on,
        declared_monthly_wage_fen=command.declared_monthly_wage_fen,
        rates=rates.for_year(command.hired_on.year),
        today=ctx.today,
        now=ctx.now,
        active_pension_elsewhere=elsewhere,
    )
    return events, next(e for e in events if isinstance(e, EmployeeEnrolled))


def _enrolled(enrolled: EmployeeEnrolled) -> dict[str, Any]:
    return {
        "person_ref": enrolled.person_ref,
        "schemes": list(enrolled.schemes),
        "base_fen": enrolled.base_fen,
        "clamped": enrolled.clamped,
        "late": enrolled.late,
    }


async def enrol_employee(
    tx: Transaction,
    command: EnrolEmployee,
    ctx: CommandContext,
    *,
    elsewhere: bool,
    rates: RateBook,
    people: People,
    persons: FoldedStreams[Person],
) -> dict[str, Any]:
    """Enrol an employee with a registered employer; never two active pension enrolments in two
    pooling areas (`elsewhere`: another one holds one this month, from `pension_elsewhere`)."""
    ref = people.ref(command.citizen_id)
    stream, employer_id = person_stream(ref), employer_stream(command.employer_credit_code)
    folded, whole = await persons.load_many(tx, [stream], whole=[employer_id])  # one round trip
    person, (employer, _) = folded[stream], whole[employer_id]
    events, enrolled = _enrolment(
        person.state, command, ref, ctx, registered=fold_employer(employer).registered, elsewhere=elsewhere, rates=rates
    )
    await persons.record(tx, stream, person, events, ctx)
    await people.hired(tx, [enrolled])  # with the events and the reply, in one statement at the commit
    return _enrolled(enrolled)


async def enrol_employees(
    tx: Transaction,
    command: EnrolEmployees,
    ctx: CommandContext,
    *,
    elsewhere: frozenset[str],
    refused: Callable[[Exception], dict[str, Any]],
    rates: RateBook,
    people: People,
    persons: FoldedStreams[Person],
) -> dict[str, Any]:
    """Enrol a file's people, each line as `enrol_employee` decides one (`_file`), the employers
    read with their streams. `elsewhere`: the refs another pooling area holds a pension of
    (`pensions_elsewhere`)."""
    employers = sorted({employer_stream(line.employer_credit_code) for line in command.enrolments})
    registered: dict[str, bool] = {}  # each employer folded once, however many of its lines

    def enrol(state: Person, line: EnrolEmployee, ref: str, whole: Loaded) -> tuple[list[Event], dict[str, Any]]:
        employer = employer_stream(line.employer_credit_code)
        if employer not in registered:
            registered[employer] = fold_employer(whole[employer][0]).registered
        events, enrolled = _enrolment(
            state, line, ref, ctx, registered=registered[employer], elsewhere=ref in elsewhere, rates=rates
        )
        return events, _enrolled(enrolled)

    answers, recorded = await _file(
        tx, ctx, command.enrolments, enrol, refused, people=people, persons=persons, whole=employers
    )
    hired = [e for e in recorded if isinstance(e, EmployeeEnrolled)]
    await people.hired(tx, hired)
    return {"enrolments": answers, "enrolled": len(hired), "refused": len(answers) - len(hired)}


async def _file(
    tx: Transaction,
    ctx: CommandContext,
    lines: Sequence[EnrolEmployee | EndEmployment],
    decide: Callable[[Person, Any, str, Loaded], tuple[list[Event], dict[str, Any]]],
    refused: Callable[[Exception], dict[str, Any]],
    *,
    people: People,
    persons: FoldedStreams[Person],
    whole: Sequence[str] = (),
) -> tuple[list[dict[str, Any]], list[Event]]:
    """A file's lines, each a person's, decided in one transaction.

    The people's streams and the `whole` streams (employers') are read in one round trip. Each line
    is decided by `decide` (given the `whole` streams read; it returns the line's events and answer)
    in the order sent, someone on two lines the second time on what the first left. A line the rules
    refuse is answered with its problem (`refused` gives it) and the others go on. The events and the
    reply are written in one statement, the streams in the order of their ids, as every batch's
    chunk writes them. Returns the answers, in order, and the events recorded."""
    refs = [people.ref(line.citizen_id) for line in lines]
    streams = sorted({person_stream(ref) for ref in refs})
    folded, loaded = await persons.load_many(tx, streams, whole=whole)
    states = {stream: folded[stream].state for stream in streams}
    decided: defaultdict[str, list[Event]] = defaultdict(list)
    answers: list[dict[str, Any]] = []
    for line, ref in zip(lines, refs, strict=True):
        stream = person_stream(ref)
        try:
            events, answer = decide(states[stream], line, ref, loaded)
        except EnrolmentError as error:
            answers.append({"person_ref": ref, "problem": refused(error)})
            continue
        states[stream], decided[stream] = fold_person_on(states[stream], events), decided[stream] + events
        answers.append(answer)
    appends = [(stream, folded[stream], decided[stream]) for stream in streams if decided[stream]]
    await persons.record_many(tx, appends, ctx, states=states)
    return answers, [e for _, _, events in appends for e in events]


async def end_employment(
    tx: Transaction,
    command: EndEmployment,
    ctx: CommandContext,
    *,
    people: People,
    persons: FoldedStreams[Person],
) -> dict[str, Any]:
    """End an employee's enrolment with one employer."""
    stream = person_stream(people.ref(command.citizen_id))
    person = await persons.load(tx, stream)
    events = _end(person.state, command, ctx)
    await persons.record(tx, stream, person, events, ctx)
    await people.ended(tx, [e for e in events if isinstance(e, EmploymentEnded)])
    return {"ended_on": command.ended_on.isoformat()}


async def end_employments(
    tx: Transaction,
    command: EndEmployments,
    ctx: CommandContext,
    *,
    refused: Callable[[Exception], dict[str, Any]],
    people: People,
    persons: FoldedStreams[Person],
) -> dict[str, Any]:
    """End a file's employments, each line as `end_employment` ends one (`_file`)."""

    def end(state: Person, line: EndEmployment, ref: str, _: Loaded) -> tuple[list[Event], dict[str, Any]]:
        return _end(state, line, ctx), {"person_ref": ref, "ended_on": line.ended_on.isoformat()}

    answers, recorded = await _file(tx, ctx, command.ends, end, refused, people=people, persons=persons)
    ended = [e for e in recorded if isinstance(e, EmploymentEnded)]
    await people.ended(tx, ended)
    return {"ends": answers, "ended": len(ended), "refused": len(answers) - len(ended)}


def _end(state: Person, command: EndEmployment, ctx: CommandContext) -> list[Event]:
    return decide_end_employment(
        state, employer_credit_code=command.employer_credit_code, ended_on=command.ended_on, now=ctx.now
    )


async def declare_base(
    tx: Transaction,
    command: DeclareBase,
    ctx: CommandContext,
    *,
    rates: RateBook,
    people: People,
    persons: FoldedStreams[Person],
) -> dict[str, Any]:
    """Declare the yearly base: last year's average monthly wage clamped to 60%-300% of the average wage."""
    stream = person_stream(people.ref(command.citizen_id))
    person = await persons.load(tx, stream)
    events = decide_declare_base(
        person.state,
        employer_credit_code=command.employer_credit_code,
        year=command.year,
        declared_monthly_wage_fen=command.declared_monthly_wage_fen,
        rates=rates.for_year(command.year),
        now=ctx.now,
    )
    await persons.record(tx, stream, person, events, ctx)
    declared = next(e for e in events if isinstance(e, ContributionBaseDeclared))
    return {"year": command.year, "base_fen": declared.base_fen, "clamped": declared.clamped}


# How many employees' months one transaction assesses or pays: one commit for many people, while a
# conflict with a person's other business (an overdue mark, an enrolment) retries only a chunk.
CHUNK = 100
# People one batch of employers may have in the month (`assess_employers`): assessed, a chunk after
# another, well within the gateway's timeout; more is refused before anything is written.
PEOPLE_PER_BATCH = 5_000


async def _in_chunks(
    store: EventStore,
    ctx: CommandContext,
    refs: list[str],
    each: Callable[[Transaction, list[str]], Awaitable[dict[str, int]]],
) -> Counter[str]:
    """Apply `each` to the people `CHUNK` at a time, one transaction per chunk, each chunk once per command.

    `refs` come in the order that makes the chunks: an employer's people next to each other, so
    that a chunk reads few employers and sets their people's deadlines an employer at a time. Each
    chunk is decided in the order of its people's refs, as every chunk is, so that two chunks
    holding the same two people (someone on two payrolls) write their streams in the same order and
    never wait for each other the wrong way round.

    A retried command finds the chunks it finished (their replies, keyed by the command and the
    chunk's people) and does the rest. Every step is idempotent per person and month, so a retry
    that sees a different set of employees (someone enrolled meanwhile) changes nothing twice.
    """
    totals: Counter[str] = Counter()
    for start in range(0, len(refs), CHUNK):
        chunk = sorted(refs[start : start + CHUNK])

        async def apply(tx: Transaction, chunk: list[str] = chunk) -> dict[str, int]:
            return await each(tx, chunk)

        totals.update(await execute_once(store, uuid5(NAMESPACE_OID, f"{ctx.command_id}:{','.join(chunk)}"), apply))
    return totals


async def assess_contributions(
    store: EventStore,
    command: AssessContributions,
    ctx: CommandContext,
    *,
    recorder: Recorder,
    rates: RateBook,
    people: People,
    persons: FoldedStreams[Person],
    deadlines: Deadlines,
) -> dict[str, Any]:
    """Assess a month for every employee of the employer, a chunk of people per transaction, once."""
    employees = await people.employees_of(command.employer_credit_code, command.month)
    if not employees:  # no chunk to read the employer with: an unknown one is still refused
        await _registered(store, recorder, [command.employer_credit_code])
    payroll = [(ref, command.employer_credit_code, citizen_id) for ref, citizen_id in employees]
    done = await _assess(store, ctx, command.month, payroll, rates=rates, persons=persons, deadlines=deadlines)
    return {
        "employer_credit_code": command.employer_credit_code,
        "month": command.month,
        "assessed": done["assessed"],
        "overdue": done["overdue"],
    }


async def assess_employers(
    store: EventStore,
    command: AssessEmployers,
    ctx: CommandContext,
    *,
    recorder: Recorder,
    rates: RateBook,
    people: People,
    persons: FoldedStreams[Person],
    deadlines: Deadlines,
) -> dict[str, Any]:
    """Assess a month for every employee of each of a batch of employers (the agency's monthly run):
    their people a chunk per transaction whoever employs them, so a chunk is full where an
    employer's own would hold its few. Refused whole, before anything is written, if any of them
    is not registered here or waits for its work-injury class, or if they have more people than
    one request assesses (`PEOPLE_PER_BATCH`)."""
    await _registered(store, recorder, command.employer_credit_codes, rated=True)
    payroll = await people.payroll_of(command.employer_credit_codes, command.month)
    if (count := len({ref for ref, _, _ in payroll})) > PEOPLE_PER_BATCH:
        raise AssessmentBatchTooLargeError(count, PEOPLE_PER_BATCH)
    done = await _assess(store, ctx, command.month, payroll, rates=rates, persons=persons, deadlines=deadlines)
    return {
        "month": command.month,
        "employers": len(command.employer_credit_codes),
        "assessed": done["assessed"],
        "overdue": done["overdue"],
    }


async def _registered(store: EventStore, recorder: Recorder, employers: Sequence[str], *, rated: bool = False) -> None:
    """Refuse the first of the employers not registered here (EmployerNotFoundError), and with
    `rated` the first whose work-injury rate waits for a review (InjuryRatePendingError)."""
    async with store.transaction() as tx:
        loaded = await recorder.load_many(tx, [employer_stream(code) for code in employers])
    for code in employers:
        employer = fold_employer(loaded[employer_stream(code)][0])
        if not employer.registered:
            raise EmployerNotFoundError(code)
        if rated and employer.injury_rate is None:
            raise InjuryRatePendingError(code)


async def _assess(
    store: EventStore,
    ctx: CommandContext,
    month: str,
    payroll: Sequence[tuple[str, str, str]],
    *,
    rates: RateBook,
    persons: FoldedStreams[Person],
    deadlines: Deadlines,
) -> Counter[str]:
    """Assess the month for each (person_ref, employer, citizen_id) of the payroll, a chunk of people
    per transaction, each chunk once per command."""
    basis, table = due_basis(month), rates.for_year(int(month[:4]))
    jobs: dict[str, list[tuple[str, str]]] = {}
    for ref, employer, citizen_id in payroll:
        jobs.setdefault(ref, []).append((employer, citizen_id))

    async def assess(tx: Transaction, chunk: list[str]) -> dict[str, int]:
        """The chunk's people in two round trips: their streams read at once with their employers'
        (what came since the states kept, for people decided here before), then their events
        appended with the reply and their deadlines in one statement (none for a month assessed
        after its due date: it is overdue from the start). Someone on two of the payrolls is
        assessed for each job, the second decided on the state the first left."""
        employers = sorted({employer for ref in chunk for employer, _ in jobs[ref]})
        folded, whole = await persons.load_many(
            tx, [person_stream(ref) for ref in chunk], whole=[employer_stream(e) for e in employers]
        )
        states: dict[str, Employer] = {}
        for employer in employers:
            states[employer] = fold_employer(whole[employer_stream(employer)][0])
            if not states[employer].registered:
                raise EmployerNotFoundError(employer)
        appends: list[tuple[str, Folded[Person], list[Event]]] = []
        after: dict[str, Person] = {}  # each person's state with the chunk's events on, as decided
        due: defaultdict[str, list[str]] = defaultdict(list)
        for ref in chunk:
            stream, state = person_stream(ref), folded[person_stream(ref)].state
            events: list[Event] = []
            for employer, citizen_id in jobs[ref]:
                decided = decide_assess_month(
                    state,
                    employer_credit_code=employer,
                    month=month,
                    rates=table,
                    injury_rate=states[employer].injury_rate,
                    due_on=basis + timedelta(days=15),
                    citizen_id=citizen_id,
                    today=ctx.today,
                    now=ctx.now,
                )
                if decided and not _count(decided, ContributionOverdue):
                    due[employer].append(stream)
                state, events = fold_person_on(state, decided), events + decided
            if events:
                appends.append((stream, folded[stream], events))
                after[stream] = state
        await persons.record_many(tx, appends, ctx, states=after)
        for employer, streams in due.items():
            await deadlines.schedule_each(
                tx,
                stream_ids=streams,
                kind=contribution_deadline(employer, month),
                basis=basis,
                calendar_days=15,
                payload={"employer": employer, "month": month},
            )
        return {
            "assessed": sum(_count(events, ContributionAssessed) for _, _, events in appends),
            "overdue": sum(_count(events, ContributionOverdue) for _, _, events in appends),
        }

    # Employers' people together (someone on two payrolls with the first), a chunk's order by ref.
    return await _in_chunks(store, ctx, sorted(jobs, key=lambda ref: (jobs[ref][0][0], ref)), assess)


def _count(events: list[Event], kind: type[object]) -> int:
    return sum(isinstance(e, kind) for e in events)


async def record_payment(
    store: EventStore,
    command: RecordPayment,
    ctx: CommandContext,
    *,
    people: People,
    persons: FoldedStreams[Person],
    deadlines: Deadlines,
) -> dict[str, Any]:
    """Record an employer's payment for a month: every assessed employee is paid, late fees worked out."""
    employees = await people.employees_of(command.employer_credit_code, command.month)
    done = await _pay(
        store, ctx, [command], [(ref, 0) for ref, _ in employees], persons=persons, deadlines=deadlines, strict=True
    )
    return {"month": command.month, "paid": done[_line("paid", 0)], "late_fee_fen": done[_line("late_fee_fen", 0)]}


async def record_payments(
    store: EventStore,
    command: RecordPayments,
    ctx: CommandContext,
    *,
    recorder: Recorder,
    people: People,
    persons: FoldedStreams[Person],
    deadlines: Deadlines,
) -> dict[str, Any]:
    """Record a batch of employers' payments (a day's collection file): their people a chunk per
    transaction whoever employs them, each line's month paid for everyone its assessment reached.
    Refused whole, before anything is written, if an employer is not registered here or if the lines
    have more people than one request pays (`PEOPLE_PER_BATCH`). Someone on a line's payroll the
    month's assessment did not reach is counted in the line's `unassessed` and paid nothing."""
    lines = command.payments
    await _registered(store, recorder, sorted({line.employer_credit_code for line in lines}))
    numbered = {(line.employer_credit_code, line.month): n for n, line in enumerate(lines)}
    payroll: list[tuple[str, int]] = []
    for month in sorted({line.month for line in lines}):
        employers = [line.employer_credit_code for line in lines if line.month == month]
        payroll += [(ref, numbered[employer, month]) for ref, employer, _ in await people.payroll_of(employers, month)]
    if (count := len({ref for ref, _ in payroll})) > PEOPLE_PER_BATCH:
        raise PaymentBatchTooLargeError(count, PEOPLE_PER_BATCH)
    done = await _pay(store, ctx, lines, payroll, persons=persons, deadlines=deadlines, strict=False)
    answers = [
        {
            "employer_credit_code": line.employer_credit_code,
            "month": line.month,
            "paid": done[_line("paid", n)],
            "late_fee_fen": done[_line("late_fee_fen", n)],
            "unassessed": done[_line("unassessed", n)],
        }
        for n, line in enumerate(lines)
    ]
    return {
        "payments": answers,
        "paid": sum(a["paid"] for a in answers),
        "late_fee_fen": sum(a["late_fee_fen"] for a in answers),
    }


def _line(figure: str, n: int) -> str:
    """A chunk's stored count of `figure` for payment line `n`; line 0's keep the names a single
    payment's chunks stored before batches (a retry of one reads them)."""
    return figure if n == 0 else f"{figure}:{n}"


async def _pay(
    store: EventStore,
    ctx: CommandContext,
    lines: Sequence[RecordPayment],
    payroll: Sequence[tuple[str, int]],
    *,
    persons: FoldedStreams[Person],
    deadlines: Deadlines,
    strict: bool,
) -> Counter[str]:
    """Pay each (person_ref, line) of the payroll, the line's employer and month for that person, a
    chunk of people per transaction, each chunk once per command. Someone the line's assessment did
    not reach refuses the payment with `strict` (NothingAssessedError), else is counted unassessed."""
    owed: dict[str, list[int]] = {}
    for ref, n in payroll:
        owed.setdefault(ref, []).append(n)

    async def pay(tx: Transaction, chunk: list[str]) -> dict[str, int]:
        """The chunk's people in two round trips: their streams read, then their events appended
        with the reply and their deadlines cancelled, in one statement. Someone on two lines is
        paid for each, the second decided on the state the first left.

        A deadline the deadline worker is firing at that moment is passed over by the cancel
        (see `runtime.eventstore`): had the worker appended the overdue mark first, the append
        conflicts and the chunk is decided again on the streams with it; otherwise the worker
        finds the month paid when it tries again, and marks nothing. The late fee is the same
        either way (it counts the days from the due date to `paid_on`)."""
        streams = [person_stream(ref) for ref in chunk]
        folded, _ = await persons.load_many(tx, streams)
        appends: list[tuple[str, Folded[Person], list[Event]]] = []
        after: dict[str, Person] = {}  # each person's state with the chunk's events on, as decided
        settled: defaultdict[str, list[str]] = defaultdict(list)
        done: Counter[str] = Counter()
        for ref, stream in zip(chunk, streams, strict=True):
            state, events = folded[stream].state, list[Event]()
            for n in sorted(owed[ref]):
                line = lines[n]
                try:
                    decided = decide_record_payment(
                        state,
                        employer_credit_code=line.employer_credit_code,
                        month=line.month,
                        paid_on=line.paid_on,
                        now=ctx.now,
                    )
                except NothingAssessedError:
                    if strict:
                        raise
                    done[_line("unassessed", n)] += 1
                    continue
                settled[contribution_deadline(line.employer_credit_code, line.month)].append(stream)
                for paid in decided:
                    if isinstance(paid, ContributionPaid):
                        done[_line("paid", n)] += 1
                        done[_line("late_fee_fen", n)] += paid.late_fee_fen
                state, events = fold_person_on(state, decided), events + decided
            appends.append((stream, folded[stream], events))
            after[stream] = state
        await persons.record_many(tx, appends, ctx, states=after)
        for kind, paid_streams in settled.items():
            await deadlines.cancel_each(tx, stream_ids=paid_streams, kind=kind)
        return dict(done)

    # Each line's people together (someone on two lines with the first), a chunk's order by ref.
    return await _in_chunks(store, ctx, sorted(owed, key=lambda ref: (min(owed[ref]), ref)), pay)


async def contribution_deadline_passed(
    tx: Transaction, stream: str, payload: dict[str, Any], ctx: CommandContext, *, persons: FoldedStreams[Person]
) -> None:
    person = await persons.load(tx, stream)
    events = decide_mark_overdue(
        person.state, employer_credit_code=payload["employer"], month=payload["month"], now=ctx.now
    )
    await persons.record(tx, stream, person, events, ctx)
