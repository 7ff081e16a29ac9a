"""Every action of the main window, fired the way Qt fires it (`QAction.trigger()`, which
passes `checked`), each checked for doing what it says against a real server.

The export statement action once crashed on every trigger: `triggered(checked)` filled its
`path` parameter with a bool. These tests never call a slot with arguments.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QFileDialog, QLabel, QLineEdit, QToolBar, QToolButton, QWidgetAction

from desktop.dialogs.forms import AccountDialog, EditCustomerDialog
from desktop.dialogs.movement import MovementDialog
from desktop.dialogs.user_form import NewUserDialog
from desktop.main_window import CUSTOMERS_TAB, MainWindow
from desktop.statement import statement_format
from tests.desktop.test_main_window import (
    WAIT_MS,
    child,
    ok_button,
    open_window,
    select_account,
    show_customer,
    visible_dialog,
)
from tests.support import Api, expect

# Every QAction the main window has; a new one fails the first test until it is tested here.
ACTIONS = {
    "depositAction": "deposit",
    "withdrawAction": "withdraw",
    "transferAction": "transfer",
    "newAccountAction": "open account",
    "newCustomerAction": "new customer",
    "editCustomerAction": "edit customer",
    "refreshAction": "refresh",
    "exportStatementAction": "export statement",
    "logoutAction": "sign out",
}
# Triggered as QActions in their own modules: test_account_admin.py (freeze, unfreeze,
# limits, close), test_about_and_theme.py (about), test_kyc_search_ui.py (find: the one
# search), test_day_ui.py (end of day).
ACTIONS_TESTED_ELSEWHERE = {"freezeAction", "unfreezeAction", "limitsAction",
                            "closeAccountAction", "aboutAction", "findAction",
                            "endOfDayAction"}  # fmt: skip


@pytest.fixture(scope="module")
def bank(make_user: Any, open_account: Any) -> dict[str, Any]:
    """A teller, and a customer with two funded USD accounts."""
    teller, _api = make_user("teller")
    customer, _customer_api = make_user("user", full_name="Olga Ortiz")
    first = open_account(customer["id"], deposit="500.00")
    second = open_account(customer["id"], deposit="20.00", account_type="savings")
    return {"teller": teller, "customer": customer, "first": first, "second": second}


@pytest.fixture
def window(qtbot: Any, server: Any, bank: dict[str, Any]) -> MainWindow:
    """The teller's window with the customer's first account selected."""
    window = open_window(qtbot, server, bank["teller"])
    select_account(qtbot, window, bank["first"]["id"])
    return window


def balance(admin: Api, account: dict[str, Any]) -> Decimal:
    return Decimal(expect(admin.get(f"/accounts/{account['id']}"), 200)["balance"])


def action(window: MainWindow, name: str) -> QAction:
    found = window.findChild(QAction, name)
    assert found is not None, name
    assert found.isEnabled(), name
    return found


def move(qtbot: Any, dialog: MovementDialog, amount: str, to: str | None = None) -> None:
    """Type an amount (and a destination), review, then confirm; wait for the movement."""
    if to is not None:
        child(dialog, QLineEdit, "toNumberEdit").setText(to)
    child(dialog, QLineEdit, "amountEdit").setText(amount)
    qtbot.waitUntil(lambda: ok_button(dialog).isEnabled(), timeout=WAIT_MS)
    ok_button(dialog).click()
    assert ok_button(dialog).text() == "Confirm"
    with qtbot.waitSignal(dialog.completed, timeout=WAIT_MS):
        ok_button(dialog).click()
    dialog.accept()


def test_the_window_has_exactly_the_actions_tested_here(window: MainWindow) -> None:
    names = {a.objectName() for a in window.actions()}
    assert names == set(ACTIONS) | ACTIONS_TESTED_ELSEWHERE
    toolbar = child(window, QToolBar, "mainToolbar")
    menus = [a for menu in window.menuBar().actions() if menu.menu() for a in menu.menu().actions()]
    for entry in (*toolbar.actions(), *menus):
        if isinstance(entry, QWidgetAction):  # a widget on the toolbar (the one search box)
            continue
        assert entry.isSeparator() or entry.objectName() in names, entry.text()
    window.close()


def test_deposit_action(qtbot: Any, window: MainWindow, admin: Api, bank: dict[str, Any]) -> None:
    before = balance(admin, bank["first"])
    action(window, "depositAction").trigger()
    dialog = visible_dialog(qtbot, window, MovementDialog, "depositDialog")
    source = dialog.source_account()
    assert source is not None
    assert source.id == bank["first"]["id"]
    move(qtbot, dialog, "25.50")
    assert balance(admin, bank["first"]) == before + Decimal("25.50")
    window.close()


def test_withdraw_action(qtbot: Any, window: MainWindow, admin: Api, bank: dict[str, Any]) -> None:
    before = balance(admin, bank["first"])
    action(window, "withdrawAction").trigger()
    dialog = visible_dialog(qtbot, window, MovementDialog, "withdrawDialog")
    move(qtbot, dialog, "10")
    assert balance(admin, bank["first"]) == before - Decimal("10.00")
    window.close()


def test_transfer_action(qtbot: Any, window: MainWindow, admin: Api, bank: dict[str, Any]) -> None:
    source, dest = bank["first"], bank["second"]
    before = balance(admin, source), balance(admin, dest)
    action(window, "transferAction").trigger()
    dialog = visible_dialog(qtbot, window, MovementDialog, "transferDialog")
    payee = child(dialog, QLabel, "payeeLabel")
    move(qtbot, dialog, "5", to=dest["number"])
    assert "O. Ortiz" in payee.text()
    assert (balance(admin, source), balance(admin, dest)) == (
        before[0] - Decimal("5.00"), before[1] + Decimal("5.00"),
    )  # fmt: skip
    window.close()


def test_new_customer_action(qtbot: Any, window: MainWindow, admin: Api) -> None:
    action(window, "newCustomerAction").trigger()
    dialog = visible_dialog(qtbot, window, NewUserDialog, "customerDialog")
    child(dialog, QLineEdit, "usernameEdit").setText("pia.action")
    child(dialog, QLineEdit, "fullNameEdit").setText("Pia Park")
    child(dialog, QLineEdit, "emailEdit").setText("pia@example.com")
    child(dialog, QLineEdit, "passwordEdit").setText("pia-pass-12")
    child(dialog, QLineEdit, "confirmPasswordEdit").setText("pia-pass-12")
    ok_button(dialog).click()
    qtbot.waitUntil(lambda: dialog.created is not None, timeout=WAIT_MS)
    dialog.reject()  # "Close": no account yet
    found = expect(admin.get("/users", params={"q": "pia.action"}), 200)["items"]
    assert [(u["full_name"], u["role"]) for u in found] == [("Pia Park", "user")]
    window.close()


def test_open_account_action(
    qtbot: Any, window: MainWindow, admin: Api, bank: dict[str, Any]
) -> None:
    customer = bank["customer"]
    show_customer(qtbot, window, customer["username"])
    before = expect(admin.get("/accounts", params={"owner_id": customer["id"]}), 200)["total"]
    action(window, "newAccountAction").trigger()
    dialog = visible_dialog(qtbot, window, AccountDialog, "accountDialog")
    assert dialog.owner_id == customer["id"]
    with qtbot.waitSignal(dialog.completed, timeout=WAIT_MS):
        ok_button(dialog).click()
    after = expect(admin.get("/accounts", params={"owner_id": customer["id"]}), 200)["total"]
    assert after == before + 1
    window.close()


def test_edit_customer_action(
    qtbot: Any, window: MainWindow, admin: Api, bank: dict[str, Any]
) -> None:
    customer = bank["customer"]
    show_customer(qtbot, window, customer["username"])
    assert window.tabs.currentIndex() == CUSTOMERS_TAB
    action(window, "editCustomerAction").trigger()
    dialog = visible_dialog(qtbot, window, EditCustomerDialog, "editCustomerDialog")
    name = child(dialog, QLineEdit, "fullNameEdit")
    assert name.text() == "Olga Ortiz"
    name.setText("Olga Ortiz-Ortega")
    with qtbot.waitSignal(dialog.completed, timeout=WAIT_MS):
        ok_button(dialog).click()
    assert expect(admin.get(f"/users/{customer['id']}"), 200)["full_name"] == "Olga Ortiz-Ortega"
    expect(admin.put(f"/users/{customer['id']}", json={"full_name": "Olga Ortiz"}), 200)
    window.close()


def test_refresh_action(qtbot: Any, window: MainWindow, admin: Api, bank: dict[str, Any]) -> None:
    account = bank["first"]
    shown = child(window, QLabel, "accountBalance")
    # Money moves behind the window's back; only a refresh shows it.
    expect(admin.post(f"/accounts/{account['id']}/deposit", json={"amount": "1.25"}), 201)
    now = balance(admin, account)
    assert shown.text() != f"{now:,.2f} USD"
    action(window, "refreshAction").trigger()
    qtbot.waitUntil(lambda: shown.text() == f"{now:,.2f} USD", timeout=WAIT_MS)
    selected = window.selected_account()
    assert selected is not None
    assert selected.id == account["id"]
    window.close()


def save_through_the_file_dialog(qtbot: Any, window: MainWindow, path: Path) -> None:
    """Answer the export's file dialog as a person does: type the file name, press Enter."""
    dialog = visible_dialog(qtbot, window, QFileDialog, "statementFileDialog")
    assert dialog.acceptMode() == QFileDialog.AcceptMode.AcceptSave
    name = dialog.findChild(QLineEdit, "fileNameEdit")
    assert name is not None
    assert name.text().startswith("statement-")
    name.setText(str(path))
    with qtbot.waitSignal(window.statement_saved, timeout=WAIT_MS) as saved:
        qtbot.keyClick(name, Qt.Key.Key_Return)
    assert saved.args == [str(path)]


def test_export_statement_action_from_its_action_toolbar_button_and_shortcut(
    qtbot: Any, window: MainWindow, bank: dict[str, Any], tmp_path: Path
) -> None:
    number = bank["first"]["number"]
    export = action(window, "exportStatementAction")
    export.trigger()
    save_through_the_file_dialog(qtbot, window, tmp_path / "by-action.csv")
    text = (tmp_path / "by-action.csv").read_text()
    assert number in text
    assert "500.00" in text

    toolbar = child(window, QToolBar, "mainToolbar")
    button = toolbar.widgetForAction(export)
    assert isinstance(button, QToolButton)
    button.click()
    save_through_the_file_dialog(qtbot, window, tmp_path / "by-button.pdf")
    assert (tmp_path / "by-button.pdf").read_bytes().startswith(b"%PDF")

    menu_action = next(
        a for menu in window.menuBar().actions() if menu.menu() is not None
        for a in menu.menu().actions() if a is export
    )  # fmt: skip
    assert menu_action is export  # the menu entry is the same action
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=WAIT_MS)
    qtbot.keyClick(window, Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier)
    save_through_the_file_dialog(qtbot, window, tmp_path / "by-shortcut.csv")
    assert number in (tmp_path / "by-shortcut.csv").read_text()
    window.close()


def test_statement_format_follows_the_extension_then_the_filter() -> None:
    assert statement_format("/x/s.CSV", "PDF (*.pdf)") == "csv"
    assert statement_format("/x/s.pdf", "CSV (*.csv)") == "pdf"
    assert statement_format("/x/s", "CSV (*.csv)") == "csv"
    assert statement_format("/x/s", "PDF (*.pdf)") == "pdf"


def test_sign_out_action(qtbot: Any, window: MainWindow, server: Any) -> None:
    token = window.client._access
    with qtbot.waitSignal(window.logged_out, timeout=WAIT_MS):
        action(window, "logoutAction").trigger()
    response = httpx.get(f"{server.url}/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    window.close()
