"""The Till tab and cash through tills, driven like a teller against a real server: open a
session on a free till, deposit through it (the dialog and the receipt name the till), ask the
vault for cash (it waits for approval), close with a blind count (balanced: closed; short:
closing until a supervisor approves the variance), and a supervisor's cash position."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QDialog, QLabel, QLineEdit, QPushButton, QSpinBox, QWidget

from desktop import workers
from desktop.api.client import BankClient
from desktop.dialogs.movement import CashDialog, Receipt, receipt_html
from desktop.dialogs.movement import base as base_module
from desktop.dialogs.till_cash import TillCashDialog
from desktop.dialogs.till_close import CloseSessionDialog
from desktop.dialogs.till_open import OpenSessionDialog
from desktop.main_window import MainWindow
from desktop.tabs.till import TillTab
from tests.support import SUPERVISOR_PASSWORD, Api, ServerProcess, expect, stocked_till

MakeUser = Callable[..., tuple[dict[str, Any], Api]]
OpenAccount = Callable[..., dict[str, Any]]
WAIT_MS = 20_000
SHOTS = os.environ.get("UI_TILLS_SHOTS")  # a folder: the tests also save their screens there


@pytest.fixture(autouse=True)
def isolated_settings(tmp_path: Path) -> None:
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path))


@pytest.fixture(autouse=True)
def no_task_left_behind(qtbot: Any) -> Iterator[None]:
    yield
    qtbot.waitUntil(lambda: workers.pending() == 0, timeout=WAIT_MS)


def shot(widget: QWidget, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        widget.grab().save(str(Path(SHOTS) / f"{name}.png"))


def open_window(qtbot: Any, server: ServerProcess, username: str, password: str) -> MainWindow:
    client = BankClient(server.url)
    user = client.login(username, password)
    window = MainWindow(client, user)
    qtbot.addWidget(window)
    window.resize(1280, 800)
    window.show()
    return window


def till_tab(qtbot: Any, window: MainWindow) -> TillTab:
    tab = window.till_tab
    assert tab is not None
    window.tabs.setCurrentWidget(tab)
    qtbot.waitUntil(lambda: not tab._loading, timeout=WAIT_MS)
    return tab


def shown[D: QDialog](qtbot: Any, parent: QWidget, kind: type[D]) -> D:
    found: list[D] = []

    def visible() -> bool:
        found[:] = [d for d in parent.findChildren(kind) if d.isVisible()]
        return len(found) == 1

    qtbot.waitUntil(visible, timeout=WAIT_MS)
    return found[0]


def texts(widget: QWidget) -> str:
    return "\n".join(label.text() for label in widget.findChildren(QLabel))


def teller(make_user: MakeUser, name: str) -> tuple[dict[str, Any], Api, str]:
    password = f"pw-{name}-secret-1"
    user, api = make_user("teller", till=False, username=name, password=password,
                          full_name=f"Tess {name.title()}")  # fmt: skip
    return user, api, password


def select_account(qtbot: Any, window: MainWindow, account_id: int) -> None:
    model = window.accounts_model
    qtbot.waitUntil(lambda: model.row_of(account_id) is not None, timeout=WAIT_MS)
    window.accounts_table.selectRow(model.row_of(account_id))
    qtbot.waitUntil(lambda: (a := window.selected_account()) is not None
                    and a.id == account_id, timeout=WAIT_MS)  # fmt: skip


def open_through_dialog(qtbot: Any, parent: QWidget, till_id: int) -> OpenSessionDialog:
    dialog = shown(qtbot, parent, OpenSessionDialog)
    qtbot.waitUntil(lambda: dialog.till_combo.findData(till_id) >= 0, timeout=WAIT_MS)
    dialog.till_combo.setCurrentIndex(dialog.till_combo.findData(till_id))
    assert dialog.ok_button.isEnabled()
    dialog.ok_button.click()
    return dialog


def test_a_teller_opens_a_session_deposits_through_it_and_closes_balanced(
    qtbot: Any, server: ServerProcess, supervisor: Api, make_user: MakeUser,
    open_account: OpenAccount, monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    till = stocked_till(supervisor, "Counter A", {"USD": "1000.00"})
    _me, api, password = teller(make_user, "tessa")
    owner, _ = make_user("user", full_name="Carl Cash")
    account = open_account(owner["id"])
    window = open_window(qtbot, server, "tessa", password)
    tab = till_tab(qtbot, window)
    assert "no open till session" in tab.state_label.text()
    assert window.till_status.text() == ""
    assert not tab.close_button.isEnabled()

    # Open a session on the free till from the tab.
    tab.open_button.click()
    open_through_dialog(qtbot, tab, till["id"])
    qtbot.waitUntil(lambda: tab.open_session_shown is not None, timeout=WAIT_MS)
    session = expect(api.get("/sessions/current"), 200)
    assert session["till_id"] == till["id"]
    line = f"Counter A · session {session['id']} open"
    qtbot.waitUntil(lambda: window.till_status.text() == line, timeout=WAIT_MS)
    assert "Opening cash: 1,000.00 USD" in tab.state_label.text()

    # A deposit names the till; the transaction and the receipt carry the session.
    window.tabs.setCurrentIndex(0)
    select_account(qtbot, window, account["id"])
    window.deposit_action.trigger()
    deposit = shown(qtbot, window, CashDialog)
    till_label = deposit.findChild(QLabel, "tillLabel")
    qtbot.waitUntil(lambda: till_label.text() == line, timeout=WAIT_MS)
    qtbot.keyClicks(deposit.findChild(QLineEdit, "amountEdit"), "250")
    deposit.ok_button.click()  # review
    with qtbot.waitSignal(deposit.completed, timeout=WAIT_MS):
        deposit.ok_button.click()  # confirm
    assert f"Through Counter A · session {session['id']}." in deposit.result_label.text()
    entry = expect(api.get(f"/accounts/{account['id']}/transactions"), 200)["items"][0]
    assert (entry["amount"], entry["session_id"]) == ("250.00", session["id"])
    receipts: list[Receipt] = []
    monkeypatch.setattr(base_module, "write_receipt", lambda _path, r: receipts.append(r))
    deposit.save_receipt(Path("/dev/null"))
    assert f"Counter A · session {session['id']}" in receipt_html(receipts[0])
    deposit.accept()

    # The journal shows the deposit as cash in, with the till's balance hidden (blind).
    tab = till_tab(qtbot, window)
    qtbot.waitUntil(lambda: tab.model.rowCount() == 1, timeout=WAIT_MS)
    row = [tab.model.index(0, c).data() for c in range(7)]
    assert row[1] == "Deposit"
    assert row[3:] == ["USD", "250.00", "", "hidden"]
    shot(window, "till-panel")

    # Close with a count by notes and coins: the expected 1,250.00 shows only after it.
    tab.close_button.click()
    close = shown(qtbot, tab, CloseSessionDialog)
    assert "1,250.00" not in texts(close)
    close.findChild(QWidget, "byPiecesUSD").click()
    for face, pieces in (("100.00", "12"), ("50.00", "1")):
        spin = close.findChild(QSpinBox, f"piecesUSD_{face}")
        qtbot.keyClick(spin, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)  # over the 0
        qtbot.keyClicks(spin, pieces)
    assert close.findChild(QLineEdit, "countAmountUSD").text() == "1250.00"
    assert "Total: 1,250.00 USD" in close.findChild(QLabel, "piecesTotalUSD").text()
    shot(close, "till-count-form")
    with qtbot.waitSignal(close.completed, timeout=WAIT_MS):
        close.ok_button.click()
    outcome = close.findChild(QLabel, "countResult").text()
    assert f"Session {session['id']} is closed." in outcome
    assert "Expected: 1,250.00 USD" in outcome
    assert "balanced" in outcome
    stored = expect(supervisor.get(f"/sessions/{session['id']}"), 200)
    assert stored["status"] == "closed"
    assert stored["denominations"] == {"USD": {"100.00": 12, "50.00": 1}}
    close.reject()
    qtbot.waitUntil(lambda: window.till_status.text() == "", timeout=WAIT_MS)
    assert tab.open_button.isEnabled()
    window.close()


def test_a_short_count_waits_for_a_supervisor_and_the_variance_shows_once_closed(
    qtbot: Any, server: ServerProcess, supervisor: Api, make_user: MakeUser
) -> None:
    till = stocked_till(supervisor, "Counter B", {"USD": "500.00"})
    _me, api, password = teller(make_user, "toby")
    session = expect(api.post(f"/tills/{till['id']}/sessions", json={}), 201)
    window = open_window(qtbot, server, "toby", password)
    tab = till_tab(qtbot, window)
    qtbot.waitUntil(lambda: tab.open_session_shown is not None, timeout=WAIT_MS)

    # Cash from the vault: a teller's request waits for approval vault.transfer.
    tab.cash_button.click()
    ask = shown(qtbot, tab, TillCashDialog)
    qtbot.keyClicks(ask.amount_edit, "100")
    ask.ok_button.click()
    qtbot.waitUntil(lambda: "vault transfer" in ask.hint.text(), timeout=WAIT_MS)
    assert not ask.ok_button.isVisible()
    pending = expect(
        supervisor.get("/approvals", params={"status": "pending", "action": "vault.transfer"}), 200
    )
    mine = [a for a in pending["items"] if a["session_id"] == session["id"]]
    assert len(mine) == 1
    assert f"no. {mine[0]['id']}" in ask.hint.text()
    ask.reject()
    expect(supervisor.post(f"/approvals/{mine[0]['id']}/approve", json={}), 200)

    # Close 10.00 short: a note is asked for, then the close waits for till.variance.
    tab.refresh()
    qtbot.waitUntil(lambda: tab.model.rowCount() == 1, timeout=WAIT_MS)
    tab.close_button.click()
    close = shown(qtbot, tab, CloseSessionDialog)
    qtbot.keyClicks(close.findChild(QLineEdit, "countAmountUSD"), "590.00")
    close.ok_button.click()
    qtbot.waitUntil(lambda: "write a note" in close.error.text(), timeout=WAIT_MS)
    assert "600.00" not in texts(close)
    qtbot.keyClicks(close.note_edit, "a 10.00 note missing")
    close.ok_button.click()
    qtbot.waitUntil(lambda: close.closed_session is not None, timeout=WAIT_MS)
    outcome = close.findChild(QLabel, "countResult").text()
    assert "Expected: hidden until the session is closed" in outcome
    assert "must approve the difference" in outcome
    assert "600.00" not in outcome
    stored = expect(supervisor.get(f"/sessions/{session['id']}"), 200)
    assert (stored["status"], stored["variance"]) == ("closing", {"USD": "-10.00"})
    approval = expect(supervisor.get(f"/approvals/{stored['approval_id']}"), 200)
    assert (approval["action"], approval["status"]) == ("till.variance", "pending")
    assert f"approval no. {approval['id']}" in outcome
    close.reject()
    qtbot.waitUntil(lambda: window.till_status.text().endswith("closing"), timeout=WAIT_MS)
    assert not tab.cash_button.isEnabled()
    assert not tab.close_button.isEnabled()

    # Once approved the session is closed, and the tab shows what was expected and the variance.
    expect(supervisor.post(f"/approvals/{approval['id']}/approve", json={}), 200)
    tab.refresh_button.click()
    closed = f"Session {session['id']} is closed."
    qtbot.waitUntil(lambda: closed in tab.state_label.text(), timeout=WAIT_MS)
    assert "Expected: 600.00 USD" in tab.state_label.text()
    assert "short 10.00 USD" in tab.state_label.text()
    assert window.till_status.text() == ""
    window.close()


def test_a_supervisor_sees_the_cash_position_and_moves_cash_to_a_till(
    qtbot: Any, server: ServerProcess, supervisor: Api, make_user: MakeUser
) -> None:
    spare = stocked_till(supervisor, "Counter C", {"USD": "300.00"})
    _me, api, _password = teller(make_user, "tilda")
    held = stocked_till(supervisor, "Counter D", {"USD": "40.00"})
    expect(api.post(f"/tills/{held['id']}/sessions", json={}), 201)
    window = open_window(qtbot, server, "super", SUPERVISOR_PASSWORD)
    tab = till_tab(qtbot, window)
    panel = tab.position
    assert panel is not None
    qtbot.waitUntil(lambda: panel.position is not None and not panel._loading, timeout=WAIT_MS)
    table = panel.table
    rows = [[table.item(r, c).text() for c in range(5)] for r in range(table.rowCount())]
    position = expect(supervisor.get("/cash-position"), 200)["USD"]
    assert ["USD", "Vault", f"{Decimal(position['vault']):,.2f}", "", ""] in rows
    assert ["USD", "Counter C", "300.00", "none", "nobody"] in rows
    row_d = next(r for r in rows if r[1] == "Counter D")
    assert row_d[2] == "40.00"
    assert row_d[4] == "tilda"  # a supervisor may not read staff users: the audit names them
    shot(window, "till-cash-position")

    # Move 25.00 from the vault into the free till: at once, no approval.
    panel.move_button.click()
    move = shown(qtbot, panel, TillCashDialog)
    move.till_combo.setCurrentIndex(move.till_combo.findData(spare["id"]))
    qtbot.keyClicks(move.amount_edit, "25")
    with qtbot.waitSignal(move.completed, timeout=WAIT_MS):
        move.ok_button.click()
    assert expect(supervisor.get(f"/tills/{spare['id']}"), 200)["cash"] == {"USD": "325.00"}
    qtbot.waitUntil(lambda: any(table.item(r, 1).text() == "Counter C"
                                and table.item(r, 2).text() == "325.00"
                                for r in range(table.rowCount())), timeout=WAIT_MS)  # fmt: skip
    window.close()


def test_cash_without_a_session_says_so_and_opens_one_from_the_dialog(
    qtbot: Any, server: ServerProcess, supervisor: Api, make_user: MakeUser,
    open_account: OpenAccount,
) -> None:  # fmt: skip
    till = stocked_till(supervisor, "Counter E", {"USD": "200.00"})
    _me, api, password = teller(make_user, "theo")
    owner, _ = make_user("user", full_name="Nora Nosession")
    account = open_account(owner["id"])
    window = open_window(qtbot, server, "theo", password)
    select_account(qtbot, window, account["id"])
    window.deposit_action.trigger()
    deposit = shown(qtbot, window, CashDialog)
    till_label = deposit.findChild(QLabel, "tillLabel")
    offer = deposit.findChild(QPushButton, "cashOpenSessionButton")
    qtbot.waitUntil(lambda: "no open till session" in till_label.text(), timeout=WAIT_MS)
    assert offer.isVisible()

    # The server refuses the cash (no_open_session): the dialog says so in words.
    qtbot.keyClicks(deposit.findChild(QLineEdit, "amountEdit"), "20")
    deposit.ok_button.click()
    deposit.ok_button.click()
    qtbot.waitUntil(lambda: "Open a till session" in deposit.error_label.text(), timeout=WAIT_MS)

    # Open one from the dialog; then the same deposit goes through that till.
    offer.click()
    open_through_dialog(qtbot, deposit, till["id"])
    session = None

    def opened() -> bool:
        nonlocal session
        answer = api.get("/sessions/current")
        session = answer.json() if answer.status_code == 200 else None
        return session is not None and till_label.text().startswith("Counter E · session")

    qtbot.waitUntil(opened, timeout=WAIT_MS)
    assert session is not None
    assert not offer.isVisible()
    deposit.ok_button.click()
    with qtbot.waitSignal(deposit.completed, timeout=WAIT_MS):
        deposit.ok_button.click()
    entry = expect(api.get(f"/accounts/{account['id']}/transactions"), 200)["items"][0]
    assert entry["session_id"] == session["id"]
    deposit.accept()
    window.close()
