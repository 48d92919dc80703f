"""A lead: one-point intake, deduplication, routing hops, and the district's acceptance or written refusal."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from arrears.domain import lead
from arrears.domain.errors import (
    FutureDateError,
    InvalidCodeError,
    LeadNotFoundError,
    LimitationExpiredError,
    MissingValueError,
    RefusalNotApplicableError,
    RoutingError,
    UnknownDistrictError,
    WorkersError,
    WrongStatusError,
)
from arrears.domain.events import ComplaintAccepted, ComplaintRefused, LeadReceived, LeadReportedAgain, LeadRouted
from arrears.domain.values import REFUSAL_EXPLANATIONS, Channel, LeadStatus, Project, RefusalReason, WorkerClaim
from tests.unit.arrears.examples import (
    BAOAN,
    CASE_ID,
    CLAIMED,
    EMPLOYER,
    FUTIAN,
    GENERAL,
    KNOWN,
    LATER,
    LEAD_ID,
    LUOHU,
    NANSHAN,
    NOW,
    WANG,
    ZHANG,
    accepted,
    receive,
)

OLD_PERIOD = {"period_from": date(2023, 10, 1), "period_to": date(2024, 3, 15)}  # > 2 years before 2026-03-16


def test_a_complaint_goes_at_once_to_the_district_of_the_employer() -> None:
    received, routed = receive()
    assert isinstance(received, LeadReceived)
    assert (received.channel, received.received_by, received.division_code, received.industry_code) == (
        Channel.HOTLINE,
        FUTIAN,
        NANSHAN,
        "E4700",
    )
    assert received.workers[2] == WorkerClaim(citizen_id=WANG, claimed_fen=520_050)  # stored upper-cased
    assert routed == LeadRouted(
        lead_id=LEAD_ID,
        from_district=FUTIAN,
        to_district=NANSHAN,
        reason="the employer or project is in district 440305, which is responsible",
        at=NOW,
    )
    state = lead.fold([received, routed])
    assert (state.status, state.district, state.arrived_at, state.reports) == (LeadStatus.ROUTED, NANSHAN, NOW, 1)
    assert state.claimed_fen == CLAIMED
    assert lead.lead_stream(LEAD_ID) == "arrears-lead-lead-0001"


def test_a_division_the_region_does_not_know_waits_at_the_intake_point() -> None:
    events = receive(division_code="440300")  # a city code, not a district
    assert [type(e) for e in events] == [LeadReceived]
    state = lead.fold(events)
    assert (state.status, state.district) == (LeadStatus.RECEIVED, FUTIAN)
    assert [type(e) for e in receive(division_code="441302")] == [LeadReceived]  # Huizhou: another region


def test_the_same_complaint_again_is_counted_on_the_same_lead() -> None:
    first = receive()
    again = receive(lead.fold(first), channel=Channel.APP, received_by=BAOAN, now=LATER)
    assert again == [LeadReportedAgain(lead_id=LEAD_ID, channel=Channel.APP, received_by=BAOAN, at=LATER)]
    state = lead.fold([*first, *again])
    assert state.reports == 2 and state.district == NANSHAN and state.arrived_at == NOW  # the clock runs on


def test_an_unreadable_complaint_is_refused() -> None:
    with pytest.raises(MissingValueError, match="unified social credit code"):
        receive(employer_code=" ")
    with pytest.raises(MissingValueError, match="industry code"):
        receive(industry_code="")
    with pytest.raises(InvalidCodeError, match="division code '4403'"):
        receive(division_code="4403")
    with pytest.raises(InvalidCodeError, match="intake point"):
        receive(received_by="futian")
    with pytest.raises(WorkersError):
        receive(workers=())
    with pytest.raises(FutureDateError):
        receive(period_to=date(2026, 3, 17))
    with pytest.raises(MissingValueError, match="general contractor"):
        receive(project=Project(name="某项目", general_contractor_code=" "))


def test_the_wage_period_may_end_today_in_beijing() -> None:
    late_evening = NOW.replace(hour=15, minute=59)  # 23:59 in Beijing, still 16 March
    assert receive(period_to=date(2026, 3, 16), now=late_evening)
    with pytest.raises(FutureDateError):
        receive(period_to=date(2026, 3, 17), now=late_evening)
    assert receive(period_to=date(2026, 3, 17), now=late_evening + timedelta(minutes=1))  # 17 March in Beijing


def test_a_district_passes_the_lead_on_and_every_hop_is_kept() -> None:
    events = receive()
    hop = lead.decide_route(
        lead.fold(events), to_district=BAOAN, reason="项目实际位于宝安区", known_districts=KNOWN, now=LATER
    )
    assert hop == [
        LeadRouted(lead_id=LEAD_ID, from_district=NANSHAN, to_district=BAOAN, reason="项目实际位于宝安区", at=LATER)
    ]
    events += hop
    events += lead.decide_route(
        lead.fold(events), to_district=LUOHU, reason="劳务公司注册地", known_districts=KNOWN, now=LATER
    )
    state = lead.fold(events)
    assert [(h.from_district, h.to_district) for h in state.hops] == [
        (FUTIAN, NANSHAN),
        (NANSHAN, BAOAN),
        (BAOAN, LUOHU),
    ]
    assert (state.district, state.arrived_at) == (LUOHU, LATER)


def test_routing_needs_a_reason_and_a_known_other_district() -> None:
    state = lead.fold(receive())
    with pytest.raises(MissingValueError, match="reason for routing"):
        lead.decide_route(state, to_district=BAOAN, reason=" ", known_districts=KNOWN, now=LATER)
    with pytest.raises(UnknownDistrictError, match="'441302'"):
        lead.decide_route(state, to_district="441302", reason="惠州", known_districts=KNOWN, now=LATER)
    with pytest.raises(UnknownDistrictError):
        lead.decide_route(state, to_district="440300", reason="市局", known_districts={*KNOWN, "440300"}, now=LATER)
    with pytest.raises(RoutingError, match="already at district 440305"):
        lead.decide_route(state, to_district=NANSHAN, reason="x", known_districts=KNOWN, now=LATER)


def test_a_lead_waiting_at_the_intake_point_is_routed_by_hand() -> None:
    events = receive(division_code="440300")
    routed = lead.decide_route(
        lead.fold(events), to_district=FUTIAN, reason="受理点即责任区", known_districts=KNOWN, now=LATER
    )
    assert routed[0] == LeadRouted(
        lead_id=LEAD_ID, from_district=FUTIAN, to_district=FUTIAN, reason="受理点即责任区", at=LATER
    )


def test_the_district_accepts_and_names_the_case() -> None:
    events = accepted()
    assert events[-1] == ComplaintAccepted(lead_id=LEAD_ID, case_id=CASE_ID, district=NANSHAN, at=NOW)
    state = lead.fold(events)
    assert (state.status, state.case_id) == (LeadStatus.ACCEPTED, CASE_ID)
    with pytest.raises(WrongStatusError, match="is accepted: cannot route it"):
        lead.decide_route(state, to_district=BAOAN, reason="x", known_districts=KNOWN, now=LATER)
    with pytest.raises(WrongStatusError, match="cannot accept it"):
        lead.decide_accept(state, case_id="case-0002", now=LATER)
    with pytest.raises(WrongStatusError, match="cannot refuse it"):
        lead.decide_refuse(state, reason=RefusalReason.NOT_WAGE_MATTER, now=LATER)


def test_only_a_routed_lead_is_answered() -> None:
    with pytest.raises(LeadNotFoundError):
        lead.decide_accept(lead.Lead(), case_id=CASE_ID, now=NOW)
    waiting = lead.fold(receive(division_code="440300"))
    with pytest.raises(WrongStatusError, match="route it to the responsible district first"):
        lead.decide_accept(waiting, case_id=CASE_ID, now=NOW)
    with pytest.raises(MissingValueError, match="case_id"):
        lead.decide_accept(lead.fold(receive()), case_id="", now=NOW)


def test_a_complaint_past_two_years_cannot_be_accepted_and_its_refusal_is_a_fact() -> None:
    state = lead.fold(receive(**OLD_PERIOD))
    assert lead.past_limitation(state)
    with pytest.raises(
        LimitationExpiredError, match="2024-03-15, more than two years before the complaint of 2026-03-16"
    ):
        lead.decide_accept(state, case_id=CASE_ID, now=NOW)
    refused = lead.decide_refuse(state, reason=RefusalReason.PAST_TWO_YEAR_LIMIT, now=LATER)
    assert refused == [
        ComplaintRefused(
            lead_id=LEAD_ID,
            district=NANSHAN,
            reason_code=RefusalReason.PAST_TWO_YEAR_LIMIT,
            explanation=REFUSAL_EXPLANATIONS[RefusalReason.PAST_TWO_YEAR_LIMIT],
            at=LATER,
        )
    ]
    assert lead.fold([*receive(**OLD_PERIOD), *refused]).refusal is RefusalReason.PAST_TWO_YEAR_LIMIT


def test_the_limit_counts_from_the_first_report_not_a_repeat() -> None:
    within = {"period_from": date(2024, 1, 1), "period_to": date(2024, 3, 16)}
    first = receive(**within)
    again = receive(lead.fold(first), now=NOW + timedelta(days=30))
    state = lead.fold([*first, *again])
    assert not lead.past_limitation(state)
    assert lead.decide_accept(state, case_id=CASE_ID, now=NOW + timedelta(days=31))


def test_the_two_year_reason_only_when_the_dates_show_it() -> None:
    with pytest.raises(RefusalNotApplicableError, match="within two years"):
        lead.decide_refuse(lead.fold(receive()), reason=RefusalReason.PAST_TWO_YEAR_LIMIT, now=LATER)


@pytest.mark.parametrize("reason", list(RefusalReason))
def test_every_refusal_reason_has_a_written_explanation(reason: RefusalReason) -> None:
    assert len(REFUSAL_EXPLANATIONS[reason]) > 60


def test_a_refusal_can_add_a_note_to_the_standard_explanation() -> None:
    (refused,) = lead.decide_refuse(
        lead.fold(receive()),
        reason=RefusalReason.IN_ARBITRATION_OR_COURT,
        now=LATER,
        note="南山区劳动人事争议仲裁院已立案",
    )
    assert isinstance(refused, ComplaintRefused)
    assert refused.explanation.endswith("; 南山区劳动人事争议仲裁院已立案")
    assert refused.explanation.startswith(REFUSAL_EXPLANATIONS[RefusalReason.IN_ARBITRATION_OR_COURT])


def test_a_worker_finds_their_own_claim() -> None:
    state = lead.fold(receive())
    found = state.claim_of(WANG.lower())
    assert found is not None and found.claimed_fen == 520_050
    assert state.claim_of(ZHANG.replace("1234", "9999")) is None


def test_construction_codes_are_kept_upper_cased() -> None:
    project = Project(name="某项目", general_contractor_code=GENERAL.lower(), subcontractor_code=f" {EMPLOYER} ")
    state = lead.fold(receive(project=project))
    assert state.project == Project(name="某项目", general_contractor_code=GENERAL, subcontractor_code=EMPLOYER)
