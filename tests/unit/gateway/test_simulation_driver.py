"""The simulation's driver: who sends each call, and what a busy gateway's answer makes it do."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Mapping
from datetime import date
from pathlib import Path

import httpx

from gateway.simulation import Profile, build_plan
from gateway.simulation.driver import CALLERS, _Driver
from gateway.simulation.plan import Call

SMALL = Path(__file__).parents[3] / "docs" / "scenarios" / "nanchang-2021-small.json"


def tokens(*, kind: str, subject: str, region: str) -> Mapping[str, str]:
    return {"Authorization": f"Bearer {kind}/{subject}/{region}"}


async def test_a_years_calls_come_from_many_callers_and_each_call_always_from_the_same_one() -> None:
    plan = build_plan(Profile.load(SMALL), scale=1, seed=2021, today=date(2026, 12, 3))
    calls = {call.key: call for step in plan.steps for call in step.calls}
    callers: defaultdict[str, list[str]] = defaultdict(list)

    def gateway(request: httpx.Request) -> httpx.Response:
        """Every call is first told to come back (a caller over its rate), then answered as planned."""
        call = calls[request.headers["Idempotency-Key"]]
        callers[call.key].append(request.headers["Authorization"])
        if len(callers[call.key]) == 1:
            return httpx.Response(429, headers={"Retry-After": "0"})
        answer = {"results": [{"outcome": "registered"}] * call.expect.get("registered", 0), **call.expect}
        return httpx.Response(call.status, json=answer)

    async with httpx.AsyncClient(transport=httpx.MockTransport(gateway), base_url="http://gateway") as client:
        driver = _Driver(plan, client, tokens, concurrency=len(calls))
        await asyncio.gather(*(driver.call(call) for call in calls.values()))

    assert driver.problems == []
    assert driver.retried == {"429": len(calls)}
    assert all(len(sent) == 2 and sent[0] == sent[1] for sent in callers.values())  # a retry: the same caller
    operators = {sent[0] for key, sent in callers.items() if calls[key].actor == "operator"}
    assert {token.split("/")[0] for token in operators} == {"Bearer operator"}
    assert len(operators) > CALLERS  # the two regions' callers, most of each in use
    feed = [sent[0] for key, sent in callers.items() if calls[key].actor == "system"]
    assert feed and {token.split("/")[1] for token in feed} == {"market-feed"}
    for key, sent in callers.items():
        assert sent[0].endswith(f"/{calls[key].region}")  # an operator of the call's own region


async def test_the_same_call_has_the_same_caller_in_another_run() -> None:
    plan = build_plan(Profile.load(SMALL), scale=1, seed=2021, today=date(2026, 12, 3))
    call = Call(key="enrol:0001", region="36", path="/employees", body={})
    async with httpx.AsyncClient() as client:
        first = _Driver(plan, client, tokens, concurrency=1).caller(call)
        again = _Driver(plan, client, tokens, concurrency=1).caller(call)
    assert first == again and first["Authorization"].startswith("Bearer operator/simulator-")


async def test_an_answer_other_than_planned_is_a_problem_naming_the_refusals_reason() -> None:
    plan = build_plan(Profile.load(SMALL), scale=1, seed=2021, today=date(2026, 12, 3))
    call = Call("transfer:0001", "36", "/transfers", {}, status=201, expect={"status": "contact_letter_sent"})
    refused = {"status": "refused", "reason_code": "not_enrolled_here", "reason": "you are not yet contributing in 36"}

    def gateway(request: httpx.Request) -> httpx.Response:
        return httpx.Response(201, json=refused)

    async with httpx.AsyncClient(transport=httpx.MockTransport(gateway), base_url="http://gateway") as client:
        driver = _Driver(plan, client, tokens, concurrency=1)
        await driver.call(call)

    assert driver.problems == [
        "transfer:0001 /transfers in 36: status 'refused' != 'contact_letter_sent' "
        "(not_enrolled_here: you are not yet contributing in 36)"
    ]


async def test_a_file_answered_other_than_planned_names_its_first_refused_line() -> None:
    plan = build_plan(Profile.load(SMALL), scale=1, seed=2021, today=date(2026, 12, 3))
    call = Call("enrol:0002", "36", "/employees/batch", {}, expect={"enrolled": 3})
    refused = {"type": "https://yiwang.example/problems/already-enrolled", "status": 409, "detail": "already enrolled"}
    answer = {"enrolments": [{"person_ref": "a"}, {"person_ref": "b", "problem": refused}, {"person_ref": "c"}]}

    def gateway(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={**answer, "enrolled": 2, "refused": 1})

    async with httpx.AsyncClient(transport=httpx.MockTransport(gateway), base_url="http://gateway") as client:
        driver = _Driver(plan, client, tokens, concurrency=1)
        await driver.call(call)

    assert driver.problems == [
        "enrol:0002 /employees/batch in 36: enrolled 2 != 3 (line 1 already-enrolled: already enrolled; 1 lines refused)"
    ]
