"""The deployment files agree with each other and with the server's settings.

No container engine runs here, so this checks what can be checked without one: the compose
file's services, healthchecks, start order and environment against `server.config.Settings`,
the Dockerfile's stages, user, healthcheck and command, nginx's forwarding headers and
upstreams, the systemd unit (with `systemd-analyze verify` where it exists), and that no
secret is written into any of them.
"""

from __future__ import annotations

import ast
import configparser
import importlib.util
import ipaddress
import re
import shlex
import shutil
import subprocess
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml

from server.config import Settings

ROOT = Path(__file__).resolve().parents[2]
PACKAGING = ROOT / "packaging"
SETTINGS_FIELDS = {name.upper() for name in Settings.model_fields}
SECRET_NAME = re.compile(r"SECRET|PASSWORD|TOKEN|DSN|_KEY$", re.IGNORECASE)
DOCKERFILE_PATH = "packaging/Dockerfile"


def server_requirements_module() -> ModuleType:
    """Load packaging/server_requirements.py (a script, not an importable package)."""
    spec = importlib.util.spec_from_file_location(
        "server_requirements", PACKAGING / "server_requirements.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# -- compose -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((PACKAGING / "compose.yaml").read_text())
    return data


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = compose["services"]
    return found


def server_services(services: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {
        name: spec
        for name, spec in services.items()
        if isinstance(spec.get("build"), dict)
        and spec["build"].get("dockerfile") == DOCKERFILE_PATH
    }


def mongo_services(services: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {
        name: spec
        for name, spec in services.items()
        if str(spec.get("image", "")).startswith("mongo:") and "mongod" in spec.get("command", [])
    }


def command_text(spec: dict[str, Any]) -> str:
    command = spec.get("command", "")
    return command if isinstance(command, str) else " ".join(map(str, command))


def long_running(spec: dict[str, Any]) -> bool:
    return str(spec.get("restart", "no")) != "no"


def test_the_stack_has_every_part(services: dict[str, dict[str, Any]]) -> None:
    mongos = mongo_services(services)
    assert len(mongos) == 3
    for spec in mongos.values():
        assert spec["image"].startswith("mongo:8")
        command = spec["command"]
        assert command[command.index("--replSet") + 1] == "rs0"
    inits = [s for s in services.values() if "rs.initiate" in command_text(s)]
    assert len(inits) == 1
    init = inits[0]
    assert not long_running(init)
    for name in mongos:
        assert f'host: "{name}:27017"' in command_text(init)
    assert '_id: "rs0"' in command_text(init)
    redis = services["redis"]
    assert redis["image"].startswith("redis:7")
    assert len(server_services(services)) >= 2
    proxy = services["proxy"]
    assert proxy["image"].startswith("nginx:")
    assert "./nginx.conf:/etc/nginx/nginx.conf:ro" in proxy["volumes"]
    assert proxy["ports"]


def test_every_long_running_service_has_a_healthcheck(
    services: dict[str, dict[str, Any]],
) -> None:
    running = {name: spec for name, spec in services.items() if long_running(spec)}
    assert len(running) >= 7  # 3 mongo, redis, 2 servers, proxy
    for name, spec in running.items():
        test = spec.get("healthcheck", {}).get("test")
        assert test, name
        assert test[0] in ("CMD", "CMD-SHELL"), name
        assert spec["healthcheck"].get("interval"), name


def test_servers_start_after_a_healthy_database_and_redis(
    services: dict[str, dict[str, Any]],
) -> None:
    mongos = set(mongo_services(services))
    init = next(n for n, s in services.items() if "rs.initiate" in command_text(s))
    for name, spec in server_services(services).items():
        depends = spec["depends_on"]
        for mongo in mongos:
            assert depends[mongo]["condition"] == "service_healthy", name
        assert depends["redis"]["condition"] == "service_healthy", name
        assert depends[init]["condition"] == "service_completed_successfully", name
    proxy_depends = services["proxy"]["depends_on"]
    for name in server_services(services):
        assert proxy_depends[name]["condition"] == "service_healthy"


def test_server_environment_names_are_settings(services: dict[str, dict[str, Any]]) -> None:
    for name, spec in server_services(services).items():
        environment = spec["environment"]
        assert isinstance(environment, dict), name
        unknown = {key for key in environment if key.upper() not in SETTINGS_FIELDS}
        assert not unknown, f"{name} sets variables the server does not read: {unknown}"
        assert environment["BANK_ENV"] == "production"


def test_no_secret_is_written_into_the_compose_file(
    compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    for name, spec in server_services(services).items():
        for key, value in spec["environment"].items():
            if SECRET_NAME.search(key):
                assert str(value).startswith("${"), f"{name}: {key} is a literal"
        # SECRET_KEY comes from the env file, which must exist for compose to start.
        assert "SECRET_KEY" not in spec["environment"] or spec["environment"][
            "SECRET_KEY"
        ].startswith("${")
        env_files = spec["env_file"]
        assert {"path": "bank.env", "required": True} in env_files
    example = env_file_entries(PACKAGING / "bank.env.example")
    assert "SECRET_KEY" in example
    for key, value in example.items():
        assert key in SETTINGS_FIELDS, f"bank.env.example: {key} is not a setting"
        if SECRET_NAME.search(key):
            assert value == "", f"bank.env.example ships a value for {key}"
    ignored = (ROOT / ".gitignore").read_text().split()
    assert "packaging/bank.env" in ignored
    assert "secrets" not in compose or all(
        "environment" not in s for s in compose["secrets"].values()
    )


def env_file_entries(path: Path) -> dict[str, str]:
    entries = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            entries[key.strip()] = value.strip()
    return entries


def test_mongodb_url_names_the_three_members_and_the_replica_set(
    services: dict[str, dict[str, Any]],
) -> None:
    members = {f"{name}:27017" for name in mongo_services(services)}
    for name, spec in server_services(services).items():
        url = urlsplit(spec["environment"]["MONGODB_URL"])
        assert url.scheme == "mongodb"
        assert set(url.netloc.split(",")) == members, name
        query = parse_qs(url.query)
        assert query["replicaSet"] == ["rs0"]
        assert query["w"] == ["majority"]
        redis = urlsplit(spec["environment"]["REDIS_URL"])
        assert redis.hostname == "redis"


def test_only_the_proxy_is_a_trusted_proxy(
    compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    ((network_name, attachment),) = services["proxy"]["networks"].items()
    proxy_ip = ipaddress.ip_address(attachment["ipv4_address"])
    subnet = ipaddress.ip_network(compose["networks"][network_name]["ipam"]["config"][0]["subnet"])
    assert proxy_ip in subnet
    for name, spec in server_services(services).items():
        assert network_name in spec["networks"], name
        networks = [
            ipaddress.ip_network(entry.strip(), strict=False)
            for entry in spec["environment"]["TRUSTED_PROXIES"].split(",")
        ]
        assert any(proxy_ip in network for network in networks), name
        # Never so broad that a client could choose the address it is counted under.
        assert all(network.num_addresses <= subnet.num_addresses for network in networks)


def test_the_database_network_is_internal(
    compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    for name in [*mongo_services(services), "redis"]:
        networks = services[name]["networks"]
        assert all(compose["networks"][n].get("internal") is True for n in networks), name
        assert "ports" not in services[name]


# -- Dockerfile ----------------------------------------------------------------------------


def dockerfile_instructions() -> list[tuple[str, str]]:
    """Return (INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for raw in (PACKAGING / "Dockerfile").read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        pending = f"{pending} {line}" if pending else line
        if pending.endswith("\\"):
            pending = pending[:-1].rstrip()
            continue
        keyword, _, rest = pending.partition(" ")
        instructions.append((keyword.upper(), rest.strip()))
        pending = ""
    return instructions


def env_pairs(arguments: str) -> dict[str, str]:
    return dict(item.split("=", 1) for item in shlex.split(arguments))


def test_dockerfile_builds_in_stages_and_runs_as_a_user() -> None:
    instructions = dockerfile_instructions()
    args = {
        k: v for kw, a in instructions if kw == "ARG" and "=" in a for k, v in [a.split("=", 1)]
    }
    stages = [a.split()[0] for kw, a in instructions if kw == "FROM"]
    assert len(stages) >= 2
    for image in stages:
        resolved = re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], image)
        assert resolved == "python:3.13-slim"
    last_from = max(i for i, (kw, _) in enumerate(instructions) if kw == "FROM")
    users = [a for kw, a in instructions[last_from:] if kw == "USER"]
    assert users, "the runtime stage sets no USER"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0")
    assert "EXPOSE" in {kw for kw, _ in instructions[last_from:]}
    assert [a for kw, a in instructions if kw == "EXPOSE"] == ["8000"]


def test_dockerfile_healthcheck_and_command() -> None:
    instructions = dockerfile_instructions()
    (health,) = [a for kw, a in instructions if kw == "HEALTHCHECK"]
    assert "/health" in health
    assert "127.0.0.1:8000" in health
    assert "curl" not in health  # neither curl nor wget is in the slim image
    assert "wget" not in health
    assert "urllib" in health
    (command,) = [a for kw, a in instructions if kw == "CMD"]
    assert ast.literal_eval(command) == [
        "bank-server", "serve", "--host", "0.0.0.0", "--port", "8000",
    ]  # fmt: skip


def test_dockerfile_environment_has_no_secret_and_names_settings() -> None:
    environment: dict[str, str] = {}
    for keyword, arguments in dockerfile_instructions():
        if keyword == "ENV":
            environment.update(env_pairs(arguments))
    assert environment["BANK_ENV"] == "production"
    for key in environment:
        assert not SECRET_NAME.search(key), f"the image bakes in {key}"
        if not key.startswith(("PYTHON", "PIP_")):
            assert key in SETTINGS_FIELDS, f"{key} is not a setting"


def test_the_build_context_sends_what_the_dockerfile_copies_and_no_secret() -> None:
    ignore = (ROOT / ".dockerignore").read_text().splitlines()
    allowed = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    assert "*" in ignore  # everything else stays out, .env and the venv included
    assert "**/*.env" in ignore
    assert "**/.env" in ignore
    for keyword, arguments in dockerfile_instructions():
        if keyword == "COPY" and "--from" not in arguments:
            *sources, _target = arguments.split()
            for source in sources:
                assert source.rstrip("/") in allowed, source
                assert (ROOT / source).exists(), source


def test_the_image_leaves_out_only_what_the_server_never_imports() -> None:
    module = server_requirements_module()
    requirements = module.server_requirements(ROOT / "pyproject.toml")
    names = {module.requirement_name(r) for r in requirements}
    assert {"fastapi", "mongoeco", "uvicorn", "beanie"} <= names
    assert not names & module.DESKTOP_ONLY
    left_out = {"PySide6", "pyqtgraph", "shiboken6", "desktop"}
    for path in [*(ROOT / "server").rglob("*.py"), *(ROOT / "shared").rglob("*.py")]:
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                tops = {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                tops = {node.module.split(".")[0]}
            else:
                continue
            assert not tops & left_out, f"{path.relative_to(ROOT)} imports {tops & left_out}"


# -- nginx ---------------------------------------------------------------------------------


def test_nginx_forwards_the_client_and_request_id_to_every_server(
    services: dict[str, dict[str, Any]],
) -> None:
    conf = (PACKAGING / "nginx.conf").read_text()
    assert re.search(r"proxy_set_header\s+X-Forwarded-For\s+\$proxy_add_x_forwarded_for;", conf)
    assert re.search(r"proxy_set_header\s+X-Request-ID\s+\$\w+;", conf)
    upstreams = set(re.findall(r"^\s*server\s+([\w.-]+):8000\b", conf, re.MULTILINE))
    assert upstreams == set(server_services(services))
    (size,) = re.findall(r"client_max_body_size\s+(\d+)k;", conf)
    assert int(size) * 1024 <= Settings.model_fields["max_body_bytes"].default
    assert re.search(r"location = /nginx-health", conf)
    # The servers do not cap header size themselves; the proxy must.
    assert re.search(r"large_client_header_buffers\s+\d+\s+(\d+)k;", conf)
    assert "/nginx-health" in " ".join(services["proxy"]["healthcheck"]["test"])


def test_nginx_keeps_metrics_and_everything_under_it_internal() -> None:
    # `location = /metrics` let /metrics/ through (the servers answer both alike).
    conf = (PACKAGING / "nginx.conf").read_text()
    block = re.search(r"location\s+\^~\s+/metrics\s*\{\s*return\s+404;\s*\}", conf)
    assert block, "nginx must answer 404 for /metrics and every path under it"
    assert not re.search(r"location\s*=\s*/metrics\b", conf)


# -- systemd -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def unit() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string((PACKAGING / "bank-server.service").read_text())
    return parser


def test_systemd_unit_runs_the_server_as_its_own_user_and_restarts_it(
    unit: configparser.ConfigParser,
) -> None:
    service = unit["Service"]
    assert service["User"] not in ("", "root")
    assert service["Group"] == service["User"]
    command = shlex.split(service["ExecStart"])
    assert command[0].endswith("/bank-server")
    assert command[1] == "serve"
    assert service["Restart"] == "on-failure"
    assert service["EnvironmentFile"] == "/etc/bank/bank.env"
    assert unit["Install"]["WantedBy"] == "multi-user.target"


def test_systemd_unit_is_hardened_and_writes_only_its_data_dir(
    unit: configparser.ConfigParser,
) -> None:
    service = unit["Service"]
    assert service["ProtectSystem"] == "strict"
    assert service["NoNewPrivileges"] == "yes"
    assert service["PrivateTmp"] == "yes"
    assert service["ProtectHome"] == "yes"
    environment = dict(item.split("=", 1) for item in shlex.split(service["Environment"]))
    assert environment["BANK_ENV"] == "production"
    assert set(environment) <= SETTINGS_FIELDS
    writable = service["ReadWritePaths"].split()
    assert writable == [environment["BANK_DATA_DIR"]]
    # nginx on this host is the proxy: without it every client would be 127.0.0.1.
    assert environment["TRUSTED_PROXIES"] == "127.0.0.1"
    assert Path(environment["BACKUP_DIR"]).is_relative_to(environment["BANK_DATA_DIR"])


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze")
def test_systemd_accepts_every_line_of_the_unit(tmp_path: Path) -> None:
    text = (PACKAGING / "bank-server.service").read_text()
    # verify insists that ExecStart exists; the rest is checked as written.
    path = tmp_path / "bank-server.service"
    path.write_text(text.replace("/opt/bank/bin/bank-server", shutil.which("true") or "/bin/true"))
    result = subprocess.run(
        ["systemd-analyze", "verify", str(path)],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "", result.stdout
    assert result.stderr.strip() == "", result.stderr
