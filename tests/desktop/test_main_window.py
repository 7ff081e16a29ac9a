"""The main window driven like a teller against a real server: customers, accounts,
statements, shortcuts, a deposit, the idle lock and signing out."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtTest import QTest
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QLabel,
    QLineEdit,
    QProgressDialog,
    QPushButton,
    QTableView,
)

from desktop import app as desktop_app
from desktop.api.client import BankClient
from desktop.cli import launch
from desktop.dialogs.forms import AccountDialog, EditCustomerDialog
from desktop.dialogs.movement import MovementDialog
from desktop.dialogs.user_form import NewUserDialog
from desktop.main_window import CUSTOMERS_TAB, MainWindow
from desktop.models.customers import CustomersModel
from tests.support import Api, ServerProcess, expect

SERVER_ENV: dict[str, str] = {}  # the default token lifetime: module-scoped clients stay valid

MakeUser = Callable[..., tuple[dict[str, Any], Api]]
OpenAccount = Callable[..., dict[str, Any]]
WAIT_MS = 15_000
ACTION_NAMES = (
    "depositAction",
    "withdrawAction",
    "transferAction",
    "newAccountAction",
    "newCustomerAction",
    "refreshAction",
    "exportStatementAction",
    "logoutAction",
)


def password_of(user: dict[str, Any]) -> str:
    return f"pw-{user['username']}-secret"  # what the make_user fixture sets


class PutRecorder(httpx.HTTPTransport):
    """A real transport that remembers the JSON body of every PUT it sends."""

    def __init__(self) -> None:
        super().__init__()
        self.puts: list[tuple[str, Any]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "PUT":
            self.puts.append((request.url.path, json.loads(request.content)))
        return super().handle_request(request)


def open_window(
    qtbot: Any,
    server: ServerProcess,
    user: dict[str, Any],
    transport: httpx.BaseTransport | None = None,
) -> MainWindow:
    """Sign in as a user and show the main window, as the app does after the login dialog."""
    client = BankClient(server.url, transport=transport)
    client.login(user["username"], password_of(user))
    assert client.user is not None
    window = MainWindow(client, client.user)
    qtbot.addWidget(window)
    window.show()
    return window


def visible_dialog[D: QDialog](qtbot: Any, window: MainWindow, kind: type[D], name: str) -> D:
    """Wait for the window's visible dialog of a kind and return it."""
    found: list[D] = []

    def shown() -> bool:
        found[:] = [d for d in window.findChildren(kind, name) if d.isVisible()]
        return len(found) == 1

    qtbot.waitUntil(shown, timeout=WAIT_MS)
    return found[0]


def ok_button(dialog: QDialog) -> QPushButton:
    box = dialog.findChild(QDialogButtonBox)
    assert box is not None
    button = box.button(QDialogButtonBox.StandardButton.Ok)
    assert button is not None
    return button


def child[W](parent: Any, kind: type[W], name: str) -> W:
    widget = parent.findChild(kind, name)
    assert widget is not None, name
    return widget


def customer_rows(model: CustomersModel) -> dict[str, int]:
    return {user.username: row for row, user in enumerate(model.items())}


def show_customer(qtbot: Any, window: MainWindow, username: str) -> int:
    """Search the Customers tab for one customer, select their row and return it."""
    window.tabs.setCurrentIndex(CUSTOMERS_TAB)
    window.customer_search.setText(username)
    model = window.customers_model
    assert model is not None
    qtbot.waitUntil(
        lambda: (
            model.query["q"] == username  # the debounced search has been applied
            and not model.loading
            and list(customer_rows(model)) == [username]
        ),
        timeout=WAIT_MS,
    )
    window.customers_table.selectRow(0)
    return 0


def select_account(qtbot: Any, window: MainWindow, account_id: int) -> None:
    model = window.accounts_model
    qtbot.waitUntil(lambda: model.row_of(account_id) is not None, timeout=WAIT_MS)
    row = model.row_of(account_id)
    assert row is not None
    window.accounts_table.selectRow(row)
    selected = window.selected_account()
    assert selected is not None
    assert selected.id == account_id


# ---------------------------------------------------------------- customers


def test_teller_registers_then_edits_and_deactivates_a_customer(
    qtbot: Any, server: ServerProcess, make_user: MakeUser, anon: Api
) -> None:
    me, teller = make_user("teller")
    wire = PutRecorder()
    window = open_window(qtbot, server, me, transport=wire)
    window.tabs.setCurrentIndex(CUSTOMERS_TAB)

    window.new_customer_action.trigger()
    dialog = visible_dialog(qtbot, window, NewUserDialog, "customerDialog")
    child(dialog, QLineEdit, "usernameEdit").setText("frank.teller.made")
    child(dialog, QLineEdit, "fullNameEdit").setText("Frank Fischer")
    child(dialog, QLineEdit, "emailEdit").setText("frank@example.com")
    child(dialog, QLineEdit, "passwordEdit").setText("frank-pass-1")
    child(dialog, QLineEdit, "confirmPasswordEdit").setText("frank-pass-1")
    ok_button(dialog).click()
    qtbot.waitUntil(lambda: dialog.created is not None, timeout=WAIT_MS)
    dialog.reject()  # "Close": no account for Frank yet
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=WAIT_MS)

    page = expect(teller.get("/users", params={"q": "frank.teller.made"}), 200)
    assert page["total"] == 1
    created = page["items"][0]
    assert (created["full_name"], created["email"], created["role"], created["is_active"]) == (
        "Frank Fischer", "frank@example.com", "user", True,
    )  # fmt: skip
    model = window.customers_model
    assert model is not None
    qtbot.waitUntil(lambda: "frank.teller.made" in customer_rows(model), timeout=WAIT_MS)

    # Nothing selected: nothing to edit.
    window.customers_table.clearSelection()
    window.customers_table.setCurrentIndex(model.index(-1, -1))
    assert not window.edit_customer_action.isEnabled()
    assert window.open_edit_customer_dialog() is None

    row = show_customer(qtbot, window, "frank.teller.made")
    assert window.edit_customer_action.isEnabled()
    assert window.customers_tab.edit_button.isEnabled()
    window.tabs.setCurrentIndex(0)  # the shortcut only edits the customer in view
    assert not window.edit_customer_action.isEnabled()
    window.tabs.setCurrentIndex(CUSTOMERS_TAB)
    assert window.edit_customer_action.isEnabled()

    # A double-click on the row opens the dialog filled with the customer; Cancel changes nothing.
    table = window.customers_table
    rect = table.visualRect(model.index(row, CustomersModel.Column.FULL_NAME))
    # As the platform delivers it: a click, then the second press as a double-click event.
    for press in (QTest.mouseClick, QTest.mouseDClick):
        press(
            table.viewport(),
            Qt.MouseButton.LeftButton,
            Qt.KeyboardModifier.NoModifier,
            rect.center(),
        )
    dialog_2 = visible_dialog(qtbot, window, EditCustomerDialog, "editCustomerDialog")
    assert child(dialog_2, QLineEdit, "fullNameEdit").text() == "Frank Fischer"
    assert child(dialog_2, QLineEdit, "emailEdit").text() == "frank@example.com"
    assert child(dialog_2, QCheckBox, "activeCheck").isChecked()
    assert not ok_button(dialog_2).isEnabled()  # nothing changed yet
    dialog_2.reject()
    qtbot.waitUntil(lambda: not dialog_2.isVisible(), timeout=WAIT_MS)

    # The button opens it too; an address the server would refuse holds Ok back, with why.
    window.customers_tab.edit_button.click()
    edit = visible_dialog(qtbot, window, EditCustomerDialog, "editCustomerDialog")
    email = child(edit, QLineEdit, "emailEdit")
    email.setText("not-an-address")
    assert edit.changes() == {"email": "not-an-address"}
    assert not ok_button(edit).isEnabled()
    assert "email address" in child(edit, QLabel, "dialogHint").text()
    email.setText("frank@example.com")
    assert not ok_button(edit).isEnabled()

    # Rename and deactivate: only the changed fields are sent.
    child(edit, QLineEdit, "fullNameEdit").setText("  Franklin Fischer ")
    active = child(edit, QCheckBox, "activeCheck")
    active.setChecked(False)
    assert child(edit, QLabel, "activeHint").isVisible()
    assert edit.changes() == {"full_name": "Franklin Fischer", "is_active": False}
    with qtbot.waitSignal(edit.completed, timeout=WAIT_MS) as blocker:
        ok_button(edit).click()
    assert blocker.args[0].full_name == "Franklin Fischer"
    qtbot.waitUntil(lambda: not edit.isVisible(), timeout=WAIT_MS)

    assert wire.puts == [
        (f"/users/{created['id']}", {"full_name": "Franklin Fischer", "is_active": False}),
    ]
    stored = expect(teller.get(f"/users/{created['id']}"), 200)
    assert (stored["full_name"], stored["email"], stored["is_active"]) == (
        "Franklin Fischer", "frank@example.com", False,
    )  # fmt: skip
    # Deactivated for real: the customer can no longer sign in.
    login = anon.client.post(
        "/login", data={"username": "frank.teller.made", "password": "frank-pass-1"}
    )
    assert login.status_code == 401

    # The refreshed table shows the change and keeps the customer selected.
    def row_updated() -> bool:
        selected = window.selected_customer()
        return selected is not None and selected.full_name == "Franklin Fischer"

    qtbot.waitUntil(row_updated, timeout=WAIT_MS)
    selected = window.selected_customer()
    assert selected is not None
    assert not selected.is_active
    row = table.currentIndex().row()
    assert model.index(row, CustomersModel.Column.ACTIVE).data() == "No"
    window.close()


def test_opening_an_account_for_the_selected_customer(
    qtbot: Any, server: ServerProcess, make_user: MakeUser, admin: Api
) -> None:
    me, _teller = make_user("teller")
    customer, _api = make_user("user", full_name="Grace Green")
    window = open_window(qtbot, server, me)
    show_customer(qtbot, window, customer["username"])

    window.new_account_action.trigger()
    dialog = visible_dialog(qtbot, window, AccountDialog, "accountDialog")
    assert dialog.owner_id == customer["id"]
    types = child(dialog, QComboBox, "accountTypeCombo")
    types.setCurrentIndex(types.findData("savings"))
    child(dialog, QLineEdit, "nicknameEdit").setText("Rainy day")
    with qtbot.waitSignal(dialog.completed, timeout=WAIT_MS) as blocker:
        ok_button(dialog).click()
    opened = blocker.args[0]
    dialog.reject()  # no first deposit now

    page = expect(admin.get("/accounts", params={"owner_id": customer["id"]}), 200)
    assert page["total"] == 1
    stored = page["items"][0]
    assert stored["number"] == opened.number
    assert (stored["account_type"], stored["nickname"], stored["balance"]) == (
        "savings", "Rainy day", "0.00",
    )  # fmt: skip
    # The window refreshed itself after the dialog: the new account is in the table.
    qtbot.waitUntil(lambda: window.accounts_model.row_of(stored["id"]) is not None, timeout=WAIT_MS)
    row = window.accounts_model.row_of(stored["id"])
    assert row is not None
    shown = window.accounts_model.account_at(row)
    assert shown is not None
    assert shown.owner_name == "Grace Green"
    assert window.findChild(QTableView, "accountsTable") is window.accounts_table
    window.close()


# ---------------------------------------------------------------- statements


def test_statement_export_writes_csv_and_pdf_with_progress(
    qtbot: Any,
    server: ServerProcess,
    make_user: MakeUser,
    open_account: OpenAccount,
    tmp_path: Path,
) -> None:
    me, _teller = make_user("teller")
    customer, _api = make_user("user", full_name="Hana Hill")
    account = open_account(customer["id"], deposit="75.00")
    window = open_window(qtbot, server, me)
    select_account(qtbot, window, account["id"])
    assert window.export_action.isEnabled()

    csv_path = tmp_path / "s.csv"
    with qtbot.waitSignal(window.statement_saved, timeout=WAIT_MS) as saved:
        window.export_statement(str(csv_path), "csv")
        progress = window.findChild(QProgressDialog, "statementProgress")
        assert progress is not None
        assert progress.isVisible()  # shown while the download runs
        assert account["number"] in progress.labelText()
    assert saved.args == [str(csv_path)]
    assert not progress.isVisible()
    text = csv_path.read_text()
    assert account["number"] in text
    assert "75.00" in text
    assert not (tmp_path / "s.csv.part").exists()

    pdf_path = tmp_path / "s.pdf"
    with qtbot.waitSignal(window.statement_saved, timeout=WAIT_MS) as saved:
        window.export_statement(str(pdf_path), "pdf")
        shown = [
            p for p in window.findChildren(QProgressDialog, "statementProgress") if p.isVisible()
        ]
        assert len(shown) == 1
        assert shown[0] is not progress
    assert saved.args == [str(pdf_path)]
    assert pdf_path.read_bytes().startswith(b"%PDF")
    assert pdf_path.stat().st_size > 500
    window.close()


# ---------------------------------------------------------------- actions and shortcuts


def test_every_action_has_a_shortcut_and_money_actions_follow_the_selection(
    qtbot: Any,
    server: ServerProcess,
    make_user: MakeUser,
    open_account: OpenAccount,
    admin: Api,
) -> None:
    me, _teller = make_user("teller")
    customer, _api = make_user("user", full_name="Ivan Ito")
    active = open_account(customer["id"], deposit="10.00")
    frozen = open_account(customer["id"])
    expect(admin.put(f"/accounts/{frozen['id']}/admin", json={"status": "frozen"}), 200)
    window = open_window(qtbot, server, me)

    shortcuts: dict[str, str] = {}
    for name in (*ACTION_NAMES, "editCustomerAction"):
        action = window.findChild(QAction, name)
        assert action is not None, name
        assert not action.shortcut().isEmpty(), name
        assert action.isVisible(), name
        shortcuts[name] = action.shortcut().toString()
    assert len(set(shortcuts.values())) == len(shortcuts), shortcuts  # no two alike
    assert shortcuts["editCustomerAction"] == QKeySequence("Ctrl+Shift+E").toString()
    assert shortcuts["depositAction"] == QKeySequence("Ctrl+D").toString()
    assert shortcuts["refreshAction"] == QKeySequence("F5").toString()

    money = (window.deposit_action, window.withdraw_action, window.transfer_action)
    qtbot.waitUntil(lambda: window.accounts_model.row_of(frozen["id"]) is not None, timeout=WAIT_MS)
    assert window.selected_account() is None
    assert not any(action.isEnabled() for action in money)
    assert not window.export_action.isEnabled()
    assert window.open_movement("deposit") is None

    select_account(qtbot, window, active["id"])
    assert all(action.isEnabled() for action in money)
    assert window.export_action.isEnabled()

    select_account(qtbot, window, frozen["id"])
    assert not any(action.isEnabled() for action in money)
    assert window.export_action.isEnabled()  # a frozen account still has a statement
    window.close()

    # A customer's window has no customer actions at all.
    customer_window = open_window(qtbot, server, customer)
    assert not customer_window.edit_customer_action.isVisible()
    assert not customer_window.new_customer_action.isVisible()
    assert customer_window.customers_model is None
    customer_window.close()


# ---------------------------------------------------------------- a deposit


def test_deposit_from_the_main_window_updates_server_and_balance(
    qtbot: Any,
    server: ServerProcess,
    make_user: MakeUser,
    open_account: OpenAccount,
    admin: Api,
) -> None:
    me, _teller = make_user("teller")
    customer, _api = make_user("user", full_name="Jane Jones")
    account = open_account(customer["id"], deposit="100.00")
    window = open_window(qtbot, server, me)
    select_account(qtbot, window, account["id"])
    balance = child(window, QLabel, "accountBalance")
    assert balance.text() == "100.00 USD"

    window.deposit_action.trigger()
    dialog = visible_dialog(qtbot, window, MovementDialog, "depositDialog")
    child(dialog, QLineEdit, "amountEdit").setText("25.50")
    qtbot.waitUntil(lambda: ok_button(dialog).isEnabled(), timeout=WAIT_MS)
    ok_button(dialog).click()  # review
    assert ok_button(dialog).text() == "Confirm"
    assert child(dialog, QLabel, "confirmLabel").isVisible()
    with qtbot.waitSignal(dialog.completed, timeout=WAIT_MS):
        ok_button(dialog).click()  # confirm

    stored = expect(admin.get(f"/accounts/{account['id']}"), 200)
    assert Decimal(stored["balance"]) == Decimal("125.50")
    qtbot.waitUntil(lambda: balance.text() == "125.50 USD", timeout=WAIT_MS)
    # The refresh kept the account selected: the next deposit is one keystroke away.
    qtbot.waitUntil(lambda: window.selected_account() is not None, timeout=WAIT_MS)
    selected = window.selected_account()
    assert selected is not None
    assert selected.id == account["id"]
    assert selected.balance == Decimal("125.50")
    assert window.deposit_action.isEnabled()
    dialog.accept()
    window.close()


# ---------------------------------------------------------------- the idle lock


def test_idle_watcher_fires_after_idle_time_and_input_postpones_it(qtbot: Any, qapp: Any) -> None:
    fired: list[float] = []
    start = time.monotonic()
    watcher = desktop_app.IdleWatcher(minutes=0.02, on_idle=lambda: fired.append(time.monotonic()))
    qapp.installEventFilter(watcher)
    try:
        qtbot.waitUntil(lambda: bool(fired), timeout=5_000)
        assert 1.1 <= fired[0] - start < 3.0

        edit = QLineEdit()
        qtbot.addWidget(edit)
        edit.show()
        fired.clear()
        watcher.timer.start()
        restarted = time.monotonic()
        qtbot.wait(800)
        QTest.keyClick(edit, Qt.Key.Key_A)
        typed = time.monotonic()
        assert edit.text() == "a"
        qtbot.wait(600)  # past the 1.2 s the first start would have allowed
        assert not fired
        qtbot.waitUntil(lambda: bool(fired), timeout=5_000)
        assert fired[0] - typed >= 1.1
        assert fired[0] - restarted >= 1.8
    finally:
        qapp.removeEventFilter(watcher)
        watcher.timer.stop()


def test_lock_disables_the_window_and_asks_for_the_password(
    qtbot: Any, server: ServerProcess, make_user: MakeUser
) -> None:
    me, _teller = make_user("teller")
    desktop = launch(["--server", server.url, "--idle-minutes", "60"])
    assert desktop.login is not None
    login = desktop.login
    qtbot.addWidget(login)
    child(login, QLineEdit, "usernameEdit").setText(me["username"])
    child(login, QLineEdit, "passwordEdit").setText(password_of(me))
    child(login, QPushButton, "loginButton").click()
    qtbot.waitUntil(lambda: desktop.window is not None, timeout=WAIT_MS)
    window = desktop.window
    assert window is not None
    qtbot.addWidget(window)
    assert window.isEnabled()

    desktop.lock()
    assert not window.isEnabled()
    relock = desktop.login
    assert relock is not None
    assert relock is not login
    assert relock.isVisible()
    qtbot.addWidget(relock)
    assert child(relock, QLineEdit, "usernameEdit").text() == me["username"]
    assert child(relock, QLineEdit, "serverUrlEdit").isReadOnly()
    assert child(relock, QLineEdit, "passwordEdit").text() == ""

    # Signing in again unlocks the same window.
    child(relock, QLineEdit, "passwordEdit").setText(password_of(me))
    child(relock, QPushButton, "loginButton").click()
    qtbot.waitUntil(window.isEnabled, timeout=WAIT_MS)
    assert desktop.window is window
    window.close()


# ---------------------------------------------------------------- signing out


def test_logout_ends_the_server_session(
    qtbot: Any, server: ServerProcess, make_user: MakeUser
) -> None:
    me, _teller = make_user("teller")
    window = open_window(qtbot, server, me)
    token = window.client._access
    assert token is not None
    me_url = f"{server.url}/me"
    assert httpx.get(me_url, headers={"Authorization": f"Bearer {token}"}).status_code == 200

    with qtbot.waitSignal(window.logged_out, timeout=WAIT_MS):
        window.logout_action.trigger()
    assert not window.client.signed_in
    after = httpx.get(me_url, headers={"Authorization": f"Bearer {token}"})
    assert after.status_code == 401
    window.close()
