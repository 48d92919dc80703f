"""The steps one transfer decision takes leave as one `transfer_stage` message, a line per step."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from contracts.codec import decode
from contracts.subjects import Subjects
from contracts.transfer.messages import TransferStagesV2, TransferStageV1
from runtime.eventstore import OutboxMessage, Position
from runtime.recording import CommandContext, EventRecorder
from runtime.testing import InMemoryEventStore
from transfer.bootstrap import EVENT_TYPES
from transfer.domain import events as ev
from transfer.domain.values import Stage
from transfer.translation import to_public

NOW = datetime(2026, 12, 4, 8, tzinfo=UTC)
CASE = "case-1"


def recorder(region: str) -> EventRecorder[Any]:
    return EventRecorder("transfer", Subjects("t"), EVENT_TYPES, partial(to_public, region=region))


def kinds(outbox: list[OutboxMessage]) -> list[str]:
    return [".".join(m.subject.split(".")[-2:]) for m in outbox]


async def recorded(region: str, *decisions: list[Any]) -> InMemoryEventStore:
    """Each list of events recorded as one decision on the case's stream, in turn."""
    store = InMemoryEventStore()
    version = 0
    for events in decisions:
        async with store.transaction() as tx:
            await recorder(region).record(
                tx, f"transfer-out-{CASE}", version, events, CommandContext.of_system(region, NOW)
            )
        version += len(events)
    return store


async def test_an_old_agencys_straight_through_answer_is_one_message_with_its_four_steps_in_order() -> None:
    store = await recorded(
        "44",
        [
            ev.ContactLetterReceived(case_id=CASE, person_ref="p", citizen_id="c", from_region="36", at=NOW),
            ev.InformationSheetIssued(
                case_id=CASE, periods=(), individual_fen=1, pooled_fen=2, returned_periods=(), at=NOW
            ),
            ev.FundsTransferred(case_id=CASE, amount_fen=3, reference="44-case-1", at=NOW + timedelta(seconds=1)),
            ev.LocalRelationshipTerminated(case_id=CASE, person_ref="p", at=NOW + timedelta(seconds=1)),
        ],
    )

    assert kinds(store.outbox) == ["transfer_stage.v2"]
    stages = decode(store.outbox[0].payload, TransferStagesV2).data
    assert (stages.case_id, stages.region) == (CASE, "44")
    assert [(s.step, s.at) for s in stages.steps] == [
        ("contact_letter_received", NOW),
        ("information_sheet_issued", NOW),
        ("funds_transferred", NOW + timedelta(seconds=1)),
        ("local_relationship_terminated", NOW + timedelta(seconds=1)),
    ]


async def test_the_application_stays_its_own_message_and_each_decision_sends_its_own_steps() -> None:
    applied = ev.TransferApplied(
        case_id=CASE,
        person_ref="p",
        citizen_id="c",
        from_region="44",
        to_region="36",
        channel="web_hall",
        applied_at=NOW,
    )
    letter = ev.ContactLetterSent(
        case_id=CASE, from_region="36", to_region="44", person_ref="p", citizen_id="c", at=NOW
    )
    breached = ev.StageDeadlineBreached(case_id=CASE, stage=Stage.OLD_AGENCY, due_at=NOW, at=NOW)
    store = await recorded("36", [applied, letter], [breached])

    assert kinds(store.outbox) == ["transfer_applied.v1", "transfer_stage.v2", "transfer_stage.v2"]
    assert decode(store.outbox[0].payload, TransferStageV1).data.step == "applied"
    later = [decode(m.payload, TransferStagesV2).data for m in store.outbox[1:]]
    assert [[(s.step, s.detail) for s in each.steps] for each in later] == [
        [("contact_letter_sent", None)],
        [("stage_deadline_breached", "old_agency")],
    ]


async def test_a_cases_sheet_and_funds_recorded_together_send_their_steps_as_one_message() -> None:
    on_sheet = CommandContext.of_system("36", NOW)
    on_funds = CommandContext.of_system("36", NOW + timedelta(seconds=1))
    sheet = ev.InformationSheetReceived(
        case_id=CASE, periods=(), individual_fen=1, pooled_fen=2, returned_periods=(), at=NOW
    )
    funds = ev.FundsReceived(case_id=CASE, amount_fen=3, reference="44-case-1", at=on_funds.now)
    completed = ev.TransferCompleted(case_id=CASE, individual_fen=1, pooled_fen=2, months_restored=0, at=on_funds.now)
    store = InMemoryEventStore()
    async with store.transaction() as tx:
        appended = await recorder("36").record_together(
            tx, f"transfer-{CASE}", 0, [([sheet], on_sheet), ([funds, completed], on_funds)]
        )

    assert appended == 3
    assert kinds(store.outbox) == ["transfer_stage.v2"]
    message = decode(store.outbox[0].payload, TransferStagesV2)
    assert [(s.step, s.at) for s in message.data.steps] == [
        ("information_sheet_received", NOW),
        ("funds_received", on_funds.now),
        ("completed", on_funds.now),
    ]
    assert message.causationid == on_sheet.command_id  # sent where its first line's decision would have
    # Each event keeps the metadata of the decision that took it.
    assert [(e.event_type, e.metadata["command_id"]) for e in await store.read_all(Position())] == [
        ("InformationSheetReceived", str(on_sheet.command_id)),
        ("FundsReceived", str(on_funds.command_id)),
        ("TransferCompleted", str(on_funds.command_id)),
    ]
