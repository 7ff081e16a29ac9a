"""The idle lock hides names and balances; only the password or signing out ends it. Server
text (a customer's name with markup in it) shows as plain text wherever the window shows it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractItemView, QApplication, QLabel, QLineEdit, QPushButton

from desktop import workers
from desktop.cli import launch
from desktop.dialogs.login import LoginDialog
from tests.support import Api, ServerProcess

NAME = '<b>Bold</b><a href="x">link</a>'
WAIT_MS = 20_000
MakeUser = Callable[..., tuple[dict[str, Any], Api]]


@pytest.fixture(autouse=True)
def no_task_left_behind(qtbot: Any) -> Iterator[None]:
    yield
    qtbot.waitUntil(lambda: workers.pending() == 0, timeout=WAIT_MS)


@pytest.fixture(scope="module")
def marked_up(make_user: MakeUser, open_account: Callable[..., dict[str, Any]]) -> dict[str, Any]:
    """A customer whose name is markup, and their account."""
    user, _api = make_user("user", full_name=NAME)
    return open_account(user["id"], deposit="75.00")


@pytest.fixture(scope="module")
def teller_login(make_user: MakeUser) -> tuple[str, str]:
    user, _api = make_user("teller")
    return user["username"], f"pw-{user['username']}-secret"


def sign_in(qtbot: Any, dialog: LoginDialog, password: str, username: str = "") -> None:
    if username:
        dialog.findChild(QLineEdit, "usernameEdit").setText(username)
    qtbot.keyClicks(dialog.findChild(QLineEdit, "passwordEdit"), password)
    dialog.findChild(QPushButton, "loginButton").click()


def open_desktop(qtbot: Any, server: ServerProcess, login: tuple[str, str],
                 account: dict[str, Any]) -> Any:  # fmt: skip
    """Sign a teller in through the real app and show `account` in the window."""
    desktop = launch(["--server", server.url, "--idle-minutes", "60"])
    qtbot.addWidget(desktop.login)
    sign_in(qtbot, desktop.login, login[1], login[0])
    qtbot.waitUntil(lambda: desktop.window is not None, timeout=WAIT_MS)
    window = desktop.window
    window.resize(1280, 800)
    search = window.accounts_tab.search
    qtbot.keyClicks(search, account["number"])
    model = window.accounts_model
    qtbot.waitUntil(lambda: model.row_of(account["id"]) is not None, timeout=WAIT_MS)
    window.accounts_table.selectRow(model.row_of(account["id"]))
    qtbot.waitUntil(lambda: (a := window.accounts_tab.shown_account()) is not None
                    and a.id == account["id"], timeout=WAIT_MS)  # fmt: skip
    return desktop


def readable(text: str) -> list[str]:
    """Return where `text` can be read on screen: visible labels, and visible tables' cells."""
    found = []
    for top in QApplication.topLevelWidgets():
        if not top.isVisible():
            continue
        for label in [top, *top.findChildren(QLabel)]:
            if isinstance(label, QLabel) and label.isVisible() and text in label.text():
                found.append(f"label {label.objectName()}")
        for view in top.findChildren(QAbstractItemView):
            model = view.model()
            if not view.isVisible() or model is None:
                continue
            for row in range(model.rowCount()):
                for column in range(model.columnCount()):
                    if text in str(model.index(row, column).data() or ""):
                        found.append(f"table {view.objectName()}")
    return found


def lock_by_idling(qtbot: Any, desktop: Any) -> LoginDialog:
    """Let the idle timer run out and return the sign-in dialog the lock shows."""
    desktop.idle.timer.setInterval(10)
    desktop.idle.timer.start()
    qtbot.waitUntil(lambda: desktop.window.locked and desktop.login.isVisible(), timeout=WAIT_MS)
    dialog = desktop.login
    qtbot.addWidget(dialog)
    desktop.idle.timer.setInterval(60 * 60_000)
    return dialog


def sign_out(qtbot: Any, desktop: Any) -> None:
    desktop.window.logout()
    qtbot.waitUntil(lambda: desktop.window is None, timeout=WAIT_MS)
    qtbot.addWidget(desktop.login)
    desktop.shutdown()


def test_a_name_with_markup_shows_as_plain_text(
    qtbot: Any, server: ServerProcess, teller_login: tuple[str, str], marked_up: dict[str, Any]
) -> None:
    desktop = open_desktop(qtbot, server, teller_login, marked_up)
    labels = [label for label in desktop.window.findChildren(QLabel)
              if label.isVisible() and NAME in label.text()]  # fmt: skip
    assert labels, "the window shows the holder's name somewhere"
    for label in labels:
        assert label.textFormat() == Qt.TextFormat.PlainText, label.objectName()
    desktop.window.grab().save("/tmp/desk-sec-markup.png")
    sign_out(qtbot, desktop)


def test_the_idle_lock_hides_the_work_and_only_the_password_or_signing_out_ends_it(
    qtbot: Any, server: ServerProcess, teller_login: tuple[str, str], marked_up: dict[str, Any]
) -> None:
    desktop = open_desktop(qtbot, server, teller_login, marked_up)
    window = desktop.window
    assert readable(marked_up["number"])
    assert readable(NAME)
    dialog = lock_by_idling(qtbot, desktop)
    assert readable(marked_up["number"]) == []
    assert readable(NAME) == []
    assert readable("75.00") == []
    window.grab().save("/tmp/desk-sec-locked.png")
    dialog.grab().save("/tmp/desk-sec-lock-dialog.png")

    # Escape (or closing) leaves the lock as it is: no dead grey window.
    qtbot.keyClick(dialog, Qt.Key.Key_Escape)
    dialog.reject()
    assert dialog.isVisible()
    assert window.locked

    # The password unlocks the same window, content back as it was.
    sign_in(qtbot, dialog, teller_login[1])
    qtbot.waitUntil(lambda: not window.locked and window.isEnabled(), timeout=WAIT_MS)
    assert desktop.window is window
    assert not dialog.isVisible()
    assert readable(marked_up["number"])

    # Locked again, "Sign out" retires the window and shows the normal sign-in.
    dialog = lock_by_idling(qtbot, desktop)
    dialog.findChild(QPushButton, "signOutButton").click()
    qtbot.waitUntil(lambda: desktop.window is None and desktop.login is not dialog, timeout=WAIT_MS)
    normal = desktop.login
    qtbot.addWidget(normal)
    assert normal.isVisible()
    assert not dialog.isVisible()
    assert normal.findChild(QPushButton, "signOutButton") is None
    assert not normal.locked
    assert not desktop.client.signed_in
    assert readable(marked_up["number"]) == []
    desktop.shutdown()
