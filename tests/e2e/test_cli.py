"""`bank-server` as a newcomer and an operator use it: serve --demo, db, create-admin, refusals."""

from __future__ import annotations

import os
import re
import select
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import httpx
import pytest
from pymongo import MongoClient

from server.db import EmbeddedDatabase
from tests.ledger_checks import check_ledger
from tests.support import ROOT, TEST_SECRET, Api, ServerProcess, dec, expect, free_port


def bank_server(*args: str, env: dict[str, str] | None = None, **kwargs: Any) -> Any:
    """Start `bank-server ARGS` as a process with a clean, explicit environment."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("BANK_", "MONGODB_"))}
    base.pop("SECRET_KEY", None)
    base.pop("ADMIN_PASSWORD", None)
    options: dict[str, Any] = {"stdout": subprocess.PIPE, "stderr": subprocess.STDOUT,
                               "text": True, **kwargs}  # fmt: skip
    return subprocess.Popen(
        [sys.executable, "-m", "server.cli", *args],
        cwd=ROOT,
        env={**base, "PYTHONUNBUFFERED": "1", **(env or {})},
        **options,
    )


def wait_healthy(url: str, process: subprocess.Popen[str], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"exited early: {process.stdout.read() if process.stdout else ''}")
        with suppress(httpx.HTTPError):
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        time.sleep(0.2)
    raise AssertionError("server did not become healthy")


@contextmanager
def serving(*args: str, env: dict[str, str] | None = None) -> Iterator[tuple[str, Any]]:
    port = free_port()
    process = bank_server("serve", "--port", str(port), *args, env=env)
    try:
        wait_healthy(f"http://127.0.0.1:{port}", process)
        yield f"http://127.0.0.1:{port}", process
    finally:
        children = children_of(process.pid)
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
        for pid in children:  # the embedded database notices a dead parent within a second
            deadline = time.monotonic() + 10
            while alive(pid) and time.monotonic() < deadline:
                time.sleep(0.1)


def children_of(pid: int) -> list[int]:
    result = subprocess.run(
        ["/bin/ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True, check=False
    )
    return [int(line) for line in result.stdout.split()]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split()[2] == "Z")


def test_serve_demo_answers_the_seed_curl_and_stops_its_database(tmp_path: Path) -> None:
    with serving("--demo", "--data-dir", str(tmp_path)) as (url, process):
        # The seed's own example, verbatim: form-encoded POST /login.
        response = httpx.post(
            f"{url}/login",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            content="username=admin&password=admin123",
        )
        body = expect(response, 200)
        assert body["token_type"] == "bearer"
        teller = Api(url).login("teller", "teller123")
        accounts = expect(teller.get("/accounts"), 200)
        assert accounts["total"] == 6
        alice = Api(url).login("alice", "alice123")
        mine = expect(alice.get("/accounts"), 200)["items"]
        assert {a["owner_name"] for a in mine} == {"Alice Smith"}
        assert any(a["balance"] != "0.00" for a in mine)
        # Demo customers are identified: a verified passport each (API.md version 2).
        me = expect(alice.get("/me"), 200)
        assert me["kyc_status"] == "verified"
        assert [d["type"] for d in me["documents"]] == ["passport"]
        database_pids = children_of(process.pid)
        assert database_pids, "serve should run `bank-server db` as a child"
        assert (tmp_path / "db" / "bank.sqlite").exists()
    for pid in database_pids:
        deadline = time.monotonic() + 10
        while alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not alive(pid), "the embedded database outlived the server"


def test_demo_is_idempotent_across_restarts_and_concurrent_starts(tmp_path: Path) -> None:
    database = EmbeddedDatabase(tmp_path / "shared-db")
    url = database.start()
    try:
        env = {"MONGODB_URL": url, "SECRET_KEY": TEST_SECRET, "DATABASE_NAME": "demo_twice"}
        first_port, second_port = free_port(), free_port()
        first = bank_server("serve", "--demo", "--port", str(first_port),
                            "--data-dir", str(tmp_path / "a"), env=env)  # fmt: skip
        second = bank_server("serve", "--demo", "--port", str(second_port),
                             "--data-dir", str(tmp_path / "b"), env=env)  # fmt: skip
        try:
            wait_healthy(f"http://127.0.0.1:{first_port}", first)
            wait_healthy(f"http://127.0.0.1:{second_port}", second)
        finally:
            for process in (first, second):
                process.terminate()
                process.wait(20)
        with serving("--demo", "--data-dir", str(tmp_path / "c"), env=env) as (base, _):
            manager = Api(base).login("super", "super123")
            tills = expect(manager.get("/tills"), 200)["items"]
            position = expect(manager.get("/cash-position"), 200)
            session = expect(manager.get("/sessions/1"), 200)
            sessions = expect(manager.get("/sessions"), 200)
            manager.close()
        client: MongoClient[Any] = MongoClient(url, tz_aware=True)
        db = client["demo_twice"]
        usernames = [u["username"] for u in db.users.find()]
        assert sorted(usernames) == sorted(set(usernames))
        assert set(usernames) == {"admin", "super", "teller", "alice", "bob", "carol"}
        roles = {u["username"]: u["role"] for u in db.users.find()}
        assert roles["super"] == "supervisor"
        assert db.accounts.count_documents({}) == 6
        for customer in db.users.find({"role": "user"}):
            assert len(customer["documents"]) == 1, customer["username"]
            assert customer["documents"][0]["verified_at"] is not None
        # Version 2 keeps customer legs on ledger pages: eight demo movements, each once,
        # plus the vault's two opening deliveries; version 1's collection stays empty.
        assert db.transactions.count_documents({}) == 0
        assert db.transaction_refs.count_documents({}) == 8
        kinds = sorted(entry["kind"] for entry in db.journal.find({}))
        assert kinds == sorted(["vault_in"] * 2 + ["deposit"] * 5 + ["withdrawal"] * 3), kinds
        # Two tills, once each; the vault holds its 50,000.00 per currency once.
        assert sorted(t["name"] for t in tills) == ["Till 1", "Till 2"]
        assert db.tills.count_documents({}) == 2
        assert {c: position[c]["vault"] for c in ("USD", "EUR")} == {
            "USD": "50000.00", "EUR": "50000.00",
        }  # fmt: skip
        # One demo session, closed balanced, its takings left in Till 1; Till 2 empty.
        assert sessions["total"] == 1
        assert session["status"] == "closed"
        assert session["till_id"] == next(t["id"] for t in tills if t["name"] == "Till 1")
        assert session["counted"] == session["expected"]
        assert {c: dec(v) for c, v in session["variance"].items()} == {"USD": 0, "EUR": 0}
        by_name = {t["name"]: t for t in tills}
        assert by_name["Till 1"]["cash"] == session["counted"]
        assert not any(dec(v) for v in (by_name["Till 2"]["cash"] or {}).values())
        assert by_name["Till 1"]["session_id"] is None
        check_ledger(db)
        client.close()
    finally:
        database.stop()


@pytest.mark.parametrize(
    ("env", "args", "reason"),
    [
        ({"BANK_ENV": "production"}, (), "MONGODB_URL"),
        ({"BANK_ENV": "production", "MONGODB_URL": "mongodb://x"}, (), "SECRET_KEY"),
        ({"BANK_ENV": "production", "MONGODB_URL": "mongodb://x",
          "SECRET_KEY": "BANK_SECRET_KEY_123"}, (), "SECRET_KEY"),
        ({"BANK_ENV": "production", "MONGODB_URL": "mongodb://x", "SECRET_KEY": "s" * 40},
         ("--demo",), "demo"),
    ],
)  # fmt: skip
def test_production_refuses_to_start_with_one_line_reason(
    env: dict[str, str], args: tuple[str, ...], reason: str, tmp_path: Path
) -> None:
    process = bank_server("serve", "--port", str(free_port()), "--data-dir", str(tmp_path),
                          *args, env=env)  # fmt: skip
    output, _ = process.communicate(timeout=60)
    assert process.returncode == 2
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1, output
    assert reason in lines[0]


@pytest.mark.parametrize(
    ("env", "reason"),
    [
        ({"MAX_BODY_BYTES": "1"}, "MAX_BODY_BYTES"),
        ({"LOGIN_MAX_FAILURES": "many"}, "LOGIN_MAX_FAILURES"),
        ({"LOG_FORMAT": "xml"}, "LOG_FORMAT"),
    ],
)
def test_a_bad_setting_is_refused_with_one_line_naming_it(
    env: dict[str, str], reason: str, tmp_path: Path
) -> None:
    process = bank_server("serve", "--port", str(free_port()), "--data-dir", str(tmp_path), env=env)
    output, _ = process.communicate(timeout=60)
    assert process.returncode == 2
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1, output
    assert lines[0].startswith("bank-server: invalid settings:")
    assert reason in lines[0]
    assert "Traceback" not in output


def test_db_refuses_a_second_process_on_the_same_data_dir(tmp_path: Path) -> None:
    database = EmbeddedDatabase(tmp_path)
    database.start()
    try:
        second = bank_server("db", "--port", "0", "--data-dir", str(tmp_path))
        output, _ = second.communicate(timeout=30)
        assert second.returncode == 2
        assert "already served" in output
    finally:
        database.stop()


def test_first_start_writes_a_generated_admin_password_to_a_private_file(tmp_path: Path) -> None:
    # Not a terminal (a service manager's log): the password goes to a 0600 file in the
    # data dir, and only where it is is printed.
    with serving("--data-dir", str(tmp_path)) as (url, process):
        lines: list[str] = []
        deadline = time.monotonic() + 10
        assert process.stdout is not None
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            lines.append(line)
            if "Created admin" in line:
                break
        match = re.search(r"Created admin 'admin'; its generated password is in (\S+)",
                          "".join(lines))  # fmt: skip
        assert match, lines
        path = Path(match.group(1))
        assert path.parent == tmp_path
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        password = path.read_text().strip()
        api = Api(url).login("admin", password)
        api.close()
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=20)
        assert password not in "".join(lines) + output  # never in the log
    with serving("--data-dir", str(tmp_path)) as (_url, process):
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=20)
        assert "Created admin" not in output


def test_first_start_on_a_terminal_shows_the_generated_password(tmp_path: Path) -> None:
    import pty

    leader, follower = pty.openpty()
    port = free_port()
    process = bank_server("serve", "--port", str(port), "--data-dir", str(tmp_path),
                          stdout=follower)  # fmt: skip
    os.close(follower)
    seen = ""
    try:
        deadline = time.monotonic() + 90
        while "with password:" not in seen and time.monotonic() < deadline:
            ready, _, _ = select.select([leader], [], [], 1)
            if ready:
                seen += os.read(leader, 4096).decode(errors="replace")
        match = re.search(r"Created admin 'admin' with password: (\S+)", seen)
        assert match, seen
        assert not (tmp_path / "first-admin-password").exists()
        wait_healthy(f"http://127.0.0.1:{port}", process)
        Api(f"http://127.0.0.1:{port}").login("admin", match.group(1)).close()
    finally:
        process.send_signal(signal.SIGTERM)
        with suppress(subprocess.TimeoutExpired):
            process.wait(30)
        os.close(leader)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.10"])
def test_development_refuses_a_non_loopback_address_without_allow_remote(
    tmp_path: Path, host: str
) -> None:
    process = bank_server("serve", "--host", host, "--port", str(free_port()),
                          "--data-dir", str(tmp_path))  # fmt: skip
    output, _ = process.communicate(timeout=60)
    assert process.returncode == 2, output
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1, output
    assert "--allow-remote" in lines[0]


def test_create_admin_uses_admin_password(tmp_path: Path, wire_db: EmbeddedDatabase) -> None:
    env = {"MONGODB_URL": wire_db.url, "DATABASE_NAME": "create_admin_cli",
           "ADMIN_PASSWORD": "boss-password-1"}  # fmt: skip
    process = bank_server("create-admin", "--username", "Boss", env=env)
    output, _ = process.communicate(timeout=60)
    assert process.returncode == 0, output
    assert "created admin 'boss'" in output
    again = bank_server("create-admin", "--username", "boss", env=env)
    output, _ = again.communicate(timeout=60)
    assert again.returncode == 2
    assert "taken" in output
    with ServerProcess(
        mongodb_url=wire_db.url, database_name="create_admin_cli", data_dir=tmp_path
    ).start() as server:
        boss = Api(server.url).login("boss", "boss-password-1")
        assert expect(boss.get("/me"), 200)["role"] == "admin"


def test_health_and_routes_answer_503_when_the_database_is_gone(tmp_path: Path) -> None:
    database = EmbeddedDatabase(tmp_path / "db")
    url = database.start()
    server = ServerProcess(
        mongodb_url=url, database_name="gone", data_dir=tmp_path,
        env={"DB_TIMEOUT_MS": "1000"},
    ).start()  # fmt: skip
    try:
        admin = Api(server.url).tokens("admin", "admin-pass-123")
        database.stop()
        health = httpx.get(f"{server.url}/health", timeout=30)
        assert health.status_code == 503
        assert health.json()["database"] == "unavailable"
        me = httpx.get(
            f"{server.url}/me",
            headers={"Authorization": f"Bearer {admin['access_token']}"},
            timeout=30,
        )
        expect(me, 503, "service_unavailable")
        assert "Traceback" not in me.text
    finally:
        server.stop()
        database.stop()


def audit_of(url: str, database: str, username: str) -> dict[str, Any]:
    """Return the `user.created` event of a username in a database."""
    client: MongoClient[Any] = MongoClient(url)
    try:
        event = client[database].audit_events.find_one(
            {"action": "user.created", "details.username": username}
        )
    finally:
        client.close()
    assert event is not None
    return event


@pytest.mark.parametrize("role", ["teller", "supervisor", "admin"])
def test_create_user_makes_staff_audited_as_cli(
    tmp_path: Path, wire_db: EmbeddedDatabase, role: str
) -> None:
    env = {"MONGODB_URL": wire_db.url, "DATABASE_NAME": "create_user_cli",
           "ADMIN_PASSWORD": "staff-password-1"}  # fmt: skip
    name = f"first-{role}"
    process = bank_server("create-user", "--username", name, "--role", role, env=env)
    output, _ = process.communicate(timeout=60)
    assert process.returncode == 0, output
    assert f"created {role} '{name}'" in output
    event = audit_of(wire_db.url, "create_user_cli", name)
    assert event["actor_id"] is None
    assert event["details"]["actor"] == "cli"
    assert event["details"]["role"] == role


def test_create_user_refuses_a_short_staff_password(wire_db: EmbeddedDatabase) -> None:
    env = {"MONGODB_URL": wire_db.url, "DATABASE_NAME": "create_user_short",
           "ADMIN_PASSWORD": "eleven-char"}  # fmt: skip
    process = bank_server("create-user", "--username", "shorty", "--role", "teller", env=env)
    output, _ = process.communicate(timeout=60)
    assert process.returncode == 2, output
    assert "at least 12 characters" in output
    assert output.count("\n") == 1, output  # one line, no traceback


def test_create_user_prompts_twice_on_a_terminal(wire_db: EmbeddedDatabase) -> None:
    import pty

    env = {"MONGODB_URL": wire_db.url, "DATABASE_NAME": "create_user_tty"}
    leader, follower = pty.openpty()
    # Its own session, so it has no controlling terminal: getpass reads the pty (stdin) and
    # prompts on stderr (here the pipe). Each prompt flushes pending input before it shows,
    # so each answer is typed once its prompt is seen.
    process = bank_server(
        "create-user", "--username", "prompted", "--role", "supervisor", env=env,
        stdin=follower, start_new_session=True,
    )  # fmt: skip
    os.close(follower)
    assert process.stdout is not None
    seen = ""
    try:
        for prompt in ("Password for the new supervisor: ", "Repeat the password: "):
            deadline = time.monotonic() + 60
            while prompt not in seen and time.monotonic() < deadline:
                ready, _, _ = select.select([process.stdout], [], [], 1)
                if ready:
                    seen += os.read(process.stdout.fileno(), 1024).decode()
            assert prompt in seen, seen
            os.write(leader, b"prompted-pass-123\n")
        rest, _ = process.communicate(timeout=60)
        output = seen + rest
    finally:
        os.close(leader)
    assert process.returncode == 0, output
    assert "created supervisor 'prompted'" in output
