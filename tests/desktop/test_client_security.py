"""The desktop's client refuses plain http to other computers, ignores the environment's
proxies, and keeps the server's device token so a locked-out username still signs in from it.

Other clients pick the IP they are counted under through 127.0.0.2, the one trusted proxy
(as tests/e2e/test_rate_limits.py does); the desktop itself speaks from 127.0.0.1.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QLabel, QLineEdit, QPushButton

from desktop import workers
from desktop.api.client import BankClient, InsecureServer, check_server_url
from desktop.cli import launch
from desktop.dialogs.login import LoginDialog
from server.config import Settings
from tests.support import ADMIN_PASSWORD, Api, ServerProcess, expect, real_limits

PROXY = "127.0.0.2"
MAX_FAILURES = Settings.model_fields["login_max_failures"].default
SERVER_ENV = real_limits(
    TRUSTED_PROXIES=f"{PROXY}/32", LOGIN_DELAY_SECONDS="0.5",
    LOGIN_ATTEMPTS_PER_MINUTE_PER_IP="1000000", LOGIN_ATTEMPTS_PER_MINUTE_PER_USER="1000000",
)  # fmt: skip
INSECURE = "This address is not secure: use https:// (plain http:// only for this computer)."
WAIT_MS = 20_000
MakeUser = Callable[..., tuple[dict[str, Any], Api]]


@pytest.fixture(autouse=True)
def no_task_left_behind(qtbot: Any) -> Iterator[None]:
    yield
    qtbot.waitUntil(lambda: workers.pending() == 0, timeout=WAIT_MS)


def test_plain_http_to_another_computer_is_refused_before_anything_is_sent() -> None:
    sent: list[httpx.Request] = []

    class Recording(httpx.HTTPTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            sent.append(request)
            return super().handle_request(request)

    client = BankClient("http://bank.example:8000", transport=Recording())
    with pytest.raises(InsecureServer, match="not a secure address"):
        client.login("alice", "alice-password")
    assert sent == []  # the password never left
    with pytest.raises(InsecureServer):
        client.set_server("http://10.0.0.5:8000")
    with pytest.raises(InsecureServer):
        client.set_server("ftp://bank.example")
    assert client.base_url == "http://bank.example:8000"
    for fine in ("https://bank.example", "http://127.0.0.1:8000", "http://127.8.9.10",
                 "http://localhost:8000", "http://[::1]:8000", "http://LOCALHOST"):  # fmt: skip
        check_server_url(fine)
        client.set_server(fine)
        assert client.base_url == fine
    for bad in ("http://localhost.bank.example", "http://128.0.0.1", "http://[::2]"):
        with pytest.raises(InsecureServer):
            check_server_url(bad)
    client.close()


def test_the_sign_in_dialog_says_why_in_one_sentence(qtbot: Any, server: ServerProcess) -> None:
    client = BankClient(server.url)
    dialog = LoginDialog(client)
    qtbot.addWidget(dialog)
    dialog.show()
    server_edit = dialog.findChild(QLineEdit, "serverUrlEdit")
    server_edit.clear()
    qtbot.keyClicks(server_edit, "http://bank.example:8000")
    qtbot.keyClicks(dialog.findChild(QLineEdit, "usernameEdit"), "admin")
    qtbot.keyClicks(dialog.findChild(QLineEdit, "passwordEdit"), ADMIN_PASSWORD)
    dialog.findChild(QPushButton, "loginButton").click()
    error = dialog.findChild(QLabel, "loginError")
    qtbot.waitUntil(error.isVisible, timeout=WAIT_MS)
    assert error.text() == INSECURE
    assert not client.signed_in
    assert client.base_url == server.url
    client.close()


def test_a_loopback_server_is_accepted_and_the_environment_is_not_trusted(
    server: ServerProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A proxy from the environment would take the password; it is dead here, so a client
    # that honoured it could not sign in at all.
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "all_proxy"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    trusting = httpx.Client(base_url=server.url, timeout=5)
    with pytest.raises(httpx.TransportError):  # the check itself: the environment bites
        trusting.get("/health")
    trusting.close()
    port = server.url.rsplit(":", 1)[1]
    for url in (server.url, f"http://localhost:{port}"):
        client = BankClient(url)
        assert client.login("admin", ADMIN_PASSWORD).username == "admin"
        client.logout()
        client.close()


def proxied_login(url: str, username: str, password: str, ip: str) -> httpx.Response:
    """POST /login as client `ip`, through the trusted proxy."""
    with httpx.Client(base_url=url, timeout=30,
                      transport=httpx.HTTPTransport(local_address=PROXY)) as http:  # fmt: skip
        return http.post("/login", data={"username": username, "password": password},
                         headers={"X-Forwarded-For": ip})  # fmt: skip


def sign_in_at_desktop(qtbot: Any, server: ServerProcess, username: str, password: str) -> Any:
    desktop = launch(["--server", server.url, "--idle-minutes", "60"])
    dialog = desktop.login
    qtbot.addWidget(dialog)
    dialog.findChild(QLineEdit, "usernameEdit").setText(username)
    dialog.findChild(QLineEdit, "passwordEdit").setText(password)
    dialog.findChild(QPushButton, "loginButton").click()
    qtbot.waitUntil(lambda: desktop.window is not None, timeout=WAIT_MS)
    return desktop


def sign_out_of(qtbot: Any, desktop: Any) -> None:
    """Sign out through the window (which Qt then deletes) and end that desktop."""
    desktop.window.logout()
    qtbot.waitUntil(lambda: desktop.window is None, timeout=WAIT_MS)
    qtbot.addWidget(desktop.login)
    desktop.shutdown()


def test_the_desktop_keeps_its_device_token_and_is_not_locked_out(
    qtbot: Any, server: ServerProcess, make_user: MakeUser
) -> None:
    user, _api = make_user("teller")
    name, right = user["username"], f"pw-{user['username']}-secret"
    first = sign_in_at_desktop(qtbot, server, name, right)
    first.settings.sync()
    token = str(QSettings(first.settings.fileName(), first.settings.format())
                .value(f"devices/{name}", ""))  # fmt: skip
    assert token.count(".") == 2  # a JWT the server signed
    sign_out_of(qtbot, first)

    # Someone elsewhere guesses the password: the username is locked for unknown clients.
    for n in range(MAX_FAILURES):
        expect(proxied_login(server.url, name, "wrong-password", f"10.20.1.{n}"), 401)
    expect(proxied_login(server.url, name, right, "10.20.2.1"), 429)
    with httpx.Client(base_url=server.url, timeout=30) as direct:  # this computer, no token
        refused = direct.post("/login", data={"username": name, "password": right})
    expect(refused, 429)

    # A new start of the desktop reads the token from its settings and gets in.
    again = sign_in_at_desktop(qtbot, server, name, right)
    assert again.window.user.username == name
    again.settings.sync()
    renewed = str(again.settings.value(f"devices/{name}", ""))
    assert renewed.count(".") == 2
    sign_out_of(qtbot, again)
