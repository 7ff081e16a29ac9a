"""The business day in the desktop against a real server: a teller reverses a deposit from
its history row (both legs confirmed, the balance back, both lines shown and linked) and
sends a transfer's reversal for approval; the day banner names the open date; a supervisor's
End of day screen refuses to close while a session is open, closes once it is closed, saves
the sealed report and verifies the chain.

The tests run in file order: the close comes last, after the reversals of the open day.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog, QLineEdit, QMenu, QMessageBox, QPushButton

from desktop import workers
from desktop.api.client import BankClient
from desktop.dialogs import reverse as reverse_module
from desktop.dialogs.movement import MovementDialog
from desktop.dialogs.movement.receipt import Receipt, receipt_html
from desktop.dialogs.reverse import ReverseDialog
from desktop.main_window import MainWindow
from desktop.widgets.day_banner import day_words
from shared.schemas.business_day import BusinessDayPublic, DayStatus
from tests.support import SUPERVISOR_PASSWORD, Api, ServerProcess, expect, open_till_session

MakeUser = Callable[..., tuple[dict[str, Any], Api]]
WAIT_MS = 20_000
SHOTS = Path("/tmp")


@pytest.fixture(autouse=True)
def no_task_left_behind(qtbot: Any) -> Iterator[None]:
    yield
    qtbot.waitUntil(lambda: workers.pending() == 0, timeout=WAIT_MS)


@pytest.fixture(scope="module")
def bank(admin: Api, make_user: MakeUser) -> dict[str, Any]:
    """A teller with an open till session, and a customer with two funded USD accounts."""
    teller, teller_api = make_user("teller", full_name="Tess Teller")
    open_till_session(admin, teller_api)
    customer, _ = make_user("user", full_name="Rita Reyes")
    accounts = []
    for deposit in ("300.00", "50.00"):
        body = {"account_type": "checking", "owner_id": customer["id"]}
        account = expect(admin.post("/accounts", json=body), 201)
        expect(admin.post(f"/accounts/{account['id']}/deposit", json={"amount": deposit}), 201)
        accounts.append(account)
    return {"teller": teller, "teller_api": teller_api, "first": accounts[0],
            "second": accounts[1]}  # fmt: skip


def open_window(qtbot: Any, server: ServerProcess, username: str, password: str) -> MainWindow:
    client = BankClient(server.url)
    window = MainWindow(client, client.login(username, password))
    qtbot.addWidget(window)
    window.resize(1280, 800)
    window.show()
    return window


def teller_window(qtbot: Any, server: ServerProcess, bank: dict[str, Any]) -> MainWindow:
    username = bank["teller"]["username"]
    return open_window(qtbot, server, username, f"pw-{username}-secret")


def choose(qtbot: Any, window: MainWindow, account_id: int) -> None:
    model = window.accounts_model
    qtbot.waitUntil(lambda: model.row_of(account_id) is not None, timeout=WAIT_MS)
    window.accounts_table.selectRow(model.row_of(account_id))
    qtbot.waitUntil(lambda: (a := window.accounts_tab.shown_account()) is not None
                    and a.id == account_id, timeout=WAIT_MS)  # fmt: skip


def history_row(qtbot: Any, window: MainWindow, transaction_id: int) -> int:
    model = window.transactions_model
    qtbot.waitUntil(lambda: model.row_of(transaction_id) is not None, timeout=WAIT_MS)
    row = model.row_of(transaction_id)
    assert row is not None
    return row


def reverse_from_menu(qtbot: Any, window: MainWindow, transaction_id: int) -> ReverseDialog:
    """Right-click the history row and choose Reverse…; return the dialog it opens."""
    table = window.accounts_tab.history
    row = history_row(qtbot, window, transaction_id)
    point = table.visualRect(window.transactions_model.index(row, 0)).center()
    table.customContextMenuRequested.emit(point)
    menu = [m for m in window.findChildren(QMenu, "historyMenu") if m.isVisible()][-1]
    action = next(a for a in menu.actions() if a.objectName() == "reverseAction")
    assert action.isEnabled()
    action.trigger()
    menu.close()

    def shown() -> list[ReverseDialog]:
        return [d for d in window.findChildren(ReverseDialog) if d.isVisible()]

    qtbot.waitUntil(lambda: len(shown()) == 1, timeout=WAIT_MS)
    return shown()[0]


def review_and_confirm(qtbot: Any, dialog: ReverseDialog, note: str) -> str:
    """Choose a reason, type a note, press Review, read the legs, press Confirm."""
    qtbot.waitUntil(lambda: dialog.transaction is not None, timeout=WAIT_MS)
    dialog.reason.setCurrentIndex(dialog.reason.findData("teller_error"))
    qtbot.keyClicks(dialog.note, note)
    assert dialog.ok_button.isEnabled()
    assert dialog.ok_button.text() == "Review"
    dialog.ok_button.click()
    confirmation = dialog.confirm.text()
    assert dialog.ok_button.text() == "Confirm"
    dialog.ok_button.click()
    return confirmation


def test_a_teller_reverses_a_deposit_from_its_history_row(
    qtbot: Any, server: ServerProcess, admin: Api, bank: dict[str, Any]
) -> None:
    account = bank["first"]
    before = Decimal(expect(admin.get(f"/accounts/{account['id']}"), 200)["balance"])
    deposit = expect(bank["teller_api"].post(f"/accounts/{account['id']}/deposit",
                                             json={"amount": "40.00"}), 201)  # fmt: skip
    window = teller_window(qtbot, server, bank)
    choose(qtbot, window, account["id"])
    dialog = reverse_from_menu(qtbot, window, deposit["id"])
    assert f"Deposit no. {deposit['id']}" in dialog.what.text()
    confirmation = review_and_confirm(qtbot, dialog, "keyed 40 instead of 4")
    assert account["number"] in confirmation
    assert "40.00" in confirmation
    assert "taken back" in confirmation
    assert "Your till" in confirmation
    qtbot.waitUntil(lambda: dialog.reversal is not None, timeout=WAIT_MS)
    assert "Reversed" in dialog.result_label.text()
    dialog.grab().save(str(SHOTS / "ui-day-reverse-done.png"))
    reversal = dialog.reversal
    assert reversal is not None
    dialog.cancel_button.click()  # now "Close"
    # The server: the balance is back, the original names its reversal and vice versa.
    assert Decimal(expect(admin.get(f"/accounts/{account['id']}"), 200)["balance"]) == before
    history = expect(admin.get(f"/accounts/{account['id']}/transactions"), 200)["items"]
    original = next(t for t in history if t["id"] == deposit["id"])
    assert original["reversed_by"] == reversal.id
    assert next(t for t in history if t["id"] == reversal.id)["reverses_id"] == deposit["id"]
    # The history shows both lines, linked.
    model = window.transactions_model
    row = history_row(qtbot, window, reversal.id)
    qtbot.waitUntil(lambda: "reversed" in str(model.index(
        model.row_of(deposit["id"]) or 0, 1).data()), timeout=WAIT_MS)  # fmt: skip
    assert model.index(row, 1).data() == f"Reversal of no. {deposit['id']}"
    assert model.index(row, 4).data() == "-40.00"
    window.close()


def test_a_teller_reverses_a_deposit_from_its_receipt_view(
    qtbot: Any, server: ServerProcess, admin: Api, bank: dict[str, Any], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    account = bank["second"]
    before = Decimal(expect(admin.get(f"/accounts/{account['id']}"), 200)["balance"])
    window = teller_window(qtbot, server, bank)
    choose(qtbot, window, account["id"])
    window.deposit_action.trigger()
    movement = next(d for d in window.findChildren(MovementDialog) if d.isVisible())
    assert movement.reverse_button.isHidden()  # only on the receipt view
    qtbot.keyClicks(movement.amount_edit, "25")
    movement.ok_button.click()  # review
    movement.ok_button.click()  # confirm
    qtbot.waitUntil(lambda: movement.movement_result is not None, timeout=WAIT_MS)
    deposit = movement.movement_result
    assert deposit is not None
    assert movement.reverse_button.isVisible()
    movement.grab().save(str(SHOTS / "ui-day-receipt-reverse.png"))
    movement.reverse_button.click()
    assert not movement.isVisible()  # the receipt view gives way to the reversal

    def shown() -> list[ReverseDialog]:
        return [d for d in window.findChildren(ReverseDialog) if d.isVisible()]

    qtbot.waitUntil(lambda: len(shown()) == 1, timeout=WAIT_MS)
    dialog = shown()[0]
    assert f"Deposit no. {deposit.id}" in dialog.what.text()
    confirmation = review_and_confirm(qtbot, dialog, "counted twice")
    assert account["number"] in confirmation
    assert "25.00" in confirmation
    qtbot.waitUntil(lambda: dialog.reversal is not None, timeout=WAIT_MS)
    assert "Reversed" in dialog.result_label.text()
    # The reversal's receipt names the movement it reverses.
    target = tmp_path / "reversal.pdf"
    monkeypatch.setattr(
        QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: (str(target), ""))
    )
    written: list[Receipt] = []
    real = reverse_module.write_receipt

    def recording(path: Path, receipt: Receipt) -> None:
        written.append(receipt)
        real(path, receipt)

    monkeypatch.setattr(reverse_module, "write_receipt", recording)
    receipt_button = dialog.findChild(QPushButton, "receiptButton")
    assert receipt_button is not None
    assert receipt_button.isVisible()
    receipt_button.click()
    assert target.read_bytes().startswith(b"%PDF")
    page = receipt_html(written[0])
    assert "Receipt: reversal" in page
    assert f"transaction no. {deposit.id}" in page
    assert "25.00 USD" in page
    assert str(target) in dialog.result_label.text()
    dialog.cancel_button.click()
    assert Decimal(expect(admin.get(f"/accounts/{account['id']}"), 200)["balance"]) == before
    history = expect(admin.get(f"/accounts/{account['id']}/transactions"), 200)["items"]
    assert next(t for t in history if t["id"] == deposit.id)["reversed_by"] is not None
    window.close()


def test_a_transfers_reversal_shows_both_sides_and_waits_for_approval(
    qtbot: Any, server: ServerProcess, admin: Api, bank: dict[str, Any]
) -> None:
    first, second = bank["first"], bank["second"]
    body = {"from_account_id": first["id"], "to_account_id": second["id"], "amount": "12.00"}
    expect(bank["teller_api"].post("/transfers", json=body), 201)
    history = expect(admin.get(f"/accounts/{first['id']}/transactions"), 200)["items"]
    leg = next(t for t in history if t["type"] == "transfer_out")
    window = teller_window(qtbot, server, bank)
    choose(qtbot, window, first["id"])
    dialog = reverse_from_menu(qtbot, window, leg["id"])
    confirmation = review_and_confirm(qtbot, dialog, "wrong payee")
    assert first["number"] in confirmation
    assert second["number"] in confirmation
    qtbot.waitUntil(lambda: dialog.approval is not None, timeout=WAIT_MS)
    # With Approve here, as every 202 in a form (shown once the layout has run).
    qtbot.waitUntil(lambda: dialog.pending_panel.isVisible(), timeout=WAIT_MS)
    words = dialog.result_label.text()
    assert "waits for a supervisor's approval" in words
    assert "(reversal)" in words
    dialog.grab().save(str(SHOTS / "ui-day-reverse-approval.png"))
    assert dialog.approval is not None
    approval = expect(admin.get(f"/approvals/{dialog.approval['id']}"), 200)
    assert (approval["action"], approval["status"]) == ("reversal", "pending")
    dialog.cancel_button.click()
    window.close()


def test_the_day_banner_names_the_open_business_day(
    qtbot: Any, server: ServerProcess, admin: Api, bank: dict[str, Any]
) -> None:
    day = expect(admin.get("/business-day"), 200)
    window = teller_window(qtbot, server, bank)
    banner = window.day_banner
    assert banner is not None
    qtbot.waitUntil(lambda: banner.day is not None, timeout=WAIT_MS)
    assert banner.label.text() == f"Business day {day['date']} · open"
    assert not banner.overdue
    assert banner.styleSheet() == ""
    window.grab().save(str(SHOTS / "ui-day-banner.png"))
    window.close()
    # A calendar date past the open date: the day was not closed, and the words say so.
    late = BusinessDayPublic(date="2026-12-01", status=DayStatus.OPEN,
                             opened_at="2026-12-01T08:00:00.000Z", calendar_date="2026-12-02")  # type: ignore[arg-type]  # fmt: skip
    words, overdue = day_words(late)
    assert overdue
    assert words.startswith("Business day 2026-12-01 · open")
    assert "not closed" in words


def visible_box(qtbot: Any, window: MainWindow, name: str) -> QMessageBox:
    qtbot.waitUntil(lambda: any(b.isVisible() for b in window.findChildren(QMessageBox, name)),
                    timeout=WAIT_MS)  # fmt: skip
    return next(b for b in window.findChildren(QMessageBox, name) if b.isVisible())


def press_close_day(qtbot: Any, window: MainWindow) -> None:
    tab = window.end_of_day
    assert tab is not None
    qtbot.waitUntil(lambda: tab.close_button.isEnabled(), timeout=WAIT_MS)
    tab.close_button.click()
    box = visible_box(qtbot, window, "confirmCloseDay")
    button = box.findChild(QPushButton, "confirmCloseDayButton")
    assert button is not None
    button.click()


def test_a_supervisor_closes_the_day_after_the_sessions_saves_the_report_and_verifies(
    qtbot: Any, server: ServerProcess, admin: Api, supervisor: Api, bank: dict[str, Any],
    tmp_path: Path,
) -> None:  # fmt: skip
    day = expect(admin.get("/business-day"), 200)["date"]
    open_ids = [s["id"] for s in expect(supervisor.get(
        "/sessions", params={"status": "open", "limit": 200}), 200)["items"]]  # fmt: skip
    assert open_ids
    window = open_window(qtbot, server, "super", SUPERVISOR_PASSWORD)
    tab = window.end_of_day
    assert tab is not None
    window.end_of_day_action.trigger()
    assert window.tabs.currentWidget() is tab
    qtbot.waitUntil(lambda: tab.checklist is not None, timeout=WAIT_MS)
    # Supervisors may not read staff users (API.md "Users"): the teller is named by id.
    assert f"user no. {bank['teller']['id']}" in tab.sessions_check.text()
    assert "expire when the day closes" in tab.approvals_check.text()  # the transfer's reversal
    # Refused while sessions are open: the refusal names them.
    press_close_day(qtbot, window)
    qtbot.waitUntil(lambda: "still open" in tab.close_result.text(), timeout=WAIT_MS)
    assert all(f"{i}" in tab.close_result.text() for i in open_ids)
    assert expect(admin.get("/business-day"), 200)["date"] == day
    window.grab().save(str(SHOTS / "ui-day-eod-refused.png"))
    # Close every session (counted = expected), then the day closes.
    for session_id in open_ids:
        session = expect(supervisor.get(f"/sessions/{session_id}"), 200)
        counted = {c: a for c, a in (session["expected"] or {}).items()}
        expect(supervisor.post(f"/sessions/{session_id}/close", json={"counted": counted}), 200)
    tab.refresh_button.click()
    qtbot.waitUntil(lambda: "No teller session is open" in tab.sessions_check.text(),
                    timeout=WAIT_MS)  # fmt: skip
    with qtbot.waitSignal(tab.day_closed, timeout=WAIT_MS):
        press_close_day(qtbot, window)
    assert f"Closed {day}" in tab.close_result.text()
    assert expect(admin.get("/business-day"), 200)["date"] > day
    closed = expect(supervisor.get("/business-days"), 200)["items"]
    assert closed[0]["date"] == day
    # The closed day is listed and chosen; its report reads in the preview.
    qtbot.waitUntil(lambda: tab.chosen_date() == day and tab.report is not None,
                    timeout=WAIT_MS)  # fmt: skip
    assert "Trial balance" in tab.preview.toPlainText()
    assert closed[0]["hash"] in tab.preview.toPlainText()
    banner = window.day_banner
    assert banner is not None
    qtbot.waitUntil(lambda: banner.day is not None and banner.day.date > day, timeout=WAIT_MS)
    window.grab().save(str(SHOTS / "ui-day-eod.png"))
    # The PDF, saved through the file dialog as a person does.
    target = tmp_path / "report.pdf"
    tab.pdf_button.click()
    dialogs = [d for d in window.findChildren(QFileDialog, "reportFileDialog") if d.isVisible()]
    assert len(dialogs) == 1
    name = dialogs[0].findChild(QLineEdit, "fileNameEdit")
    assert name is not None
    assert name.text() == f"business-day-{day}.pdf"
    name.setText(str(target))
    with qtbot.waitSignal(tab.report_saved, timeout=WAIT_MS):
        qtbot.keyClick(name, Qt.Key.Key_Return)
    assert target.read_bytes().startswith(b"%PDF")
    assert "Saved to" in tab.download_result.text()
    # Verify: the chain holds.
    tab.verify_button.click()
    qtbot.waitUntil(lambda: tab.verify_result.text().startswith("Valid"), timeout=WAIT_MS)
    assert expect(supervisor.get("/business-days/verify"), 200)["valid"] is True
    window.grab().save(str(SHOTS / "ui-day-eod-verified.png"))
    window.close()
