"""The stored form of every transfer event, and each aggregate ignoring the other's events."""

from __future__ import annotations

import json
from dataclasses import FrozenInstanceError
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from runtime.serialization import from_json, to_json
from transfer.domain import events as e
from transfer.domain import transfer_in, transfer_out
from transfer.domain.values import Period, PeriodKind, Stage

NOW = datetime(2026, 3, 14, 2, 0, tzinfo=UTC)
PERIODS = (
    Period(
        month="2010-01", base_fen=500_000, kind=PeriodKind.EMPLOYEE, employer_rate=Decimal("0.16"), account_fen=40_000
    ),
    Period(
        month="2011-01",
        base_fen=400_000,
        kind=PeriodKind.TEMPORARY,
        employer_rate=Decimal("0.16"),
        account_fen=32_000,
        back_payment_batch="bp-1",
        documented=True,
    ),
)

IN_SAMPLES: list[e.Event] = [
    e.TransferApplied(
        case_id="c", person_ref="p", citizen_id="x", from_region="36", to_region="44", channel="app", applied_at=NOW
    ),
    e.TransferRefused(case_id="c", reason_code="pensioner", reason="why", at=NOW),
    e.TemporaryAccountOpened(case_id="c", person_ref="p", reason="why", at=NOW),
    e.AccountsMerged(case_id="c", person_ref="p", months=2, individual_fen=80_000, at=NOW),
    e.ContactLetterSent(case_id="c", from_region="36", to_region="44", person_ref="p", citizen_id="x", at=NOW),
    e.InformationSheetReceived(
        case_id="c", periods=PERIODS, individual_fen=72_000, pooled_fen=124_000, returned_periods=("2005-01",), at=NOW
    ),
    e.FundsReceived(case_id="c", amount_fen=196_000, reference="r", at=NOW),
    e.FundsMismatchDetected(
        case_id="c", expected_fen=196_000, received_fen=195_999, reason_code="amount", reason="why", at=NOW
    ),
    e.TransferCompleted(case_id="c", individual_fen=72_000, pooled_fen=124_000, months_restored=2, at=NOW),
]
OUT_SAMPLES: list[e.Event] = [
    e.ContactLetterReceived(case_id="c", person_ref="p", citizen_id="x", from_region="44", at=NOW),
    e.UnpaidContributionsFound(case_id="c", months=("2025-11",), at=NOW),
    e.InformationSheetIssued(
        case_id="c", periods=PERIODS, individual_fen=72_000, pooled_fen=124_000, returned_periods=(), at=NOW
    ),
    e.FundsTransferred(case_id="c", amount_fen=196_000, reference="r", at=NOW),
    e.LocalRelationshipTerminated(case_id="c", person_ref="p", at=NOW),
]
BREACH = e.StageDeadlineBreached(case_id="c", stage=Stage.OLD_AGENCY, due_at=NOW, at=NOW)
SAMPLES = [*IN_SAMPLES, *OUT_SAMPLES, BREACH]


def test_every_event_type_has_a_sample() -> None:
    assert {type(s) for s in SAMPLES} == set(e.EVENT_TYPES)
    assert len(e.EVENT_TYPES) == len(set(e.EVENT_TYPES))
    assert set(e.TRANSFER_IN_EVENT_TYPES) | set(e.TRANSFER_OUT_EVENT_TYPES) == set(e.EVENT_TYPES)
    assert set(e.TRANSFER_IN_EVENT_TYPES) & set(e.TRANSFER_OUT_EVENT_TYPES) == {e.StageDeadlineBreached}


@pytest.mark.parametrize("event", SAMPLES, ids=lambda ev: type(ev).__name__)
def test_stored_json_rebuilds_the_event_exactly(event: e.Event) -> None:
    stored = json.loads(json.dumps(to_json(event)))
    assert from_json(type(event), stored) == event


def test_events_and_periods_are_frozen() -> None:
    with pytest.raises(FrozenInstanceError):
        BREACH.case_id = "other"  # type: ignore[misc]
    with pytest.raises(FrozenInstanceError):
        PERIODS[0].base_fen = 1  # type: ignore[misc]


def test_the_new_case_ignores_the_old_case_events() -> None:
    state = transfer_in.fold(IN_SAMPLES[:1])
    assert transfer_in.fold([*IN_SAMPLES[:1], *OUT_SAMPLES]) == state


def test_the_old_case_ignores_the_new_case_events() -> None:
    state = transfer_out.fold(OUT_SAMPLES[:1])
    assert transfer_out.fold([*OUT_SAMPLES[:1], *IN_SAMPLES]) == state


def test_both_cases_record_a_breach() -> None:
    assert transfer_in.fold([BREACH]).breached == frozenset({Stage.OLD_AGENCY})
    assert transfer_out.fold([BREACH]).breached == frozenset({Stage.OLD_AGENCY})
