"""A newcomer's first hour with `bank-server`: make serve on a chosen port, the one-line
refusals (port in use, a data dir another server holds, a remote database host, a bad admin
setting), private data dirs, the bank's name, and a demo that never undoes an admin's work.
"""

from __future__ import annotations

import os
import signal
import socket
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from server.db import EmbeddedDatabase
from server.embedded import READY_PREFIX
from tests.e2e.test_cli import bank_server, serving, wait_healthy
from tests.support import ROOT, Api, expect, free_port


def one_line(process: subprocess.Popen[str], timeout: float = 90) -> str:
    """Wait for a refused start; return its only output line (and check the status)."""
    output, _ = process.communicate(timeout=timeout)
    assert process.returncode == 2, output
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1, output
    return lines[0]


@pytest.fixture
def listener() -> Iterator[int]:
    """A port some other program listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


def test_make_serve_listens_on_port_and_keeps_its_demo_data_apart(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BANK_", "MONGODB_"))}
    make = subprocess.Popen(
        # -o: the venv counts as installed (the suite runs inside it).
        ["make", "-s", "-o", ".venv/.installed", "serve", f"PORT={port}", f"DATA={tmp_path}"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        wait_healthy(url, make)
        Api(url).login("teller", "teller123").close()  # the demo bank
        assert (tmp_path / "serve" / "db" / "bank.sqlite").exists()
    finally:
        os.killpg(make.pid, signal.SIGTERM)
        make.communicate(timeout=60)


def test_a_port_in_use_is_one_line_saying_what_to_do(tmp_path: Path, listener: int) -> None:
    line = one_line(bank_server("serve", "--port", str(listener), "--data-dir", str(tmp_path)))
    assert line == (
        f"bank-server: port {listener} is in use; stop the other server or choose another "
        "with --port / make serve PORT=..."
    )
    assert not (tmp_path / "db").exists()  # refused before the database started


def test_a_second_server_on_a_held_data_dir_is_one_line_naming_the_holder(
    tmp_path: Path,
) -> None:
    with serving("--data-dir", str(tmp_path)) as (_url, _process):
        holder = (tmp_path / "db" / "bank-db.lock").read_text().strip()
        line = one_line(bank_server("serve", "--port", str(free_port()),
                                    "--data-dir", str(tmp_path)))  # fmt: skip
    assert line == (
        f"bank-server: the database in {tmp_path / 'db'} is already served by pid {holder}; "
        "stop that server or use another --data-dir"
    )


def test_the_embedded_database_refuses_a_remote_host_unless_allowed(tmp_path: Path) -> None:
    line = one_line(bank_server("db", "--host", "0.0.0.0", "--port", "0",
                                "--data-dir", str(tmp_path / "a")))  # fmt: skip
    assert line.startswith("bank-server db: --host 0.0.0.0 is not a loopback address;")
    assert "--allow-remote" in line
    allowed = bank_server("db", "--host", "0.0.0.0", "--port", "0", "--allow-remote",
                          "--data-dir", str(tmp_path / "b"))  # fmt: skip
    try:
        assert allowed.stdout is not None
        first = allowed.stdout.readline()
        while first and not first.startswith(READY_PREFIX):
            first = allowed.stdout.readline()
        assert first.startswith(f"{READY_PREFIX}0.0.0.0:"), first
    finally:
        allowed.terminate()
        allowed.communicate(timeout=20)
    for host in ("127.0.0.1", "localhost", "::1"):
        database = EmbeddedDatabase(tmp_path / host.replace(":", "_"), host=host)
        try:
            database.start()
        finally:
            database.stop()


def test_data_dirs_are_created_for_their_owner_only(tmp_path: Path) -> None:
    data = tmp_path / "new" / "bank"
    with serving("--data-dir", str(data)):
        pass
    for folder in (data, data / "db"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
    database = EmbeddedDatabase(tmp_path / "alone")
    database.start()
    database.stop()
    assert stat.S_IMODE((tmp_path / "alone").stat().st_mode) == 0o700


@pytest.mark.parametrize(
    ("env", "line"),
    [
        ({"ADMIN_PASSWORD": "short"}, "bank-server: ADMIN_PASSWORD: String should have at least"),
        ({"ADMIN_USERNAME": "Ada Lovelace"}, "bank-server: ADMIN_USERNAME: username must be"),
        ({"ADMIN_USERNAME": "boss", "ADMIN_PASSWORD": "BOSS"}, "bank-server: ADMIN_PASSWORD:"),
    ],
)
def test_a_first_admin_the_api_would_refuse_is_one_line(
    env: dict[str, str], line: str, tmp_path: Path
) -> None:
    said = one_line(bank_server("serve", "--port", str(free_port()), "--data-dir", str(tmp_path),
                                env=env))  # fmt: skip
    assert said.startswith(line), said


def test_the_first_admin_and_the_bank_s_name_come_from_the_environment(tmp_path: Path) -> None:
    env = {"BANK_NAME": "Riverside Savings Bank", "ADMIN_USERNAME": "Ada",
           "ADMIN_PASSWORD": "counting-house-1843"}  # fmt: skip
    with serving("--data-dir", str(tmp_path), env=env) as (url, _process):
        assert httpx.get(f"{url}/", timeout=10).json()["name"] == "Riverside Savings Bank"
        ada = Api(url).login("ada", "counting-house-1843")
        assert expect(ada.get("/me"), 200)["role"] == "admin"
        ada.close()
    with serving("--data-dir", str(tmp_path)) as (url, _process):
        assert httpx.get(f"{url}/", timeout=10).json()["name"] == "Bank System"  # the default


def test_demo_restart_keeps_a_changed_password_and_a_deleted_customer(tmp_path: Path) -> None:
    with serving("--demo", "--data-dir", str(tmp_path)) as (url, _process):
        admin = Api(url).login("admin", "admin123")
        users = {u["username"]: u for u in expect(admin.get("/users"), 200)["items"]}
        expect(admin.put(f"/users/{users['teller']['id']}",
                         json={"password": "teller-new-pass-1"}), 200)  # fmt: skip
        bob = users["bob"]
        # Cash goes through a till: the admin opens a session on the demo's Till 1, which
        # holds the demo's cash since the teller's balanced session closed.
        tills = {t["name"]: t for t in expect(admin.get("/tills"), 200)["items"]}
        expect(admin.post(f"/tills/{tills['Till 1']['id']}/sessions", json={}), 201)
        for account in expect(admin.get(f"/users/{bob['id']}/accounts"), 200)["items"]:
            if account["balance"] != "0.00":  # a customer with money cannot be deleted
                expect(admin.post(f"/accounts/{account['id']}/withdraw",
                                  json={"amount": account["balance"]}), 201)  # fmt: skip
        expect(admin.delete(f"/users/{bob['id']}"), 204)
        # Last: changing one's own password ends one's sessions.
        expect(admin.put(f"/users/{users['admin']['id']}",
                         json={"password": "admin-new-pass-1", "current_password": "admin123"}),
               200)  # fmt: skip
        admin.close()

    with serving("--demo", "--data-dir", str(tmp_path)) as (url, _process):
        anon = httpx.Client(base_url=url, timeout=30)

        def login(username: str, password: str) -> int:
            response = anon.post("/login", data={"username": username, "password": password})
            return response.status_code

        assert login("teller", "teller123") == 401  # the demo did not reset it
        assert login("teller", "teller-new-pass-1") == 200
        assert login("admin", "admin123") == 401
        assert login("admin", "admin-new-pass-1") == 200
        assert login("bob", "bob12345") == 401  # still deleted
        assert login("alice", "alice123") == 200  # the rest of the demo is as it was
        admin = Api(url).login("admin", "admin-new-pass-1")
        listed = [u["username"] for u in expect(admin.get("/users"), 200)["items"]]
        assert "bob" not in listed  # deleted users are left out of the list
        assert expect(admin.get(f"/users/{bob['id']}"), 200)["is_active"] is False
        everyone = expect(admin.get("/users", params={"include_deleted": "true"}), 200)["items"]
        assert [u["username"] for u in everyone].count("bob") == 1  # not created again
        admin.close()
        anon.close()
