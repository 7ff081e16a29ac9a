"""The desktop's composition root: one BankClient for the app's life, against a real server.

Sign-ins (after a sign-out, an expired session, at the lock as someone else) re-authenticate
that one client in place; windows, models and dialogs keep it; it is closed when the app
ends; and desktop.app and desktop.self_test do not import each other.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import httpx
import pytest
from shiboken6 import isValid

from desktop.cli import launch
from tests.support import ServerProcess

ROOT = Path(__file__).resolve().parents[2]
WAIT_MS = 15_000


# ---------------------------------------------------------------- helpers


@pytest.fixture(scope="module")
def customers(make_user: Any, open_account: Any) -> list[dict[str, Any]]:
    """Two customers with their own passwords: one account for the first, two for the second."""
    people = []
    for name, deposits in (("cora", ("10.00",)), ("dino", ("20.00", "30.00"))):
        password = f"{name}-pass-123"
        user, _api = make_user("user", username=name, password=password)
        for amount in deposits:
            open_account(user["id"], deposit=amount)
        people.append({**user, "password": password, "accounts": len(deposits)})
    return people


def sign_in_on(qtbot: Any, desktop: Any, person: dict[str, Any]) -> Any:
    """Type a person's name and password into the app's sign-in dialog; return their window."""
    login = desktop.login
    assert login is not None
    assert login.isVisible()
    qtbot.addWidget(login)
    login.username_edit.setText(person["username"])
    login.password_edit.setText(person["password"])
    login.login_button.click()
    qtbot.waitUntil(
        lambda: desktop.window is not None and desktop.window.user.id == person["id"],
        timeout=WAIT_MS,
    )
    return desktop.window


def wait_loaded(qtbot: Any, window: Any, rows: int) -> None:
    """Wait until the window's accounts table shows `rows` accounts, loaded without error."""
    model = window.accounts_model
    qtbot.waitUntil(lambda: not model.loading and model.rowCount() == rows, timeout=WAIT_MS)
    assert model.error is None


def answers(server: ServerProcess, token: str | None) -> int:
    """Return the status /me gives `token` (assert on it apart: pytest would print the token)."""
    return httpx.get(f"{server.url}/me", headers={"Authorization": f"Bearer {token}"}).status_code


# ---------------------------------------------------------------- one client


def test_sign_out_and_another_user_keep_the_one_client(
    qtbot: Any, server: ServerProcess, customers: list[dict[str, Any]]
) -> None:
    cora, dino = customers
    desktop = launch(["--server", server.url, "--idle-minutes", "60"])
    client = desktop.client
    first = sign_in_on(qtbot, desktop, cora)
    wait_loaded(qtbot, first, cora["accounts"])
    assert first.client is client
    assert first.accounts_model.client is client

    first.logout_action.trigger()
    qtbot.waitUntil(lambda: desktop.window is None, timeout=WAIT_MS)
    assert not client.signed_in
    # The window went for good: Qt deleted it, so its timers no longer touch the client.
    qtbot.waitUntil(lambda: not isValid(first), timeout=WAIT_MS)

    second = sign_in_on(qtbot, desktop, dino)
    qtbot.addWidget(second)
    assert desktop.client is client
    assert second.client is client
    for model in (second.accounts_model, second.transactions_model):
        assert model.client is client
    wait_loaded(qtbot, second, dino["accounts"])
    owners = {second.accounts_model.account_at(r).owner_id for r in range(dino["accounts"])}
    assert owners == {dino["id"]}
    assert not client._http.is_closed
    second.close()


def test_an_expired_session_signs_the_same_client_in_again(
    qtbot: Any,
    server: ServerProcess,
    customers: list[dict[str, Any]],
    open_account: Any,
) -> None:
    cora = customers[0]
    desktop = launch(["--server", server.url, "--idle-minutes", "60"])
    client = desktop.client
    window = sign_in_on(qtbot, desktop, cora)
    qtbot.addWidget(window)
    model = window.accounts_model
    qtbot.waitUntil(lambda: model.total is not None and not model.loading, timeout=WAIT_MS)
    rows = model.rowCount()
    assert rows >= 1
    old_token = client._access
    # End the session on the server behind the app's back (as an admin's change would).
    client._http.post("/logout", headers={"Authorization": f"Bearer {old_token}"})
    window.refresh_action.trigger()
    qtbot.waitUntil(lambda: desktop.login is not None and desktop.login.isVisible(),
                    timeout=WAIT_MS)  # fmt: skip
    assert not window.isEnabled()

    relocked = desktop.login
    qtbot.addWidget(relocked)
    assert relocked.client is client
    relocked.password_edit.setText(cora["password"])
    relocked.login_button.click()
    qtbot.waitUntil(window.isEnabled, timeout=WAIT_MS)
    assert desktop.window is window
    assert desktop.client is client
    assert window.client is client
    assert model.client is client
    assert window.accounts_model is model
    assert client._access != old_token
    status = answers(server, old_token)
    assert status == 401

    # The model loaded before the expiry loads again, with the new token: a new account shows.
    open_account(cora["id"], deposit="5.00")
    window.refresh_action.trigger()
    wait_loaded(qtbot, window, rows + 1)
    assert window.isEnabled()
    assert not relocked.isVisible()
    window.close()


def test_another_user_at_the_lock_ends_the_first_session(
    qtbot: Any, server: ServerProcess, customers: list[dict[str, Any]]
) -> None:
    cora, dino = customers
    desktop = launch(["--server", server.url, "--idle-minutes", "60"])
    client = desktop.client
    first = sign_in_on(qtbot, desktop, cora)
    cora_token = client._access
    status = answers(server, cora_token)
    assert status == 200

    desktop.lock()  # what the idle watcher calls
    assert not first.isEnabled()
    second = sign_in_on(qtbot, desktop, dino)
    qtbot.addWidget(second)
    assert second is not first
    assert desktop.client is client
    assert second.client is client
    status = answers(server, cora_token)
    assert status == 401  # Cora's session did not outlive her turn
    status = answers(server, client._access)
    assert status == 200
    qtbot.waitUntil(lambda: not isValid(first), timeout=WAIT_MS)
    wait_loaded(qtbot, second, dino["accounts"])
    second.close()


# ---------------------------------------------------------------- closing


EXIT_SCRIPT = """
import json, sys
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
from desktop import cli

url, username, password = sys.argv[1:4]
made = []
compose = cli.compose

def recording_compose(settings, server_url):
    desktop = compose(settings, server_url)
    made.append(desktop)
    QTimer.singleShot(0, sign_in)
    return desktop

def sign_in():
    login = made[0].login
    login.username_edit.setText(username)
    login.password_edit.setText(password)
    login.login_button.click()
    QTimer.singleShot(50, close_when_shown)

def close_when_shown():
    window = made[0].window
    if window is None:
        QTimer.singleShot(50, close_when_shown)
        return
    made.append(window.client is made[0].client)
    window.close()  # as the teller does: the last window closes and the app ends

cli.compose = recording_compose
QTimer.singleShot(30_000, lambda: QApplication.exit(3))  # not ended: say so
status = cli.main(["--server", url, "--idle-minutes", "60"])
desktop = made[0]
print(json.dumps({"status": status, "windows_client": made[1:],
                  "closed": desktop.client._http.is_closed}))
"""


def test_the_client_is_closed_when_the_application_ends(
    server: ServerProcess, customers: list[dict[str, Any]], tmp_path: Path
) -> None:
    cora = customers[0]
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env |= {"QT_QPA_PLATFORM": "offscreen", "XDG_CONFIG_HOME": str(tmp_path), "HOME": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(EXIT_SCRIPT), server.url,
         cora["username"], cora["password"]],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=90, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    assert outcome == {"status": 0, "windows_client": [True], "closed": True}


# ---------------------------------------------------------------- the import graph


def imported_modules(path: Path, package: str) -> set[str]:
    """Return every module a file imports (also inside functions and TYPE_CHECKING blocks)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the file's package
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            found.add(base)
            # `from desktop import app` imports the module desktop.app
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def desktop_imports() -> dict[str, set[str]]:
    """Map every module of the desktop package to the desktop modules it imports."""
    graph: dict[str, set[str]] = {}
    for path in (ROOT / "desktop").rglob("*.py"):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        if is_package:
            parts.pop()
        module = ".".join(parts)
        package = module if is_package else ".".join(parts[:-1])
        graph[module] = imported_modules(path, package)
    return {name: {m for m in imports if m in graph} for name, imports in graph.items()}


def reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    """Return the modules `start` imports, directly or through others."""
    seen: set[str] = set()
    todo = [start]
    while todo:
        for module in graph.get(todo.pop(), set()) - seen:
            seen.add(module)
            todo.append(module)
    return seen


def test_app_and_self_test_do_not_import_each_other() -> None:
    graph = desktop_imports()
    assert "desktop.app" in graph
    assert "desktop.self_test" in graph
    assert "desktop.self_test" not in reachable(graph, "desktop.app")
    assert "desktop.app" not in reachable(graph, "desktop.self_test")
    # The composition root is what joins them.
    assert {"desktop.app", "desktop.self_test"} <= graph["desktop.cli"]


def test_the_import_graph_sees_every_form_of_import(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "from typing import TYPE_CHECKING\n"
        "from desktop import app\n"
        "if TYPE_CHECKING:\n    from . import self_test\n"
        "def later():\n    import desktop.cli\n"
    )
    found = imported_modules(sample, "desktop")
    assert {"desktop.app", "desktop.self_test", "desktop.cli"} <= found
