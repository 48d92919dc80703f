"""Tokens from the agency's identity provider, verified with its published keys (JWKS); JWT misuse refused."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI

from contracts.envelope import Actor
from gateway.auth import Caller, issue_token
from gateway.config import GatewaySettings
from gateway.problems import install

ISSUER = "https://idp.hrss.example/realms/jiangxi"
SECRET = "a-development-secret-of-at-least-32-bytes"


@pytest.fixture
def key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def jwks_url(tmp_path: Path, key: rsa.RSAPrivateKey) -> Iterator[str]:
    """The provider's key set, served over HTTP on loopback as an identity provider publishes it."""
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    (tmp_path / "jwks.json").write_text(json.dumps({"keys": [{**public, "kid": "k1", "use": "sig", "alg": "RS256"}]}))
    handler = partial(SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/jwks.json"
    server.shutdown()
    server.server_close()


def app_with(settings: GatewaySettings) -> FastAPI:
    app = FastAPI()
    app.state.settings = settings
    install(app)

    @app.get("/me")
    async def me(actor: Caller) -> Actor:
        return actor

    return app


def provider_token(key: Any, **overrides: Any) -> str:
    now = datetime.now(UTC)
    claims = {
        "sub": "staff-0042",
        "kind": "operator",
        "region": "36",
        "aud": "yiwang-gateway",
        "iss": ISSUER,
        "iat": now,
        "exp": now + timedelta(minutes=5),
    } | overrides
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": "k1"})


async def status_of(app: FastAPI, token: str) -> tuple[int, dict[str, Any]]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        r = await client.get("/me", headers={"Authorization": f"Bearer {token}"})
        return r.status_code, r.json()


async def test_a_provider_token_is_verified_with_the_published_key(key: rsa.RSAPrivateKey, jwks_url: str) -> None:
    app = app_with(GatewaySettings(jwks_url=jwks_url, jwt_issuer=ISSUER, jwt_secret=SECRET))
    status, body = await status_of(app, provider_token(key))
    assert (status, body.get("id"), body.get("region")) == (200, "staff-0042", "36"), body


@pytest.mark.parametrize(
    "overrides",
    [
        {"iss": "https://someone-else.example"},
        {"aud": "another-service"},
        {"exp": datetime.now(UTC) - timedelta(minutes=1)},
    ],
)
async def test_the_wrong_issuer_audience_or_an_expired_token_is_401(
    key: rsa.RSAPrivateKey, jwks_url: str, overrides: dict[str, Any]
) -> None:
    app = app_with(GatewaySettings(jwks_url=jwks_url, jwt_issuer=ISSUER, jwt_secret=SECRET))
    status, body = await status_of(app, provider_token(key, **overrides))
    assert status == 401
    assert body["type"].endswith("/unauthorized")


async def test_a_token_signed_by_another_key_is_401(jwks_url: str) -> None:
    app = app_with(GatewaySettings(jwks_url=jwks_url, jwt_issuer=ISSUER, jwt_secret=SECRET))
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    assert (await status_of(app, provider_token(stranger)))[0] == 401


async def test_alg_none_and_shared_secret_tokens_are_refused_once_the_provider_is_in_charge(
    key: rsa.RSAPrivateKey, jwks_url: str
) -> None:
    app = app_with(GatewaySettings(jwks_url=jwks_url, jwt_issuer=ISSUER, jwt_secret=SECRET, allow_shared_secret=False))
    unsigned = jwt.encode(
        {"sub": "x", "kind": "operator", "region": "36", "aud": "yiwang-gateway"}, None, algorithm="none"
    )
    shared = issue_token(SECRET, kind="operator", subject="dev", region="36")
    assert (await status_of(app, unsigned))[0] == 401
    assert (await status_of(app, shared))[0] == 401
    assert (await status_of(app, provider_token(key)))[0] == 200


def test_a_provider_without_an_issuer_is_a_configuration_error(jwks_url: str) -> None:
    with pytest.raises(ValueError, match="ISSUER"):
        GatewaySettings(jwks_url=jwks_url)
