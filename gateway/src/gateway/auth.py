"""Who is calling: bearer JWTs for citizens, employers, operators; every route checks the caller.

Development and tests sign tokens with a shared secret (HS256, `yiwang token`). An agency's own
identity provider plugs in through its published keys: with `YIWANG_JWKS_URL` set, RS256/ES256
tokens are verified against the key their `kid` names (keys cached, refetched for an unknown `kid`),
and `YIWANG_JWT_ISSUER` is required; `YIWANG_ALLOW_SHARED_SECRET=false` then turns HS256 off.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import jwt
from fastapi import Depends, Header, Request
from fastapi.openapi.models import HTTPBearer as HTTPBearerModel
from fastapi.security.base import SecurityBase

from contracts.envelope import Actor, ActorKind, Channel
from contracts.identifiers import check_citizen_id, pseudonym
from contracts.replies import problem
from gateway.problems import ProblemError

AUDIENCE = "yiwang-gateway"
ASYMMETRIC = ("RS256", "ES256")
ISSUER = "yiwang-dev"


def issue_token(
    secret: str,
    *,
    kind: str,
    subject: str,
    region: str | None = None,
    role: str | None = None,
    citizen_id: str | None = None,
    ttl: timedelta = timedelta(hours=8),
) -> str:
    now = datetime.now(UTC)
    claims: dict[str, Any] = {
        "sub": subject,
        "kind": kind,
        "aud": AUDIENCE,
        "iss": ISSUER,
        "iat": now,
        "exp": now + ttl,
    }
    if region:
        claims["region"] = region
    if role:
        claims["role"] = role
    if citizen_id:
        claims["cid"] = citizen_id
    return jwt.encode(claims, secret, algorithm="HS256")


def _unauthorized(detail: str) -> ProblemError:
    return ProblemError(problem("unauthorized", "Unauthorized", 401, detail), {"WWW-Authenticate": "Bearer"})


class BearerCaller(SecurityBase):
    """The verified actor of a request, from its bearer token; 401 without a valid one.

    OpenAPI shows it as the `bearer` security scheme (a JWT in `Authorization`), which clients and
    the docs' Authorize button understand. The header is read here, not declared as a parameter:
    FastAPI's handling of each declared header cost the gateway about 20 us a request
    (docs/performance.md).
    """

    def __init__(self) -> None:
        self.model = HTTPBearerModel(
            bearerFormat="JWT",
            description="A token of the agency's identity provider (`yiwang token` in development): "
            "citizens, employers, operators and feeds.",
        )
        self.scheme_name = "bearer"

    async def __call__(self, request: Request) -> Actor:
        return await caller(request, request.headers.get("authorization"))


async def caller(request: Request, authorization: str | None) -> Actor:
    """The verified actor of this request; 401 without a valid token.

    A citizen's token carries the citizen ID number in `cid`; the actor is then named by its
    pseudonym, and the number itself is kept on the request only (never logged or traced).
    """
    if not authorization or not authorization.startswith("Bearer "):
        raise _unauthorized("a bearer token is required")
    try:
        claims = await _verified_claims(request, authorization[7:])
        kind = ActorKind(claims["kind"])
        subject = claims["sub"]
        if kind is ActorKind.CITIZEN:
            citizen_id = check_citizen_id(claims["cid"])
            request.state.citizen_id = citizen_id
            subject = pseudonym(citizen_id, salt=request.app.state.settings.pseudonym_salt.encode())
        actor = Actor(kind=kind, id=subject, region=claims.get("region"), role=claims.get("role"))
        request.state.actor = actor  # for the audit record of this request
        return actor
    except (jwt.PyJWTError, ValueError, KeyError) as error:
        raise _unauthorized(f"invalid token: {type(error).__name__}") from error


class VerifiedTokens:
    """Tokens already verified by this process, until they expire: a client sends the same bearer
    token with every request, and checking its signature each time was an eighth of the gateway's
    CPU (docs/performance.md). Bounded; the oldest entries go first."""

    def __init__(self, size: int = 10_000) -> None:
        self.size = size
        self._claims: dict[str, dict[str, Any]] = {}

    def get(self, token: str) -> dict[str, Any] | None:
        claims = self._claims.get(token)
        if claims is not None and claims["exp"] <= datetime.now(UTC).timestamp():
            del self._claims[token]
            return None
        return claims

    def put(self, token: str, claims: dict[str, Any]) -> None:
        if len(self._claims) >= self.size:
            del self._claims[next(iter(self._claims))]
        self._claims[token] = claims


async def _verified_claims(request: Request, token: str) -> dict[str, Any]:
    """The token's claims if its signature, audience, expiry (and, from the provider, issuer) hold."""
    cache: VerifiedTokens | None = getattr(request.app.state, "verified_tokens", None)
    if cache is None:
        cache = request.app.state.verified_tokens = VerifiedTokens()
    claims = cache.get(token)
    if claims is None:
        claims = await _verify(request, token)
        cache.put(token, claims)
    return claims


async def _verify(request: Request, token: str) -> dict[str, Any]:
    settings = request.app.state.settings
    algorithm = jwt.get_unverified_header(token).get("alg")
    if algorithm in ASYMMETRIC and settings.jwks_url:
        keys = _jwks_client(request)
        signing_key = await asyncio.to_thread(keys.get_signing_key_from_jwt, token)
        claims: dict[str, Any] = jwt.decode(
            token,
            signing_key.key,
            algorithms=list(ASYMMETRIC),
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
            options={"require": ["exp", "sub", "iss"]},
        )
        return claims
    if algorithm != "HS256" or not settings.allow_shared_secret:
        raise jwt.InvalidAlgorithmError(f"tokens signed with {algorithm} are not accepted here")
    claims = jwt.decode(
        token, settings.jwt_secret, algorithms=["HS256"], audience=AUDIENCE, options={"require": ["exp", "sub"]}
    )
    return claims


def _jwks_client(request: Request) -> jwt.PyJWKClient:
    """One cached key set per gateway process (refetched when a token names an unknown key)."""
    client: jwt.PyJWKClient | None = getattr(request.app.state, "jwks", None)
    if client is None:
        client = jwt.PyJWKClient(request.app.state.settings.jwks_url, cache_keys=True, lifespan=3600, timeout=5)
        request.app.state.jwks = client
    return client


def forbidden(detail: str) -> ProblemError:
    return ProblemError(problem("forbidden", "Forbidden", 403, detail))


def require_operator_or(region: str, actor: Actor, *, employer: str | None = None, system: bool = False) -> None:
    """An operator of the region; or the employer itself; or (for feeds) the system: a feed's token
    names the one region it feeds."""
    if actor.kind is ActorKind.EMPLOYER and employer is not None and actor.id == employer:
        return
    if actor.kind is ActorKind.SYSTEM and system:
        if actor.region != region:
            raise ProblemError(
                problem(
                    "forbidden", "Forbidden", 403, f"a feed token of region {actor.region} cannot post into {region}"
                )
            )
        return
    require_operator_of(region, actor)


def require_operator_of(region: str, actor: Actor) -> None:
    """Operators act only in their own region."""
    if actor.kind is not ActorKind.OPERATOR:
        raise ProblemError(problem("forbidden", "Forbidden", 403, "operators only"))
    if actor.region != region:
        raise ProblemError(
            problem("forbidden", "Forbidden", 403, f"an operator of region {actor.region} cannot act in {region}")
        )


Caller = Annotated[Actor, Depends(BearerCaller())]
ChannelHeader = Annotated[Channel, Header(alias="x-channel", description="Where the request came in.")]
"""The X-Channel header, a parameter of the route itself (default web_hall at each route), not a
dependency: each dependency FastAPI solves per request cost the gateway about 30 us."""
