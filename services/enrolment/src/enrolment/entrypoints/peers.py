"""Asking the enrolment services of other regions (pooling areas) over NATS."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import nats.errors
from nats.aio.client import Client as NatsClient
from opentelemetry import trace
from opentelemetry.trace import Link, SpanContext
from pydantic import BaseModel

from contracts.enrolment.commands import MOST_ASKED, ActivePension, ActivePensions
from contracts.subjects import Subjects
from runtime.clock import Clock
from runtime.messaging import UNKNOWN_REQUEST
from runtime.requests import ask_service


class PensionCheckUnavailableError(Exception):
    def __init__(self, region: str) -> None:
        super().__init__(
            f"cannot confirm that region {region} holds no active pension enrolment for this person; try again later"
        )


class NatsPensionRegistry:
    """Asks every other region whether the person holds an active pension enrolment there this month.

    A region that does not answer makes the check fail closed: enrolling could create the double
    enrolment the rule forbids.

    One question at a time per region: those asked while one is on its way go together in the next
    (`active_pensions`). An idle region is asked at once, as before; under load one request answers
    many enrolments instead of a request, a reply, two spans and a query each. The request's span is
    in the first asker's trace and links to the others'. A region that does not know the joint
    question yet (an earlier version) is asked one person at a time.
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
        self._waiting: dict[str, list[_Question]] = {}
        self._asking: dict[str, asyncio.Task[None]] = {}

    async def active_elsewhere(self, person_ref: str, month: str) -> bool:
        answers = await asyncio.gather(*(self._ask(peer, person_ref, month) for peer in self.peers))
        return any(answers)

    async def _ask(self, peer: str, person_ref: str, month: str) -> bool:
        question = _Question(
            ActivePension(person_ref=person_ref, month=month),
            asyncio.get_running_loop().create_future(),
            trace.get_current_span().get_span_context(),
        )
        self._waiting.setdefault(peer, []).append(question)
        if peer not in self._asking:  # else the task asking this region takes it with the next
            self._asking[peer] = asyncio.create_task(self._ask_in_turn(peer))
        return await question.answer

    async def _ask_in_turn(self, peer: str) -> None:
        """Ask what is waiting for `peer`, together (up to the contract's most), until nothing is."""
        waiting = self._waiting[peer]
        try:
            while waiting:
                questions = waiting[:MOST_ASKED]
                del waiting[:MOST_ASKED]
                try:
                    answers = await self._answers(peer, questions)
                except Exception as error:  # noqa: BLE001 - each asker gets the error, nothing is lost
                    for q in questions:
                        if not q.answer.done():
                            q.answer.set_exception(error)
                else:
                    for q, active in zip(questions, answers, strict=True):
                        if not q.answer.done():
                            q.answer.set_result(active)
        finally:
            for q in waiting:  # only when stopped midway (the service shutting down): none is left waiting
                if not q.answer.done():
                    q.answer.set_exception(PensionCheckUnavailableError(peer))
            del self._waiting[peer], self._asking[peer]

    async def _answers(self, peer: str, questions: list[_Question]) -> list[bool]:
        """The span of each request is in the first asker's trace; it links to the other askers'."""
        first, *others = questions
        if others:
            joint = ActivePensions(asked=[q.asked for q in questions])
            reply = await self._query(peer, "active_pensions", joint, _links(others))
            if reply is not None:
                active = reply.get("active")
                if not isinstance(active, list) or len(active) != len(questions):
                    raise PensionCheckUnavailableError(peer)
                return [bool(a) for a in active]
        answers = []
        for q in questions:
            reply = await self._query(peer, "active_pension", q.asked, [] if q is first else _links([q]))
            if reply is None:
                raise PensionCheckUnavailableError(peer)
            answers.append(bool(reply.get("active")))
        return answers

    async def _query(self, peer: str, name: str, data: BaseModel, links: list[Link]) -> dict[str, Any] | None:
        """The reply's result; None if the region does not know the question; raises if unanswered."""
        try:
            reply = await ask_service(
                self.nc,
                self.subjects,
                self.clock,
                region=peer,
                service="enrolment",
                name=name,
                data=data,
                timeout=self.timeout,
                links=links,
            )
        except (nats.errors.NoRespondersError, nats.errors.TimeoutError, TimeoutError) as error:
            raise PensionCheckUnavailableError(peer) from error
        if not reply.ok and reply.problem is not None and reply.problem.title == UNKNOWN_REQUEST:
            return None
        if not reply.ok or not isinstance(reply.result, dict):
            raise PensionCheckUnavailableError(peer)
        return reply.result


@dataclass(frozen=True, slots=True)
class _Question:
    asked: ActivePension
    answer: asyncio.Future[bool]
    asker: SpanContext  # the enrolment's span, linked from the request that carries its question


def _links(questions: list[_Question]) -> list[Link]:
    return [Link(q.asker) for q in questions if q.asker.is_valid]
