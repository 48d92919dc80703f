"""The headers a command route reads itself (X-Channel, Idempotency-Key), through the real gateway
app and real NATS to a responder standing in for the service: what reaches the service, and what a
bad header gets instead (a client error; nothing is sent)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg

from gateway.app import make_app
from gateway.auth import issue_token
from gateway.config import GatewaySettings
from tests.conftest import Servers

EMPLOYER = {
    "credit_code": "91350100M000100Y43",
    "name": "Headers Co",
    "division_code": "360102",
    "industry_code": "C3110",
    "established_on": "2026-01-01",
}


class Responder:
    """The enrolment service of region 36 as far as the gateway can tell: records each envelope."""

    def __init__(self) -> None:
        self.envelopes: list[dict[str, Any]] = []

    async def answer(self, msg: Msg) -> None:
        self.envelopes.append(orjson.loads(msg.data))
        await msg.respond(orjson.dumps({"ok": True, "result": {"employer_id": "e", "status": "registered"}}))


@pytest.fixture
async def gateway(
    servers: Servers, nc: NatsClient, subject_root: str
) -> AsyncIterator[tuple[httpx.AsyncClient, Responder]]:
    settings = GatewaySettings(nats_url=servers.nats_url, subject_root=subject_root)
    responder = Responder()
    await nc.subscribe(f"{subject_root}.36.enrolment.cmd.register_employer", cb=responder.answer)
    await nc.flush()
    app = make_app(settings, install_tracing=False)
    token = issue_token(settings.jwt_secret, kind="operator", subject="clerk-1", region="36")
    async with contextlib.AsyncExitStack() as stack:
        await stack.enter_async_context(app.router.lifespan_context(app))
        client = await stack.enter_async_context(
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app),
                base_url="http://gateway",
                headers={"Authorization": f"Bearer {token}"},
            )
        )
        yield client, responder


async def register(client: httpx.AsyncClient, body: dict[str, Any], **headers: str) -> httpx.Response:
    return await client.post("/v1/regions/36/employers", json=body, headers=headers)


async def test_the_channel_header_reaches_the_service_and_web_hall_is_the_default(
    gateway: tuple[httpx.AsyncClient, Responder],
) -> None:
    client, responder = gateway

    at_counter = await register(client, EMPLOYER, **{"X-Channel": "counter"})
    unnamed = await register(client, EMPLOYER)

    assert (at_counter.status_code, unnamed.status_code) == (201, 201)
    assert [e["channel"] for e in responder.envelopes] == ["counter", "web_hall"]


async def test_one_idempotency_key_is_one_command_and_its_fingerprint_tells_the_bodies_apart(
    gateway: tuple[httpx.AsyncClient, Responder],
) -> None:
    client, responder = gateway
    other = {**EMPLOYER, "name": "Headers Co (renamed)"}

    await register(client, EMPLOYER, **{"Idempotency-Key": "register-0001"})
    await register(client, EMPLOYER, **{"Idempotency-Key": "register-0001"})
    await register(client, other, **{"Idempotency-Key": "register-0001"})
    await register(client, EMPLOYER)

    first, retry, changed, keyless = responder.envelopes
    assert first["id"] == retry["id"] == changed["id"]
    assert first["fingerprint"] == retry["fingerprint"] != changed["fingerprint"]
    assert first["fingerprint"] is not None
    assert keyless.get("fingerprint") is None
    assert keyless["id"] != first["id"]


@pytest.mark.parametrize(
    ("header", "value"),
    [("X-Channel", "fax"), ("Idempotency-Key", "k1")],
    ids=["an unknown channel", "a key too short to be unique"],
)
async def test_a_bad_header_is_a_client_error_naming_it_and_nothing_is_sent(
    gateway: tuple[httpx.AsyncClient, Responder], header: str, value: str
) -> None:
    client, responder = gateway

    response = await register(client, EMPLOYER, **{header: value})

    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert header.lower() in response.text
    assert responder.envelopes == []
