"""Composition root of the enrolment service: the only module naming concrete adapters."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from importlib.resources import files
from typing import Any

import asyncpg

from contracts.envelope import SYSTEM_ACTOR, Channel
from contracts.identifiers import pseudonym
from contracts.subjects import Subjects
from enrolment import queries
from enrolment.application import employers, people
from enrolment.domain import events
from enrolment.domain.rates import RateTable, load_rate_tables, rate_table_for
from enrolment.entrypoints.peers import NatsPensionRegistry
from enrolment.entrypoints.requests import request_table
from enrolment.projections import EnrolmentProjection
from enrolment.translation import to_public
from runtime.clock import Clock
from runtime.deadlines import CalendarBook, Deadline, Timers
from runtime.eventstore import PostgresTransaction, Transaction
from runtime.host import Resources, ServiceParts
from runtime.messaging import StreamSpec
from runtime.recording import CommandContext, EventRecorder
from runtime.workdays import local_date

SERVICE = "enrolment"

# Events that complete a service for someone, counted for the online-handling share.
HANDLED = frozenset({"EmployerRegistered", "EmployeeEnrolled", "EmploymentEnded", "ContributionPaid"})

EVENT_TYPES = (
    events.MarketRegistrationHeld,
    events.EmployerRegistered,
    events.InjuryClassMatched,
    events.InjuryClassNeedsReview,
    events.InjuryClassAssigned,
    events.EmployerRegistrationOverdue,
    events.EmployeeEnrolled,
    events.EmploymentEnded,
    events.ContributionBaseDeclared,
    events.ContributionAssessed,
    events.ContributionPaid,
    events.ContributionOverdue,
)


@dataclass
class PackagedRateBook:
    """The region's rate tables shipped with the service (`enrolment/rates/<region>.json`)."""

    region: str
    tables: dict[tuple[str, int], RateTable]

    @classmethod
    def load(cls, region: str) -> PackagedRateBook:
        raw = json.loads((files("enrolment") / "rates" / f"{region}.json").read_text())
        return cls(region, load_rate_tables(raw))

    def for_year(self, year: int) -> RateTable:
        return rate_table_for(self.tables, self.region, year)


_HIRE = (
    "INSERT INTO payroll (employer_credit_code, person_ref, citizen_id, schemes, hired_on) VALUES ($1, $2, $3, $4, $5) "
    "ON CONFLICT (employer_credit_code, person_ref) DO UPDATE SET citizen_id = EXCLUDED.citizen_id, "
    "schemes = EXCLUDED.schemes, hired_on = EXCLUDED.hired_on, ended_on = NULL"
)
_END = "UPDATE payroll SET ended_on = $3 WHERE employer_credit_code = $1 AND person_ref = $2"


@dataclass
class PooledPeople:
    """The payroll: written in the enrolments' own transactions, read from the pool with no wait."""

    pool: asyncpg.Pool
    salt: bytes

    def ref(self, citizen_id: str) -> str:
        return pseudonym(citizen_id, salt=self.salt)

    async def hired(self, tx: Transaction, enrolled: events.EmployeeEnrolled) -> None:
        await (await _postgres(tx).connection()).execute(
            _HIRE,
            enrolled.employer_credit_code,
            enrolled.person_ref,
            enrolled.citizen_id,
            list(enrolled.schemes),
            enrolled.hired_on,
        )

    async def ended(self, tx: Transaction, ended: events.EmploymentEnded) -> None:
        await (await _postgres(tx).connection()).execute(
            _END, ended.employer_credit_code, ended.person_ref, ended.ended_on
        )

    async def employees_of(self, employer_credit_code: str, month: str) -> list[tuple[str, str]]:
        return await queries.employees_of(self.pool, employer_credit_code, month)

    async def active_pension(self, person_ref: str, month: str) -> bool:
        return await queries.active_pension(self.pool, person_ref, month)


def _postgres(tx: Transaction) -> PostgresTransaction:
    if not isinstance(tx, PostgresTransaction):
        raise TypeError("the enrolment service keeps its payroll in PostgreSQL")
    return tx


def deadline_handler(recorder: Any, clock: Clock, region: str, calendar: CalendarBook) -> Any:
    async def on_deadline(tx: PostgresTransaction, deadline: Deadline) -> None:
        ctx = CommandContext(
            command_id=deadline.deadline_id,
            correlation_id=deadline.deadline_id,
            causation_id=None,
            actor=SYSTEM_ACTOR,
            channel=Channel.SYSTEM,
            region=region,
            now=clock.now(),
            traceparent=deadline.traceparent,
        )
        if deadline.kind == employers.REGISTRATION_DEADLINE:
            due_on = local_date(deadline.due_at) - timedelta(days=1)
            await employers.registration_deadline_passed(tx, deadline.stream_id, due_on, ctx, recorder=recorder)
        elif deadline.kind.startswith(people.CONTRIBUTION_DEADLINE):
            await people.contribution_deadline_passed(tx, deadline.stream_id, deadline.payload, ctx, recorder=recorder)

    return on_deadline


def build(resources: Resources) -> ServiceParts:
    settings = resources.settings
    subjects = Subjects(settings.subject_root)
    recorder = EventRecorder(SERVICE, subjects, EVENT_TYPES, partial(to_public, region=settings.region))
    events_stream = StreamSpec(
        subjects.events_stream(settings.region, SERVICE), (subjects.events_of(settings.region, SERVICE),)
    )
    pensions = NatsPensionRegistry(
        resources.nc, subjects, resources.clock, region=settings.region, peers=settings.regions
    )
    projection = EnrolmentProjection()
    people = PooledPeople(resources.pool, settings.pseudonym_salt.encode())
    return ServiceParts(
        name=SERVICE,
        migrations=[files("enrolment") / "migrations"],
        requests=request_table(
            resources.store,
            resources.pool,
            resources.clock,
            recorder=recorder,
            rates=PackagedRateBook.load(settings.region),
            people_port=people,
            pensions=pensions,
            deadlines=Timers(resources.calendar),
        ),
        events_stream=events_stream,
        handled=HANDLED,
        projections=[projection],
        on_deadline=deadline_handler(recorder, resources.clock, settings.region, resources.calendar),
    )
