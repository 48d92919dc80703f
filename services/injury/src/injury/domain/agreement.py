"""An agreement institution (协议机构, stream agreement-<hospital_id>): its terms, suspensions, termination.

The agency buys treatment through service agreements; "whoever signs supervises" (2.5). A breach
can suspend or terminate an agreement. The network settles only at an institution whose agreement
is active on the service date, so the state keeps every term and suspension: an encounter from
before a suspension still settles when posted during it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import assert_never

from injury.domain.errors import AgreementNotFoundError, AgreementOverlapError, InvalidDateError, MissingValueError
from injury.domain.events import (
    AgreementReinstated,
    AgreementSigned,
    AgreementSuspended,
    AgreementTerminated,
    CatalogueEvent,
    DeterminationEvent,
    Event,
    SettlementEvent,
)
from injury.domain.values import AgreementStatus, InstitutionKind


@dataclass(frozen=True, slots=True, kw_only=True)
class Term:
    """Valid from `valid_from` to `valid_to` (both included), unless terminated from `terminated_from`."""

    valid_from: date
    valid_to: date
    terminated_from: date | None = None

    def spans(self, day: date) -> bool:
        return self.valid_from <= day <= self.valid_to

    @property
    def last_day(self) -> date:
        """The last day the term can be active on."""
        if self.terminated_from is None:
            return self.valid_to
        return min(self.valid_to, self.terminated_from - timedelta(days=1))


@dataclass(frozen=True, slots=True, kw_only=True)
class Suspension:
    """No settlement from `effective_from` up to the day before `reinstated_from` (None: still suspended)."""

    effective_from: date
    reinstated_from: date | None = None

    def covers(self, day: date) -> bool:
        return self.effective_from <= day and (self.reinstated_from is None or day < self.reinstated_from)


@dataclass(frozen=True, slots=True, kw_only=True)
class Agreement:
    hospital_id: str = ""
    name: str = ""
    region: str = ""
    kind: InstitutionKind = InstitutionKind.HOSPITAL
    terms: tuple[Term, ...] = ()
    suspensions: tuple[Suspension, ...] = ()

    @property
    def suspended(self) -> bool:
        """Whether a suspension is still open (not yet reinstated)."""
        return bool(self.suspensions) and self.suspensions[-1].reinstated_from is None


def agreement_stream(hospital_id: str) -> str:
    return f"agreement-{hospital_id}"


def evolve(state: Agreement, event: Event) -> Agreement:
    match event:
        case AgreementSigned():
            term = Term(valid_from=event.valid_from, valid_to=event.valid_to)
            return replace(
                state,
                hospital_id=event.hospital_id,
                name=event.name,
                region=event.region,
                kind=event.kind,
                terms=(*state.terms, term),
            )
        case AgreementSuspended():
            return replace(state, suspensions=(*state.suspensions, Suspension(effective_from=event.effective_from)))
        case AgreementReinstated():
            lifted = replace(state.suspensions[-1], reinstated_from=event.effective_from)
            return replace(state, suspensions=(*state.suspensions[:-1], lifted))
        case AgreementTerminated():
            ended = replace(state.terms[-1], terminated_from=event.effective_from)
            return replace(state, terms=(*state.terms[:-1], ended))
        case _ if isinstance(event, DeterminationEvent | CatalogueEvent | SettlementEvent):
            return state  # another aggregate's event
        case _:
            assert_never(event)


def fold(events: Iterable[Event]) -> Agreement:
    state = Agreement()
    for event in events:
        state = evolve(state, event)
    return state


def agreement_status(state: Agreement, on: date) -> AgreementStatus:
    """The agreement on one day: active only inside a term, before its termination, outside a suspension."""
    if not state.terms:
        return AgreementStatus.NONE
    term = next((t for t in reversed(state.terms) if t.spans(on)), None)  # a renewal overrides a terminated term
    if term is None:
        return AgreementStatus.NOT_COVERED
    if term.terminated_from is not None and on >= term.terminated_from:
        return AgreementStatus.TERMINATED
    if any(s.covers(on) for s in state.suspensions):
        return AgreementStatus.SUSPENDED
    return AgreementStatus.ACTIVE


def agreement_active(state: Agreement, on: date) -> bool:
    """Whether the institution may settle through the network for service on `on`."""
    return agreement_status(state, on) is AgreementStatus.ACTIVE


def active_in_region(agreements: Iterable[Agreement], region: str, on: date) -> tuple[str, ...]:
    """The region's registry on a day: ids of the institutions with an active agreement, sorted."""
    return tuple(sorted(a.hospital_id for a in agreements if a.region == region and agreement_active(a, on)))


def decide_sign(
    state: Agreement,
    *,
    hospital_id: str,
    name: str,
    region: str,
    kind: InstitutionKind,
    signed_on: date,
    valid_from: date,
    valid_to: date,
    now: datetime,
) -> list[Event]:
    """Sign a term (a first agreement or a renewal). The same term signed again has no second
    effect; a term overlapping the current one is refused."""
    for what, value in (("hospital_id", hospital_id), ("name", name), ("region", region)):
        if not value.strip():
            raise MissingValueError(what)
    if valid_to < valid_from:
        raise InvalidDateError(f"the agreement's valid_to {valid_to} is before its valid_from {valid_from}")
    if state.terms:
        last = state.terms[-1]
        if (last.valid_from, last.valid_to) == (valid_from, valid_to):
            return []
        if valid_from <= last.last_day:
            raise AgreementOverlapError(hospital_id, valid_from, last.last_day)
    signed = AgreementSigned(
        hospital_id=hospital_id,
        name=name,
        region=region,
        kind=kind,
        signed_on=signed_on,
        valid_from=valid_from,
        valid_to=valid_to,
        at=now,
    )
    return [signed]


def decide_suspend(state: Agreement, *, effective_from: date, reason: str, now: datetime) -> list[Event]:
    """Suspend settlement from a day (a sanction for a breach); already suspended: no second effect."""
    if not state.terms:
        raise AgreementNotFoundError(state.hospital_id)
    if not reason.strip():
        raise MissingValueError("the suspension's reason")
    if state.suspended:
        return []
    return [AgreementSuspended(hospital_id=state.hospital_id, effective_from=effective_from, reason=reason, at=now)]


def decide_reinstate(state: Agreement, *, effective_from: date, now: datetime) -> list[Event]:
    """Lift the open suspension from a day on; nothing suspended: no effect."""
    if not state.terms:
        raise AgreementNotFoundError(state.hospital_id)
    if not state.suspended:
        return []
    if effective_from < state.suspensions[-1].effective_from:
        raise InvalidDateError(
            f"reinstatement from {effective_from} precedes the suspension from {state.suspensions[-1].effective_from}"
        )
    return [AgreementReinstated(hospital_id=state.hospital_id, effective_from=effective_from, at=now)]


def decide_terminate(state: Agreement, *, effective_from: date, reason: str, now: datetime) -> list[Event]:
    """End the current term from a day on; already terminated: no second effect."""
    if not state.terms:
        raise AgreementNotFoundError(state.hospital_id)
    if not reason.strip():
        raise MissingValueError("the termination's reason")
    if state.terms[-1].terminated_from is not None:
        return []
    return [AgreementTerminated(hospital_id=state.hospital_id, effective_from=effective_from, reason=reason, at=now)]
