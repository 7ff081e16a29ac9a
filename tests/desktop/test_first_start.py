"""The bundled bank's first start, as a person does it: name the bank, create its admin, work.

The dialog is typed into key by key; then `bank-desktop --local` runs in-process against a
real bundled server in a temporary data dir, and a second start goes to the normal sign-in.
"""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QLineEdit, QMessageBox, QPushButton

from desktop import app as desktop_app
from desktop.cli import launch
from desktop.dialogs.first_start import FirstStartDialog
from server.db import EmbeddedDatabase
from shared.schemas.common import Role
from tests.support import Api, expect, leaked_secrets

BANK = "Riverside Savings Bank"
ADMIN = "ada.lovelace"
PASSWORD = "counting-house-1843"
START_MS = 120_000  # the bundled server's start on a busy 2-core machine


def child[W](parent: Any, kind: type[W], name: str) -> W:
    widget = parent.findChild(kind, name)
    assert widget is not None, name
    return widget


def retype(qtbot: Any, edit: QLineEdit, text: str) -> None:
    """Clear a field the way a person does (select all, delete), then type the text."""
    edit.setFocus()
    qtbot.keyClick(edit, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClick(edit, Qt.Key.Key_Delete)
    assert edit.text() == ""
    qtbot.keyClicks(edit, text)


@pytest.fixture
def quits() -> list[str]:
    return []


def start_desktop(data_dir: Path, quits: list[str], *args: str) -> desktop_app.DesktopApp:
    desktop = launch(["--local", "--data-dir", str(data_dir), "--idle-minutes", "60", *args])
    desktop.on_quit = lambda: quits.append("quit")
    return desktop


@pytest.fixture
def stopped() -> Iterator[list[desktop_app.DesktopApp]]:
    """Desktops a test started; their windows close and their servers stop, also on failure."""
    started: list[desktop_app.DesktopApp] = []
    yield started
    for desktop in started:
        for widget in (desktop.window, desktop.login, desktop.first_start, desktop.failure):
            if widget is not None:
                widget.close()
        desktop.shutdown()


def test_the_dialog_says_what_is_missing_until_every_field_is_valid(qtbot: Any) -> None:
    dialog = FirstStartDialog()
    qtbot.addWidget(dialog)
    dialog.show()
    ok = child(dialog, QPushButton, "createBankButton")
    reason = child(dialog, QLabel, "firstStartReason")
    name = child(dialog, QLineEdit, "bankNameEdit")
    username = child(dialog, QLineEdit, "adminUsernameEdit")
    password = child(dialog, QLineEdit, "adminPasswordEdit")
    repeat = child(dialog, QLineEdit, "adminPasswordRepeatEdit")
    assert password.echoMode() == QLineEdit.EchoMode.Password
    assert repeat.echoMode() == QLineEdit.EchoMode.Password

    def state() -> tuple[bool, str]:
        return ok.isEnabled(), reason.text()

    assert state() == (False, "Enter the bank's name.")
    retype(qtbot, name, "x" * 101)
    assert state() == (False, "The bank's name is at most 100 characters.")
    retype(qtbot, name, BANK)
    assert state() == (False, "Enter the administrator's username.")
    qtbot.keyClicks(username, "Ad")
    assert state() == (False, "The username is 3 to 32 of a-z, 0-9, '_', '.' and '-'.")
    retype(qtbot, username, "Ada Lovelace")  # a space is not allowed
    assert not ok.isEnabled()
    assert "3 to 32" in reason.text()
    retype(qtbot, username, "Ada.Lovelace")  # folded to lower case, as the API does
    assert state() == (False, "The password needs at least 12 characters (0 so far).")
    qtbot.keyClicks(password, "counting")
    assert state() == (False, "The password needs at least 12 characters (8 so far).")
    retype(qtbot, password, "ADA.LOVELACE")  # 12 characters, but the username
    assert state() == (False, "The password must not be the username.")
    retype(qtbot, password, PASSWORD)
    assert state() == (False, "Type the password again.")
    qtbot.keyClicks(repeat, "counting-house")
    assert state() == (False, "The two passwords differ.")
    qtbot.keyClick(repeat, Qt.Key.Key_Return)  # Enter does not get past a disabled OK
    assert dialog.isVisible()
    qtbot.keyClicks(repeat, "-1843")
    assert state() == (True, f"Ready: {BANK} with the administrator {ADMIN}.")

    with qtbot.waitSignal(dialog.accepted, timeout=5_000):
        ok.click()
    setup = dialog.setup()
    assert (setup.bank_name, setup.username, setup.password) == (BANK, ADMIN, PASSWORD)
    assert PASSWORD not in repr(setup)


def test_quit_on_the_first_start_ends_the_app_and_starts_no_server(
    qtbot: Any, tmp_path: Path, quits: list[str], stopped: list[Any]
) -> None:
    desktop = start_desktop(tmp_path / "bank", quits)
    stopped.append(desktop)
    dialog = desktop.first_start
    assert dialog is not None
    assert dialog.isVisible()
    child(dialog, QPushButton, "quitButton").click()
    assert quits == ["quit"]
    assert desktop.local is None
    assert not (tmp_path / "bank").exists()


def test_first_start_creates_the_admin_and_signs_in_then_later_starts_sign_in_normally(
    qtbot: Any, tmp_path: Path, quits: list[str], stopped: list[Any]
) -> None:
    data_dir = tmp_path / "bank"
    desktop = start_desktop(data_dir, quits)
    stopped.append(desktop)
    dialog = desktop.first_start
    assert dialog is not None
    qtbot.addWidget(dialog)
    assert dialog.isVisible()
    assert desktop.login is None  # no sign-in before the bank exists
    qtbot.keyClicks(child(dialog, QLineEdit, "bankNameEdit"), BANK)
    qtbot.keyClicks(child(dialog, QLineEdit, "adminUsernameEdit"), "Ada.Lovelace")
    qtbot.keyClicks(child(dialog, QLineEdit, "adminPasswordEdit"), PASSWORD)
    qtbot.keyClicks(child(dialog, QLineEdit, "adminPasswordRepeatEdit"), PASSWORD)
    child(dialog, QPushButton, "createBankButton").click()

    qtbot.waitUntil(lambda: desktop.window is not None or desktop.failure is not None,
                    timeout=START_MS)  # fmt: skip
    assert desktop.failure is None, desktop.failure.text()
    window = desktop.window
    assert window is not None
    qtbot.addWidget(window)
    assert window.isVisible()
    assert desktop.login is None  # signed in without being asked again
    assert window.user.username == ADMIN
    assert window.user.role is Role.ADMIN
    assert window.windowTitle().startswith(BANK)
    assert child(dialog, QLineEdit, "adminPasswordEdit").text() == ""  # not kept
    assert quits == []

    # The admin exists on the server, with the password typed; the bank answers its name.
    local = desktop.local
    assert local is not None
    url = local.url
    api = Api(url).login(ADMIN, PASSWORD)
    me = expect(api.get("/me"), 200)
    assert (me["username"], me["role"]) == (ADMIN, "admin")
    assert expect(api.get("/users", params={"role": "admin"}), 200)["total"] == 1
    assert httpx.get(f"{url}/", timeout=10).json()["name"] == BANK
    api.close()
    assert desktop.settings.value("server/url") is None  # the bundled server's port changes
    assert json.loads((data_dir / "desktop.json").read_text())["bank_name"] == BANK
    for folder in (data_dir, data_dir / "db"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
    window.close()
    desktop.shutdown()
    log = (data_dir / "server.log").read_text()
    assert "Embedded database" in log
    assert leaked_secrets(log, {PASSWORD}) == []

    # The second start: no set-up, the normal sign-in, the bank's name remembered.
    again = start_desktop(data_dir, quits)
    stopped.append(again)
    assert again.first_start is None
    qtbot.waitUntil(lambda: again.login is not None or again.failure is not None,
                    timeout=START_MS)  # fmt: skip
    assert again.failure is None, again.failure.text()
    login = again.login
    assert login is not None
    qtbot.addWidget(login)
    assert login.windowTitle() == f"Sign in — {BANK}"
    assert child(login, QLineEdit, "usernameEdit").text() == ADMIN  # remembered
    assert again.local is not None
    assert httpx.get(f"{again.local.url}/", timeout=10).json()["name"] == BANK
    qtbot.keyClicks(child(login, QLineEdit, "passwordEdit"), PASSWORD)
    child(login, QPushButton, "loginButton").click()
    qtbot.waitUntil(lambda: again.window is not None, timeout=30_000)
    assert again.window is not None
    qtbot.addWidget(again.window)
    assert again.window.user.username == ADMIN
    assert quits == []


def test_a_server_that_cannot_start_is_explained_with_its_own_last_line(
    qtbot: Any, tmp_path: Path, quits: list[str], stopped: list[Any]
) -> None:
    data_dir = tmp_path / "bank"
    holder = EmbeddedDatabase(data_dir / "db")  # another process serves this bank's database
    holder.start()
    try:
        desktop = start_desktop(data_dir, quits)
        stopped.append(desktop)
        assert desktop.first_start is None  # the bank exists (its database file does)
        qtbot.waitUntil(lambda: desktop.failure is not None, timeout=START_MS)
        box = desktop.failure
        assert isinstance(box, QMessageBox)
        assert box.isVisible()
        assert box.objectName() == "localServerError"
        text = box.text()
        assert text.startswith("The bundled server stopped while starting: bank-server: ")
        assert f"the database in {data_dir / 'db'} is already served by pid" in text
        assert text.endswith("stop that server or use another --data-dir")
        assert "\n" not in text
        assert desktop.login is None
        assert desktop.window is None
        box.done(0)
        assert quits == ["quit"]
    finally:
        holder.stop()
