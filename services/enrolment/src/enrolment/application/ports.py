"""What the enrolment use cases need from outside, as Protocols the bootstrap fills in."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from enrolment.domain.events import EmployeeEnrolled, EmploymentEnded
from enrolment.domain.rates import RateTable
from runtime.deadlines import Deadlines
from runtime.eventstore import Transaction
from runtime.recording import Recorder


class RateBook(Protocol):
    def for_year(self, year: int) -> RateTable:
        """The region's rate table for a year (raises NoRateTableError)."""
        ...


class PensionRegistry(Protocol):
    async def active_elsewhere(self, person_ref: str, month: str) -> bool:
        """True if another pooling area holds an active pension enrolment for this person and month."""
        ...


class People(Protocol):
    def ref(self, citizen_id: str) -> str:
        """The person's pseudonymous reference (the same in every region)."""
        ...

    async def hired(self, tx: Transaction, enrolled: Sequence[EmployeeEnrolled]) -> None:
        """Put the enrolments on their employers' payrolls, in the transaction that records them
        (one person once per employer; none writes nothing)."""
        ...

    async def ended(self, tx: Transaction, ended: Sequence[EmploymentEnded]) -> None:
        """Close the employments on the payroll, in the transaction that records their ends (none
        writes nothing)."""
        ...

    async def employees_of(self, employer_credit_code: str, month: str) -> list[tuple[str, str]]:
        """(person_ref, citizen_id) of everyone enrolled with the employer in that month, by every
        enrolment committed before the call (the payroll is written with them, not after)."""
        ...

    async def payroll_of(self, employers: Sequence[str], month: str) -> list[tuple[str, str, str]]:
        """(person_ref, employer_credit_code, citizen_id) of everyone enrolled with any of the
        employers in that month, as `employees_of` reads them."""
        ...

    async def active_pensions(self, asked: list[tuple[str, str]]) -> list[bool]:
        """For each (person_ref, month) asked, in order: whether the person has a pension enrolment
        active here in that month (asked by other regions before they enrol the person), counting
        every change committed before the call."""
        ...


__all__ = ["Deadlines", "Recorder"]  # the runtime's two ports, with this service's own above
