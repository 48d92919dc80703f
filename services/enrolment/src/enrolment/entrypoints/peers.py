"""Asking the enrolment services of other regions (pooling areas) over NATS."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from uuid import uuid4

import nats.errors
from nats.aio.client import Client as NatsClient

from contracts.codec import encode
from contracts.enrolment.commands import ActivePension
from contracts.envelope import SYSTEM_ACTOR, Channel, envelope_for
from contracts.replies import Reply
from contracts.subjects import Subjects
from runtime.clock import Clock
from runtime.messaging import request


class PensionCheckUnavailableError(Exception):
    def __init__(self, region: str) -> None:
        super().__init__(
            f"cannot confirm that region {region} holds no active pension enrolment for this person; try again later"
        )


class NatsPensionRegistry:
    """Asks every other region whether the person holds an active pension enrolment there this month.

    A region that does not answer makes the check fail closed: enrolling could create the double
    enrolment the rule forbids.
    """

    def __init__(
        self,
        nc: NatsClient,
        subjects: Subjects,
        clock: Clock,
        *,
        region: str,
        peers: Sequence[str],
        timeout: float = 2.0,
    ) -> None:
        self.nc = nc
        self.subjects = subjects
        self.clock = clock
        self.region = region
        self.peers = [p for p in peers if p != region]
        self.timeout = timeout

    async def _ask(self, peer: str, person_ref: str, month: str) -> bool:
        envelope = envelope_for(
            ActivePension(person_ref=person_ref, month=month),
            service="enrolment",
            message="active_pension",
            region=peer,
            actor=SYSTEM_ACTOR,
            channel=Channel.SYSTEM,
            time=self.clock.now(),
            correlationid=uuid4(),
        )
        subject = self.subjects.query(peer, "enrolment", "active_pension")
        try:
            raw = await request(self.nc, subject, encode(envelope), timeout=self.timeout)
        except (nats.errors.NoRespondersError, nats.errors.TimeoutError, TimeoutError) as error:
            raise PensionCheckUnavailableError(peer) from error
        reply = Reply.model_validate_json(raw)
        if not reply.ok or not isinstance(reply.result, dict):
            raise PensionCheckUnavailableError(peer)
        return bool(reply.result.get("active"))

    async def active_elsewhere(self, person_ref: str, month: str) -> bool:
        answers = await asyncio.gather(*(self._ask(peer, person_ref, month) for peer in self.peers))
        return any(answers)
