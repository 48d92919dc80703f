"""Hospital request signatures at the gateway: who is let in, with which refusal, and the key settings."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from pydantic import ValidationError

from contracts.envelope import Actor
from contracts.signing import sign
from gateway import problems
from gateway.config import GatewaySettings
from gateway.hospital_auth import SignedHospital

NEW = "h1-new-key-0123456789abcdef"
OLD = "h1-old-key-0123456789abcdef"
BODY = json.dumps({"hospital_settlement_no": "JS-1"}).encode()


class MemoryReplayGuard:
    def __init__(self) -> None:
        self.seen: set[tuple[str, str]] = set()

    async def first_use(self, hospital_id: str, message_id: str) -> bool:
        if (hospital_id, message_id) in self.seen:
            return False
        self.seen.add((hospital_id, message_id))
        return True


@pytest.fixture
def guard() -> MemoryReplayGuard:
    return MemoryReplayGuard()


@pytest.fixture
async def client(guard: MemoryReplayGuard) -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()
    app.state.settings = GatewaySettings(hospital_keys={"H1": [NEW, OLD], "H2": ["h2-key-0123456789abcdefghij"]})
    app.state.replay_guard = guard
    problems.install(app)

    @app.post("/hospitals/{hospital_id}/settlements")
    async def post(hospital_id: str, request: Request, hospital: SignedHospital) -> dict[str, Any]:
        return {
            "hospital": hospital.actor.model_dump(mode="json"),
            "body": (await request.body()).decode(),
            "command_id": str(hospital.command_id),
        }

    @app.get("/hospitals/{hospital_id}/settlements/{number}")
    async def get(hospital_id: str, number: str, hospital: SignedHospital) -> dict[str, Any]:
        return {"hospital": hospital.actor.id, "number": number}

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as c:
        yield c


def headers(
    *,
    key: str = NEW,
    hospital: str = "H1",
    at: datetime | None = None,
    mid: str = "m-1",
    path: str = "/hospitals/H1/settlements",
    method: str = "POST",
) -> dict[str, str]:
    timestamp = int((at or datetime.now(UTC)).timestamp())
    body = BODY if method == "POST" else b""
    signature = sign(key.encode(), timestamp=timestamp, message_id=mid, method=method, path=path, body=body)
    return {"X-Hospital-Id": hospital, "X-Timestamp": str(timestamp), "X-Message-Id": mid, "X-Signature": signature}


async def post(
    client: httpx.AsyncClient, sent: dict[str, str], path: str = "/hospitals/H1/settlements"
) -> httpx.Response:
    return await client.post(path, content=BODY, headers=sent)


def refusal(response: httpx.Response) -> str:
    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert "WWW-Authenticate" in response.headers
    kind: str = response.json()["type"].rsplit("/", 1)[-1]
    return kind


async def test_a_signed_request_names_its_hospital_and_keeps_its_raw_body(client: httpx.AsyncClient) -> None:
    response = await post(client, headers())
    assert response.status_code == 200, response.text
    assert Actor.model_validate(response.json()["hospital"]) == Actor(kind="hospital", id="H1")
    assert response.json()["body"] == BODY.decode()


async def test_both_keys_are_accepted_while_a_hospital_rotates(client: httpx.AsyncClient) -> None:
    assert (await post(client, headers(key=NEW, mid="m-new"))).status_code == 200
    assert (await post(client, headers(key=OLD, mid="m-old"))).status_code == 200


async def test_each_kind_of_bad_request_gets_its_own_refusal(client: httpx.AsyncClient) -> None:
    good = headers()
    assert refusal(await post(client, {})) == "signature-missing"
    assert refusal(await post(client, {k: v for k, v in good.items() if k != "X-Hospital-Id"})) == "signature-missing"
    assert refusal(await post(client, {k: v for k, v in good.items() if k != "X-Signature"})) == "signature-missing"
    assert refusal(await post(client, headers(key="someone-elses-key-0123456789"))) == "signature-invalid"
    assert refusal(await post(client, headers(hospital="H2"))) == "signature-invalid"  # H1's signature, H2's name
    assert refusal(await post(client, headers(hospital="H9"))) == "signature-invalid"  # no such hospital
    assert refusal(await post(client, {**good, "X-Timestamp": "yesterday"})) == "signature-invalid"
    tampered = await client.post("/hospitals/H1/settlements", content=BODY + b" ", headers=good)
    assert refusal(tampered) == "signature-invalid"
    too_old = headers(at=datetime.now(UTC) - timedelta(minutes=6))
    assert refusal(await post(client, too_old)) == "signature-expired"
    assert refusal(await post(client, headers(mid="m" * 129))) == "signature-invalid"


async def test_a_reads_message_id_is_used_once(client: httpx.AsyncClient) -> None:
    path, other_path = "/hospitals/H1/settlements/JS-1", "/hospitals/H2/settlements/JS-1"
    sent = headers(mid="m-once", method="GET", path=path)
    assert (await client.get(path, headers=sent)).status_code == 200
    assert refusal(await client.get(path, headers=sent)) == "signature-replayed"
    other = headers(mid="m-once", hospital="H2", key="h2-key-0123456789abcdefghij", method="GET", path=other_path)
    assert (await client.get(other_path, headers=other)).status_code == 200  # ids are per hospital


async def test_a_writes_message_id_is_its_commands_id_which_the_service_takes_once(
    client: httpx.AsyncClient, guard: MemoryReplayGuard
) -> None:
    """A write is not checked in the bucket: its command carries an id made from the hospital and the
    message id, and the service refuses its second use in the transaction that stores the first
    (tests/e2e/test_injury.py)."""
    sent = headers(mid="m-once")
    first, second = await post(client, sent), await post(client, sent)
    other = headers(mid="m-once", hospital="H2", key="h2-key-0123456789abcdefghij", path="/hospitals/H2/settlements")
    another = await post(client, other, "/hospitals/H2/settlements")
    renewed = await post(client, headers(mid="m-twice"))

    assert first.json()["command_id"] == second.json()["command_id"]
    assert len({first.json()["command_id"], another.json()["command_id"], renewed.json()["command_id"]}) == 3
    assert guard.seen == set()


async def test_the_signed_path_includes_the_query_string(client: httpx.AsyncClient) -> None:
    path = "/hospitals/H1/settlements?dry=1"
    assert (await post(client, headers(path=path), path)).status_code == 200
    assert refusal(await post(client, headers(mid="m-2"), path)) == "signature-invalid"


def test_hospital_keys_come_from_json_and_are_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("YIWANG_HOSPITAL_KEYS", json.dumps({"H36001": [NEW, OLD]}))
    assert GatewaySettings().hospital_keys == {"H36001": [NEW, OLD]}
    for bad in ({"H-1": [NEW]}, {"H1": []}, {"H1": ["short"]}, {"H1": [NEW, OLD, NEW]}):
        with pytest.raises(ValidationError) as refused:
            GatewaySettings(hospital_keys=bad)
        assert NEW not in str(refused.value) and "short" not in str(refused.value)
