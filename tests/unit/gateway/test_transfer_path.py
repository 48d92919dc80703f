"""A transfer's stages from the steps of both regions: start, end, time taken, breach."""

from __future__ import annotations

from typing import Any

from gateway.transfer_path import render, stages

CASE: dict[str, Any] = {
    "case_id": "c-1",
    "from_region": "44",
    "to_region": "36",
    "status": "open",
    "started_at": "2026-03-02T01:00:00+00:00",
    "elapsed_seconds": 30 * 86_400.0,
    "within_three_days": False,
    "trace_id": "0af7651916cd43dd8448eb211c80319c",
}


def step(name: str, region: str, at: str) -> dict[str, Any]:
    return {"step": name, "region": region, "at": at, "detail": None}


def test_an_answered_review_and_an_old_agency_stage_still_open_and_breached() -> None:
    steps = [
        step("applied", "36", "2026-03-02T01:00:00+00:00"),
        step("contact_letter_sent", "36", "2026-03-02T01:00:01+00:00"),
        step("breached:old_agency", "36", "2026-03-24T01:00:01+00:00"),
    ]
    review, old = stages(CASE, steps)
    assert (review["stage"], review["region"], review["seconds"], review["breached"]) == ("review", "36", 1.0, False)
    assert (old["stage"], old["region"], old["ended_at"], old["breached"]) == ("old_agency", "44", None, True)
    assert old["seconds"] == 30 * 86_400 - 1  # so far: open until now
    text = render({**CASE, "steps": steps, "stages": [review, old]})
    assert "BREACHED" in text
    assert "OVER three days" in text


def test_a_completed_path_has_three_stages_all_on_time() -> None:
    steps = [
        step("applied", "36", "2026-03-02T01:00:00+00:00"),
        step("contact_letter_sent", "36", "2026-03-02T01:00:00+00:00"),
        step("contact_letter_received", "44", "2026-03-02T01:00:02+00:00"),
        step("funds_transferred", "44", "2026-03-02T01:00:03+00:00"),
        step("information_sheet_received", "36", "2026-03-02T01:00:04+00:00"),
        step("funds_received", "36", "2026-03-02T01:00:05+00:00"),
        step("completed", "36", "2026-03-02T01:00:05+00:00"),
    ]
    found = stages({**CASE, "status": "completed", "elapsed_seconds": 5.0}, steps)
    assert [(s["stage"], s["seconds"], s["breached"]) for s in found] == [
        ("review", 0.0, False),
        ("old_agency", 3.0, False),
        ("new_agency", 0.0, False),
    ]


def test_a_refused_application_has_only_its_review() -> None:
    steps = [step("applied", "36", "2026-03-02T01:00:00+00:00"), step("refused", "36", "2026-03-02T01:00:00+00:00")]
    assert [s["stage"] for s in stages(CASE, steps)] == ["review"]
