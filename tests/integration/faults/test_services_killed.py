"""The transfer services of both regions killed (-9) in the middle of a batch of transfers, then
restarted on the same databases: every transfer completes (or is flagged), nothing is applied,
answered, paid or completed twice, no acknowledged transfer is lost, and no deadline is left
behind or doubled (issue 9).

The transfer services of regions 36 and 44 run here as real OS processes (`python -m transfer`, as
`make run` starts them) and are killed with SIGKILL: no shutdown code runs, so whatever was not
committed is gone and whatever was committed but not yet relayed, acknowledged or answered must be
redone exactly once after the restart. The gateway runs in-process and speaks to them over NATS; a
client answered 5xx sends the same request again, with the same Idempotency-Key, once the service
is back. Three kills, each while transfers are being applied:

1. both regions at about a third of the batch, wherever they are;
2. region 36 alone at half the batch, with transfers committed whose answers never left: their
   reply rows are held back (a SHARE lock on `command_replies`) until the gateway has answered
   them 504, then they commit and the process is killed, so the re-sends must find those
   transfers, not start second ones (a kill landing between commit and answer by chance is rare);
3. region 44 alone at about two thirds, while it answers the letters.

The processes read the system clock (`runtime.host.run_forever` gives them no other), so the real
15-working-day limits cannot fall due within this test. What it checks of the deadlines is what a
real-time run can: each stage's timer was started once in each region, every timer of a completed
case is cancelled (none left pending) and none fired or was recorded breached, let alone twice.
That a timer due while the services are down fires once after they come back is covered, with a
controlled clock, by test_services_down_with_deadlines.py.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg

from runtime.settings import RuntimeSettings
from tests.conftest import Servers
from tests.seeding import seed_transfer_histories, young_citizen
from tests.stack import Stack, running_stack, service_settings_for
from tests.waiting import eventually

TRANSFERS = 60
CLIENTS = 6  # concurrent callers of the gateway
RETRY_AFTER = 0.25  # seconds a caller waits before sending a request answered 5xx again
GIVE_UP_AFTER = 240.0  # seconds a caller keeps re-sending one request
DOWN_FOR = 1.0  # seconds between a kill and the restart
REGIONS = ("36", "44")
SERVER_ERRORS = frozenset({500, 502, 503, 504})
SETTINGS_IN_ENV = (
    "region",
    "nats_url",
    "nats_monitor_url",
    "database_url",
    "subject_root",
    "require_sync_always",
    "pool_size",
    "trace_stream_max_bytes",
    "pseudonym_salt",
)


@dataclass
class ServiceProcess:
    """One `python -m transfer` process of one region; its output goes to `log`, across restarts."""

    settings: RuntimeSettings
    log: Path
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0
    kills: int = 0

    @property
    def region(self) -> str:
        return self.settings.region

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("YIWANG_")}
        for name in SETTINGS_IN_ENV:
            value = getattr(self.settings, name)
            if value is not None:
                env[f"YIWANG_{name.upper()}"] = str(value).lower() if isinstance(value, bool) else str(value)
        return env | {"PYTHONUNBUFFERED": "1"}

    def start(self) -> None:
        with self.log.open("ab") as sink:
            sink.write(f"--- start {self.starts + 1} ---\n".encode())
            sink.flush()
            self.process = subprocess.Popen(
                [sys.executable, "-m", "transfer"],
                env=self.env(),
                stdout=sink,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.starts += 1

    def kill(self) -> None:
        """SIGKILL, as the kernel's OOM killer or a pulled plug would: no cleanup runs."""
        assert self.process is not None and self.process.poll() is None, self.tail()
        self.process.kill()
        self.process.wait(30)
        self.kills += 1

    def check_alive(self) -> None:
        if self.process is None or self.process.poll() is not None:
            code = None if self.process is None else self.process.returncode
            raise AssertionError(f"transfer-{self.region} exited ({code}):\n{self.tail()}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(30)

    def tail(self, lines: int = 40) -> str:
        if not self.log.exists():
            return "(no output)"
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


@dataclass
class Callers:
    """The gateway's clients and what they saw: the case each transfer got and every 5xx on the way.

    A client answered 5xx waits until `back` is set (the killed services restarted), then sends the
    same request again with the same Idempotency-Key."""

    back: asyncio.Event = field(default_factory=asyncio.Event)
    generation: int = 0  # restarts so far: a request sent in an earlier generation went to a killed process
    active: int = CLIENTS  # clients with transfers still to apply
    answered: dict[str, dict[str, Any]] = field(default_factory=dict)  # citizen -> the 201 body
    statuses: Counter[int] = field(default_factory=Counter)
    resent: set[str] = field(default_factory=set)  # citizens whose request was answered 5xx and sent again
    waiting: dict[str, int] = field(default_factory=dict)  # citizen -> generation of its request answered 5xx
    failed_in: dict[int, set[str]] = field(default_factory=dict)  # generation -> citizens answered 5xx
    refused: dict[str, str] = field(default_factory=dict)  # citizen -> an answer that is neither 201 nor 5xx

    def hold(self) -> None:
        """From now on a client answered 5xx waits for `back` (the restart) to send it again."""
        self.back.clear()

    def server_errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if status in SERVER_ERRORS)

    async def all_waiting(self) -> bool:
        """Every client still applying holds a request answered 5xx: none is in flight."""
        return len(self.waiting) == self.active


async def _apply_until_answered(stack: Stack, citizen: str, key: str, callers: Callers) -> None:
    given_up_at = time.monotonic() + GIVE_UP_AFTER
    while True:
        sent_in = callers.generation
        response = await stack.client.post(
            "/v1/regions/36/transfers",
            json={"citizen_id": citizen, "from_region": "44"},
            headers=stack.token() | {"Idempotency-Key": key},
        )
        callers.statuses[response.status_code] += 1
        if response.status_code == 201:
            callers.answered[citizen] = response.json()
            return
        if response.status_code not in SERVER_ERRORS or time.monotonic() > given_up_at:
            callers.refused[citizen] = f"{response.status_code} {response.text[:200]}"
            return
        callers.resent.add(citizen)
        callers.failed_in.setdefault(sent_in, set()).add(citizen)
        callers.waiting[citizen] = sent_in
        await callers.back.wait()
        del callers.waiting[citizen]
        await asyncio.sleep(RETRY_AFTER)


async def _clients(stack: Stack, people: list[str], callers: Callers) -> None:
    queue: asyncio.Queue[tuple[int, str]] = asyncio.Queue()
    for i, citizen in enumerate(people):
        queue.put_nowait((i, citizen))

    async def client() -> None:
        while not queue.empty():
            i, citizen = queue.get_nowait()
            await _apply_until_answered(stack, citizen, f"kill9-transfer-{i:04d}", callers)
        callers.active -= 1

    callers.back.set()
    await asyncio.gather(*(client() for _ in range(CLIENTS)))


async def _ready(stack: Stack, processes: list[ServiceProcess]) -> float:
    """Wait until each process answers a query through the gateway; returns the seconds waited."""
    started = time.monotonic()

    async def answering() -> bool:
        for p in processes:
            p.check_alive()
            response = await stack.client.get(
                f"/v1/regions/{p.region}/transfers",
                params={"at_risk_only": "false", "limit": 1},
                headers=stack.token(region=p.region),
            )
            if response.status_code != 200:
                return False
        return True

    await eventually(answering, within=120, every=0.1)
    return time.monotonic() - started


async def _count(pool: asyncpg.Pool, sql: str, *args: Any) -> int:
    return int(await pool.fetchval(sql, *args))


async def _events(pool: asyncpg.Pool, event_type: str) -> tuple[int, int]:
    """(events of this type, distinct streams having one): a difference is a duplicate effect."""
    row = await pool.fetchrow(
        "SELECT count(*) AS total, count(DISTINCT stream_id) AS distinct_streams FROM events WHERE event_type = $1",
        event_type,
    )
    return int(row["total"]), int(row["distinct_streams"])


async def _restart(stack: Stack, callers: Callers, targets: list[ServiceProcess]) -> tuple[float, float]:
    """After a moment down, start the killed processes again; the clients re-send once they answer.
    Returns when they were started (monotonic) and the seconds until they answered."""
    await asyncio.sleep(DOWN_FOR)
    started = time.monotonic()
    for p in targets:
        p.start()
    seconds = await _ready(stack, targets)
    callers.generation += 1
    callers.back.set()
    return started, seconds


def _print_tails(processes: dict[str, ServiceProcess]) -> None:
    for p in processes.values():
        print(f"--- transfer-{p.region} ({p.starts} starts, {p.kills} kills), {p.log}, last lines ---\n{p.tail()}")


async def test_transfer_services_killed_mid_batch_complete_every_transfer_once(
    servers: Servers, subject_root: str, tmp_path: Path
) -> None:
    processes = {
        region: ServiceProcess(
            await service_settings_for(servers, region, subject_root), tmp_path / f"transfer-{region}.log"
        )
        for region in REGIONS
    }
    new, old = processes["36"], processes["44"]
    pools: list[asyncpg.Pool] = []
    people = [young_citizen(7_000 + i) for i in range(TRANSFERS)]
    callers = Callers()
    kills: list[str] = []
    killed_at: list[datetime] = []
    failed = True
    try:
        async with running_stack(servers, subject_root, services=(), regions=REGIONS) as stack:
            for p in processes.values():
                p.start()
            first_ready = await _ready(stack, [new, old])  # migrated, streams and consumers in place
            for p in (new, old):
                pools.append(await asyncpg.create_pool(p.settings.database_url, min_size=1, max_size=2))
            pool36, pool44 = pools
            await seed_transfer_histories(pool44, pool36, people, new.settings.pseudonym_salt.encode())

            batch_started = time.monotonic()
            applying = asyncio.create_task(_clients(stack, people, callers))

            async def answered(share: float) -> bool:
                if applying.done():
                    applying.result()  # a client's exception, raised here
                    return True
                return len(callers.answered) >= share * TRANSFERS

            def kill(targets: list[ServiceProcess], what: str) -> None:
                callers.hold()
                for p in targets:
                    p.kill()
                killed_at.append(datetime.now(UTC))
                kills.append(f"{what} at {len(callers.answered)}/{TRANSFERS} answered")

            try:
                # 1. Both regions at once, wherever they are.
                await eventually(lambda: answered(0.3), within=120, every=0.02)
                kill([new, old], "both")
                back_after = [(await _restart(stack, callers, [new, old]))[1]]

                # 2. Region 36 alone, with transfers committed but never answered.
                await eventually(lambda: answered(0.5), within=120, every=0.02)
                callers.hold()  # the clients keep their 504s until the restart
                async with pool36.acquire() as holder, holder.transaction():
                    await holder.execute("LOCK TABLE command_replies IN SHARE MODE")
                    await eventually(callers.all_waiting, within=60)  # every request in flight answered 504
                # Held: requests sent to this process (a 504 of a request sent to the one killed before
                # may come in late, and that request died with its process).
                held = {c for c, sent_in in callers.waiting.items() if sent_in == callers.generation}

                async def held_committed() -> bool:
                    return len(held) == await _count(
                        pool36,
                        "SELECT count(*) FROM events WHERE event_type = 'TransferApplied' "
                        "AND data->>'citizen_id' = ANY($1::text[])",
                        list(held),
                    )

                await eventually(held_committed, within=60)
                kill([new], f"36 with {len(held)} transfers committed but unanswered,")
                back_after.append((await _restart(stack, callers, [new]))[1])

                # 3. Region 44 alone, while it answers the letters.
                await eventually(lambda: answered(0.7), within=120, every=0.02)
                kill([old], "44")
                letters = await _count(pool36, "SELECT count(*) FROM events WHERE event_type = 'ContactLetterSent'")
                paid = await _count(pool44, "SELECT count(*) FROM events WHERE event_type = 'FundsTransferred'")
                kills[-1] += f", {paid} of {letters} letters answered"
                restarted, seconds = await _restart(stack, callers, [old])
                back_after.append(seconds)
                await applying
            finally:
                if not applying.done():  # the test failed: no client outlives the gateway
                    applying.cancel()
                    await asyncio.gather(applying, return_exceptions=True)
            batch_seconds = time.monotonic() - batch_started

            async def settled() -> bool:
                for p in processes.values():
                    p.check_alive()
                completed, _ = await _events(pool36, "TransferCompleted")
                flagged, _ = await _events(pool36, "FundsMismatchDetected")
                outboxes = await _count(pool36, "SELECT count(*) FROM outbox") + await _count(
                    pool44, "SELECT count(*) FROM outbox"
                )
                ended, _ = await _events(pool44, "LocalRelationshipTerminated")
                viewed = await _count(pool36, "SELECT count(*) FROM transfers_view WHERE status <> 'open'")
                viewed += await _count(pool44, "SELECT count(*) FROM transfers_view WHERE status <> 'open'")
                done = completed + flagged >= len(callers.answered)
                return done and outboxes == 0 and viewed >= completed + flagged + ended

            await eventually(settled, within=180, every=0.2)
            recovery = time.monotonic() - restarted

            applied = await _events(pool36, "TransferApplied")
            completed = await _events(pool36, "TransferCompleted")
            flagged = await _events(pool36, "FundsMismatchDetected")
            sheets_in = await _events(pool36, "InformationSheetReceived")
            funds_in = await _events(pool36, "FundsReceived")
            letters_in = await _events(pool44, "ContactLetterReceived")
            sheets_out = await _events(pool44, "InformationSheetIssued")
            funds_out = await _events(pool44, "FundsTransferred")
            ended = await _events(pool44, "LocalRelationshipTerminated")
            effects = (applied, completed, sheets_in, funds_in, letters_in, sheets_out, funds_out, ended)
            people_applied = await _count(
                pool36, "SELECT count(DISTINCT data->>'person_ref') FROM events WHERE event_type = 'TransferApplied'"
            )
            # A second event of a kind in one case, or a second case for one person.
            duplicates = sum(total - distinct for total, distinct in (*effects, flagged)) + applied[0] - people_applied
            cases = {body["case_id"] for body in callers.answered.values()}
            stored = {
                r["stream_id"].removeprefix("transfer-")
                for r in await pool36.fetch("SELECT stream_id FROM events WHERE event_type = 'TransferApplied'")
            }
            lost = len(cases - stored)

            async def committed_before(at: datetime, citizens: set[str]) -> int:
                """How many of these citizens' transfers, as finally answered, were committed before `at`."""
                return await _count(
                    pool36,
                    "SELECT count(*) FROM events WHERE event_type = 'TransferApplied' AND recorded_at < $2 "
                    "AND stream_id = ANY($1::text[])",
                    [f"transfer-{callers.answered[c]['case_id']}" for c in citizens if c in callers.answered],
                    at,
                )

            # Transfers committed before a kill, their answer lost: the re-sends got that transfer, not a
            # second one (kill 2 makes such transfers on purpose; the other kills by chance).
            committed_unanswered = [
                await committed_before(at, callers.failed_in.get(generation, set()))
                for generation, at in enumerate(killed_at)
            ]
            held_found = await committed_before(killed_at[1], held)
            completed_cases = {
                r["stream_id"]
                for r in await pool36.fetch("SELECT stream_id FROM events WHERE event_type = 'TransferCompleted'")
            }
            view36 = dict(await pool36.fetch("SELECT status, count(*) FROM transfers_view GROUP BY status"))
            view44 = dict(await pool44.fetch("SELECT status, count(*) FROM transfers_view GROUP BY status"))

            # Deadlines: one timer per case and stage in each region, none left pending once the case is
            # done, none fired (none is due in real time), no breach recorded, let alone twice.
            timers = {}
            for region, pool in (("36", pool36), ("44", pool44)):
                timers[region] = await pool.fetchrow(
                    "SELECT count(*) AS timers, count(DISTINCT (stream_id, kind)) AS distinct_timers, "
                    "count(*) FILTER (WHERE status = 'pending') AS pending, "
                    "count(*) FILTER (WHERE status = 'fired') AS fired FROM deadlines"
                )
            pending_of_completed = await _count(
                pool36,
                "SELECT count(*) FROM deadlines WHERE status = 'pending' AND stream_id = ANY($1::text[])",
                list(completed_cases),
            )
            breaches = [await _events(pool, "StageDeadlineBreached") for pool in (pool36, pool44)]
            failed = False
    finally:
        for p in processes.values():
            p.stop()
        for pool in pools:
            await pool.close()
        if failed:
            _print_tails(processes)

    server_errors = callers.server_errors()
    print(
        f"transfer services killed (-9) {len(kills)} times ({'; '.join(kills)}): {TRANSFERS} transfers, "
        f"{server_errors} requests answered 5xx during the kills "
        f"({', '.join(f'{n} x {s}' for s, n in sorted(callers.statuses.items()) if s in SERVER_ERRORS) or 'none'}) "
        f"for {len(callers.resent)} transfers, re-sent with the same key "
        f"({'/'.join(map(str, committed_unanswered))} per kill had committed before it, unanswered); "
        f"{completed[0]} completed, {flagged[0]} flagged, duplicates {duplicates}, lost {lost}; "
        f"deadlines 36 {dict(timers['36'])}, 44 {dict(timers['44'])}, breaches {breaches[0][0] + breaches[1][0]}; "
        f"first start {first_ready:.1f} s, back after restart {', '.join(f'{s:.1f} s' for s in back_after)}, "
        f"batch {batch_seconds:.1f} s, all completed {recovery:.1f} s after the last restart"
    )
    try:
        assert callers.refused == {}
        assert held and held_found == len(held)  # answered at last with the transfers committed before kill 2
        assert len(callers.answered) == len(cases) == TRANSFERS  # one case per transfer, the same on each re-send
        assert {body["status"] for body in callers.answered.values()} == {"contact_letter_sent"}
        assert lost == 0  # every case answered 201 is in region 36's log
        assert duplicates == 0  # nothing applied, answered, paid, received or completed twice
        assert all(distinct == TRANSFERS for _, distinct in effects), effects
        assert flagged == (0, 0)  # the seeded histories agree to the fen: a flag here would be a wrong flag
        assert view36 == {"completed": TRANSFERS}
        assert view44 == {"transferred_out": TRANSFERS}
        # The old agency's stage, timed once in the new region; the old region answered each letter
        # in the decision that recorded it (the histories are complete), so it started no timer.
        assert dict(timers["36"]) == {"timers": TRANSFERS, "distinct_timers": TRANSFERS, "pending": 0, "fired": 0}
        assert dict(timers["44"]) == {"timers": 0, "distinct_timers": 0, "pending": 0, "fired": 0}
        assert pending_of_completed == 0
        assert breaches == [(0, 0), (0, 0)]
    except AssertionError:
        _print_tails(processes)
        raise
