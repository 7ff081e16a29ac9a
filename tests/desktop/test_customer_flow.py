"""Registering a customer, as a teller types it, against a real server: the form has the
focus and checks as typed, registering offers the first account, opening it offers the first
deposit; the Customers tab shows the accounts and balances; clicks and the arrow keys move
between search and results."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QApplication, QDialog, QLabel, QLineEdit, QPushButton, QWidget

from desktop import workers
from desktop.api.client import BankClient
from desktop.dialogs.forms import AccountDialog
from desktop.dialogs.movement import CashDialog
from desktop.dialogs.user_form import NewUserDialog
from desktop.main_window import CUSTOMERS_TAB, MainWindow
from desktop.models.customers import CustomersModel
from tests.support import Api, ServerProcess, expect

MakeUser = Callable[..., tuple[dict[str, Any], Api]]
WAIT_MS = 15_000


@pytest.fixture(autouse=True)
def isolated_settings(tmp_path: Path) -> None:
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path))


@pytest.fixture(autouse=True)
def no_task_left_behind(qtbot: Any) -> Iterator[None]:
    yield
    qtbot.waitUntil(lambda: workers.pending() == 0, timeout=WAIT_MS)


def teller_window(qtbot: Any, server: ServerProcess, make_user: MakeUser) -> MainWindow:
    me, _ = make_user("teller")
    client = BankClient(server.url)
    user = client.login(me["username"], f"pw-{me['username']}-secret")
    window = MainWindow(client, user)
    qtbot.addWidget(window)
    window.show()
    window.activateWindow()
    return window


def shown[D: QDialog](qtbot: Any, window: MainWindow, kind: type[D]) -> D:
    found: list[D] = []

    def visible() -> bool:
        found[:] = [d for d in window.findChildren(kind) if d.isVisible()]
        return len(found) == 1

    qtbot.waitUntil(visible, timeout=WAIT_MS)
    return found[0]


def focused() -> QWidget | None:
    return QApplication.focusWidget()


def test_register_open_an_account_and_take_the_first_deposit_in_one_flow(
    qtbot: Any, server: ServerProcess, make_user: MakeUser, admin: Api
) -> None:
    window = teller_window(qtbot, server, make_user)
    window.new_customer_action.trigger()
    form = shown(qtbot, window, NewUserDialog)
    assert form.objectName() == "customerDialog"
    form.activateWindow()
    username = form.findChild(QLineEdit, "usernameEdit")
    qtbot.waitUntil(lambda: focused() is username, timeout=WAIT_MS)  # a field, not Cancel

    # A space typed first goes into the field (and is refused there), it cancels nothing.
    qtbot.keyClick(username, Qt.Key.Key_Space)
    assert form.isVisible()
    assert username.text() == " "
    assert "username needs 3-32 characters" in form.hint.text()
    username.clear()

    # Typed, as a teller types: Tab walks the fields in order; the hint says what is missing.
    qtbot.keyClicks(username, "gina.green")
    hints = []
    for name, value in (
        ("fullNameEdit", "Gina Green"),
        ("emailEdit", "gina@example"),
        ("passwordEdit", "gina-pass-1"),
        ("confirmPasswordEdit", "gina-pass-2"),
    ):
        qtbot.keyClick(focused(), Qt.Key.Key_Tab)
        assert focused() is form.findChild(QLineEdit, name), name
        hints.append(form.hint.text())
        qtbot.keyClicks(focused(), value)
    assert hints[0] == "Enter the full name."
    assert "email address" in form.hint.text() or "email address" in hints[-1]
    assert not form.ok_button.isEnabled()
    email = form.findChild(QLineEdit, "emailEdit")
    qtbot.keyClicks(email, ".com")
    assert form.hint.text() == "The two passwords differ."
    confirm = form.findChild(QLineEdit, "confirmPasswordEdit")
    confirm.clear()
    qtbot.keyClicks(confirm, "gina-pass-1")
    assert form.ok_button.isEnabled()
    assert form.hint.text() == ""
    qtbot.keyClick(confirm, Qt.Key.Key_Return)  # Enter sends a valid form

    # Registered: the dialog offers the customer's first account.
    qtbot.waitUntil(lambda: form.created is not None, timeout=WAIT_MS)
    assert "Registered Gina Green (gina.green)" in form.hint.text()
    offer = form.findChild(QPushButton, "openAccountOfferButton")
    assert offer.isVisible()
    offer.click()
    opening = shown(qtbot, window, AccountDialog)
    assert opening.findChild(QLabel, "ownerLabel").text() == "Gina Green"
    created = expect(admin.get("/users", params={"q": "gina.green"}), 200)["items"][0]
    assert opening.owner_id == created["id"]
    opening.account_type.setCurrentIndex(opening.account_type.findData("savings"))
    opening.ok_button.click()
    qtbot.waitUntil(lambda: opening.opened is not None, timeout=WAIT_MS)
    first = opening.findChild(QPushButton, "firstDepositButton")
    assert first.isVisible()
    assert opening.opened is not None
    assert opening.opened.number in opening.hint.text()
    first.click()

    # The first deposit, for that account.
    deposit = shown(qtbot, window, CashDialog)
    assert deposit.kind == "deposit"
    assert deposit.source_account() is not None
    assert deposit.source_account().id == opening.opened.id
    amount = deposit.findChild(QLineEdit, "amountEdit")
    qtbot.waitUntil(lambda: focused() is amount, timeout=WAIT_MS)
    qtbot.keyClicks(amount, "150")
    qtbot.keyClick(amount, Qt.Key.Key_Return)  # review
    with qtbot.waitSignal(deposit.completed, timeout=WAIT_MS):
        qtbot.keyClick(deposit.ok_button, Qt.Key.Key_Return)  # confirm
    stored = expect(admin.get(f"/accounts/{opening.opened.id}"), 200)
    assert (stored["balance"], stored["account_type"]) == ("150.00", "savings")
    deposit.accept()

    # The Customers tab shows the new customer's account and balance.
    window.activateWindow()  # back from the dialogs
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=WAIT_MS)
    window.tabs.setCurrentIndex(CUSTOMERS_TAB)
    search = window.customer_search
    qtbot.mouseClick(search, Qt.MouseButton.LeftButton)  # Ctrl+F is the one search for staff
    qtbot.waitUntil(lambda: focused() is search, timeout=WAIT_MS)
    qtbot.keyClicks(search, "gina.green")
    model = window.customers_model
    qtbot.waitUntil(lambda: model.query["q"] == "gina.green" and not model.loading
                    and model.rowCount() == 1, timeout=WAIT_MS)  # fmt: skip
    column = CustomersModel.Column
    assert model.index(0, column.ACCOUNTS).data() == "1"
    assert model.index(0, column.BALANCES).data() == "150.00 USD"
    qtbot.keyClick(search, Qt.Key.Key_Down)  # into the results
    assert focused() is window.customers_table
    assert window.selected_customer() is not None
    assert window.selected_customer().username == "gina.green"
    assert Decimal(stored["balance"]) == Decimal("150.00")
    window.close()


def test_enter_in_the_account_search_moves_into_the_results(
    qtbot: Any, server: ServerProcess, make_user: MakeUser, open_account: Any
) -> None:
    owner, _ = make_user("user", full_name="Hugo Hunter")
    account = open_account(owner["id"], deposit="5.00")
    window = teller_window(qtbot, server, make_user)
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=WAIT_MS)
    search = window.search_edit
    qtbot.mouseClick(search, Qt.MouseButton.LeftButton)  # Ctrl+F is the one search for staff
    qtbot.waitUntil(lambda: focused() is search, timeout=WAIT_MS)
    qtbot.keyClicks(search, "Hugo Hunter")
    model = window.accounts_model
    qtbot.waitUntil(lambda: model.query["q"] == "Hugo Hunter" and not model.loading
                    and model.rowCount() == 1, timeout=WAIT_MS)  # fmt: skip
    qtbot.keyClick(search, Qt.Key.Key_Return)
    assert focused() is window.accounts_table
    assert window.selected_account() is not None
    assert window.selected_account().id == account["id"]
    assert window.deposit_action.isEnabled()  # the next keystroke can be Ctrl+D
    window.close()
