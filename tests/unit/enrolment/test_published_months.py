"""A chunk of a month leaves the enrolment service as one message per kind, a line per person and
employer; the people one decision enrolled, or the employments it ended, as one message."""

from __future__ import annotations

from datetime import UTC, date, datetime
from functools import partial
from typing import Any

from contracts.codec import decode
from contracts.enrolment.events import (
    ContributionAssessedV3,
    ContributionPaidV3,
    DeadlineBreachedV3,
    EmployeeEnrolledV2,
    EmploymentEndedV2,
)
from contracts.subjects import Subjects
from enrolment.domain import events as e
from enrolment.domain.person_state import person_stream
from enrolment.translation import to_public
from runtime.eventstore import OutboxMessage
from runtime.recording import CommandContext, EventRecorder
from runtime.testing import InMemoryEventStore

NOW = datetime(2026, 12, 4, 8, tzinfo=UTC)
EMPLOYER, OTHER = "91360102MA35L0XC0", "91360111MA35L0XC1"
RECORDER: EventRecorder[Any] = EventRecorder(
    "enrolment",
    Subjects("t"),
    [e.ContributionAssessed, e.ContributionOverdue, e.ContributionPaid, e.EmployeeEnrolled, e.EmploymentEnded],
    partial(to_public, region="36"),
)


def context() -> CommandContext:
    return CommandContext.of_system("36", NOW)


def assessed(person: str, employer: str = EMPLOYER, month: str = "2026-09") -> e.ContributionAssessed:
    return e.ContributionAssessed(
        person_ref=person,
        citizen_id=f"citizen-of-{person}",
        employer_credit_code=employer,
        month=month,
        base_fen=500_000,
        lines=(("pension", 80_000, 40_000),),
        employer_total_fen=80_000,
        worker_total_fen=40_000,
        account_fen=40_000,
        due_on=date(2026, 10, 15),
        at=NOW,
    )


def overdue(person: str, employer: str = EMPLOYER) -> e.ContributionOverdue:
    return e.ContributionOverdue(
        person_ref=person, employer_credit_code=employer, month="2026-09", due_on=date(2026, 10, 15), at=NOW
    )


def paid(person: str, late_fee_fen: int, employer: str = EMPLOYER) -> e.ContributionPaid:
    return e.ContributionPaid(
        person_ref=person,
        employer_credit_code=employer,
        month="2026-09",
        amount_fen=120_000,
        late_fee_fen=late_fee_fen,
        paid_on=date(2026, 11, 4),
        at=NOW,
    )


def enrolled(person: str, employer: str = EMPLOYER) -> e.EmployeeEnrolled:
    return e.EmployeeEnrolled(
        person_ref=person,
        citizen_id=f"citizen-of-{person}",
        employer_credit_code=employer,
        schemes=("pension",),
        hired_on=date(2026, 9, 1),
        declared_wage_fen=500_000,
        base_fen=500_000,
        clamped=None,
        enrolled_at=NOW,
        late=False,
    )


def kinds(outbox: list[OutboxMessage]) -> list[str]:
    return [".".join(m.subject.split(".")[-2:]) for m in outbox]


async def record_many(appends: list[tuple[str, int, list[Any]]]) -> InMemoryEventStore:
    store = InMemoryEventStore()
    async with store.transaction() as tx:
        await RECORDER.record_many(tx, appends, context())
    return store


async def test_a_chunks_month_assessed_late_is_one_assessment_and_one_breach_with_a_line_each() -> None:
    people = [("p-1", EMPLOYER), ("p-2", OTHER), ("p-3", EMPLOYER)]
    store = await record_many([(person_stream(p), 0, [assessed(p, e), overdue(p, e)]) for p, e in people])

    assert kinds(store.outbox) == ["contribution_assessed.v3", "deadline_breached.v3"]
    month = decode(store.outbox[0].payload, ContributionAssessedV3)
    breach = decode(store.outbox[1].payload, DeadlineBreachedV3)
    assert [(line.person_ref, line.employer_credit_code) for line in month.data.lines] == people
    assert (month.data.month, month.data.region, month.data.due_on) == ("2026-09", "36", date(2026, 10, 15))
    assert [line.citizen_id for line in month.data.lines] == [f"citizen-of-{p}" for p, _ in people]
    assert [(line.stream_id, line.employer_credit_code) for line in breach.data.lines] == [
        (person_stream(p), e) for p, e in people
    ]
    assert breach.data.kind == "contribution_due"
    assert {line.due_on for line in breach.data.lines} == {date(2026, 10, 15)}
    assert month.subject == breach.subject == person_stream("p-1")  # where the first would have gone
    # Each message keeps the id of the first event it carries: a relay's retry is deduplicated.
    first_events = store.state.streams[person_stream("p-1")]
    assert [m.message_id for m in store.outbox] == [first_events[0].event_id, first_events[1].event_id]
    assert sum(len(events) for events in store.state.streams.values()) == 6  # every person's own events


async def test_a_payment_is_one_message_with_each_persons_employer_amount_and_late_fee() -> None:
    store = await record_many(
        [(person_stream("p-1"), 0, [paid("p-1", 0)]), (person_stream("p-2"), 0, [paid("p-2", 600, OTHER)])]
    )

    [message] = store.outbox
    payment = decode(message.payload, ContributionPaidV3)
    assert [(line.person_ref, line.employer_credit_code, line.late_fee_fen) for line in payment.data.lines] == [
        ("p-1", EMPLOYER, 0),
        ("p-2", OTHER, 600),
    ]
    assert (payment.data.month, payment.data.paid_on) == ("2026-09", date(2026, 11, 4))


async def test_only_lines_of_the_same_month_are_joined_and_a_decisions_enrolments_all() -> None:
    store = await record_many(
        [
            (person_stream("p-1"), 0, [enrolled("p-1"), assessed("p-1")]),
            (person_stream("p-2"), 0, [enrolled("p-2", employer=OTHER), assessed("p-2", month="2026-10")]),
            (person_stream("p-3"), 0, [assessed("p-3", employer=OTHER)]),
            (person_stream("p-4"), 0, [assessed("p-4")]),
        ]
    )

    assert kinds(store.outbox) == ["employee_enrolled.v2", "contribution_assessed.v3", "contribution_assessed.v3"]
    [enrolments] = [decode(m.payload, EmployeeEnrolledV2) for m in store.outbox if "enrolled" in m.subject]
    assert [(line.person_ref, line.employer_credit_code) for line in enrolments.data.lines] == [
        ("p-1", EMPLOYER),
        ("p-2", OTHER),
    ]
    assert enrolments.subject == person_stream("p-1")  # where the first would have gone
    months = [decode(m.payload, ContributionAssessedV3).data for m in store.outbox if "assessed" in m.subject]
    assert [(m.month, [(line.person_ref, line.employer_credit_code) for line in m.lines]) for m in months] == [
        ("2026-09", [("p-1", EMPLOYER), ("p-3", OTHER), ("p-4", EMPLOYER)]),
        ("2026-10", [("p-2", EMPLOYER)]),
    ]


async def test_a_decisions_ends_are_one_message_whatever_their_employers() -> None:
    ended = [("p-1", EMPLOYER), ("p-2", OTHER)]
    store = await record_many(
        [
            (
                person_stream(p),
                0,
                [e.EmploymentEnded(person_ref=p, employer_credit_code=c, ended_on=date(2026, 9, 30), at=NOW)],
            )
            for p, c in ended
        ]
    )

    [message] = store.outbox
    ends = decode(message.payload, EmploymentEndedV2)
    assert [(line.person_ref, line.employer_credit_code, line.ended_on) for line in ends.data.lines] == [
        (p, c, date(2026, 9, 30)) for p, c in ended
    ]


async def test_one_persons_record_publishes_a_month_of_one_line() -> None:
    store = InMemoryEventStore()
    async with store.transaction() as tx:
        await RECORDER.record(tx, person_stream("p-1"), 0, [overdue("p-1")], context())

    [message] = store.outbox
    breach = decode(message.payload, DeadlineBreachedV3)
    assert [(line.stream_id, line.employer_credit_code) for line in breach.data.lines] == [
        (person_stream("p-1"), EMPLOYER)
    ]
    assert breach.subject == person_stream("p-1")
