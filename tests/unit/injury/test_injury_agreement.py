"""Agreement institutions: active only inside a term, outside suspensions, before termination."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from injury.domain.agreement import (
    Agreement,
    active_in_region,
    agreement_active,
    agreement_status,
    agreement_stream,
    decide_reinstate,
    decide_sign,
    decide_suspend,
    decide_terminate,
    fold,
)
from injury.domain.errors import AgreementNotFoundError, AgreementOverlapError, InvalidDateError, MissingValueError
from injury.domain.events import AgreementSigned, AgreementSuspended, AgreementTerminated, Event
from injury.domain.values import AgreementStatus, InstitutionKind

NOW = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


def signed(hospital_id: str = "H1", region: str = "360100", **dates: date) -> list[Event]:
    return decide_sign(
        Agreement(),
        hospital_id=hospital_id,
        name="南昌大学第一附属医院",
        region=region,
        kind=InstitutionKind.HOSPITAL,
        signed_on=date(2025, 12, 20),
        valid_from=dates.get("valid_from", date(2026, 1, 1)),
        valid_to=dates.get("valid_to", date(2027, 12, 31)),
        now=NOW,
    )


def test_signing_opens_a_term_with_both_days_included() -> None:
    events = signed()
    assert [type(e) for e in events] == [AgreementSigned]
    state = fold(events)
    assert (state.hospital_id, state.region, agreement_stream("H1")) == ("H1", "360100", "agreement-H1")
    assert not agreement_active(state, date(2025, 12, 31))
    assert agreement_active(state, date(2026, 1, 1)) and agreement_active(state, date(2027, 12, 31))
    assert agreement_status(state, date(2028, 1, 1)) is AgreementStatus.NOT_COVERED
    assert agreement_status(Agreement(), date(2026, 1, 1)) is AgreementStatus.NONE


def test_a_suspension_stops_settlement_only_while_it_lasts() -> None:
    events = signed()
    events += decide_suspend(fold(events), effective_from=date(2026, 3, 1), reason="over-billing found", now=NOW)
    suspended = fold(events)
    assert agreement_active(suspended, date(2026, 2, 28))  # service before the suspension still settles
    assert agreement_status(suspended, date(2026, 3, 1)) is AgreementStatus.SUSPENDED
    assert decide_suspend(suspended, effective_from=date(2026, 3, 5), reason="again", now=NOW) == []
    with pytest.raises(InvalidDateError, match="precedes"):
        decide_reinstate(suspended, effective_from=date(2026, 2, 1), now=NOW)
    events += decide_reinstate(suspended, effective_from=date(2026, 4, 1), now=NOW)
    reinstated = fold(events)
    assert agreement_status(reinstated, date(2026, 3, 31)) is AgreementStatus.SUSPENDED
    assert agreement_active(reinstated, date(2026, 4, 1))
    assert decide_reinstate(reinstated, effective_from=date(2026, 5, 1), now=NOW) == []


def test_termination_ends_the_term_and_a_new_term_may_follow() -> None:
    events = signed()
    events += decide_terminate(fold(events), effective_from=date(2026, 7, 1), reason="breach", now=NOW)
    assert isinstance(events[-1], AgreementTerminated)
    ended = fold(events)
    assert agreement_active(ended, date(2026, 6, 30))
    assert agreement_status(ended, date(2026, 7, 1)) is AgreementStatus.TERMINATED
    assert decide_terminate(ended, effective_from=date(2026, 8, 1), reason="again", now=NOW) == []
    renewal = decide_sign(
        ended,
        hospital_id="H1",
        name="南昌大学第一附属医院",
        region="360100",
        kind=InstitutionKind.HOSPITAL,
        signed_on=date(2026, 12, 1),
        valid_from=date(2027, 1, 1),
        valid_to=date(2028, 12, 31),
        now=NOW,
    )
    renewed = fold([*events, *renewal])
    assert agreement_status(renewed, date(2026, 12, 31)) is AgreementStatus.TERMINATED
    assert agreement_active(renewed, date(2027, 1, 1))


def test_terms_do_not_overlap_and_the_same_term_is_signed_once() -> None:
    state = fold(signed())
    again = decide_sign(
        state,
        hospital_id="H1",
        name="n",
        region="360100",
        kind=InstitutionKind.HOSPITAL,
        signed_on=date(2025, 12, 20),
        valid_from=date(2026, 1, 1),
        valid_to=date(2027, 12, 31),
        now=NOW,
    )
    assert again == []
    with pytest.raises(AgreementOverlapError, match="overlaps"):
        decide_sign(
            state,
            hospital_id="H1",
            name="n",
            region="360100",
            kind=InstitutionKind.HOSPITAL,
            signed_on=date(2026, 6, 1),
            valid_from=date(2027, 6, 1),
            valid_to=date(2029, 5, 31),
            now=NOW,
        )


def test_bad_commands_are_refused() -> None:
    with pytest.raises(InvalidDateError, match="before its valid_from"):
        signed(valid_from=date(2026, 1, 1), valid_to=date(2025, 1, 1))
    with pytest.raises(MissingValueError, match="region"):
        signed(region="")
    for decide in (decide_suspend, decide_terminate):
        with pytest.raises(AgreementNotFoundError):
            decide(Agreement(), effective_from=date(2026, 1, 1), reason="r", now=NOW)
    with pytest.raises(AgreementNotFoundError):
        decide_reinstate(Agreement(), effective_from=date(2026, 1, 1), now=NOW)
    with pytest.raises(MissingValueError, match="reason"):
        decide_suspend(fold(signed()), effective_from=date(2026, 1, 1), reason=" ", now=NOW)


def test_the_regional_registry_lists_active_institutions() -> None:
    h1, h2 = fold(signed("H1")), fold(signed("H2"))
    h3 = fold(signed("H3", region="440100"))
    suspended = fold(
        [
            *signed("H4"),
            AgreementSuspended(hospital_id="H4", effective_from=date(2026, 1, 1), reason="r", at=NOW),
        ]
    )
    assert active_in_region([h2, h1, h3, suspended], "360100", date(2026, 3, 2)) == ("H1", "H2")
