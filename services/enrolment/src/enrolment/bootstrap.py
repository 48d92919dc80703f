"""Composition root of the enrolment service: the only module naming concrete adapters."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from importlib.resources import files
from typing import Any

from contracts.subjects import Subjects
from enrolment.application import employers, people
from enrolment.domain import events, person_state
from enrolment.domain.person_state import Person
from enrolment.domain.rates import RateTable, load_rate_tables, rate_table_for
from enrolment.entrypoints.peers import NatsPensionRegistry
from enrolment.entrypoints.requests import request_table
from enrolment.payroll import PostgresPeople
from enrolment.projections import EnrolmentProjection
from enrolment.translation import to_public
from runtime.clock import Clock
from runtime.deadlines import CalendarBook, Deadline, Timers
from runtime.eventstore import PostgresTransaction
from runtime.host import Resources, ServiceParts
from runtime.messaging import StreamSpec
from runtime.recording import CommandContext, EventRecorder, FoldedStreams
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


def deadline_handler(
    recorder: Any, persons: FoldedStreams[Person], clock: Clock, region: str, calendar: CalendarBook
) -> Any:
    async def on_deadline(tx: PostgresTransaction, deadline: Deadline) -> None:
        ctx = CommandContext.of_system(
            region, clock.now(), command_id=deadline.deadline_id, traceparent=deadline.traceparent
        )
        if deadline.kind == employers.REGISTRATION_DEADLINE:
            due_on = local_date(deadline.due_at) - timedelta(days=1)
            await employers.registration_deadline_passed(tx, deadline.stream_id, due_on, ctx, recorder=recorder)
        elif deadline.kind.startswith(people.CONTRIBUTION_DEADLINE):
            await people.contribution_deadline_passed(tx, deadline.stream_id, deadline.payload, ctx, persons=persons)

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
    people = PostgresPeople(resources.pool, settings.pseudonym_salt.encode())
    persons = FoldedStreams(recorder, Person(), person_state.fold_on, capacity=settings.kept_states)
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
            persons=persons,
            deadlines=Timers(resources.calendar),
        ),
        events_stream=events_stream,
        handled=HANDLED,
        projections=[projection],
        on_deadline=deadline_handler(recorder, persons, resources.clock, settings.region, resources.calendar),
    )
