"""Commands and queries from HTTP to the right region's service over NATS, with clear timeouts."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import nats.errors
from nats.aio.client import Client as NatsClient
from pydantic import BaseModel, ValidationError

from contracts.codec import encode
from contracts.envelope import Actor, Channel, envelope_for
from contracts.replies import Reply, problem
from contracts.subjects import Subjects
from gateway.problems import ProblemError
from runtime.messaging import request


class ServiceBus:
    def __init__(self, nc: NatsClient, subjects: Subjects, *, timeout: float) -> None:
        self.nc = nc
        self.subjects = subjects
        self.timeout = timeout
        self._in_flight: set[UUID] = set()

    async def send(
        self,
        *,
        region: str,
        service: str,
        name: str,
        data: BaseModel,
        actor: Actor,
        channel: Channel,
        kind: str = "cmd",
        message_id: UUID | None = None,
        correlation_id: UUID | None = None,
        fingerprint: str | None = None,
        used_before: Callable[[], ProblemError] | None = None,
    ) -> Any:
        """Send and wait for the reply; a refusal becomes a ProblemError, silence a 503/504.
        `fingerprint`: the request a command's Idempotency-Key came with (see `routes.common`).

        A command whose id is already in flight from this gateway is answered 409 at once: the first
        is still running, and its outcome is what a later retry with the same key gets.
        `used_before`: the refusal when the command's id is single use and came before (in flight, or
        answered: the service marks a stored reply `replayed`), instead of the first one's outcome.
        """
        claimed = message_id if kind == "cmd" else None
        if claimed is not None:
            if claimed in self._in_flight:
                if used_before is not None:
                    raise used_before()
                raise ProblemError(
                    problem(
                        "idempotency-key-in-use",
                        "A request with this Idempotency-Key is still running",
                        409,
                        "the first request with this key has not finished; retry shortly for its outcome",
                    ),
                    {"Retry-After": "1"},
                )
            self._in_flight.add(claimed)
        try:
            reply = await self._send(
                region, service, name, data, actor, channel, kind, message_id, correlation_id, fingerprint
            )
        finally:
            if claimed is not None:
                self._in_flight.discard(claimed)
        if reply.replayed and used_before is not None:
            raise used_before()
        if not reply.ok:
            raise ProblemError(reply.problem or problem("internal", "Internal error", 500))
        return reply.result

    async def _send(
        self,
        region: str,
        service: str,
        name: str,
        data: BaseModel,
        actor: Actor,
        channel: Channel,
        kind: str,
        message_id: UUID | None,
        correlation_id: UUID | None,
        fingerprint: str | None,
    ) -> Reply:
        envelope = envelope_for(
            data,
            service=service,
            message=name,
            region=region,
            actor=actor,
            channel=channel,
            time=datetime.now(UTC),
            correlationid=correlation_id or uuid4(),
            id=message_id,
            fingerprint=fingerprint,
        )
        build = self.subjects.command if kind == "cmd" else self.subjects.query
        subject = build(region, service, name)
        try:
            raw = await request(self.nc, subject, encode(envelope), timeout=self.timeout)
        except nats.errors.NoRespondersError as error:
            raise ProblemError(
                problem("service-unavailable", "Service unavailable", 503, f"no {service} service in region {region}"),
                {"Retry-After": "5"},
            ) from error
        except (nats.errors.TimeoutError, TimeoutError) as error:
            raise ProblemError(
                problem(
                    "service-timeout",
                    "The service did not answer in time",
                    504,
                    f"{service} in region {region} did not answer within {self.timeout}s; "
                    "retry with the same Idempotency-Key to get the outcome",
                )
            ) from error
        try:
            return Reply.model_validate_json(raw)
        except ValidationError as error:
            raise ProblemError(
                problem("bad-reply", "The service answered something unreadable", 502, f"{service} in region {region}")
            ) from error
