"""Customer identification and the one search in the desktop against a real server: a teller
fills in a customer's profile, files and verifies an identity document (an expired one reads
in red) and sees the KYC badge; Ctrl+F finds a customer by a document number written
without its spaces and dashes and opens them, and finds an account by an accent-free name."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from desktop import theme, workers
from desktop.dialogs.documents import EXPIRES_COLUMN, AddDocumentDialog
from desktop.dialogs.forms import EditCustomerDialog
from desktop.main_window import CUSTOMERS_TAB, MainWindow
from desktop.models.customers import CustomersModel
from tests.desktop.test_main_window import open_window, show_customer, visible_dialog
from tests.support import Api, ServerProcess, expect

MakeUser = Callable[..., tuple[dict[str, Any], Api]]
OpenAccount = Callable[..., dict[str, Any]]
WAIT_MS = 15_000
SHOTS = "/tmp/ui-holds"


@pytest.fixture(autouse=True)
def no_task_left_behind(qtbot: Any) -> Iterator[None]:
    yield
    qtbot.waitUntil(lambda: workers.pending() == 0, timeout=WAIT_MS)


def teller_window(qtbot: Any, server: ServerProcess, make_user: MakeUser) -> MainWindow:
    teller, _ = make_user("teller")
    window = open_window(qtbot, server, teller)
    window.resize(1280, 800)
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=WAIT_MS)
    return window


def test_a_teller_files_and_verifies_a_document_and_sees_the_kyc_badge(
    qtbot: Any, server: ServerProcess, admin: Api, make_user: MakeUser
) -> None:
    customer, _ = make_user("user", full_name="Dora Documents")
    old = {"type": "driving_licence", "number": "DL-OLD-1", "country": "GB",
           "expires_on": "2020-01-31"}  # fmt: skip
    expect(admin.post(f"/users/{customer['id']}/documents", json=old), 201)
    window = teller_window(qtbot, server, make_user)
    show_customer(qtbot, window, customer["username"])
    model = window.customers_model
    assert model is not None
    kyc = model.index(0, CustomersModel.Column.KYC)
    assert kyc.data() == "ID not verified"
    window.edit_customer_action.trigger()
    dialog = visible_dialog(qtbot, window, EditCustomerDialog, "editCustomerDialog")
    documents = dialog.documents
    assert documents.badge.text() == "ID not verified"
    assert documents.table.rowCount() == 1
    expired = documents.table.item(0, EXPIRES_COLUMN)
    assert expired.foreground().color() == theme.colors().negative  # past its expiry: red

    qtbot.mouseClick(documents.add_button, Qt.MouseButton.LeftButton)
    adding = visible_dialog(qtbot, dialog, AddDocumentDialog, "addDocumentDialog")
    adding.kind.setCurrentIndex(adding.kind.findData("passport"))
    qtbot.keyClicks(adding.number, "P 123-4567")
    assert not adding.ok_button.isEnabled()  # no country yet
    qtbot.keyClicks(adding.country, "GB")
    assert adding.ok_button.isEnabled(), adding.hint.text()
    qtbot.mouseClick(adding.ok_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: documents.table.rowCount() == 2, timeout=WAIT_MS)
    numbers = [documents.table.item(r, 1).text() for r in range(2)]
    documents.table.selectRow(numbers.index("P 123-4567"))
    assert documents.verify_button.isEnabled()
    qtbot.mouseClick(documents.verify_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: documents.badge.text() == "ID verified", timeout=WAIT_MS)
    stored = expect(admin.get(f"/users/{customer['id']}"), 200)
    assert stored["kyc_status"] == "verified"
    assert [d["verified_by"] is not None for d in stored["documents"]] == [False, True]

    # The profile: typed into the same form, sent on Ok.
    qtbot.keyClicks(dialog.profile.date_of_birth, "1984-03-09")
    qtbot.keyClicks(dialog.profile.phone, "12")
    assert "phone number" in dialog.hint.text()  # too short, said before sending
    qtbot.keyClicks(dialog.profile.phone, "34 567 890")
    for name, value in (("line1", "1 Market Street"), ("city", "Leeds"),
                        ("postal_code", "LS1 1AA"), ("country", "GB")):  # fmt: skip
        qtbot.keyClicks(dialog.profile.address[name], value)
    assert dialog.ok_button.isEnabled(), dialog.hint.text()
    dialog.grab().save(f"{SHOTS}/documents.png")
    with qtbot.waitSignal(dialog.completed, timeout=WAIT_MS):
        qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    profile = expect(admin.get(f"/users/{customer['id']}"), 200)["profile"]
    assert profile["date_of_birth"] == "1984-03-09"
    assert profile["phone"] == "1234 567 890"
    assert profile["address"]["city"] == "Leeds"
    # The Customers tab shows the new status.
    qtbot.waitUntil(lambda: (row := model.row_of(customer["id"])) is not None and
                    model.index(row, CustomersModel.Column.KYC).data() == "ID verified",
                    timeout=WAIT_MS)  # fmt: skip
    window.close()


def test_the_one_search_finds_a_customer_by_document_and_an_account_by_name(
    qtbot: Any, server: ServerProcess, admin: Api, make_user: MakeUser,
    open_account: OpenAccount,
) -> None:  # fmt: skip
    customer, _ = make_user("user", full_name="Zoë Zander")
    passport = {"type": "passport", "number": "X9-88 1234", "country": "GB",
                "expires_on": "2031-12-31"}  # fmt: skip
    expect(admin.post(f"/users/{customer['id']}/documents", json=passport), 201)
    account = open_account(customer["id"], deposit="75.00")
    window = teller_window(qtbot, server, make_user)
    search = window.global_search
    assert search is not None
    window.find_action.trigger()  # Ctrl+F
    qtbot.waitUntil(lambda: QApplication.focusWidget() is search, timeout=WAIT_MS)
    qtbot.keyClicks(search, "X9881234")  # as read aloud: no spaces, no dashes
    qtbot.waitUntil(lambda: not search.searching and search.tree.topLevelItemCount() == 1,
                    timeout=WAIT_MS)  # fmt: skip
    top = search.tree.topLevelItem(0)
    assert top is not None
    assert top.text(0) == (
        f"Zoë Zander ({customer['username']}) · ID not verified — found by identity document"
    )
    assert top.child(0).text(0).startswith(f"{account['number']} · Checking · 75.00 USD")
    window.grab().save(f"{SHOTS}/search-document.png")
    qtbot.keyClick(search, Qt.Key.Key_Down)  # into the results
    assert QApplication.focusWidget() is search.tree
    qtbot.keyClick(search.tree, Qt.Key.Key_Return)
    dialog = visible_dialog(qtbot, window, EditCustomerDialog, "editCustomerDialog")
    assert dialog.user.id == customer["id"]
    assert [dialog.documents.table.item(0, 1).text()] == ["X9-88 1234"]
    assert window.tabs.currentIndex() == CUSTOMERS_TAB
    qtbot.waitUntil(lambda: (c := window.selected_customer()) is not None
                    and c.id == customer["id"], timeout=WAIT_MS)  # fmt: skip
    dialog.reject()

    # A name without its accent finds the account; Down, Down, Enter opens it.
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=WAIT_MS)
    window.find_action.trigger()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is search, timeout=WAIT_MS)
    search.clear()
    qtbot.keyClicks(search, "ZOE zander")
    qtbot.waitUntil(lambda: not search.searching and search.tree.topLevelItemCount() == 1,
                    timeout=WAIT_MS)  # fmt: skip
    assert search.tree.topLevelItem(0).text(0).endswith("found by name")  # type: ignore[union-attr]
    qtbot.keyClick(search, Qt.Key.Key_Down)
    qtbot.keyClick(search.tree, Qt.Key.Key_Down)  # the customer's account
    qtbot.keyClick(search.tree, Qt.Key.Key_Return)
    assert window.tabs.currentWidget() is window.accounts_tab
    qtbot.waitUntil(lambda: (a := window.selected_account()) is not None
                    and a.id == account["id"], timeout=WAIT_MS)  # fmt: skip
    assert not search.results.isVisible()
    window.close()
