"""The transfer saga, one handler per step; each step commits its events, outbox and deadlines together.

New region: apply -> (contact letter out) ... sheet in, funds in -> complete.
Old region: letter in -> unpaid check -> sheet + funds out, local relationship ended.
Where every rule passes with no person involved the whole path runs straight through.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol
from uuid import NAMESPACE_URL, uuid5

from contracts.identifiers import citizen_id_birth_date, citizen_id_is_male
from contracts.transfer.commands import ApplyForTransfer
from contracts.transfer.messages import ContactLetterV1, FundsTransferredV1, InformationSheetV1, PeriodV1
from runtime import recording as runtime_recording
from runtime.deadlines import Deadlines
from runtime.eventstore import Transaction
from runtime.recording import CommandContext, Published
from transfer.domain import events as ev
from transfer.domain import transfer_in, transfer_out
from transfer.domain.errors import HistoryCopyBehindError
from transfer.domain.transfer_in_state import TransferIn, transfer_stream
from transfer.domain.transfer_in_state import evolve as evolve_in
from transfer.domain.transfer_in_state import fold as fold_in
from transfer.domain.values import Period, PeriodKind, Sex, Stage

STAGE_DEADLINE = "stage"


class Recorder(runtime_recording.Recorder, Protocol):
    def outbox_message(
        self, public: Published, ctx: CommandContext, stream_id: str, event_id: Any, index: int = 0
    ) -> Any: ...


Standing = tuple[bool, list[Period]]  # (enrolled here with a pension now, every period recorded here)


async def standing_here(
    read: Callable[[], Awaitable[Standing]],
    catch_up: Callable[[], Awaitable[bool]],
    on_record: Callable[[], Awaitable[bool | None]] | None = None,
) -> Standing:
    """The applicant's standing by this region's copy of the enrolment history. Not enrolled or
    contributing here by the copy, the copy may lack an enrolment or payment still on its way: it is
    read again once it holds what the enrolment service had published (`catch_up`, a few seconds at
    most), so that an application is refused only on a copy that is up to date. What the enrolment
    service has committed and not yet published is not in the copy even then: before a refusal, its
    own record is asked (`on_record`: enrolled with a pension and contributing there, or None if it
    cannot say), and where it says yes nothing is decided (HistoryCopyBehindError, a retry later
    finds the copy caught up). Asked before the application's transaction opens: the copy's consumer
    needs a connection to catch up, and applications waiting with theirs held could leave it none."""
    enrolled, periods = await read()
    if not (enrolled and periods) and await catch_up():
        enrolled, periods = await read()
    if not (enrolled and periods) and on_record is not None and await on_record():
        raise HistoryCopyBehindError
    return enrolled, periods


class History(Protocol):
    async def periods(self, person_ref: str) -> list[Period]:
        """Every period recorded here, paid or not."""

    async def ledger(self, person_ref: str) -> tuple[list[Period], list[str]]:
        """(the periods paid here, the months with something unpaid), in one read."""

    async def lock(self, *person_refs: str) -> None:
        """Serialises a letter's unpaid check with payments of the same person(s)."""

    async def waiting_cases(self, *person_refs: str) -> list[str]:
        """The cases whose contact letter waits for a payment of any of these people."""

    async def wait_for_payment(self, person_ref: str, case_id: str) -> None: ...

    async def stop_waiting(self, case_id: str) -> None: ...


def _message_id(case_id: str, message: str) -> Any:
    return uuid5(NAMESPACE_URL, f"yiwang:transfer:{case_id}:{message}")


def _letter(
    recorder: Recorder, ctx: CommandContext, stream: str, case_id: str, name: str, data: Any, region: str
) -> Any:
    """A message to the other region's inbox, queued with the events that send it (one statement)."""
    return recorder.outbox_message(
        Published(name, data, region=region, inbox=True), ctx, stream, _message_id(case_id, name)
    )


async def apply_for_transfer(
    tx: Transaction,
    command: ApplyForTransfer,
    ctx: CommandContext,
    *,
    recorder: Recorder,
    standing: Standing,
    deadlines: Deadlines,
    person_ref: str,
) -> dict[str, Any]:
    """Review the application here at once (`standing`: from `standing_here`); if every rule
    passes, the contact letter leaves for the old region."""
    case_id = str(uuid5(NAMESPACE_URL, f"yiwang:transfer-case:{ctx.command_id}"))
    enrolled, new_periods = standing
    events = transfer_in.decide_apply(
        TransferIn(),
        case_id=case_id,
        person_ref=person_ref,
        citizen_id=command.citizen_id,
        from_region=command.from_region,
        to_region=ctx.region,
        channel=ctx.channel.value,
        now=ctx.now,
        today=ctx.today,
        enrolled_here=enrolled,
        contributing_here=bool(new_periods),
        is_pensioner=command.receiving_pension,
        sex=Sex.MALE if citizen_id_is_male(command.citizen_id) else Sex.FEMALE,
        birth=citizen_id_birth_date(command.citizen_id),
        hukou_province=command.hukou_province or command.citizen_id[:2],
        organisational_transfer=command.organisational_transfer,
        new_periods=new_periods,
    )
    stream = transfer_stream(case_id)
    outcome: dict[str, Any] = {"case_id": case_id, "status": "applied"}
    letters = []
    for event in events:
        match event:
            case ev.ContactLetterSent():
                letter = ContactLetterV1(
                    case_id=case_id,
                    person_ref=person_ref,
                    citizen_id=command.citizen_id,
                    from_region=ctx.region,
                    to_region=command.from_region,
                )
                letters.append(_letter(recorder, ctx, stream, case_id, "contact_letter", letter, command.from_region))
                outcome["status"] = "contact_letter_sent"
            case ev.TransferRefused():
                outcome.update(status="refused", reason_code=event.reason_code, reason=event.reason)
            case ev.TemporaryAccountOpened():
                outcome.update(status="temporary_account", reason=event.reason)
            case ev.AccountsMerged():
                outcome.update(status="merged", months=event.months, individual_fen=event.individual_fen)
    await recorder.record(tx, stream, 0, events, ctx, letters)
    if letters:
        await _start_stage(tx, deadlines, stream, Stage.OLD_AGENCY, ctx)
    return outcome


async def _start_stage(tx: Transaction, deadlines: Deadlines, stream: str, stage: Stage, ctx: CommandContext) -> None:
    """A stage's legal time: 15 working days from today."""
    await deadlines.schedule(
        tx, stream_id=stream, kind=_stage_kind(stage), basis=ctx.today, working_days=15, payload={"stage": stage.value}
    )


def _stage_kind(stage: Stage) -> str:
    return f"{STAGE_DEADLINE}:{stage.value}"


async def receive_contact_letter(
    tx: Transaction,
    letter: ContactLetterV1,
    ctx: CommandContext,
    *,
    recorder: Recorder,
    history: History,
    deadlines: Deadlines,
) -> None:
    """Old region: record the letter; with nothing unpaid, issue the sheet, send the funds, end the relationship."""
    await history.lock(letter.person_ref)
    stream = transfer_out.transfer_out_stream(letter.case_id)
    past, version = await recorder.load(tx, stream)
    state = transfer_out.fold(past)
    events: list[Any] = transfer_out.decide_receive_letter(
        state,
        case_id=letter.case_id,
        person_ref=letter.person_ref,
        citizen_id=letter.citizen_id,
        from_region=letter.from_region,
        now=ctx.now,
    )
    for event in events:
        state = transfer_out.evolve(state, event)
    await _answer_letter(
        tx, stream, version, state, events, ctx, recorder=recorder, history=history, deadlines=deadlines
    )


async def resume_after_payment(
    tx: Transaction,
    person_refs: list[str],
    ctx: CommandContext,
    *,
    recorder: Recorder,
    history: History,
    deadlines: Deadlines,
) -> None:
    """Old region: contributions were paid; every letter of these people waiting for unpaid months is answered again."""
    await history.lock(*person_refs)
    for case_id in await history.waiting_cases(*person_refs):
        stream = transfer_out.transfer_out_stream(case_id)
        past, version = await recorder.load(tx, stream)
        state = transfer_out.fold(past)
        await _answer_letter(
            tx, stream, version, state, [], ctx, recorder=recorder, history=history, deadlines=deadlines
        )


async def _answer_letter(
    tx: Transaction,
    stream: str,
    version: int,
    state: transfer_out.TransferOut,
    recorded: list[Any],
    ctx: CommandContext,
    *,
    recorder: Recorder,
    history: History,
    deadlines: Deadlines,
) -> None:
    """While months are unpaid the case waits (and is found again on payment); else sheet + funds leave.

    The old agency's stage deadline runs while a letter received here waits: a letter answered in
    the decision that records it never gets one (nothing to schedule and cancel again at once)."""
    paid, unpaid = await history.ledger(state.person_ref)
    issued = transfer_out.decide_issue_sheet(
        state,
        periods=paid,
        unpaid_months=unpaid,
        now=ctx.now,
        reference=f"{ctx.region}-{state.case_id}",
    )
    events = [*recorded, *issued]
    if not events:
        return
    letters = []
    answered = False
    for event in issued:
        match event:
            case ev.UnpaidContributionsFound():
                await history.wait_for_payment(state.person_ref, state.case_id)
            case ev.InformationSheetIssued():
                if not recorded:  # a letter received before may be waiting for a payment
                    await history.stop_waiting(state.case_id)
                sheet = InformationSheetV1(
                    case_id=state.case_id,
                    periods=[PeriodV1(**_period(p)) for p in event.periods],
                    individual_fen=event.individual_fen,
                    pooled_fen=event.pooled_fen,
                    returned_periods=list(event.returned_periods),
                )
                letters.append(
                    _letter(recorder, ctx, stream, state.case_id, "information_sheet", sheet, state.new_region)
                )
            case ev.FundsTransferred():
                answered = True
                funds = FundsTransferredV1(
                    case_id=state.case_id, amount_fen=event.amount_fen, reference=event.reference
                )
                letters.append(
                    _letter(recorder, ctx, stream, state.case_id, "funds_transferred", funds, state.new_region)
                )
    await recorder.record(tx, stream, version, events, ctx, letters)
    if recorded and not answered:
        await _start_stage(tx, deadlines, stream, Stage.OLD_AGENCY, ctx)
    elif answered and not recorded:
        await deadlines.cancel(tx, stream_id=stream, kind=_stage_kind(Stage.OLD_AGENCY))


def _period(period: Period) -> dict[str, Any]:
    return {
        "month": period.month,
        "base_fen": period.base_fen,
        "kind": period.kind.value,
        "employer_rate": str(period.employer_rate),
        "account_fen": period.account_fen,
        "back_payment_batch": period.back_payment_batch,
        "documented": period.documented,
    }


def periods_of(sheet: InformationSheetV1) -> Sequence[Period]:
    return [
        Period(
            month=p.month,
            base_fen=p.base_fen,
            kind=PeriodKind(p.kind),
            employer_rate=Decimal(p.employer_rate),
            account_fen=p.account_fen,
            back_payment_batch=p.back_payment_batch,
            documented=p.documented,
        )
        for p in sheet.periods
    ]


async def _settle(tx: Transaction, events: list[Any], stream: str, deadlines: Deadlines, ctx: CommandContext) -> None:
    if any(isinstance(e, ev.TransferCompleted) for e in events):
        await deadlines.cancel(
            tx, stream_id=stream, kind=(_stage_kind(Stage.OLD_AGENCY), _stage_kind(Stage.NEW_AGENCY))
        )
    elif any(isinstance(e, ev.FundsMismatchDetected) for e in events):
        await deadlines.cancel(tx, stream_id=stream, kind=_stage_kind(Stage.OLD_AGENCY))
        await _start_stage(tx, deadlines, stream, Stage.NEW_AGENCY, ctx)


Half = InformationSheetV1 | FundsTransferredV1  # what the old region sends the new one: its two halves


async def receive_sheet(
    tx: Transaction,
    sheet: InformationSheetV1,
    ctx: CommandContext,
    *,
    recorder: Recorder,
    history: History,
    deadlines: Deadlines,
) -> None:
    """New region: record the information sheet; with the funds in, check them to the fen and complete."""
    await receive_halves(tx, [(sheet, ctx)], recorder=recorder, history=history, deadlines=deadlines)


async def receive_funds(
    tx: Transaction,
    funds: FundsTransferredV1,
    ctx: CommandContext,
    *,
    recorder: Recorder,
    history: History,
    deadlines: Deadlines,
) -> None:
    """New region: record the funds; with the sheet in, check them to the fen and complete."""
    await receive_halves(tx, [(funds, ctx)], recorder=recorder, history=history, deadlines=deadlines)


async def receive_halves(
    tx: Transaction,
    arrived: Sequence[tuple[Half, CommandContext]],
    *,
    recorder: Recorder,
    history: History,
    deadlines: Deadlines,
) -> None:
    """New region: the sheet, the funds, or both, of one case, each decided in the order they came
    on what the one before left; once both are in, the funds are checked to the fen and the case
    completes. Both in one fetch (as the old region sends them) are recorded as one append, whose
    steps leave as one public message."""
    stream = transfer_stream(arrived[0][0].case_id)
    past, version = await recorder.load(tx, stream)
    state = fold_in(past)
    decisions: list[tuple[list[Any], CommandContext]] = []
    for half, ctx in arrived:
        events = await _decide_half(history, state, half, ctx.now)
        for event in events:
            state = evolve_in(state, event)
        decisions.append((events, ctx))
    await recorder.record_together(tx, stream, version, decisions)
    await _settle(tx, [event for events, _ in decisions for event in events], stream, deadlines, arrived[-1][1])


async def _decide_half(history: History, state: TransferIn, half: Half, now: datetime) -> list[Any]:
    if isinstance(half, InformationSheetV1):
        return transfer_in.decide_receive_sheet(
            state,
            periods=periods_of(half),
            individual_fen=half.individual_fen,
            pooled_fen=half.pooled_fen,
            returned_periods=half.returned_periods,
            now=now,
            new_periods=await _periods_to_settle(history, state, settles=state.funds_received_at is not None),
        )
    return transfer_in.decide_receive_funds(
        state,
        amount_fen=half.amount_fen,
        reference=half.reference,
        now=now,
        new_periods=await _periods_to_settle(history, state, settles=state.sheet_received_at is not None),
    )


async def _periods_to_settle(history: History, state: TransferIn, *, settles: bool) -> Sequence[Period]:
    """The periods recorded here, which the check of the funds needs; read only when this message
    brings the second half (sheet or funds), else the decision only records it."""
    return await history.periods(state.person_ref) if settles else ()


async def stage_deadline_passed(
    tx: Transaction, stream: str, stage: str, due_at: Any, ctx: CommandContext, *, recorder: Recorder
) -> None:
    past, version = await recorder.load(tx, stream)
    if stream.startswith("transfer-out-"):
        events: list[Any] = transfer_out.decide_deadline(
            transfer_out.fold(past), stage=Stage(stage), due_at=due_at, now=ctx.now
        )
    else:
        events = transfer_in.decide_deadline(fold_in(past), stage=Stage(stage), due_at=due_at, now=ctx.now)
    await recorder.record(tx, stream, version, events, ctx)
