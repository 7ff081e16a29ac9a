"""The administration and statistics panels against a real server: an admin creates a user,
changes the role, resets the password, unlocks, deactivates and deletes through the widgets;
refusals show the server's reason; the audit filters and the statistics match the API; tellers
see statistics but no user management, customers see neither."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
from PySide6.QtCore import QDate, QModelIndex, Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QTableView,
    QWidget,
)

from desktop import workers
from desktop.admin import AdminPanel, StatsPanel
from desktop.admin.audit_model import AuditModel
from desktop.admin.dialogs import EditUserDialog
from desktop.admin.models import UsersModel
from desktop.admin.stats import COUNTS, day_value
from desktop.api.client import BankClient
from desktop.dialogs.user_form import NewUserDialog, password_problem
from desktop.main_window import MainWindow
from desktop.models.paging import PagedTableModel
from shared.money import format_money
from shared.schemas.common import Role
from tests.support import ADMIN_PASSWORD, Api, ServerProcess, expect

# Three wrong passwords lock a username; the test's wrong passwords come "through a proxy".
SERVER_ENV = {"LOGIN_MAX_FAILURES": "3", "TRUSTED_PROXIES": "127.0.0.1"}

MakeUser = Callable[..., tuple[dict[str, Any], Api]]
OpenAccount = Callable[..., dict[str, Any]]
WAIT_MS = 15_000
ROOT = QModelIndex()
DISPLAY = Qt.ItemDataRole.DisplayRole


class WireLog(httpx.HTTPTransport):
    """A real transport that remembers every request's method, path and JSON body."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[tuple[str, str, Any]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content) if request.content.startswith(b"{") else None
        self.sent.append((request.method, request.url.path, body))
        return super().handle_request(request)

    def bodies(self, method: str, path: str) -> list[Any]:
        return [body for m, p, body in self.sent if (m, p) == (method, path)]


@pytest.fixture(autouse=True)
def no_task_left_behind(qtbot: Any) -> Iterator[None]:
    """Let every request a test started report before the next test begins."""
    yield
    qtbot.waitUntil(lambda: workers.pending() == 0, timeout=WAIT_MS)


@pytest.fixture(scope="module")
def rich_customer(make_user: MakeUser, open_account: OpenAccount) -> dict[str, Any]:
    """A customer holding money in two currencies, with a closed account too."""
    user, _ = make_user("user", username="rita.rich", full_name="Rita Rich")
    open_account(user["id"], deposit="1250.00")
    open_account(user["id"], deposit="10.50", currency="EUR", account_type="savings")
    return user


def open_window(qtbot: Any, server: ServerProcess, username: str, password: str,
                transport: httpx.BaseTransport | None = None) -> MainWindow:  # fmt: skip
    """Sign in and show the main window, as the app does after the login dialog."""
    client = BankClient(server.url, transport=transport)
    user = client.login(username, password)
    window = MainWindow(client, user)
    qtbot.addWidget(window)
    window.resize(1280, 800)
    window.show()
    return window


def tab_titles(window: MainWindow) -> list[str]:
    return [window.tabs.tabText(i) for i in range(window.tabs.count())]


def settled(qtbot: Any, model: PagedTableModel[Any]) -> None:
    """Wait until a model's current query has answered."""
    qtbot.waitUntil(
        lambda: not model.loading and (model.total is not None or model.error is not None),
        timeout=WAIT_MS,
    )
    assert model.error is None, model.error


def load_all(qtbot: Any, model: PagedTableModel[Any]) -> None:
    settled(qtbot, model)
    while model.canFetchMore(ROOT):
        rows = model.rowCount()
        model.fetchMore(ROOT)
        qtbot.waitUntil(lambda r=rows: not model.loading and model.rowCount() > r, timeout=WAIT_MS)


def child[W](parent: Any, kind: type[W], name: str) -> W:
    widget = parent.findChild(kind, name)
    assert widget is not None, name
    return widget


def shown[W: QWidget](qtbot: Any, parent: QWidget, kind: type[W], name: str) -> W:
    """Wait for the one visible widget of a kind and name under a parent and return it."""
    found: list[W] = []

    def visible() -> bool:
        found[:] = [w for w in parent.findChildren(kind, name) if w.isVisible()]
        return len(found) == 1

    qtbot.waitUntil(visible, timeout=WAIT_MS)
    return found[0]


def show_user(qtbot: Any, panel: AdminPanel, username: str) -> None:
    """Search the users table for one user and select the row."""
    view = panel.users
    view.search.setText(username)
    qtbot.waitUntil(
        lambda: (
            panel.users_model.query["q"] == username
            and not panel.users_model.loading
            and [u.username for u in panel.users_model.items()] == [username]
        ),
        timeout=WAIT_MS,
    )
    view.table.selectRow(0)
    selected = view.selected_user()
    assert selected is not None
    assert selected.username == username


def submit(qtbot: Any, dialog: QDialog) -> None:
    """Press Ok and wait for the dialog to close."""
    assert dialog.ok_button.isEnabled(), dialog.hint.text()  # type: ignore[attr-defined]
    with qtbot.waitSignal(dialog.finished, timeout=WAIT_MS) as finished:
        dialog.ok_button.click()  # type: ignore[attr-defined]
    assert finished.args == [QDialog.DialogCode.Accepted.value]


def audit_actions(admin: Api, user_id: int) -> list[str]:
    page = expect(admin.get("/audit", params={"target_type": "user", "target_id": user_id}), 200)
    return [event["action"] for event in page["items"]]


# ---------------------------------------------------------------- models


def test_users_model_shows_account_summaries_and_filters_on_the_server(
    qtbot: Any, qtmodeltester: Any, server: ServerProcess, admin: Api, make_user: MakeUser,
    rich_customer: dict[str, Any], open_account: OpenAccount,
) -> None:  # fmt: skip
    closed = open_account(rich_customer["id"])
    expect(admin.delete(f"/accounts/{closed['id']}"), 204)
    make_user("teller", username="tom.teller", full_name="Tom Teller")
    client = BankClient(server.url)
    client.login("admin", ADMIN_PASSWORD)
    model = UsersModel(client, page_size=2)
    qtmodeltester.check(model, force_py=True)

    model.set_query()
    load_all(qtbot, model)
    api = expect(admin.get("/users", params={"limit": 200, "include": "accounts"}), 200)
    assert [u.username for u in model.items()] == [u["username"] for u in api["items"]]
    assert model.total == api["total"]

    row = model.row_of(rich_customer["id"])
    assert row is not None
    texts = [model.data(model.index(row, c), DISPLAY) for c in range(model.columnCount())]
    column = UsersModel.Column
    assert texts[column.USERNAME] == "rita.rich"
    assert texts[column.ROLE] == "Customer"
    assert texts[column.ACCOUNTS] == "2"  # the closed account does not count
    assert texts[column.BALANCES] == "10.50 EUR · 1,250.00 USD"
    tip = model.data(model.index(row, column.ACCOUNTS), Qt.ItemDataRole.ToolTipRole)
    assert tip.count("\n") == 2
    assert "Closed" in tip

    # Search, role filter and sort all happen on the server.
    model.set_query("rita")
    settled(qtbot, model)
    assert [u.username for u in model.items()] == ["rita.rich"]
    model.set_query(role=Role.TELLER.value)
    load_all(qtbot, model)
    tellers = expect(admin.get("/users", params={"role": "teller", "limit": 200}), 200)
    assert [u.username for u in model.items()] == [u["username"] for u in tellers["items"]]
    assert {u.role for u in model.items()} == {Role.TELLER}
    model.set_query()
    model.sort(column.USERNAME, Qt.SortOrder.DescendingOrder)
    load_all(qtbot, model)
    names = [u.username for u in model.items()]
    assert names == sorted(names, reverse=True)
    assert model.sort(column.EMAIL) is None
    assert model.sort_field == "username"
    client.close()


def test_audit_model_filters_and_pages_like_the_api(
    qtbot: Any, qtmodeltester: Any, server: ServerProcess, admin: Api,
    rich_customer: dict[str, Any],
) -> None:  # fmt: skip
    client = BankClient(server.url)
    client.login("admin", ADMIN_PASSWORD)
    model = AuditModel(client, page_size=5)
    qtmodeltester.check(model, force_py=True)
    model.set_filters()
    load_all(qtbot, model)
    api = expect(admin.get("/audit", params={"limit": 200}), 200)
    assert model.total == api["total"] > 5
    ids = [e.id for e in model.items()]
    assert ids[: len(api["items"])] == [e["id"] for e in api["items"]][: len(ids)]
    assert ids == sorted(ids, reverse=True)  # newest first

    model.set_filters(action="money.deposit", target_type="account")
    load_all(qtbot, model)
    deposits = expect(
        admin.get("/audit", params={"action": "money.deposit", "target_type": "account"}), 200
    )
    assert model.total == deposits["total"] >= 2
    assert {e.action for e in model.items()} == {"money.deposit"}
    text = model.data(model.index(0, AuditModel.Column.TARGET), DISPLAY)
    event = model.event_at(0)
    assert event is not None
    holder = expect(admin.get(f"/accounts/{event.target_id}"), 200)
    assert text == f"Account {holder['number']} ({holder['owner_name']})"
    assert model.data(model.index(0, AuditModel.Column.ACTOR), DISPLAY) == "admin"

    model.set_filters(target_type="user", target_id=rich_customer["id"])
    settled(qtbot, model)
    assert [e.action for e in model.items()] == audit_actions(admin, rich_customer["id"])
    client.close()


def test_password_rule_matches_the_api() -> None:
    assert password_problem("short", "short", "bob") is not None
    assert password_problem("x" * 129, "x" * 129, "bob") is not None
    assert password_problem("Bob.smith", "Bob.smith", "bob.smith") is not None
    assert password_problem("good-pass-1", "good-pass-2", "bob") == "The two passwords differ."
    assert password_problem("good-pass-1", "good-pass-1", "bob") is None


# ---------------------------------------------------------------- the admin scenario


def test_admin_creates_edits_unlocks_deactivates_and_deletes_a_user(
    qtbot: Any, server: ServerProcess, admin: Api, anon: Api
) -> None:
    wire = WireLog()
    window = open_window(qtbot, server, "admin", ADMIN_PASSWORD, transport=wire)
    assert tab_titles(window) == [
        "Accounts",
        "Customers",
        "Till",
        "Statistics",
        "Approvals",
        "End of day",
        "Administration",
    ]
    panel = child(window, AdminPanel, "adminPanel")
    assert panel.users_model.total is None  # nothing loaded before the tab is shown
    window.tabs.setCurrentWidget(panel)
    table = child(panel, QTableView, "usersTable")
    qtbot.waitUntil(lambda: table.model().rowCount() > 0, timeout=WAIT_MS)
    view = panel.users
    ids = [u.id for u in panel.users_model.items()]
    assert ids == sorted(ids)  # the view shows the model's own order (id ascending)
    table.sortByColumn(UsersModel.Column.USERNAME, Qt.SortOrder.DescendingOrder)
    qtbot.waitUntil(lambda: panel.users_model.query["sort"] == "username"
                    and not panel.users_model.loading and panel.users_model.rowCount() > 0,
                    timeout=WAIT_MS)  # fmt: skip
    names = [u.username for u in panel.users_model.items()]
    assert names == sorted(names, reverse=True)
    assert not view.edit_button.isEnabled()
    assert not view.delete_button.isEnabled()

    # Create: Ok stays disabled with the reason until the form is one the API accepts.
    view.new_button.click()
    dialog = shown(qtbot, view, NewUserDialog, "newUserDialog")
    child(dialog, QLineEdit, "usernameEdit").setText("Nina.New")
    child(dialog, QLineEdit, "fullNameEdit").setText("Nina Newman")
    child(dialog, QLineEdit, "emailEdit").setText("nina@example.com")
    password, confirm = (
        child(dialog, QLineEdit, n) for n in ("passwordEdit", "confirmPasswordEdit")
    )
    password.setText("nina.new")
    confirm.setText("nina.new")
    assert not dialog.ok_button.isEnabled()
    assert "must not be the username" in child(dialog, QLabel, "dialogHint").text()
    password.setText("nina-pass-12")  # 12 characters: fit for the staff role she gets next
    assert not dialog.ok_button.isEnabled()
    assert "differ" in dialog.hint.text()
    confirm.setText("nina-pass-12")
    submit(qtbot, dialog)
    created = expect(admin.get("/users", params={"q": "nina.new"}), 200)["items"]
    assert [(u["username"], u["role"], u["is_active"]) for u in created] == [
        ("nina.new", "user", True)
    ]
    nina = created[0]["id"]

    # Change the role: only the changed field goes on the wire.
    show_user(qtbot, panel, "nina.new")
    edit = view.open_edit_dialog()
    assert isinstance(edit, EditUserDialog)
    assert child(edit, QLabel, "userLabel").text() == f"nina.new (#{nina})"
    assert not edit.ok_button.isEnabled()  # nothing changed yet
    role = child(edit, QComboBox, "roleCombo")
    role.setCurrentIndex(role.findData("teller"))
    assert "ends the user's sessions" in edit.hint.text()
    submit(qtbot, edit)
    assert wire.bodies("PUT", f"/users/{nina}")[-1] == {"role": "teller"}
    assert expect(admin.get(f"/users/{nina}"), 200)["role"] == "teller"
    assert window.client.get_user(nina).role is Role.TELLER
    assert "user.role_changed" in audit_actions(admin, nina)
    qtbot.waitUntil(
        lambda: (u := view.selected_user()) is not None and u.role is Role.TELLER,
        timeout=WAIT_MS,
    )  # the list reloads and keeps the row selected

    # Reset the password: the confirmation field and the length rule hold Ok back.
    edit = view.open_edit_dialog()
    assert edit is not None
    edit.password.setText("nina-pass-2")
    assert not edit.ok_button.isEnabled()
    assert "staff member's password needs 12" in edit.hint.text()  # she is a teller now
    edit.password.setText("nina-pass-22")
    assert "differ" in edit.hint.text()
    edit.confirm.setText("nina-pass-22")
    submit(qtbot, edit)
    assert wire.bodies("PUT", f"/users/{nina}")[-1] == {"password": "nina-pass-22"}
    anon.login("nina.new", "nina-pass-22").close()

    # Three wrong passwords lock the username (they come through a trusted proxy from one
    # address, so the loopback address the other tests sign in from is not locked with it).
    def sign_in(password: str, client_ip: str) -> httpx.Response:
        form = {"username": "nina.new", "password": password}
        return anon.client.post("/login", data=form, headers={"X-Forwarded-For": client_ip})

    for _ in range(3):
        assert sign_in("nope-nope", "203.0.113.7").status_code == 401
    locked = sign_in("nina-pass-22", "203.0.113.8")  # the right password, from elsewhere
    assert locked.status_code == 429, locked.text
    assert locked.json()["code"] == "rate_limited"
    qtbot.waitUntil(view.unlock_button.isEnabled, timeout=WAIT_MS)  # the row is back
    view.unlock_button.click()
    qtbot.waitUntil(lambda: "Unlocked sign-in" in window.statusBar().currentMessage(),
                    timeout=WAIT_MS)  # fmt: skip
    assert wire.bodies("POST", f"/users/{nina}/unlock") == [None]
    assert sign_in("nina-pass-22", "203.0.113.8").status_code == 200
    # The audit view shows the unlock when filtered to it.
    panel.tabs.setCurrentWidget(panel.audit)
    audit = panel.audit
    audit.action.setCurrentIndex(audit.action.findData("user.unlocked"))
    audit.target_id.setText(str(nina))
    qtbot.waitUntil(
        lambda: audit.model.filters.get("target_id") == nina and not audit.model.loading
        and audit.model.total == 1, timeout=WAIT_MS,
    )  # fmt: skip
    event = audit.model.event_at(0)
    assert event is not None
    assert event.action == "user.unlocked"
    assert audit.count.text() == "1 event"
    panel.tabs.setCurrentWidget(view)

    # The dialog's own unlock button calls the same route.
    edit = view.open_edit_dialog()
    assert edit is not None
    edit.unlock_button.click()
    qtbot.waitUntil(lambda: "Unlocked" in edit.unlock_status.text(), timeout=WAIT_MS)
    assert len(wire.bodies("POST", f"/users/{nina}/unlock")) == 2

    # Deactivate.
    active = child(edit, QCheckBox, "activeCheck")
    active.setChecked(False)
    submit(qtbot, edit)
    assert wire.bodies("PUT", f"/users/{nina}")[-1] == {"is_active": False}
    assert expect(admin.get(f"/users/{nina}"), 200)["is_active"] is False
    assert "user.deactivated" in audit_actions(admin, nina)
    refused = anon.client.post("/login", data={"username": "nina.new", "password": "nina-pass-22"})
    assert refused.status_code == 401

    # Delete, after a confirmation that names the user; Cancel first changes nothing.
    qtbot.waitUntil(lambda: view.selected_user() is not None
                    and not view.selected_user().is_active, timeout=WAIT_MS)  # fmt: skip
    view.delete_button.click()
    box = shown(qtbot, view, QMessageBox, "deleteUserConfirm")
    assert "nina.new" in box.text()
    assert "Nina Newman" in box.text()
    box.button(QMessageBox.StandardButton.Cancel).click()
    qtbot.waitUntil(lambda: not box.isVisible(), timeout=WAIT_MS)
    assert wire.bodies("DELETE", f"/users/{nina}") == []
    view.delete_button.click()
    box = shown(qtbot, view, QMessageBox, "deleteUserConfirm")
    child(box, QPushButton, "confirmDeleteButton").click()
    qtbot.waitUntil(lambda: "Deleted nina.new" in window.statusBar().currentMessage(),
                    timeout=WAIT_MS)  # fmt: skip
    qtbot.waitUntil(lambda: not panel.users_model.loading and panel.users_model.row_of(nina)
                    is None and panel.users_model.total == 0, timeout=WAIT_MS)  # fmt: skip
    assert expect(admin.get("/users", params={"q": "nina.new"}), 200)["total"] == 0
    assert "user.deleted" in audit_actions(admin, nina)
    window.close()


def test_refused_changes_show_the_server_reason_and_change_nothing(
    qtbot: Any, server: ServerProcess, admin: Api, rich_customer: dict[str, Any]
) -> None:
    window = open_window(qtbot, server, "admin", ADMIN_PASSWORD)
    panel = child(window, AdminPanel, "adminPanel")
    window.tabs.setCurrentWidget(panel)
    view = panel.users
    settled(qtbot, panel.users_model)

    # A customer whose accounts hold money cannot be deleted.
    owned = {"owner_id": rich_customer["id"], "status": "active"}
    before = expect(admin.get("/accounts", params=owned), 200)["items"]
    assert before
    show_user(qtbot, panel, "rita.rich")
    box = view.confirm_delete()
    assert box is not None
    child(box, QPushButton, "confirmDeleteButton").click()
    refusal = shown(qtbot, view, QMessageBox, "deleteRefusedMessage")
    assert "rita.rich was not deleted" in refusal.text()
    assert "still holds money" in refusal.text()  # the desktop's words for the code
    assert "Nothing was changed" in refusal.informativeText()
    refusal.button(QMessageBox.StandardButton.Ok).click()
    user = expect(admin.get(f"/users/{rich_customer['id']}"), 200)
    assert user["is_active"] is True
    assert expect(admin.get("/accounts", params=owned), 200)["items"] == before

    # The only admin cannot demote themselves: the dialog shows why and stays open.
    show_user(qtbot, panel, "admin")
    assert not view.delete_button.isEnabled()  # nobody deletes themselves
    assert view.confirm_delete() is None
    edit = view.open_edit_dialog()
    assert edit is not None
    edit.role.setCurrentIndex(edit.role.findData("user"))
    assert not edit.ok_button.isEnabled()  # your own role: your current password first
    assert "current password" in edit.hint.text()
    child(edit, QLineEdit, "currentPasswordEdit").setText(ADMIN_PASSWORD)
    edit.ok_button.click()
    error = child(edit, QLabel, "dialogError")
    qtbot.waitUntil(error.isVisible, timeout=WAIT_MS)
    assert "without an active admin" in error.text()
    assert edit.isVisible()
    assert edit.ok_button.isEnabled()
    edit.reject()
    assert expect(admin.get("/me"), 200)["role"] == "admin"
    window.close()


def test_audit_view_filters_by_actor_action_and_dates(
    qtbot: Any, server: ServerProcess, admin: Api, rich_customer: dict[str, Any]
) -> None:
    window = open_window(qtbot, server, "admin", ADMIN_PASSWORD)
    panel = child(window, AdminPanel, "adminPanel")
    window.tabs.setCurrentWidget(panel)
    panel.tabs.setCurrentWidget(panel.audit)
    audit = panel.audit
    table = child(audit, QTableView, "auditTable")
    qtbot.waitUntil(lambda: table.model().rowCount() > 0, timeout=WAIT_MS)
    everything = audit.model.total
    ids = [e.id for e in audit.model.items()]
    assert ids == sorted(ids, reverse=True)  # newest first
    assert everything == expect(admin.get("/audit"), 200)["total"]

    me = expect(admin.get("/me"), 200)["id"]
    audit.actor.setText(str(me))
    audit.action.setCurrentIndex(audit.action.findData("user.created"))
    qtbot.waitUntil(lambda: audit.model.filters.get("actor_id") == me
                    and not audit.model.loading, timeout=WAIT_MS)  # fmt: skip
    api = expect(admin.get("/audit", params={"actor_id": me, "action": "user.created"}), 200)
    assert audit.model.total == api["total"] > 0
    assert {e.actor_id for e in audit.model.items()} == {me}

    # Today is in range; a range that ended yesterday is empty.
    audit.since_check.setChecked(True)
    audit.since.setDate(QDate.currentDate())
    audit.until_check.setChecked(True)
    audit.until.setDate(QDate.currentDate())
    qtbot.waitUntil(lambda: "until" in audit.model.filters and not audit.model.loading
                    and audit.model.total is not None, timeout=WAIT_MS)  # fmt: skip
    assert audit.model.total == api["total"]
    audit.until.setDate(QDate.currentDate().addDays(-1))
    audit.since.setDate(QDate.currentDate().addDays(-3))
    qtbot.waitUntil(lambda: audit.model.total == 0 and not audit.model.loading, timeout=WAIT_MS)
    sent = audit.model.filters
    assert sent["since"].endswith("Z")
    assert sent["until"].endswith("Z")

    audit.clear_button.click()
    qtbot.waitUntil(lambda: audit.model.filters == {} and not audit.model.loading
                    and audit.model.total is not None, timeout=WAIT_MS)  # fmt: skip
    assert audit.model.total >= everything
    window.close()


# ---------------------------------------------------------------- statistics and roles


def test_stats_panel_shows_the_figures_and_the_last_30_days(
    qtbot: Any, server: ServerProcess, admin: Api, make_user: MakeUser,
    rich_customer: dict[str, Any],
) -> None:  # fmt: skip
    me, _teller = make_user("teller")
    window = open_window(qtbot, server, me["username"], f"pw-{me['username']}-secret")
    assert tab_titles(window) == ["Accounts", "Customers", "Till", "Statistics", "Approvals"]
    # No user management for a teller: the widgets do not exist at all.
    assert window.admin_panel is None
    assert window.findChild(QWidget, "adminPanel") is None
    assert window.findChild(QTableView, "usersTable") is None
    assert window.findChild(QTableView, "auditTable") is None
    panel = child(window, StatsPanel, "statsPanel")
    assert panel.stats is None  # loads when first shown
    window.tabs.setCurrentWidget(panel)
    qtbot.waitUntil(lambda: panel.stats is not None, timeout=WAIT_MS)

    stats = expect(admin.get("/stats"), 200)
    daily = expect(admin.get("/stats/daily", params={"days": 30}), 200)["days"]
    shown_figures = panel.figures()
    assert shown_figures["users"] == f"{stats['users']:,}"
    assert shown_figures["accounts"] == f"{stats['accounts']:,}"
    assert shown_figures["balances"] == {
        cur: format_money(Decimal(total), cur) for cur, total in stats["total_balance"].items()
    }
    usd = next(row for row in shown_figures["today"] if row[0] == "USD")
    deposits = stats["today"]["deposits"]["USD"]
    assert shown_figures["headers"][:3] == ["Currency", "Deposits\nnumber", "Deposits\nsum"]
    assert usd[1:3] == [f"{deposits['count']}", format_money(Decimal(deposits["sum"]))]

    chart = panel.chart
    assert len(chart.dates) == 30
    assert chart.dates[-1] == daily[-1]["date"]
    counts = [sum(c["count"] for c in d["deposits"].values()) for d in daily]
    assert chart.values["deposits"] == [Decimal(n) for n in counts]
    assert chart.values["deposits"][-1] >= 2
    assert day_value(panel.daily.days[-1], "deposits", COUNTS) == counts[-1]  # type: ignore[union-attr]

    # Volume in one currency; Refresh shows a new deposit.
    panel.measure.setCurrentIndex(panel.measure.findData("USD"))
    usd_sums = [Decimal(d["deposits"].get("USD", {}).get("sum", "0")) for d in daily]
    assert chart.values["deposits"] == usd_sums
    account = expect(admin.get("/accounts", params={"owner_id": rich_customer["id"]}), 200)
    target = next(a for a in account["items"] if a["currency"] == "USD")
    expect(admin.post(f"/accounts/{target['id']}/deposit", json={"amount": "5.00"}), 201)
    window.refresh_action.trigger()  # F5 refreshes the statistics in view
    qtbot.waitUntil(lambda: chart.values["deposits"][-1] == usd_sums[-1] + 5, timeout=WAIT_MS)
    assert panel.measure.currentData() == "USD"  # the chosen measure is kept
    window.close()


def test_customer_sees_neither_statistics_nor_user_management(
    qtbot: Any, server: ServerProcess, make_user: MakeUser
) -> None:
    me, _ = make_user("user")
    window = open_window(qtbot, server, me["username"], f"pw-{me['username']}-secret")
    assert tab_titles(window) == ["Accounts"]
    assert window.stats_panel is None
    assert window.admin_panel is None
    for name in ("statsPanel", "adminPanel", "usersTable", "auditTable"):
        assert window.findChild(QWidget, name) is None, name
    window.close()


def test_the_audit_trail_reads_with_names_and_filters_by_username(
    qtbot: Any, server: ServerProcess, admin: Api, rich_customer: dict[str, Any]
) -> None:
    window = open_window(qtbot, server, "admin", ADMIN_PASSWORD)
    panel = child(window, AdminPanel, "adminPanel")
    window.tabs.setCurrentWidget(panel)
    panel.tabs.setCurrentWidget(panel.audit)
    audit = panel.audit
    qtbot.waitUntil(lambda: audit.model.rowCount() > 0, timeout=WAIT_MS)
    column = AuditModel.Column

    # The Actor filter takes a username.
    qtbot.keyClicks(audit.actor, "admin")
    me = expect(admin.get("/me"), 200)["id"]
    qtbot.waitUntil(lambda: audit.model.filters.get("actor_id") == me
                    and not audit.model.loading, timeout=WAIT_MS)  # fmt: skip
    assert audit.model.total == expect(admin.get("/audit", params={"actor_id": me}), 200)["total"]
    actors = {audit.model.index(r, column.ACTOR).data() for r in range(audit.model.rowCount())}
    assert actors == {"admin"}  # names, not "#1"
    # Account events name the account by number and holder; details read as words.
    rows = range(audit.model.rowCount())
    opened = next(r for r in rows if audit.model.event_at(r).action == "account.opened")
    target = audit.model.index(opened, column.TARGET).data()
    event = audit.model.event_at(opened)
    number = expect(admin.get(f"/accounts/{event.target_id}"), 200)["number"]
    assert target.startswith(f"Account {number} (")
    assert audit.model.index(opened, column.ACTION).data() == "Account opened"
    deposit = next(r for r in rows if audit.model.event_at(r).action == "money.deposit")
    details = audit.model.index(deposit, column.DETAILS).data()
    assert "Amount: " in details
    assert re.search(r"Amount: [0-9,.]+ (USD|EUR)", details), details
    assert "transaction_id" not in details
    # The chosen event reads whole in the details pane.
    audit.table.selectRow(deposit)
    pane = audit.findChild(QWidget, "auditDetails")
    qtbot.waitUntil(lambda: "Balance after" in pane.toPlainText(), timeout=WAIT_MS)
    assert "Deposit" in pane.toPlainText()

    # A sign-in's session id stays out of the table, shortened in the pane.
    audit.actor.clear()
    audit.action.setCurrentIndex(audit.action.findData("login.succeeded"))
    qtbot.waitUntil(lambda: audit.model.filters.get("action") == "login.succeeded"
                    and "actor_id" not in audit.model.filters and not audit.model.loading
                    and audit.model.rowCount() > 0, timeout=WAIT_MS)  # fmt: skip
    login = audit.model.event_at(0)
    assert login is not None
    assert audit.model.index(0, column.DETAILS).data() == ""
    audit.table.selectRow(0)
    qtbot.waitUntil(lambda: "Sign-in session" in pane.toPlainText(), timeout=WAIT_MS)
    assert login.details["sid"] not in pane.toPlainText()
    assert login.details["sid"][:8] in pane.toPlainText()

    # An unknown username says so and shows nothing.
    qtbot.keyClicks(audit.actor, "nobody.here")
    hint = audit.findChild(QLabel, "actorHint")
    qtbot.waitUntil(lambda: hint.isVisible() and not audit.model.loading
                    and audit.model.total == 0, timeout=WAIT_MS)  # fmt: skip
    assert hint.text() == "No user is named nobody.here."
    window.close()
