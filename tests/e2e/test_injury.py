"""Work-injury networked settlement through the gateway: signed hospitals, operators, workers.

A hospital with an active agreement posts encounters; the fund pays the in-catalogue share and the
worker the rest, to the fen; a retry pays nothing twice; a late determination re-settles a held
settlement; forged, expired and replayed requests store nothing; reconciliation flags differences;
a determination's limit fires as a durable timer when the clock passes it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import uuid4

import httpx
import pytest

from contracts.identifiers import citizen_id_check_character
from contracts.signing import sign
from gateway.auth import issue_token
from runtime.workdays import local_date
from tests.conftest import Servers
from tests.stack import Stack, running_stack
from tests.waiting import eventually

KEYS = {
    "H36001": ["h36001-key-2026-new-0123456789", "h36001-key-2025-old-0123456789"],
    "H36002": ["h36002-key-2026-0123456789abc"],
}
WORKER = "36010219850612201" + citizen_id_check_character("36010219850612201")
OTHER = "36010219920101302" + citizen_id_check_character("36010219920101302")

# 10 x cefuroxime at 1.80 yuan (catalogue 1.50), a consultation, a scar gel outside the catalogue,
# 1.5 x amoxicillin at 0.35 yuan (52.5 fen, rounded half-up to 53).
LINES = [
    {"line_no": 1, "item_code": "XJ01DCC040", "quantity": 10, "unit_price_fen": 180, "amount_fen": 1800},
    {"line_no": 2, "item_code": "110200001", "quantity": 1, "unit_price_fen": 1000, "amount_fen": 1000},
    {"line_no": 3, "item_code": "XD11AXX999", "quantity": 1, "unit_price_fen": 16800, "amount_fen": 16800},
    {"line_no": 4, "item_code": "XJ01CAA040", "quantity": 1.5, "unit_price_fen": 35, "amount_fen": 53},
]
TOTAL, FUND = 19653, 1500 + 1000 + 53


@pytest.fixture
async def stack(servers: Servers, subject_root: str) -> AsyncIterator[Stack]:
    async with running_stack(servers, subject_root, services=("injury",), regions=("36",), hospital_keys=KEYS) as s:
        yield s


def today(stack: Stack) -> date:
    return local_date(stack.clock.now())


async def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


async def signed(
    stack: Stack,
    method: str,
    path: str,
    body: dict[str, Any] | None = None,
    *,
    hospital: str = "H36001",
    key: str | None = None,
    at: datetime | None = None,
    message_id: str | None = None,
) -> httpx.Response:
    """A request as a hospital's system sends it: body bytes signed with its key, a fresh message id."""
    raw = b"" if body is None else json.dumps(body).encode()
    timestamp = int((at or datetime.now(UTC)).timestamp())
    mid = message_id or uuid4().hex
    signature = sign(
        (key or KEYS[hospital][0]).encode(), timestamp=timestamp, message_id=mid, method=method, path=path, body=raw
    )
    headers = {
        "X-Hospital-Id": hospital,
        "X-Timestamp": str(timestamp),
        "X-Message-Id": mid,
        "X-Signature": signature,
        "Content-Type": "application/json",
    }
    return await stack.client.request(method, path, content=raw, headers=headers)


def posting(stack: Stack, number: str, *, citizen: str = WORKER, ref: str = "RD-001", **changes: Any) -> dict[str, Any]:
    body = {
        "hospital_settlement_no": number,
        "citizen_id": citizen,
        "determination_ref": ref,
        "service_date": (today(stack) - timedelta(days=3)).isoformat(),
        "lines": LINES,
        "declared_total_fen": TOTAL,
    }
    return body | changes


SETTLEMENTS = "/v1/regions/36/injury/hospitals/{}/settlements"


async def prepared(stack: Stack) -> None:
    """Two partner hospitals with agreements active this year, and the sample catalogue loaded."""
    for hospital in KEYS:
        term = {
            "hospital_id": hospital,
            "name": f"Hospital {hospital}",
            "signed_on": (today(stack) - timedelta(days=200)).isoformat(),
            "valid_from": (today(stack) - timedelta(days=180)).isoformat(),
            "valid_to": (today(stack) + timedelta(days=180)).isoformat(),
        }
        signed_up = await ok(
            await stack.client.post("/v1/regions/36/injury/agreements", json=term, headers=stack.token()), 201
        )
        assert signed_up["status"] == "active"

    async def catalogue_loaded() -> bool:
        r = await stack.client.get("/v1/regions/36/injury/catalogue/items/XJ01DCC040", headers=stack.token())
        return r.status_code == 200

    await eventually(catalogue_loaded)


async def determination(stack: Stack, determination_id: str, citizen: str, *, recognise: bool) -> dict[str, Any]:
    base = f"/v1/regions/36/injury/determinations/{determination_id}"
    application = {
        "determination_id": determination_id,
        "citizen_id": citizen,
        "employer_id": "91360102MA35L0XC0X",
        "injury_date": (today(stack) - timedelta(days=10)).isoformat(),
    }
    await ok(
        await stack.client.post("/v1/regions/36/injury/determinations", json=application, headers=stack.token()), 201
    )
    accepted = await ok(
        await stack.client.post(f"{base}/acceptance", json={"facts_clear": True}, headers=stack.token())
    )
    assert (accepted["status"], accepted["stage_limit_days"]) == ("accepted", 15)
    if not recognise:
        return accepted
    return await ok(await stack.client.post(f"{base}/decision", json={"outcome": "recognised"}, headers=stack.token()))


async def stored_events(stack: Stack, stream_id: str) -> list[str]:
    pool = stack.services[("injury", "36")].resources.pool
    rows = await pool.fetch("SELECT event_type FROM events WHERE stream_id = $1 ORDER BY version", stream_id)
    return [r["event_type"] for r in rows]


async def test_a_signed_settlement_pays_the_catalogue_share_and_the_worker_the_rest(stack: Stack) -> None:
    await prepared(stack)
    await determination(stack, "RD-001", WORKER, recognise=True)

    settled = await ok(await signed(stack, "POST", SETTLEMENTS.format("H36001"), posting(stack, "JS-0001")))

    assert (settled["status"], settled["determination_id"]) == ("settled", "RD-001")
    assert (settled["total_fen"], settled["fund_fen"], settled["self_pay_fen"]) == (TOTAL, FUND, TOTAL - FUND)
    assert settled["fund_fen"] + settled["self_pay_fen"] == settled["total_fen"]
    by_line = {line["line_no"]: (line["fund_fen"], line["self_pay_fen"]) for line in settled["lines"]}
    assert by_line == {1: (1500, 300), 2: (1000, 0), 3: (0, 16800), 4: (53, 0)}
    assert "citizen_id" not in settled

    read = await ok(await signed(stack, "GET", SETTLEMENTS.format("H36001") + "/JS-0001"))
    assert read == settled
    pool = stack.services[("injury", "36")].resources.pool

    async def handled() -> list[Any]:
        return list(await pool.fetch("SELECT channel, handled FROM handled_services"))

    assert [tuple(r) for r in await eventually(handled)] == [("partner", 1)]
    period = {"first": (today(stack) - timedelta(days=30)).isoformat(), "last": today(stack).isoformat()}

    async def figures() -> dict[str, Any] | None:
        body: dict[str, Any] = await ok(
            await stack.client.get("/v1/regions/36/injury/figures", params=period, headers=stack.token())
        )
        return body if body["settlements"] == 1 else None

    counted = await eventually(figures)
    assert counted["by_hospital"] == [
        {"hospital_id": "H36001", "settlements": 1, "total_fen": TOTAL, "fund_fen": FUND, "self_pay_fen": TOTAL - FUND}
    ]
    assert counted["fund_share_percent"] == round(100 * FUND / TOTAL, 2)


async def test_a_catalogue_version_published_after_settlements_prices_the_next_one(stack: Stack) -> None:
    await prepared(stack)
    await determination(stack, "RD-001", WORKER, recognise=True)
    before = await ok(await signed(stack, "POST", SETTLEMENTS.format("H36001"), posting(stack, "JS-OLD-PRICE")))
    dearer = {
        "code": "XJ01DCC040",
        "name": "头孢呋辛酯片 0.25g",
        "kind": "drug",
        "category": "class_b",
        "unit": "片",
        "price_fen": 160,
        "valid_from": (today(stack) - timedelta(days=10)).isoformat(),
    }
    published = await stack.client.post(
        "/v1/regions/36/injury/catalogue/versions", json={"items": [dearer]}, headers=stack.token()
    )
    await ok(published)

    after = await ok(await signed(stack, "POST", SETTLEMENTS.format("H36001"), posting(stack, "JS-NEW-PRICE")))

    line = {s: next(x for x in r["lines"] if x["line_no"] == 1) for s, r in (("before", before), ("after", after))}
    assert (line["before"]["fund_fen"], line["before"]["self_pay_fen"]) == (1500, 300)  # 10 at 1.50 of 1.80
    assert (line["after"]["fund_fen"], line["after"]["self_pay_fen"]) == (1600, 200)  # 10 at 1.60 now


async def test_a_hospital_retrying_after_timeouts_gets_one_settlement_and_the_same_answer(stack: Stack) -> None:
    await prepared(stack)
    await determination(stack, "RD-001", WORKER, recognise=True)
    bus = gateway_bus(stack)
    body = posting(stack, "JS-RETRY")
    bus.timeout = 0.001  # the gateway gives up at once, as a hospital's client would; the service works on
    for _ in range(2):
        lost = await signed(stack, "POST", SETTLEMENTS.format("H36001"), body)
        assert lost.status_code in (200, 504), lost.text
    bus.timeout = 5.0

    answers = [await ok(await signed(stack, "POST", SETTLEMENTS.format("H36001"), body)) for _ in range(3)]

    assert answers[0] == answers[1] == answers[2]
    assert (answers[0]["status"], answers[0]["fund_fen"]) == ("settled", FUND)
    assert await stored_events(stack, "settlement-H36001-JS-RETRY") == ["SettlementPosted"]
    changed = await signed(
        stack, "POST", SETTLEMENTS.format("H36001"), body | {"declared_total_fen": TOTAL - 53, "lines": LINES[:3]}
    )
    assert changed.status_code == 409, changed.text
    assert changed.json()["type"].endswith("/settlement-conflict")
    assert await stored_events(stack, "settlement-H36001-JS-RETRY") == ["SettlementPosted"]


def gateway_bus(stack: Stack) -> Any:
    transport = stack.client._transport
    assert isinstance(transport, httpx.ASGITransport)
    return transport.app.state.bus  # type: ignore[attr-defined]


async def test_a_late_determination_resettles_held_settlements_through_the_network(stack: Stack) -> None:
    await prepared(stack)
    await determination(stack, "RD-LATE", WORKER, recognise=False)
    under_it = await ok(
        await signed(stack, "POST", SETTLEMENTS.format("H36001"), posting(stack, "JS-H1", ref="RD-LATE"))
    )
    none_shown = await ok(await signed(stack, "POST", SETTLEMENTS.format("H36001"), posting(stack, "JS-H2", ref="")))
    assert (under_it["status"], under_it["hold_reason"], under_it["fund_fen"]) == ("held", "pending", 0)
    assert (none_shown["status"], none_shown["hold_reason"]) == ("held", "no_determination")
    assert under_it["self_pay_fen"] == TOTAL

    await ok(
        await stack.client.post(
            "/v1/regions/36/injury/determinations/RD-LATE/decision",
            json={"outcome": "recognised"},
            headers=stack.token(),
        )
    )

    for number in ("JS-H1", "JS-H2"):

        async def resettled(number: str = number) -> dict[str, Any] | None:
            body: dict[str, Any] = await ok(await signed(stack, "GET", SETTLEMENTS.format("H36001") + f"/{number}"))
            return body if body["status"] == "resettled" else None

        done = await eventually(resettled)
        assert (done["fund_fen"], done["self_pay_fen"], done["determination_id"]) == (FUND, TOTAL - FUND, "RD-LATE")
        assert await stored_events(stack, f"settlement-H36001-{number}") == [
            "SettlementHeldAsSelfPay",
            "SettlementResettled",
        ]
    retry = await ok(await signed(stack, "POST", SETTLEMENTS.format("H36001"), posting(stack, "JS-H1", ref="RD-LATE")))
    assert retry == under_it  # a late retry of the posting still gets its first answer, and changes nothing
    period = {"first": (today(stack) - timedelta(days=30)).isoformat(), "last": today(stack).isoformat()}

    async def counted() -> dict[str, Any] | None:
        body: dict[str, Any] = await ok(
            await stack.client.get("/v1/regions/36/injury/figures", params=period, headers=stack.token())
        )
        return body if body["resettled_after_late_determination"] == 2 else None

    assert (await eventually(counted))["resettled_fund_fen"] == 2 * FUND


async def test_unsigned_forged_expired_and_replayed_requests_are_refused_and_store_nothing(stack: Stack) -> None:
    await prepared(stack)
    await determination(stack, "RD-001", WORKER, recognise=True)
    path = SETTLEMENTS.format("H36001")
    unsigned = await stack.client.post(path, json=posting(stack, "JS-A1"))
    forged = await signed(stack, "POST", path, posting(stack, "JS-A2"), key="not-the-key-of-h36001-at-all")
    expired = await signed(stack, "POST", path, posting(stack, "JS-A3"), at=datetime.now(UTC) - timedelta(minutes=6))
    other_hospitals_key = await signed(stack, "POST", path, posting(stack, "JS-A4"), key=KEYS["H36002"][0])

    for response, code in (
        (unsigned, "signature-missing"),
        (forged, "signature-invalid"),
        (expired, "signature-expired"),
    ):
        assert response.status_code == 401, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["type"].endswith(f"/{code}")
    assert other_hospitals_key.status_code == 401

    first = await signed(stack, "POST", path, posting(stack, "JS-A5"), message_id="m-once")
    assert first.status_code == 200, first.text
    replayed = await stack.client.post(path, content=first.request.content, headers=dict(first.request.headers))
    assert replayed.status_code == 401 and replayed.json()["type"].endswith("/signature-replayed")
    rotated = await signed(stack, "POST", path, posting(stack, "JS-A6"), key=KEYS["H36001"][1])
    assert rotated.status_code == 200, rotated.text  # the old key is still valid during the rotation

    for number in ("JS-A1", "JS-A2", "JS-A3", "JS-A4"):
        assert await stored_events(stack, f"settlement-H36001-{number}") == []
        missing = await stack.client.get(f"/v1/regions/36/injury/settlements/H36001/{number}", headers=stack.token())
        assert missing.status_code == 404
    assert await stored_events(stack, "settlement-H36001-JS-A5") == ["SettlementPosted"]

    # Another hospital's settlements: not through its path (403), not under its own code (404).
    assert (await signed(stack, "GET", f"{path}/JS-A5", hospital="H36002")).status_code == 403
    assert (await signed(stack, "POST", path, posting(stack, "JS-A7"), hospital="H36002")).status_code == 403
    assert (await signed(stack, "GET", SETTLEMENTS.format("H36002") + "/JS-A5", hospital="H36002")).status_code == 404
    # A hospital is no operator: with a token 403, signed but without one 401.
    hospital_token = {
        "Authorization": "Bearer " + issue_token(stack.settings.jwt_secret, kind="hospital", subject="H36001")
    }
    assert (await stack.client.get("/v1/regions/36/injury/agreements", headers=hospital_token)).status_code == 403
    assert (await signed(stack, "GET", "/v1/regions/36/injury/agreements")).status_code == 401


async def again(stack: Stack, sent: httpx.Response) -> httpx.Response:
    """The very request sent before, its bytes and headers captured: a replay."""
    return await stack.client.request(
        sent.request.method, sent.request.url, content=sent.request.content, headers=dict(sent.request.headers)
    )


def replay_refused(response: httpx.Response) -> bool:
    return response.status_code == 401 and response.json()["type"].endswith("/signature-replayed")


async def test_every_signed_request_is_taken_once_whatever_it_asks(stack: Stack) -> None:
    """A write's message id is its command's id, which the service takes once in the transaction that
    decides it; a read's is kept in the gateways' shared bucket. Either way a second use is refused."""
    await prepared(stack)
    await determination(stack, "RD-001", WORKER, recognise=True)
    path = SETTLEMENTS.format("H36001")
    day = (today(stack) - timedelta(days=3)).isoformat()

    at_once = await asyncio.gather(
        *(signed(stack, "POST", path, posting(stack, "JS-O1"), message_id="m-at-once") for _ in range(2))
    )
    reused = await signed(stack, "POST", path, posting(stack, "JS-O2"), message_id="m-at-once")
    refused = await signed(stack, "POST", path, posting(stack, "JS-O3", declared_total_fen=TOTAL + 1))
    reversal = await signed(stack, "POST", f"{path}/JS-O1/reversal", {"reason": "billed twice"})
    totals = {"day": day, "count": 1, "total_fen": TOTAL, "fund_fen": FUND}
    reconciled = await signed(stack, "POST", "/v1/regions/36/injury/hospitals/H36001/reconciliations", totals)
    read = await signed(stack, "GET", f"{path}/JS-O1")

    assert sorted(r.status_code for r in at_once) == [200, 401]
    assert replay_refused(next(r for r in at_once if r.status_code == 401))
    assert replay_refused(reused)  # another body under a used id: refused too, nothing decided
    assert await stored_events(stack, "settlement-H36001-JS-O2") == []
    assert refused.status_code == 422, refused.text  # a refusal is an answer too: stored, and taken once
    for first in (refused, reversal, reconciled, read):
        assert first.status_code in (200, 422), first.text
        assert replay_refused(await again(stack, first)), first.request.url
    assert await stored_events(stack, "settlement-H36001-JS-O1") == ["SettlementPosted", "SettlementReversed"]
    assert (await ok(await signed(stack, "GET", f"{path}/JS-O1")))["status"] == "reversed"


async def test_lines_that_cannot_be_settled_are_refused_naming_the_line(stack: Stack) -> None:
    await prepared(stack)
    await determination(stack, "RD-001", WORKER, recognise=True)
    path = SETTLEMENTS.format("H36001")
    unknown = [LINES[0], {**LINES[1], "item_code": "NOPE123"}]
    negative = [LINES[0], {**LINES[1], "amount_fen": -1000}]

    bad_code = await signed(stack, "POST", path, posting(stack, "JS-B1", lines=unknown, declared_total_fen=2800))
    bad_amount = await signed(stack, "POST", path, posting(stack, "JS-B2", lines=negative, declared_total_fen=800))
    bad_total = await signed(stack, "POST", path, posting(stack, "JS-B3", declared_total_fen=TOTAL + 1))

    assert bad_code.status_code == 422 and bad_code.json()["type"].endswith("/lines-rejected")
    assert "line 2 (NOPE123): the code is in no work-injury catalogue" in bad_code.json()["detail"]
    assert bad_amount.status_code == 422
    assert "line 2 (110200001): amount must be above zero fen" in bad_amount.json()["detail"]
    assert bad_total.status_code == 422 and bad_total.json()["type"].endswith("/total-mismatch")
    assert f"{TOTAL + 1} fen" in bad_total.json()["detail"]
    for number in ("JS-B1", "JS-B2", "JS-B3"):
        response = await stack.client.get(f"/v1/regions/36/injury/settlements/H36001/{number}", headers=stack.token())
        assert response.status_code == 404
    corrected = await signed(stack, "POST", path, posting(stack, "JS-B1"))
    assert corrected.status_code == 200 and corrected.json()["status"] == "settled"  # the number stayed free
    reversal = {"reason": "billed twice"}
    reversed_ = await ok(await signed(stack, "POST", f"{path}/JS-B1/reversal", reversal))
    assert (reversed_["status"], reversed_["fund_fen"]) == ("reversed", FUND)

    service_day = (today(stack) - timedelta(days=3)).isoformat()
    suspension = {"effective_from": service_day, "reason": "inflated bills under review"}
    await ok(
        await stack.client.post(
            "/v1/regions/36/injury/agreements/H36002/suspension", json=suspension, headers=stack.token()
        )
    )
    suspended = await signed(stack, "POST", SETTLEMENTS.format("H36002"), posting(stack, "JS-B4"), hospital="H36002")
    assert suspended.status_code == 422 and suspended.json()["type"].endswith("/agreement-not-active")
    registry = await ok(
        await stack.client.get("/v1/regions/36/injury/agreements", params={"on": service_day}, headers=stack.token())
    )
    assert [(a["hospital_id"], a["status"]) for a in registry] == [("H36001", "active"), ("H36002", "suspended")]
    period = {"first": (today(stack) - timedelta(days=30)).isoformat(), "last": today(stack).isoformat()}

    async def rejected() -> dict[str, Any] | None:
        body: dict[str, Any] = await ok(
            await stack.client.get("/v1/regions/36/injury/figures", params=period, headers=stack.token())
        )
        return body["rejected_lines_by_reason"] or None

    assert await eventually(rejected) == {"unknown_item": 1, "invalid_amount": 1}


async def test_reconciliation_flags_the_figures_that_differ(stack: Stack) -> None:
    await prepared(stack)
    await determination(stack, "RD-001", WORKER, recognise=True)
    await ok(await signed(stack, "POST", SETTLEMENTS.format("H36001"), posting(stack, "JS-R1")))
    day = (today(stack) - timedelta(days=3)).isoformat()
    path = "/v1/regions/36/injury/hospitals/H36001/reconciliations"

    matched = await ok(
        await signed(stack, "POST", path, {"day": day, "count": 1, "total_fen": TOTAL, "fund_fen": FUND})
    )
    flagged = await ok(
        await signed(stack, "POST", path, {"day": day, "count": 2, "total_fen": TOTAL, "fund_fen": FUND + 100})
    )

    assert matched["matched"] is True and matched["mismatches"] == []
    assert flagged["matched"] is False
    assert flagged["mismatches"] == [
        {"figure": "count", "fund_value": 1, "hospital_value": 2, "difference": 1},
        {"figure": "fund_fen", "fund_value": FUND, "hospital_value": FUND + 100, "difference": 100},
    ]
    listed = await ok(
        await stack.client.get(
            "/v1/regions/36/injury/reconciliations", params={"mismatched_only": "true"}, headers=stack.token()
        )
    )
    assert [(r["hospital_id"], r["day"], len(r["mismatches"])) for r in listed] == [("H36001", day, 2)]


async def test_a_determination_left_unaccepted_breaches_its_limit_when_the_clock_passes_it(stack: Stack) -> None:
    application = {
        "determination_id": "RD-SLOW",
        "citizen_id": WORKER,
        "employer_id": "91360102MA35L0XC0X",
        "injury_date": (today(stack) - timedelta(days=2)).isoformat(),
        "applicant": "worker",
    }
    applied = await ok(
        await stack.client.post("/v1/regions/36/injury/determinations", json=application, headers=stack.token()), 201
    )
    assert (applied["open_stage"], applied["stage_limit_days"], applied["breached"]) == ("acceptance", 15, [])
    shown = await ok(await stack.client.get("/v1/regions/36/injury/determinations/RD-SLOW", headers=stack.token()))
    [timer] = shown["timers"]
    due = datetime.fromisoformat(timer["due_at"])
    # 15 calendar days; a period ending on a rest day ends on the next working day (up to the
    # Spring Festival's week), so the instant depends on today's date: go just past the one stored.
    assert 15 <= (local_date(due) - today(stack)).days <= 15 + 9, timer
    stack.clock.set(due + timedelta(minutes=1))

    async def breached() -> dict[str, Any] | None:
        body: dict[str, Any] = await ok(
            await stack.client.get("/v1/regions/36/injury/determinations/RD-SLOW", headers=stack.token())
        )
        return body if body["breached"] else None

    found = await eventually(breached)
    assert found["breached"] == ["acceptance"]
    assert [(t["kind"], t["status"]) for t in found["timers"]] == [("determination:acceptance", "fired")]
    pool = stack.services[("injury", "36")].resources.pool
    assert await pool.fetchval("SELECT count(*) FROM events WHERE event_type = 'DeterminationDeadlineBreached'") == 1


async def test_a_worker_sees_only_their_own_settlements(stack: Stack) -> None:
    await prepared(stack)
    await determination(stack, "RD-001", WORKER, recognise=True)
    await determination(stack, "RD-002", OTHER, recognise=True)
    await ok(await signed(stack, "POST", SETTLEMENTS.format("H36001"), posting(stack, "JS-W1")))
    await ok(await signed(stack, "POST", SETTLEMENTS.format("H36002"), posting(stack, "JS-W2"), hospital="H36002"))
    await ok(
        await signed(stack, "POST", SETTLEMENTS.format("H36001"), posting(stack, "JS-W3", citizen=OTHER, ref="RD-002"))
    )

    def me(citizen: str) -> dict[str, str]:
        token = issue_token(stack.settings.jwt_secret, kind="citizen", subject="-", citizen_id=citizen)
        return {"Authorization": f"Bearer {token}"}

    async def mine(citizen: str, expected: int) -> list[Any] | None:
        body: list[Any] = await ok(await stack.client.get("/v1/regions/36/injury/my-settlements", headers=me(citizen)))
        return body if len(body) == expected else None

    worker = await eventually(lambda: mine(WORKER, 2))
    other = await eventually(lambda: mine(OTHER, 1))
    assert sorted((s["hospital_id"], s["hospital_settlement_no"]) for s in worker) == [
        ("H36001", "JS-W1"),
        ("H36002", "JS-W2"),
    ]
    assert [(s["hospital_settlement_no"], s["fund_fen"], s["self_pay_fen"]) for s in other] == [
        ("JS-W3", FUND, TOTAL - FUND)
    ]
    assert all("citizen_id" not in s and "person_ref" not in s for s in worker + other)
    assert (await stack.client.get("/v1/regions/36/injury/my-settlements", headers=stack.token())).status_code == 403
