"""The Accounts tab as a teller meets it, against a real server: the balance chart, a search
that leaves the chosen account out, columns at narrow and default widths, words instead of
raw values, and where files are saved."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QSettings, QStandardPaths, Qt
from PySide6.QtWidgets import QComboBox, QFileDialog, QLabel, QLineEdit

from desktop import workers
from desktop.api.client import BankClient
from desktop.dialogs.forms import AccountDialog
from desktop.dialogs.movement import MovementDialog
from desktop.main_window import MainWindow
from desktop.models.accounts import AccountsModel
from desktop.models.transactions import TransactionsModel
from desktop.widgets.chart import MoneyAxis
from desktop.widgets.files import FileChooser
from tests.support import Api, ServerProcess, expect

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


@pytest.fixture(scope="module")
def bank(make_user: MakeUser, open_account: OpenAccount, admin: Api) -> dict[str, Any]:
    """Two customers; one account with history today, one empty, one in euros."""
    alpha, _ = make_user("user", full_name="Search Alpha")
    beta, _ = make_user("user", full_name="Search Beta")
    busy = open_account(alpha["id"], deposit="1250.00", nickname="A rather long nickname here")
    expect(admin.post(f"/accounts/{busy['id']}/withdraw", json={"amount": "250.00"}), 201)
    expect(admin.post(f"/accounts/{busy['id']}/deposit", json={"amount": "20.50"}), 201)
    empty = open_account(alpha["id"], account_type="savings")
    euros = open_account(beta["id"], deposit="10.00", currency="EUR")
    return {"alpha": alpha, "beta": beta, "busy": busy, "empty": empty, "euros": euros}


def open_window(qtbot: Any, server: ServerProcess, make_user: MakeUser,
                settings: QSettings | None = None) -> MainWindow:  # fmt: skip
    me, _ = make_user("teller")
    client = BankClient(server.url)
    client.login(me["username"], f"pw-{me['username']}-secret")
    assert client.user is not None
    window = MainWindow(client, client.user, settings)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: not window.accounts_model.loading
                    and window.accounts_model.rowCount() > 0, timeout=WAIT_MS)  # fmt: skip
    return window


def choose(qtbot: Any, window: MainWindow, account_id: int) -> None:
    model = window.accounts_model
    qtbot.waitUntil(lambda: model.row_of(account_id) is not None, timeout=WAIT_MS)
    window.accounts_table.selectRow(model.row_of(account_id))
    history = window.transactions_model
    qtbot.waitUntil(lambda: history.account is not None and history.account.id == account_id
                    and history.total is not None and not history.loading,
                    timeout=WAIT_MS)  # fmt: skip


# ---------------------------------------------------------------- 1. the balance chart


def test_the_chart_is_a_step_chart_in_dates_and_the_currency_or_a_sentence(
    qtbot: Any, server: ServerProcess, make_user: MakeUser, bank: dict[str, Any]
) -> None:
    window = open_window(qtbot, server, make_user)
    chart = window.chart
    # No account chosen: a sentence, not an empty plot with "x0.001" ticks.
    assert chart.message.isVisible()
    assert chart.message.text() == "Choose an account to see its balance over time."
    assert chart._plot is None or not chart.plot.isVisible()

    choose(qtbot, window, bank["busy"]["id"])
    qtbot.waitUntil(lambda: chart.plot.isVisible(), timeout=WAIT_MS)
    assert chart.step_mode == "center"  # flat between movements, a jump at each
    assert [p[1] for p in chart.points] == [1250.00, 1000.00, 1020.50]
    assert chart.plot.getAxis("left").labelText == "Balance (USD)"
    today = datetime.now().astimezone()
    assert chart.plot.getAxis("bottom").labelText == f"Local time on {today:%Y-%m-%d}"
    left, right = chart.plot.viewRange()[0]
    midnight = today.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()
    assert abs(left - midnight) < 1
    assert abs(right - (midnight + 86400)) < 3700  # the day (a DST day is an hour off)
    ticks = chart.bottom_ticks()
    assert ticks
    assert all(
        re.fullmatch(r"\d{1,2}:\d{2}|[A-Za-z]{3} \d{1,2}|\d{4}|[A-Za-z]{3}", t) for t in ticks
    ), ticks  # hours of the day, never seconds ("49.040")
    values = MoneyAxis().tickStrings([0.0, 500.0, 1000.0, 1500.0], 1.0, 500.0)
    assert values == ["0", "500", "1,000", "1,500"]

    # An empty account: a sentence again, not the previous account's axes.
    choose(qtbot, window, bank["empty"]["id"])
    qtbot.waitUntil(lambda: chart.message.isVisible(), timeout=WAIT_MS)
    assert chart.message.text() == "No money has moved on this account yet."
    assert not chart.plot.isVisible()
    assert chart.points == []
    window.close()


# ---------------------------------------------------------------- 2. search and the detail side


def test_a_search_that_leaves_the_account_out_empties_the_detail_side(
    qtbot: Any, server: ServerProcess, make_user: MakeUser, bank: dict[str, Any]
) -> None:
    window = open_window(qtbot, server, make_user)
    choose(qtbot, window, bank["busy"]["id"])
    title = window.findChild(QLabel, "accountTitle")
    assert title.text().startswith(bank["busy"]["number"])

    window.search_edit.setText("Search Beta")
    model = window.accounts_model
    qtbot.waitUntil(lambda: model.query["q"] == "Search Beta" and not model.loading
                    and model.total == 1, timeout=WAIT_MS)  # fmt: skip
    assert window.selected_account() is None
    assert window.accounts_tab.shown_account() is None
    assert title.text() == "Choose an account"
    assert window.findChild(QLabel, "accountBalance").text() == ""
    assert window.transactions_model.account is None
    assert window.chart.message.text() == "Choose an account to see its balance over time."
    assert not window.deposit_action.isEnabled()
    assert window.findChild(QLabel, "accountsCount").text() == "1 account"  # not "1 accounts"

    window.search_edit.setText("Search")
    qtbot.waitUntil(lambda: model.query["q"] == "Search" and not model.loading
                    and model.total == 3, timeout=WAIT_MS)  # fmt: skip
    assert window.findChild(QLabel, "accountsCount").text() == "3 accounts"
    # Chosen again, the same account comes back when a new search still lists it.
    choose(qtbot, window, bank["busy"]["id"])
    window.search_edit.setText(bank["busy"]["number"])
    qtbot.waitUntil(lambda: model.query["q"] == bank["busy"]["number"] and not model.loading
                    and window.selected_account() is not None, timeout=WAIT_MS)  # fmt: skip
    assert window.accounts_tab.shown_account().id == bank["busy"]["id"]
    window.close()


# ---------------------------------------------------------------- 4. columns fit the window


def fits(table: Any, column: int) -> bool:
    """Tell whether a column is shown whole inside the table's viewport."""
    right = table.columnViewportPosition(column) + table.columnWidth(column)
    return not table.isColumnHidden(column) and right <= table.viewport().width()


def test_columns_and_splitter_fit_narrow_and_default_windows(
    qtbot: Any, server: ServerProcess, make_user: MakeUser, bank: dict[str, Any]
) -> None:
    window = open_window(qtbot, server, make_user)
    choose(qtbot, window, bank["busy"]["id"])
    accounts, history = window.accounts_table, window.accounts_tab.history
    a, t = AccountsModel.Column, TransactionsModel.Column

    window.resize(1024, 700)
    qtbot.waitUntil(lambda: window.width() == 1024, timeout=WAIT_MS)
    qtbot.wait(50)
    assert fits(accounts, a.BALANCE)  # the money is on screen
    assert fits(accounts, a.NUMBER)
    assert fits(history, t.AMOUNT)
    assert fits(history, t.BALANCE)
    for table in (accounts, history):
        assert not table.horizontalScrollBar().isVisible()
    hidden = accounts.columns.hidden
    assert a.BALANCE not in hidden
    assert hidden == sorted(hidden, key=AccountsModel.PRIORITY.index)  # least important first

    window.resize(1200, 760)  # the default size
    qtbot.waitUntil(lambda: window.width() == 1200, timeout=WAIT_MS)
    qtbot.wait(50)
    for table in (accounts, history):
        assert not table.horizontalScrollBar().isVisible()
    for column in range(len(AccountsModel.HEADERS)):
        if not accounts.isColumnHidden(column) and column != AccountsModel.STRETCH:
            # Shown whole: never cut to less than its content.
            assert accounts.columnWidth(column) >= accounts.sizeHintForColumn(column), column
            assert fits(accounts, column), column

    window.resize(1700, 900)
    qtbot.waitUntil(lambda: window.width() == 1700, timeout=WAIT_MS)
    qtbot.wait(50)
    assert accounts.columns.hidden == []  # a wide window shows every column
    window.close()


# ---------------------------------------------------------------- 7. words, not raw values


def test_values_read_as_words(
    qtbot: Any, server: ServerProcess, make_user: MakeUser, bank: dict[str, Any]
) -> None:
    window = open_window(qtbot, server, make_user)
    choose(qtbot, window, bank["euros"]["id"])
    title = window.findChild(QLabel, "accountTitle").text()
    facts = window.findChild(QLabel, "accountFacts").text()
    assert title == f"{bank['euros']['number']} · Search Beta"
    assert facts == "Checking · Active · EUR — Euro"
    assert "checking" not in title + facts
    assert "active" not in title + facts
    status = window.findChild(QComboBox, "statusFilter")
    assert [status.itemText(i) for i in range(status.count())] == [
        "All statuses", "Active", "Frozen", "Closed",
    ]  # fmt: skip
    status.setCurrentIndex(status.findText("Frozen"))
    qtbot.waitUntil(lambda: window.accounts_model.query["status"] == "frozen", timeout=WAIT_MS)
    status.setCurrentIndex(0)
    qtbot.waitUntil(lambda: window.accounts_model.row_of(bank["euros"]["id"]) is not None,
                    timeout=WAIT_MS)  # fmt: skip
    row = window.accounts_model.row_of(bank["euros"]["id"])
    currency = window.accounts_model.index(row, AccountsModel.Column.CURRENCY)
    assert currency.data(3) == "Euro"  # the tooltip names the currency

    choose(qtbot, window, bank["euros"]["id"])  # the filter's reload cleared the choice
    dialog = window.open_account_dialog()
    assert isinstance(dialog, AccountDialog)
    currencies = dialog.findChild(QComboBox, "currencyCombo")
    assert currencies.itemText(0) == "USD — US dollar"
    assert currencies.itemData(0) == "USD"
    kinds = dialog.findChild(QComboBox, "accountTypeCombo")
    assert [kinds.itemText(i) for i in range(kinds.count())] == ["Checking", "Savings"]
    dialog.reject()
    window.close()


# ---------------------------------------------------------------- 8. where files are saved


def test_file_dialogs_open_in_documents_then_where_the_user_saved_last(
    qtbot: Any, server: ServerProcess, make_user: MakeUser, bank: dict[str, Any],
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    settings = QSettings(str(tmp_path / "desktop.ini"), QSettings.Format.IniFormat)
    asked: list[str] = []
    chosen = tmp_path / "statements"
    chosen.mkdir()

    def save_as(_parent: Any, _title: str, suggested: str, _filters: str) -> tuple[str, str]:
        asked.append(suggested)
        return str(chosen / Path(suggested).name), "PDF (*.pdf)"

    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(save_as))
    window = open_window(qtbot, server, make_user, settings)
    choose(qtbot, window, bank["busy"]["id"])
    documents = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation)
    Path(documents).mkdir(parents=True, exist_ok=True)  # as in a real home
    window.export_action.trigger()  # the QAction, as the menu and Ctrl+E do
    found: list[QFileDialog] = []
    qtbot.waitUntil(lambda: bool(found.extend(
        d for d in window.findChildren(QFileDialog, "statementFileDialog") if d.isVisible()
    ) or found), timeout=WAIT_MS)  # fmt: skip
    dialog_ = found[0]
    assert Path(dialog_.directory().absolutePath()) == Path(documents)
    name = dialog_.findChild(QLineEdit, "fileNameEdit")
    assert name is not None
    assert name.text() == f"statement-{bank['busy']['number']}.pdf"
    name.setText(str(chosen / name.text()))
    with qtbot.waitSignal(window.statement_saved, timeout=WAIT_MS) as saved:
        qtbot.keyClick(name, Qt.Key.Key_Return)
    assert Path(saved.args[0]).parent == chosen
    assert Path(saved.args[0]).read_bytes().startswith(b"%PDF")

    # The receipt of a deposit is offered in the folder chosen last.
    window.deposit_action.trigger()
    qtbot.waitUntil(lambda: any(d.isVisible() for d in window.findChildren(MovementDialog)),
                    timeout=WAIT_MS)  # fmt: skip
    dialog = next(d for d in window.findChildren(MovementDialog) if d.isVisible())
    dialog.findChild(QLineEdit, "amountEdit").setText("5.00")
    dialog.submit()
    with qtbot.waitSignal(dialog.completed, timeout=WAIT_MS):
        dialog.submit()
    receipt = dialog.save_receipt()
    assert receipt is not None
    assert Path(asked[0]).parent == chosen
    assert receipt.read_bytes().startswith(b"%PDF")
    dialog.accept()
    # Remembered across runs, in the settings.
    assert FileChooser(settings).folder() == chosen
    window.close()
