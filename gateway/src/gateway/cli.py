"""`yiwang`: the operators' command line (start the stack, tokens, transfer paths, traces, dead letters,
projection rebuilds)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from contracts.envelope import ActorKind
from gateway.auth import issue_token
from gateway.config import GatewaySettings
from gateway.simulation.driver import CONCURRENCY

app = typer.Typer(help="yiwang operators' CLI", no_args_is_help=True)
T = TypeVar("T")


@app.command()
def up(
    data: Annotated[Path, typer.Option(help="Where NATS and PostgreSQL keep their data.")] = Path("data"),
    port: Annotated[int, typer.Option(help="Gateway port.")] = 8000,
    apart: Annotated[
        bool, typer.Option(help="Each region its own NATS (JetStream domain, leaf-node link) and PostgreSQL.")
    ] = False,
) -> None:
    """Start NATS, PostgreSQL, every service for regions 36 and 44, and the gateway."""
    from runtime.devstack import up as start

    start(data, gateway_port=port, apart=apart)


@app.command()
def token(
    kind: Annotated[ActorKind, typer.Argument(help="who signs in: a feed's token is `system`")],
    subject: Annotated[str, typer.Argument(help="who: a pseudonym, credit code, staff or hospital id")],
    region: Annotated[str | None, typer.Option(help="the region of an operator or a feed")] = None,
    role: Annotated[str | None, typer.Option()] = None,
    citizen_id: Annotated[str | None, typer.Option(help="a citizen's ID number (a citizen's token needs it)")] = None,
) -> None:
    """Print a development token signed with YIWANG_JWT_SECRET."""
    from contracts.identifiers import check_citizen_id

    if kind in (ActorKind.OPERATOR, ActorKind.SYSTEM) and not region:
        raise typer.BadParameter("an operator's or a feed's token names its region: --region 36", param_hint="--region")
    if kind is ActorKind.CITIZEN:
        try:
            citizen_id = check_citizen_id(citizen_id or "")
        except ValueError as error:
            raise typer.BadParameter(
                f"a citizen's token carries a valid ID number: {error}", param_hint="--citizen-id"
            ) from error
    settings = GatewaySettings()
    typer.echo(
        issue_token(
            settings.jwt_secret, kind=kind.value, subject=subject, region=region, role=role, citizen_id=citizen_id
        )
    )


async def _connect(settings: GatewaySettings) -> Any:
    """The stack's NATS, or a plain message and exit status 1 (not a traceback) when it is not there."""
    from runtime.messaging import connect

    try:
        return await connect(settings.nats_servers, name="yiwang-cli", wait_seconds=5)
    except TimeoutError as error:
        typer.echo(f"{error}: set YIWANG_NATS_URL to the stack's NATS (`make run` prints it as NATS ...)", err=True)
        raise typer.Exit(1) from error


def _gateway_unreachable(gateway: str, error: Exception) -> typer.Exit:
    """A plain line for a gateway that does not answer at all (not a traceback), and exit status 1."""
    typer.echo(
        f"gateway at {gateway} not reachable ({type(error).__name__}): --gateway names it "
        "(`make run` prints it as gateway ...)",
        err=True,
    )
    return typer.Exit(1)


def _js_call(work: object) -> object:
    async def main() -> object:
        settings = GatewaySettings()
        nc = await _connect(settings)
        try:
            return await work(nc.jetstream(), settings)  # type: ignore[operator]
        finally:
            await nc.drain()

    return asyncio.run(main())


@app.command()
def trace(trace_id: Annotated[str, typer.Argument(help="32 hexadecimal digits: a response's X-Trace-Id")]) -> None:
    """Show one trace as a tree: every hop across gateway, services and regions with its time."""
    from runtime.traces import is_trace_id, read_trace, render_tree

    trace_id = trace_id.lower()
    if not is_trace_id(trace_id):
        raise typer.BadParameter("32 hexadecimal digits, as in a response's X-Trace-Id", param_hint="TRACE_ID")

    async def work(js: object, settings: GatewaySettings) -> str:
        spans = await read_trace(js, settings.subject_root, trace_id)  # type: ignore[arg-type]
        return render_tree(spans) if spans else f"no spans stored for {trace_id}"

    typer.echo(_js_call(work))


@app.command()
def transfer(
    case_id: str,
    region: Annotated[str, typer.Option(help="the region the worker applied in (the new region)")] = "36",
    gateway: Annotated[str, typer.Option(help="the gateway's base URL")] = "http://127.0.0.1:8000",
) -> None:
    """Show a transfer's path: each stage in either region against its limit, the three days, the trace id."""
    import httpx

    from gateway.transfer_path import render

    settings = GatewaySettings()
    bearer = issue_token(settings.jwt_secret, kind="operator", subject="cli", region=region)
    try:
        response = httpx.get(
            f"{gateway}/v1/regions/{region}/transfers/{case_id}",
            headers={"Authorization": f"Bearer {bearer}"},
            timeout=10,
        )
    except httpx.TransportError as error:
        raise _gateway_unreachable(gateway, error) from error
    if response.status_code != 200:
        try:
            problem = response.json()
        except ValueError:  # not the gateway's problem+json: something else answers at that address
            problem = None
        detail = problem.get("detail") if isinstance(problem, dict) else None
        detail = detail or response.text[:200]
        typer.echo(f"{response.status_code}: {detail}", err=True)
        raise typer.Exit(1)
    typer.echo(render(response.json()))


@app.command()
def audit(last: Annotated[int, typer.Option(min=1, help="how many of the latest records")] = 50) -> None:
    """The latest audit records: every change and every refusal, who, where, the outcome, the trace."""
    from gateway.audit import read_audit

    async def work(js: object, settings: GatewaySettings) -> str:
        records = await read_audit(js, settings.subject_root, last=last)  # type: ignore[arg-type]
        return (
            "\n".join(
                f"{r['time']}\t{r['status']}\t{r['method']} {r['path']}\t"
                f"{(r['actor'] or {}).get('kind', '-')}:{(r['actor'] or {}).get('id', '-')}\t{r['problem'] or ''}"
                f"\t{r['trace_id'] or ''}"
                for r in records
            )
            or "none"
        )

    typer.echo(_js_call(work))


@app.command()
def alerts(last: Annotated[int, typer.Option(min=1, help="how many of the latest alerts")] = 50) -> None:
    """The latest alerts of every service: consumers saturated, stalled or recovered, with the backlog;
    projections stalled, held back (with the transaction holding them) or recovered."""
    from runtime.watch import read_alerts

    async def work(js: object, settings: GatewaySettings) -> str:
        found = await read_alerts(js, settings.subject_root, last=last)  # type: ignore[arg-type]
        return "\n".join(_alert_line(a) for a in found) or "none"

    typer.echo(_js_call(work))


def _alert_line(alert: dict[str, Any]) -> str:
    head = f"{alert['time']}\t{alert['region']}\t{alert['service']}"
    if "projection" in alert:
        line = (
            f"{head}\tprojection {alert['projection']}\t{alert['state']}\t{alert['seconds']}s\tat {alert['position']}"
        )
        holder = alert.get("holder")
        if holder:
            line += (
                f"\theld by database {holder['database']}, {holder['application'] or 'no application name'}"
                f" (pid {holder['pid']}, {holder['state']}, open {holder['seconds']}s)"
            )
        return line
    return (
        f"{head}\t{alert['consumer']}\t{alert['state']}\t{alert['seconds']}s\tpending {alert['pending']}\t"
        f"in flight {alert['ack_pending']}/{alert['max_ack_pending']}"
    )


@app.command("dead-letters")
def dead_letters() -> None:
    """List the dead letters: sequence, consumer, subject and reason."""
    from runtime.messaging import DeadLetters

    async def work(js: object, settings: GatewaySettings) -> str:
        found = await DeadLetters(js, settings.subject_root).list()  # type: ignore[arg-type]
        return "\n".join(f"{d['sequence']}\t{d['consumer']}\t{d['subject']}\t{d['reason']}" for d in found) or "none"

    typer.echo(_js_call(work))


@app.command()
def replay(sequence: int) -> None:
    """Send a dead letter back to its subject after the fix, and remove it."""
    from runtime.messaging import DeadLetters, NoSuchDeadLetterError

    async def work(js: object, settings: GatewaySettings) -> str:
        try:
            subject = await DeadLetters(js, settings.subject_root).replay(sequence)  # type: ignore[arg-type]
        except NoSuchDeadLetterError as error:
            typer.echo(f"{error}: `yiwang dead-letters` lists those held", err=True)
            raise typer.Exit(1) from error
        return f"replayed {sequence} to {subject}"

    typer.echo(_js_call(work))


ServiceName = Annotated[str, typer.Argument(help="enrolment, transfer, arrears or injury")]


class _Service:
    """A running service's operators' requests over NATS (`<root>.<region>.<service>.cmd.<name>`)."""

    def __init__(self, service: str, region: str) -> None:
        from contracts.subjects import SERVICES

        if service not in SERVICES:
            raise typer.BadParameter(f"one of {', '.join(SERVICES)}", param_hint="SERVICE")
        self.service, self.region, self.settings = service, region, GatewaySettings()
        self.nc: Any = None

    async def ask(self, name: str, body: dict[str, Any], wait: float) -> dict[str, Any]:
        import orjson

        from contracts.replies import Reply
        from contracts.subjects import Subjects
        from runtime.messaging import request

        subject = Subjects(self.settings.subject_root).command(self.region, self.service, name)
        reply = Reply.model_validate_json(await request(self.nc, subject, orjson.dumps(body), timeout=wait))
        if not reply.ok or not isinstance(reply.result, dict):
            raise typer.BadParameter(
                (reply.problem.detail if reply.problem else None) or "refused", param_hint="SERVICE"
            )
        return reply.result

    def run(self, work: Callable[[], Awaitable[T]]) -> T:
        """`work` with the stack's NATS connected; a service that does not answer in one line, exit 1."""
        import nats.errors

        async def main() -> T:
            self.nc = await _connect(self.settings)
            try:
                return await work()
            finally:
                await self.nc.drain()

        try:
            return asyncio.run(main())
        except (nats.errors.NoRespondersError, nats.errors.TimeoutError, TimeoutError) as error:
            typer.echo(f"{self.service} in region {self.region} did not answer: {type(error).__name__}", err=True)
            raise typer.Exit(1) from error


@app.command()
def rebuild(
    service: ServiceName,
    region: Annotated[str, typer.Option(help="the service's region")] = "36",
    timeout: Annotated[float, typer.Option(help="seconds to wait for each projection")] = 600.0,
) -> None:
    """Rebuild a service's projections: each read model emptied and replayed from the event log."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    running = _Service(service, region)

    async def work() -> list[dict[str, Any]]:
        names: list[str] = (await running.ask("rebuild_projections", {"projections": []}, 10.0))["available"]
        done: list[dict[str, Any]] = []
        columns = (TextColumn("{task.description:<24}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*columns) as bar:
            task = bar.add_task(f"{service}-{region}", total=len(names))
            for name in names:
                bar.update(task, description=f"rebuilding {name}")
                done += (await running.ask("rebuild_projections", {"projections": [name]}, timeout))["rebuilt"]
                bar.advance(task)
        return done

    rebuilt = running.run(work)
    for r in rebuilt:
        typer.echo(f"{r['projection']}: {r['events']} events replayed in {r['seconds']} s")
    if not rebuilt:
        typer.echo(f"{service} in region {region} has no projections")


@app.command()
def undeliverable(
    service: ServiceName,
    region: Annotated[str, typer.Option(help="the service's region")] = "36",
    resend: Annotated[bool, typer.Option(help="queue them all again in the outbox (after the fix)")] = False,
    limit: Annotated[int, typer.Option(min=1, help="list at most this many, the oldest first")] = 1000,
) -> None:
    """Messages a service's outbox parked because no stream took their subject: list them, or resend.
    Also says how many wait for each other region (held while it is out of reach)."""
    running = _Service(service, region)
    answer = running.run(lambda: running.ask("undeliverable", {"resend": resend, "limit": limit}, 30.0))
    if resend:
        typer.echo(f"{answer['resent']} queued again in the outbox of {service} in region {region}")
        return
    lines = [f"{m['parked_at']}\t{m['subject']}\t{m['message_id']}\t{m['reason']}" for m in answer["parked"]]
    if answer["total"] > len(lines):
        lines.append(f"... and {answer['total'] - len(lines)} more")
    typer.echo("\n".join(lines) or "none")
    for waiting in answer.get("for_other_regions", []):  # held while that region is out of reach
        typer.echo(
            f"waiting for region {waiting['region']}: {waiting['messages']} messages, "
            f"the oldest for {waiting['oldest_seconds']} s"
        )


@app.command("load-calendar")
def load_calendar(
    path: Annotated[
        Path,
        typer.Argument(
            exists=True,
            dir_okay=False,
            help='JSON: {"year": 2027, "holidays": [...], "workdays": [...], "source": "..."}',
        ),
    ],
) -> None:
    """Load next year's working-day calendar (State Council notice); provisional deadlines are recomputed."""
    from uuid import uuid4

    import orjson

    from runtime.workdays import CalendarDataError, CalendarYear

    try:
        raw = orjson.loads(path.read_bytes())
        if not isinstance(raw, dict):
            raise CalendarDataError(f"a JSON object is needed, not {type(raw).__name__}")
        year = CalendarYear.from_json(raw)
    except ValueError as error:  # not JSON, or not a calendar (CalendarDataError): nothing is published
        typer.echo(f"{path}: not loaded: {error}", err=True)
        raise typer.Exit(2) from error

    async def work(js: object, settings: GatewaySettings) -> str:
        subject = f"{settings.subject_root}.calendar.year_loaded"
        ack = await js.publish(subject, orjson.dumps(year.to_json()), headers={"Nats-Msg-Id": str(uuid4())})  # type: ignore[attr-defined]
        return f"calendar {year.year} published (stream sequence {ack.seq}); every service applies it"

    typer.echo(_js_call(work))


@app.command()
def simulate(
    profile: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="A city's year, e.g. docs/scenarios/nanchang-2021.json.")
    ],
    scale: Annotated[
        float, typer.Option(help="Share of the year's traffic to send (0.001: about 200 requests).")
    ] = 0.001,
    gateway: Annotated[str, typer.Option(help="the gateway's base URL")] = "http://127.0.0.1:8000",
    seed: Annotated[int | None, typer.Option(help="Same seed, same people (default: a new one, printed).")] = None,
    other_region: Annotated[str, typer.Option(help="Where transfers come from and go to.")] = "44",
    concurrency: Annotated[int, typer.Option(min=1, help="Calls in flight at once.")] = CONCURRENCY,
) -> None:
    """Send a year of a city's traffic through the gateway, then compare the projections with the profile."""
    import secrets
    from datetime import UTC, datetime

    import httpx
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from gateway import simulation as sim
    from runtime.workdays import local_date

    settings = GatewaySettings()
    seed = secrets.randbelow(10**6) if seed is None else seed
    try:
        plan = sim.build_plan(
            sim.Profile.load(profile),
            scale=scale,
            seed=seed,
            today=local_date(datetime.now(UTC)),
            other_region=other_region,
            online_channels=settings.online_channels,
        )
    except sim.PlanError as error:
        typer.echo(f"cannot plan the year: {error}", err=True)
        raise typer.Exit(2) from error
    try:
        httpx.get(f"{gateway}/health/live", timeout=5)
    except httpx.TransportError as error:
        raise _gateway_unreachable(gateway, error) from error
    columns = (TextColumn("{task.description:<30}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns) as bar:
        task = bar.add_task(f"seed {seed}", total=plan.calls)
        try:
            report = asyncio.run(
                sim.run_against(
                    gateway,
                    plan,
                    settings.jwt_secret,
                    concurrency=concurrency,
                    progress=lambda n, what: bar.update(task, advance=n, description=what),
                )
            )
        except sim.FigureNotReadError as error:
            typer.echo(f"simulation stopped: {error}", err=True)
            raise typer.Exit(1) from error
    typer.echo(sim.render(report))
    if not report.reproduced:
        raise typer.Exit(1)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
