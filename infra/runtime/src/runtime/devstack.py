"""`make run`: the whole stack on one machine, from the PyPI wheels, data kept under ./data.

Starts NATS (JetStream, fsync always) and PostgreSQL unless YIWANG_NATS_URL / YIWANG_DATABASE_URL
point at existing servers, one database per service and region, every service for each region
and the gateway; restarts a process that dies; Ctrl-C stops everything it started.

With `apart` (`yiwang up --apart`, `make run-apart`) each region gets servers of its own, as in
production (docs/deploy.md): a NATS server with its own JetStream domain (`r<region>`) and a
PostgreSQL server. The first region's NATS takes the others' leaf-node connections; the gateway
connects there and reaches the other regions over those links.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from runtime.embedded import EmbeddedNats, EmbeddedPostgres, free_port

SERVICES = ("enrolment", "transfer", "arrears", "injury")


@dataclass
class Child:
    name: str
    module: str
    env: dict[str, str]
    log: Path
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    started_at: float = 0.0

    def start(self) -> None:
        with self.log.open("ab") as sink:
            self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
                [sys.executable, "-m", self.module], env=self.env, stdout=sink, stderr=subprocess.STDOUT
            )
        self.started_at = time.monotonic()


def database_url(admin_url: str, database: str) -> str:
    parts = urlsplit(admin_url)
    return urlunsplit(parts._replace(path=f"/{database}"))


@dataclass(frozen=True)
class Servers:
    """Where one region's processes connect."""

    nats_url: str
    nats_monitor_url: str | None
    postgres_admin_url: str


@dataclass
class Stack:
    data_dir: Path
    regions: tuple[str, ...] = ("36", "44")
    gateway_port: int = 8000
    apart: bool = False
    started: list[EmbeddedNats | EmbeddedPostgres] = field(default_factory=list)  # stopped in reverse
    children: list[Child] = field(default_factory=list)

    def start_all_servers(self) -> dict[str, Servers]:
        """Each region's servers: one pair shared by all, or (apart) a pair per region."""
        if not self.apart:
            shared = Servers(*self.start_servers())
            return dict.fromkeys(self.regions, shared)
        if os.environ.get("YIWANG_NATS_URL") or os.environ.get("YIWANG_DATABASE_URL"):
            raise SystemExit("--apart starts each region's own servers: unset YIWANG_NATS_URL and YIWANG_DATABASE_URL")
        names = (*(f"{kind}_{r}" for r in self.regions for kind in ("nats", "nats_monitor", "postgres")), "leaf")
        ports = _ports(self.data_dir / "ports-apart", names)
        found = {}
        for i, region in enumerate(self.regions):
            nats = EmbeddedNats(
                self.data_dir / f"nats-{region}",
                port=ports[f"nats_{region}"],
                monitor_port=ports[f"nats_monitor_{region}"],
                server_name=f"yiwang-{region}",
                domain=f"r{region}",
                leaf_port=ports["leaf"] if i == 0 else None,
                leaf_remotes=() if i == 0 else (ports["leaf"],),
            )
            postgres = EmbeddedPostgres(self.data_dir / f"postgres-{region}", port=ports[f"postgres_{region}"])
            self.started += [nats.start(), postgres.start()]
            for service in SERVICES:
                postgres.create_database(f"{service}_{region}")
            if i == 0:
                postgres.create_database("gateway")
            found[region] = Servers(nats.url, nats.monitor_url, postgres.url)
        return found

    def start_servers(self) -> tuple[str, str | None, str]:
        """(NATS URL, NATS monitor URL, PostgreSQL admin URL): external if set, else embedded."""
        nats_url = os.environ.get("YIWANG_NATS_URL")
        monitor = os.environ.get("YIWANG_NATS_MONITOR_URL")
        if nats_url is None:
            ports = _ports(self.data_dir / "ports", ("nats", "nats_monitor", "postgres"))
            nats = EmbeddedNats(self.data_dir / "nats", port=ports["nats"], monitor_port=ports["nats_monitor"]).start()
            self.started.append(nats)
            nats_url, monitor = nats.url, nats.monitor_url
        admin_url = os.environ.get("YIWANG_DATABASE_URL")
        if admin_url is None:
            ports = _ports(self.data_dir / "ports", ("nats", "nats_monitor", "postgres"))
            postgres = EmbeddedPostgres(self.data_dir / "postgres", port=ports["postgres"]).start()
            self.started.append(postgres)
            for database in self.databases():
                postgres.create_database(database)
            admin_url = postgres.url
        return nats_url, monitor, admin_url

    def databases(self) -> list[str]:
        return ["gateway", *(f"{s}_{r}" for r in self.regions for s in SERVICES)]

    def start_processes(self, servers: dict[str, Servers]) -> None:
        logs = self.data_dir / "logs"
        logs.mkdir(parents=True, exist_ok=True)

        def base(at: Servers) -> dict[str, str]:
            env = {**os.environ, "YIWANG_NATS_URL": at.nats_url, "PYTHONUNBUFFERED": "1"}
            if at.nats_monitor_url:
                env["YIWANG_NATS_MONITOR_URL"] = at.nats_monitor_url
            return env

        for region in self.regions:
            for service in SERVICES:
                env = {
                    **base(servers[region]),
                    "YIWANG_REGION": region,
                    "YIWANG_DATABASE_URL": database_url(servers[region].postgres_admin_url, f"{service}_{region}"),
                    "OTEL_SERVICE_NAME": f"{service}-{region}",
                }
                self.children.append(Child(f"{service}-{region}", service, env, logs / f"{service}-{region}.log"))
        first = servers[self.regions[0]]
        gateway_env = {
            **base(first),
            "YIWANG_DATABASE_URL": database_url(first.postgres_admin_url, "gateway"),
            "YIWANG_PORT": str(self.gateway_port),
            "YIWANG_REGIONS": '["' + '","'.join(self.regions) + '"]',
        }
        self.children.append(Child("gateway", "gateway", gateway_env, logs / "gateway.log"))
        for child in self.children:
            child.start()

    def supervise(self, stop: list[bool]) -> None:
        """Restart a child that died (after a pause that grows), until asked to stop."""
        while not stop[0]:
            for child in self.children:
                if child.process is not None and child.process.poll() is not None and not stop[0]:
                    wait = min(2**child.restarts, 30)
                    if time.monotonic() - child.started_at > wait:
                        print(f"  {child.name} exited ({child.process.returncode}); restarting, see {child.log}")
                        child.restarts += 1
                        child.start()
            time.sleep(0.5)

    def stop(self) -> None:
        for child in self.children:
            if child.process is not None and child.process.poll() is None:
                child.process.send_signal(signal.SIGTERM)
        for child in self.children:
            if child.process is not None:
                try:
                    child.process.wait(15)
                except subprocess.TimeoutExpired:
                    child.process.kill()
                    child.process.wait(5)
        for server in reversed(self.started):
            server.stop()


def _ports(path: Path, names: tuple[str, ...]) -> dict[str, int]:
    """Stable ports across runs (kept in data/ports), so a second `make run` finds the same servers."""
    defaults = {"nats": 4222, "nats_monitor": 8222, "postgres": 54329}
    if path.exists():
        return {k: int(v) for k, v in (line.split("=") for line in path.read_text().split())}
    chosen = {name: defaults[name] if name in defaults and _free(defaults[name]) else free_port() for name in names}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(f"{k}={v}" for k, v in chosen.items()) + "\n")
    return chosen


def _free(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def up(
    data_dir: Path, *, regions: tuple[str, ...] = ("36", "44"), gateway_port: int = 8000, apart: bool = False
) -> None:
    if not _free(gateway_port):  # said before anything starts, not as a gateway restarting forever
        raise SystemExit(
            f"port {gateway_port} is in use on 127.0.0.1 (a stack already running? another program?): "
            "stop it, or give the gateway another port: `.venv/bin/yiwang up --port 8001 --data data`"
        )
    stack = Stack(data_dir.resolve(), regions, gateway_port, apart)
    stop = [False]

    def on_signal(signum: int, _frame: object) -> None:
        stop[0] = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        servers = stack.start_all_servers()
        stack.start_processes(servers)
        base = f"http://127.0.0.1:{gateway_port}"
        nats = "\n".join(
            f"  NATS {region:9} {at.nats_url} (monitor {at.nats_monitor_url})" for region, at in servers.items()
        )
        if not apart:
            nats = f"  NATS           {servers[regions[0]].nats_url} (monitor {servers[regions[0]].nats_monitor_url})"
        print(
            f"\nyiwang is up: regions {', '.join(regions)}\n"
            f"  gateway        {base}\n"
            f"  API docs       {base}/docs\n"
            f"  dashboard      {base}/dashboard#region=36&token=<a token, below>\n"
            f"  traces         every response has X-Trace-Id; `yiwang trace <id>` or GET {base}/v1/ops/traces/<id>\n"
            f"  a token        `.venv/bin/yiwang token operator ops-1 --region 36`\n"
            f"{nats}\n"
            f"  logs           {data_dir / 'logs'}\n"
            "Ctrl-C stops everything.\n",
            flush=True,
        )
        stack.supervise(stop)
    finally:
        print("stopping...", flush=True)
        stack.stop()
        print("stopped.", flush=True)
