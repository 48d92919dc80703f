"""The injury use cases on the in-memory event store: retries, refusals, re-settlement, timers, catalogue."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import Any
from uuid import uuid4

import pytest

from contracts.envelope import Actor, ActorKind, Channel
from contracts.identifiers import citizen_id_check_character
from contracts.injury import commands as c
from contracts.subjects import Subjects
from injury.application import agreements, catalogues, determinations, reconciliations, settlements
from injury.bootstrap import sample_catalogue
from injury.domain.catalogue import Catalogue, build_catalogue, fold
from injury.domain.errors import SettlementConflictError, SettlementRejectedError
from injury.domain.events import EVENT_TYPES
from injury.domain.reconciliation import Reconciliation
from injury.translation import to_public
from runtime.eventstore import Transaction
from runtime.recording import CommandContext, EventRecorder
from runtime.testing import InMemoryEventStore
from tests.injury_steps import accepted_determination, agreement_for_2026

NOW = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # 09:00 in Beijing
SERVICE_DAY = date(2026, 3, 1)
WORKER = "36010219850612201" + citizen_id_check_character("36010219850612201")
OTHER = "36010219920101302" + citizen_id_check_character("36010219920101302")
CATALOGUE = build_catalogue("36", sample_catalogue("36"))
LINES = [
    c.SettlementLineV1(line_no=1, item_code="XJ01DCC040", quantity=Decimal(10), unit_price_fen=180, amount_fen=1800),
    c.SettlementLineV1(line_no=2, item_code="XD11AXX999", quantity=Decimal(1), unit_price_fen=16800, amount_fen=16800),
]


@dataclass
class Index:
    rows: dict[str, tuple[str, date, str, str]] = field(default_factory=dict)
    locked: list[str] = field(default_factory=list)

    async def lock_person(self, tx: Transaction, person_ref: str) -> None:
        self.locked.append(person_ref)

    async def add(self, tx: Transaction, *, stream_id: str, hospital_id: str, service_date: date, **row: str) -> None:
        self.rows[stream_id] = (hospital_id, service_date, row["person_ref"], row["determination_ref"])

    async def of_person(self, tx: Transaction, person_ref: str, determination_id: str) -> list[str]:
        return [s for s, r in self.rows.items() if r[2] == person_ref and r[3] in ("", determination_id)]

    async def of_day(self, tx: Transaction, hospital_id: str, day: date) -> list[str]:
        return [s for s, r in self.rows.items() if r[:2] == (hospital_id, day)]


@dataclass
class Deadlines:
    scheduled: list[tuple[str, date, int]] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)

    async def schedule(self, tx: Transaction, *, kind: str, basis: date, calendar_days: int = 0, **_: Any) -> None:
        self.scheduled.append((kind, basis, calendar_days))

    async def cancel(self, tx: Transaction, *, stream_id: str, kind: str) -> None:
        self.cancelled.append(kind)


@dataclass
class Declared:
    stored: list[Reconciliation] = field(default_factory=list)

    async def store(self, tx: Transaction, reconciliation: Reconciliation, result: dict[str, Any], at: Any) -> None:
        self.stored.append(reconciliation)


class SampleCatalogue:
    def __init__(self, recorder: Any) -> None:
        self.recorder = recorder

    async def read_with(
        self, tx: Transaction, streams: Sequence[str], *, keep: Sequence[str] = ()
    ) -> tuple[Catalogue, dict[str, tuple[list[Any], int]]]:
        return CATALOGUE, await self.recorder.load_many(tx, streams)

    def keeps(self, streams: Sequence[str]) -> bool:
        return False

    def kept_with(self, tx: Transaction, streams: Sequence[str]) -> None:
        return None


class People:
    def ref(self, citizen_id: str) -> str:
        return f"ref-{citizen_id[-4:]}"


@dataclass
class Service:
    store: InMemoryEventStore = field(default_factory=InMemoryEventStore)
    recorder: Any = field(
        default_factory=lambda: EventRecorder("injury", Subjects("t"), EVENT_TYPES, partial(to_public, region="36"))
    )
    index: Index = field(default_factory=Index)
    deadlines: Deadlines = field(default_factory=Deadlines)

    def ctx(self, now: datetime = NOW) -> CommandContext:
        actor = Actor(kind=ActorKind.OPERATOR, id="ops-1", region="36")
        return CommandContext(
            command_id=uuid4(), correlation_id=uuid4(), causation_id=None, actor=actor, channel=Channel.PARTNER,
            region="36", now=now,
        )  # fmt: skip

    async def run(self, handler: Any, command: Any, **deps: Any) -> Any:
        async with self.store.transaction() as tx:
            return await handler(tx, command, self.ctx(), recorder=self.recorder, **deps)

    async def post(self, number: str, *, citizen: str = WORKER, ref: str = "RD-1", **changes: Any) -> Any:
        fields: dict[str, Any] = {
            "hospital_id": "H1",
            "hospital_settlement_no": number,
            "citizen_id": citizen,
            "determination_ref": ref,
            "service_date": SERVICE_DAY,
            "lines": LINES,
            "declared_total_fen": 18600,
        }
        command = c.PostSettlement(**(fields | changes))
        deps = {"catalogues": SampleCatalogue(self.recorder), "index": self.index, "people": People()}
        return await self.run(settlements.post_settlement, command, **deps)

    async def types(self, stream: str) -> list[str]:
        async with self.store.transaction() as tx:
            return [e.event_type for e in await tx.load(stream)]

    async def sign(self) -> None:
        await self.run(agreements.sign_agreement, agreement_for_2026("H1"))

    async def determination(self, determination_id: str, citizen: str, *, recognise: bool) -> None:
        apply, accept = accepted_determination(determination_id, citizen, injured=SERVICE_DAY - timedelta(days=5))
        await self.run(determinations.apply_for_determination, apply, deadlines=self.deadlines)
        await self.run(determinations.accept_determination, accept, deadlines=self.deadlines)
        if recognise:
            await self.recognise(determination_id)

    async def recognise(self, determination_id: str) -> None:
        decide = c.DecideDetermination(determination_id=determination_id, outcome="recognised")
        await self.run(determinations.decide_determination, decide, deadlines=self.deadlines)


@pytest.fixture
async def service() -> Service:
    s = Service()
    await s.sign()
    return s


async def test_a_retry_returns_the_first_result_and_other_content_is_a_conflict(service: Service) -> None:
    await service.determination("RD-1", WORKER, recognise=True)
    first = await service.post("JS-1")
    again = await service.post("JS-1")

    assert first == again
    assert (first["status"], first["fund_fen"], first["self_pay_fen"]) == ("settled", 1500, 17100)
    assert await service.types("settlement-H1-JS-1") == ["SettlementPosted"]
    with pytest.raises(SettlementConflictError):
        await service.post("JS-1", declared_total_fen=1800, lines=LINES[:1])
    assert service.index.locked == []  # through the network: no lock (a recognised injury stays recognised)


async def test_rejected_lines_are_recorded_with_the_refusal_and_the_number_stays_free(service: Service) -> None:
    unknown = [
        *LINES,
        c.SettlementLineV1(line_no=3, item_code="NOPE", quantity=Decimal(1), unit_price_fen=1, amount_fen=1),
    ]
    with pytest.raises(SettlementRejectedError, match=r"line 3 \(NOPE\)"):
        await service.post("JS-2", lines=unknown, declared_total_fen=18601)

    async with service.store.transaction() as tx:  # as the request handler does: the refusal commits
        with pytest.raises(SettlementRejectedError):
            await settlements.post_settlement(
                tx,
                c.PostSettlement(
                    hospital_id="H1",
                    hospital_settlement_no="JS-2",
                    citizen_id=WORKER,
                    service_date=SERVICE_DAY,
                    lines=unknown,
                    declared_total_fen=18601,
                ),
                service.ctx(),
                recorder=service.recorder,
                catalogues=SampleCatalogue(service.recorder),
                index=service.index,
                people=People(),
            )
    assert await service.types("settlement-H1-JS-2") == ["LinesRejected"]
    corrected = await service.post("JS-2", ref="")
    assert corrected["status"] == "held"
    assert service.index.rows["settlement-H1-JS-2"][3] == ""


async def test_a_recognition_resettles_the_persons_held_settlements_once(service: Service) -> None:
    await service.determination("RD-1", WORKER, recognise=False)
    await service.determination("RD-9", OTHER, recognise=False)
    held = await service.post("JS-3")
    await service.post("JS-4", ref="")
    await service.post("JS-5", citizen=OTHER, ref="RD-9")
    assert (held["status"], held["hold_reason"], held["self_pay_fen"]) == ("held", "pending", 18600)
    worker, other = People().ref(WORKER), People().ref(OTHER)
    assert service.index.locked == [worker, worker, other]  # each hold decided under its worker's lock
    await service.recognise("RD-1")

    async def policy() -> int:
        async with service.store.transaction() as tx:
            return await settlements.when_determination_recognised_resettle(
                tx, "RD-1", service.ctx(), recorder=service.recorder, index=service.index, people=People()
            )

    assert await policy() == 2
    assert await policy() == 0  # delivered again: nothing twice
    for number in ("JS-3", "JS-4"):
        assert await service.types(f"settlement-H1-{number}") == ["SettlementHeldAsSelfPay", "SettlementResettled"]
    assert await service.types("settlement-H1-JS-5") == ["SettlementHeldAsSelfPay"]
    async with service.store.transaction() as tx:
        now = await settlements.get_settlement(tx, "H1", "JS-3", recorder=service.recorder)
    assert (now["status"], now["fund_fen"], now["self_pay_fen"], now["determination_id"]) == (
        "resettled",
        1500,
        17100,
        "RD-1",
    )
    assert await service.post("JS-3") == held  # a late retry still gets the first answer


async def test_each_determination_stage_runs_on_its_own_timer(service: Service) -> None:
    await service.determination("RD-1", WORKER, recognise=True)

    assert service.deadlines.scheduled == [
        ("determination:acceptance", date(2026, 3, 2), 15),
        ("determination:decision", date(2026, 3, 2), 60),
    ]
    assert service.deadlines.cancelled == [
        "determination:acceptance",
        "determination:acceptance",
        "determination:decision",
    ]

    late = c.ApplyForDetermination(determination_id="RD-2", citizen_id=OTHER, employer_id="E", injury_date=SERVICE_DAY)
    await service.run(determinations.apply_for_determination, late, deadlines=service.deadlines)
    for at in (NOW + timedelta(days=16), NOW + timedelta(days=17)):
        async with service.store.transaction() as tx:
            await determinations.stage_deadline_passed(
                tx,
                "determination-RD-2",
                "acceptance",
                NOW + timedelta(days=15),
                service.ctx(at),
                recorder=service.recorder,
            )
    assert await service.types("determination-RD-2") == ["DeterminationApplied", "DeterminationDeadlineBreached"]


async def test_the_sample_catalogue_loads_once_however_often_it_is_loaded(service: Service) -> None:
    sample = sample_catalogue("36")
    assert sample_catalogue("44") == []

    async def load() -> int:
        async with service.store.transaction() as tx:
            return await catalogues.load_versions(tx, sample, service.ctx(), recorder=service.recorder)

    assert await load() == len(sample)
    assert await load() == 0
    cut = c.CatalogueItemV1(
        code="XJ01CAA040", name="阿莫西林胶囊 0.25g", kind="drug", category="class_a", unit="粒", price_fen=30,
        valid_from=date(2026, 6, 1),
    )  # fmt: skip
    published = await service.run(catalogues.publish_catalogue_versions, c.PublishCatalogueVersions(items=[cut]))
    assert published == {
        "published": [{"code": "XJ01CAA040", "version": 2, "valid_from": "2026-06-01"}],
        "unchanged": 0,
    }
    assert await load() == 0
    async with service.store.transaction() as tx:
        past, _ = await service.recorder.load(tx, "catalogue-36")
    history = fold(past).history("XJ01CAA040")
    assert [(v.price_fen, v.valid_to) for v in history] == [(35, date(2026, 5, 31)), (30, None)]


async def test_a_day_declared_by_the_hospital_is_reconciled_against_its_settlements(service: Service) -> None:
    await service.determination("RD-1", WORKER, recognise=True)
    await service.post("JS-6")
    await service.post("JS-7", ref="")
    declared = Declared()
    day = c.DeclareDayTotals(hospital_id="H1", day=SERVICE_DAY, count=2, total_fen=37200, fund_fen=1500)

    result = await service.run(reconciliations.declare_day_totals, day, index=service.index, reconciliations=declared)

    assert result["matched"] is True and result["fund"] == {"count": 2, "total_fen": 37200, "fund_fen": 1500}
    wrong = day.model_copy(update={"fund_fen": 3000})
    flagged = await service.run(
        reconciliations.declare_day_totals, wrong, index=service.index, reconciliations=declared
    )
    assert flagged["mismatches"] == [
        {"figure": "fund_fen", "fund_value": 1500, "hospital_value": 3000, "difference": 1500}
    ]
    assert [r.matched for r in declared.stored] == [True, False]


async def test_public_events_carry_no_citizen_id(service: Service) -> None:
    await service.determination("RD-1", WORKER, recognise=True)
    await service.post("JS-8")
    await service.run(
        settlements.reverse_settlement,
        c.ReverseSettlement(hospital_id="H1", hospital_settlement_no="JS-8", reason="duplicate bill"),
    )
    subjects = sorted(m.subject.split(".")[-2] for m in service.store.outbox)
    assert subjects == ["determination_decided", "settlement_posted", "settlement_reversed"]
    assert all(WORKER.encode() not in m.payload for m in service.store.outbox)
