"""Account administration in the desktop against a real server: an admin freezes, unfreezes,
changes limits (with the account's version) and closes accounts from the context menu's
actions and the details panel; the server's refusals read in plain words; tellers get none
of it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QPoint, QSettings
from PySide6.QtWidgets import QCheckBox, QLabel, QLineEdit, QMenu, QMessageBox, QPushButton

from desktop import workers
from desktop.api.client import BankClient
from desktop.dialogs.account_admin import LimitsDialog
from desktop.main_window import MainWindow
from tests.support import ADMIN_PASSWORD, Api, ServerProcess, expect

MakeUser = Callable[..., tuple[dict[str, Any], Api]]
OpenAccount = Callable[..., dict[str, Any]]
WAIT_MS = 15_000


@pytest.fixture(autouse=True)
def isolated_settings(tmp_path: Path) -> None:
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path))


@pytest.fixture(autouse=True)
def no_task_left_behind(qtbot: Any) -> Iterator[None]:
    yield
    qtbot.waitUntil(lambda: workers.pending() == 0, timeout=WAIT_MS)


def open_window(qtbot: Any, server: ServerProcess, username: str, password: str) -> MainWindow:
    client = BankClient(server.url)
    user = client.login(username, password)
    window = MainWindow(client, user)
    qtbot.addWidget(window)
    window.resize(1280, 800)
    window.show()
    return window


def choose(qtbot: Any, window: MainWindow, account_id: int) -> None:
    model = window.accounts_model
    qtbot.waitUntil(lambda: model.row_of(account_id) is not None, timeout=WAIT_MS)
    window.accounts_table.selectRow(model.row_of(account_id))
    qtbot.waitUntil(lambda: (a := window.accounts_tab.shown_account()) is not None
                    and a.id == account_id, timeout=WAIT_MS)  # fmt: skip


def visible_box(qtbot: Any, window: MainWindow, name: str) -> QMessageBox:
    found: list[QMessageBox] = []

    def shown() -> bool:
        found[:] = [b for b in window.findChildren(QMessageBox, name) if b.isVisible()]
        return len(found) == 1

    qtbot.waitUntil(shown, timeout=WAIT_MS)
    return found[0]


def stored(admin: Api, account_id: int) -> dict[str, Any]:
    return expect(admin.get(f"/accounts/{account_id}"), 200)


def test_admin_freezes_unfreezes_changes_limits_and_closes_from_the_desktop(
    qtbot: Any, server: ServerProcess, admin: Api, make_user: MakeUser, open_account: OpenAccount
) -> None:
    owner, _ = make_user("user", full_name="Ada Admin-Test")
    account = open_account(owner["id"], deposit="30.00")
    window = open_window(qtbot, server, "admin", ADMIN_PASSWORD)
    choose(qtbot, window, account["id"])

    # The context menu offers the administration actions with the money ones.
    table = window.accounts_table
    row = window.accounts_model.row_of(account["id"])
    point = table.visualRect(window.accounts_model.index(row, 0)).center()
    table.customContextMenuRequested.emit(point)
    menu = next(m for m in window.findChildren(QMenu, "accountMenu"))
    names = [a.objectName() for a in menu.actions() if not a.isSeparator()]
    assert names == ["depositAction", "withdrawAction", "transferAction",
                     "exportStatementAction", "freezeAction", "unfreezeAction", "limitsAction",
                     "closeAccountAction"]  # fmt: skip
    menu.close()
    assert window.freeze_action.isEnabled()
    assert not window.unfreeze_action.isEnabled()

    # Freeze, from the action: a confirmation naming the account, then the server.
    window.freeze_action.trigger()
    box = visible_box(qtbot, window, "freezeConfirm")
    assert account["number"] in box.text()
    assert "Ada Admin-Test" in box.text()
    box.findChild(QPushButton, "confirmButton").click()
    qtbot.waitUntil(lambda: stored(admin, account["id"])["status"] == "frozen", timeout=WAIT_MS)
    qtbot.waitUntil(lambda: (a := window.accounts_tab.shown_account()) is not None
                    and a.status.value == "frozen", timeout=WAIT_MS)  # fmt: skip
    panel = window.accounts_tab.panel
    assert panel.freeze_button.text() == "Unfreeze"
    assert "Frozen" in window.findChild(QLabel, "accountFacts").text()
    assert not window.deposit_action.isEnabled()
    assert window.unfreeze_action.isEnabled()

    # Unfreeze, from the details panel's button.
    panel.freeze_button.click()
    visible_box(qtbot, window, "unfreezeConfirm").findChild(QPushButton, "confirmButton").click()
    qtbot.waitUntil(lambda: stored(admin, account["id"])["status"] == "active", timeout=WAIT_MS)
    qtbot.waitUntil(lambda: panel.freeze_button.text() == "Freeze", timeout=WAIT_MS)

    # Limits with the version: a change made meanwhile is refused in plain words, and the
    # form shows the account as it is now; saving again then works.
    window.limits_action.trigger()
    dialog = next(d for d in window.findChildren(LimitsDialog) if d.isVisible())
    version = dialog.account.version
    expect(
        admin.put(f"/accounts/{account['id']}/admin", json={"overdraft_limit": "5.00"}), 200
    )  # someone else, meanwhile
    dialog.overdraft.clear()
    qtbot.keyClicks(dialog.overdraft, "12.345")  # not money: three decimals
    assert not dialog.save_button.isEnabled()
    assert "at most two decimals" in dialog.hint.text()
    dialog.overdraft.setText("50.00")
    dialog.findChild(QCheckBox, "noDailyLimitCheck").setChecked(True)
    assert dialog.changes() == {"overdraft_limit": "50.00", "daily_withdrawal_limit": None}
    dialog.save_button.click()
    error = dialog.findChild(QLabel, "dialogError")
    qtbot.waitUntil(lambda: error.isVisible(), timeout=WAIT_MS)
    assert error.text() == (
        f"Someone else changed this meanwhile (it is now at version {version + 1}). Check the "
        "current values and save again. Nothing was changed."
    )
    qtbot.waitUntil(lambda: dialog.account.version == version + 1, timeout=WAIT_MS)
    assert "overdraft limit 5.00 USD" in dialog.hint.text()  # what it is now
    assert dialog.overdraft.text() == "50.00"  # what the admin wanted stays in the form
    with qtbot.waitSignal(dialog.completed, timeout=WAIT_MS):
        dialog.save_button.click()
    now = stored(admin, account["id"])
    assert (now["overdraft_limit"], now["daily_withdrawal_limit"]) == ("50.00", None)
    qtbot.waitUntil(lambda: window.findChild(QLabel, "dailyLimitValue").text() == "none",
                    timeout=WAIT_MS)  # fmt: skip
    assert window.findChild(QLabel, "overdraftValue").text() == "50.00 USD"

    # Close: refused while money is on it (in words from the facts), then done at zero.
    window.close_account_action.trigger()
    visible_box(qtbot, window, "closeAccountConfirm").findChild(
        QPushButton, "confirmButton").click()  # fmt: skip
    refused = visible_box(qtbot, window, "accountRefusedMessage")
    assert refused.text() == (
        "The balance is 30.00 USD; it must be 0.00 before the account closes. Withdraw or "
        "transfer the money first. Nothing was changed."
    )
    refused.button(QMessageBox.StandardButton.Ok).click()
    assert stored(admin, account["id"])["status"] == "active"
    expect(admin.post(f"/accounts/{account['id']}/withdraw", json={"amount": "30.00"}), 201)
    window.refresh()
    choose(qtbot, window, account["id"])
    qtbot.waitUntil(lambda: window.accounts_tab.shown_account().balance == Decimal("0.00"),
                    timeout=WAIT_MS)  # fmt: skip
    panel.close_button.click()
    visible_box(qtbot, window, "closeAccountConfirm").findChild(
        QPushButton, "confirmButton").click()  # fmt: skip
    qtbot.waitUntil(lambda: stored(admin, account["id"])["status"] == "closed", timeout=WAIT_MS)
    qtbot.waitUntil(lambda: window.statusBar().currentMessage() == f"Closed {account['number']}",
                    timeout=WAIT_MS)  # fmt: skip
    window.close()


def test_lowering_the_overdraft_below_the_debt_is_refused_in_words(
    qtbot: Any, server: ServerProcess, admin: Api, make_user: MakeUser, open_account: OpenAccount
) -> None:
    owner, _ = make_user("user")
    account = open_account(owner["id"], deposit="10.00")
    expect(admin.put(f"/accounts/{account['id']}/admin", json={"overdraft_limit": "100.00"}), 200)
    expect(admin.post(f"/accounts/{account['id']}/withdraw", json={"amount": "70.00"}), 201)
    window = open_window(qtbot, server, "admin", ADMIN_PASSWORD)
    choose(qtbot, window, account["id"])
    window.accounts_tab.panel.limits_button.click()
    dialog = next(d for d in window.findChildren(LimitsDialog) if d.isVisible())
    dialog.overdraft.clear()
    qtbot.keyClicks(dialog.overdraft, "20")
    dialog.save_button.click()
    error = dialog.findChild(QLabel, "dialogError")
    qtbot.waitUntil(lambda: error.isVisible(), timeout=WAIT_MS)
    assert error.text().startswith("The account owes more than the new overdraft limit allows")
    assert stored(admin, account["id"])["overdraft_limit"] == "100.00"
    dialog.reject()
    window.close()


def test_tellers_get_no_account_administration(
    qtbot: Any, server: ServerProcess, make_user: MakeUser, open_account: OpenAccount
) -> None:
    me, _ = make_user("teller")
    owner, _ = make_user("user")
    account = open_account(owner["id"], deposit="1.00")
    window = open_window(qtbot, server, me["username"], f"pw-{me['username']}-secret")
    choose(qtbot, window, account["id"])
    for action in window.admin_actions:
        assert not action.isVisible()
        assert not action.isEnabled()
    panel = window.accounts_tab.panel
    for button in (panel.freeze_button, panel.limits_button, panel.close_button):
        assert button.isHidden()
    window.freeze_action.trigger()  # even the shortcut does nothing
    assert not [b for b in window.findChildren(QMessageBox) if b.isVisible()]
    table = window.accounts_table
    table.customContextMenuRequested.emit(QPoint(5, 5))
    menus = window.findChildren(QMenu, "accountMenu")
    for menu in menus:
        assert "freezeAction" not in [a.objectName() for a in menu.actions()]
        menu.close()
    assert window.findChild(QLineEdit, "overdraftEdit") is None
    window.close()
