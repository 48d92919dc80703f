"""Composition root of the transfer service: the only module naming concrete adapters."""

from __future__ import annotations

from functools import partial
from importlib.resources import files
from typing import Any

from contracts.subjects import Subjects
from runtime.clock import Clock
from runtime.deadlines import Deadline, Timers
from runtime.eventstore import PostgresTransaction
from runtime.host import Resources, ServiceParts
from runtime.messaging import StreamSpec
from runtime.recording import CommandContext, EventRecorder
from runtime.tracing import current_traceparent
from transfer.application import cases
from transfer.domain import events
from transfer.entrypoints.inbox import inbox_consumer
from transfer.entrypoints.requests import request_table
from transfer.history import EnrolmentRecord, HistoryFeed, history_consumer, history_durable
from transfer.projections import TransfersProjection
from transfer.translation import to_public

SERVICE = "transfer"

# A transfer handled for someone: counted for the online-handling share once, when it is applied for.
HANDLED = frozenset({"TransferApplied"})

EVENT_TYPES = (
    events.TransferApplied,
    events.TransferRefused,
    events.TemporaryAccountOpened,
    events.AccountsMerged,
    events.ContactLetterSent,
    events.InformationSheetReceived,
    events.FundsReceived,
    events.FundsMismatchDetected,
    events.TransferCompleted,
    events.StageDeadlineBreached,
    events.ContactLetterReceived,
    events.UnpaidContributionsFound,
    events.InformationSheetIssued,
    events.FundsTransferred,
    events.LocalRelationshipTerminated,
)


def deadline_handler(recorder: Any, clock: Clock, region: str) -> Any:
    async def on_deadline(tx: PostgresTransaction, deadline: Deadline) -> None:
        ctx = CommandContext.of_system(
            region, clock.now(), command_id=deadline.deadline_id, traceparent=deadline.traceparent
        )
        await cases.stage_deadline_passed(
            tx, deadline.stream_id, deadline.payload["stage"], deadline.due_at, ctx, recorder=recorder
        )

    return on_deadline


def payment_handler(recorder: Any, deadlines: Any, clock: Clock, region: str) -> Any:
    """Contributions paid here: contact letters of those people waiting for unpaid months are answered again."""

    async def on_paid(tx: PostgresTransaction, person_refs: list[str], history: Any) -> None:
        ctx = CommandContext.of_system(region, clock.now(), traceparent=current_traceparent())
        await cases.resume_after_payment(tx, person_refs, ctx, recorder=recorder, history=history, deadlines=deadlines)

    return on_paid


def build(resources: Resources) -> ServiceParts:
    settings = resources.settings
    subjects = Subjects(settings.subject_root)
    region = settings.region
    recorder = EventRecorder(SERVICE, subjects, EVENT_TYPES, partial(to_public, region=region))
    timers = Timers(resources.calendar)
    events_stream = StreamSpec(subjects.events_stream(region, SERVICE), (subjects.events_of(region, SERVICE),))
    inbox = StreamSpec(subjects.inbox_stream(region, SERVICE), (subjects.inbox_of(region, SERVICE),))
    enrolment_events = StreamSpec(
        subjects.events_stream(region, "enrolment"), (subjects.events_of(region, "enrolment"),)
    )
    return ServiceParts(
        name=SERVICE,
        migrations=[files("transfer") / "migrations"],
        requests=request_table(
            resources.store,
            resources.pool,
            resources.clock,
            recorder=recorder,
            deadlines=timers,
            salt=settings.pseudonym_salt.encode(),
            feed=HistoryFeed(resources.js, enrolment_events.name, history_durable(region)),
            record=EnrolmentRecord(resources.nc, subjects, resources.clock, region),
        ),
        events_stream=events_stream,
        streams=[inbox, enrolment_events],
        consumers=[
            history_consumer(subjects, region, payment_handler(recorder, timers, resources.clock, region)),
            inbox_consumer(subjects, region, resources.clock, recorder=recorder, deadlines=timers),
        ],
        projections=[TransfersProjection()],
        on_deadline=deadline_handler(recorder, resources.clock, region),
        handled=HANDLED,
    )
