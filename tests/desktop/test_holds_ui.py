"""Holds in the desktop against a real server: a teller places a hold on an account's Holds
tab and sees `available` drop in the table and the account's head, releases it and sees it
back; a legal hold's release waits for approval hold.release; a withdrawal above what is
available is refused before it is sent, naming how much is held and why."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog

from desktop import workers
from desktop.api.client import BankClient
from desktop.dialogs.hold import PlaceHoldDialog, ReleaseHoldDialog
from desktop.dialogs.movement import MovementDialog
from desktop.main_window import MainWindow
from desktop.models.accounts import AccountsModel
from tests.desktop.test_main_window import open_window, visible_dialog
from tests.support import ADMIN_PASSWORD, Api, ServerProcess, expect, open_till_session

MakeUser = Callable[..., tuple[dict[str, Any], Api]]
OpenAccount = Callable[..., dict[str, Any]]
WAIT_MS = 15_000
SHOTS = "/tmp/ui-holds"


@pytest.fixture(autouse=True)
def no_task_left_behind(qtbot: Any) -> Iterator[None]:
    yield
    qtbot.waitUntil(lambda: workers.pending() == 0, timeout=WAIT_MS)


@pytest.fixture(scope="module")
def counter(make_user: MakeUser, admin: Api) -> tuple[dict[str, Any], Api]:
    """A teller with an open till session (withdrawals need one)."""
    teller, api = make_user("teller")
    open_till_session(admin, api)
    return teller, api


def stored(api: Api, account_id: int) -> dict[str, Any]:
    return dict(expect(api.get(f"/accounts/{account_id}"), 200))


def choose(qtbot: Any, window: MainWindow, account_id: int) -> None:
    model = window.accounts_model
    qtbot.waitUntil(lambda: model.row_of(account_id) is not None, timeout=WAIT_MS)
    window.accounts_table.selectRow(model.row_of(account_id))
    qtbot.waitUntil(lambda: (a := window.accounts_tab.shown_account()) is not None
                    and a.id == account_id, timeout=WAIT_MS)  # fmt: skip


def admin_window(qtbot: Any, server: ServerProcess) -> MainWindow:
    client = BankClient(server.url)
    user = client.login("admin", ADMIN_PASSWORD)
    window = MainWindow(client, user)
    qtbot.addWidget(window)
    window.show()
    return window


def available_cell(window: MainWindow, account_id: int) -> str | None:
    row = window.accounts_model.row_of(account_id)
    if row is None:
        return None
    return str(window.accounts_model.index(row, AccountsModel.Column.AVAILABLE).data())


def test_a_teller_places_and_releases_a_hold_and_sees_available_follow(
    qtbot: Any, server: ServerProcess, admin: Api, make_user: MakeUser,
    open_account: OpenAccount, counter: tuple[dict[str, Any], Api],
) -> None:  # fmt: skip
    owner, _ = make_user("user", full_name="Hana Holder")
    account = open_account(owner["id"], deposit="500.00")
    window = open_window(qtbot, server, counter[0])
    window.resize(1360, 820)
    choose(qtbot, window, account["id"])
    assert available_cell(window, account["id"]) == "500.00 USD"
    tab = window.accounts_tab
    tab.details.setCurrentWidget(tab.holds)
    panel = tab.holds
    qtbot.waitUntil(lambda: panel.message.text() == "No holds on this account.", timeout=WAIT_MS)

    qtbot.mouseClick(panel.place_button, Qt.MouseButton.LeftButton)
    dialog = visible_dialog(qtbot, window, PlaceHoldDialog, "placeHoldDialog")
    reasons = [dialog.reason.itemData(i) for i in range(dialog.reason.count())]
    assert reasons == ["cheque_clearing", "dispute", "other"]  # a teller's reasons only
    dialog.reason.setCurrentIndex(dialog.reason.findData("cheque_clearing"))
    qtbot.keyClicks(dialog.amount, "120.00")
    qtbot.keyClicks(dialog.reference, "CHQ-881")
    dialog.expires.setChecked(True)
    assert dialog.ok_button.isEnabled(), dialog.hint.text()
    with qtbot.waitSignal(dialog.completed, timeout=WAIT_MS):
        qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)

    after = stored(admin, account["id"])
    assert (after["held"], after["available"], after["balance"]) == ("120.00", "380.00", "500.00")
    qtbot.waitUntil(lambda: available_cell(window, account["id"]) == "380.00 USD",
                    timeout=WAIT_MS)  # fmt: skip
    choose(qtbot, window, account["id"])
    assert tab.panel.available.text() == "available 380.00 USD · held 120.00 USD"
    qtbot.waitUntil(lambda: panel.table.rowCount() == 1, timeout=WAIT_MS)
    row = [panel.table.item(0, c).text() for c in range(panel.table.columnCount())]
    assert row[1:4] == ["Cheque clearing", "120.00 USD", "CHQ-881"]
    assert row[5] == "Active"
    assert row[4] != "never"  # the expiry chosen
    assert panel.summary.text() == "Held 120.00 USD · Available 380.00 USD"
    badge = tab.panel.kyc_badge  # staff see whether the bank knows the holder
    qtbot.waitUntil(lambda: badge.isVisible() and badge.text() == "ID not verified",
                    timeout=WAIT_MS)  # fmt: skip
    window.grab().save(f"{SHOTS}/holds-tab.png")

    panel.table.selectRow(0)
    assert panel.release_button.isEnabled()
    qtbot.mouseClick(panel.release_button, Qt.MouseButton.LeftButton)
    release = visible_dialog(qtbot, window, ReleaseHoldDialog, "releaseHoldDialog")
    qtbot.keyClicks(release.note, "Cheque cleared")
    with qtbot.waitSignal(release.completed, timeout=WAIT_MS):
        qtbot.mouseClick(release.ok_button, Qt.MouseButton.LeftButton)
    after = stored(admin, account["id"])
    assert (after["held"], after["available"]) == ("0.00", "500.00")
    qtbot.waitUntil(lambda: available_cell(window, account["id"]) == "500.00 USD",
                    timeout=WAIT_MS)  # fmt: skip
    holds = expect(admin.get(f"/accounts/{account['id']}/holds"), 200)["items"]
    assert [h["status"] for h in holds] == ["released"]
    window.close()


def test_a_legal_hold_is_released_only_through_approval(
    qtbot: Any, server: ServerProcess, admin: Api, make_user: MakeUser,
    open_account: OpenAccount,
) -> None:  # fmt: skip
    owner, _ = make_user("user", full_name="Lena Legal")
    account = open_account(owner["id"], deposit="300.00")
    window = admin_window(qtbot, server)
    choose(qtbot, window, account["id"])
    tab = window.accounts_tab
    tab.details.setCurrentWidget(tab.holds)
    qtbot.mouseClick(tab.holds.place_button, Qt.MouseButton.LeftButton)
    dialog = visible_dialog(qtbot, window, PlaceHoldDialog, "placeHoldDialog")
    dialog.reason.setCurrentIndex(dialog.reason.findData("legal"))
    qtbot.keyClicks(dialog.amount, "400.00")  # more than the balance: a lien
    assert "more than the 300.00 USD available" in dialog.hint.text()
    with qtbot.waitSignal(dialog.completed, timeout=WAIT_MS):
        qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    assert stored(admin, account["id"])["available"] == "-100.00"
    qtbot.waitUntil(lambda: available_cell(window, account["id"]) == "-100.00 USD",
                    timeout=WAIT_MS)  # fmt: skip
    choose(qtbot, window, account["id"])
    qtbot.waitUntil(lambda: tab.holds.table.rowCount() == 1, timeout=WAIT_MS)
    tab.holds.table.selectRow(0)
    qtbot.mouseClick(tab.holds.release_button, Qt.MouseButton.LeftButton)
    release = visible_dialog(qtbot, window, ReleaseHoldDialog, "releaseHoldDialog")
    assert "approval hold.release" in release.hint.text()
    with qtbot.waitSignal(release.completed, timeout=WAIT_MS):
        qtbot.mouseClick(release.ok_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: release.approval_id is not None, timeout=WAIT_MS)
    assert "waits for approval hold.release" in release.hint.text()
    assert release.close_button.isVisible()
    approval = expect(admin.get(f"/approvals/{release.approval_id}"), 200)
    assert (approval["action"], approval["status"]) == ("hold.release", "pending")
    assert stored(admin, account["id"])["held"] == "400.00"  # still held
    release.accept()
    window.close()


def test_a_withdrawal_above_available_is_refused_naming_the_held_amount(
    qtbot: Any, server: ServerProcess, admin: Api, make_user: MakeUser,
    open_account: OpenAccount, counter: tuple[dict[str, Any], Api],
) -> None:  # fmt: skip
    owner, _ = make_user("user", full_name="Wim Withdrawer")
    account = open_account(owner["id"], deposit="500.00")
    teller, api = counter
    body = {"amount": "450.00", "reason_code": "dispute", "reference": "CASE-77"}
    expect(api.post(f"/accounts/{account['id']}/holds", json=body), 201)
    window = open_window(qtbot, server, teller)
    choose(qtbot, window, account["id"])
    window.withdraw_action.trigger()
    dialog = visible_dialog(qtbot, window, MovementDialog, "withdrawDialog")
    assert dialog.available_label.text() == "50.00 USD"
    qtbot.waitUntil(lambda: "CASE-77" in dialog.held_hint.text(), timeout=WAIT_MS)
    assert dialog.held_hint.text() == "450.00 USD is on hold: Dispute 450.00 USD (CASE-77)."
    qtbot.keyClicks(dialog.amount_edit, "100.00")
    assert dialog.amount_hint.text() == (
        "Only 50.00 USD can be withdrawn. 450.00 USD is on hold: Dispute 450.00 USD (CASE-77)."
    )
    assert not dialog.ok_button.isEnabled()
    qtbot.keyClick(dialog.amount_edit, Qt.Key.Key_Return)  # nothing to review or send
    assert stored(admin, account["id"])["balance"] == "500.00"
    dialog.amount_edit.clear()
    qtbot.keyClicks(dialog.amount_edit, "50.00")  # all that is available
    assert dialog.ok_button.isEnabled()
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)  # review
    with qtbot.waitSignal(dialog.completed, timeout=WAIT_MS):
        qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)  # confirm
    after = stored(admin, account["id"])
    assert (Decimal(after["balance"]), Decimal(after["available"])) == (Decimal("450"), 0)
    dialog.done(QDialog.DialogCode.Accepted)
    window.close()
