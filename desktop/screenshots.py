"""Render the desktop's screens to PNG files (`make screenshots`), against a demo server."""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import suppress
from decimal import Decimal
from functools import partial
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QCoreApplication, QEventLoop, QTimer
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QApplication, QLabel, QLineEdit, QMessageBox, QPushButton, QWidget

from desktop.admin import AdminPanel, StatsPanel
from desktop.admin.dialogs import EditUserDialog
from desktop.api.client import ApiError, BankClient, new_idempotency_key
from desktop.dialogs.first_start import FirstStartDialog
from desktop.dialogs.forms import EditCustomerDialog
from desktop.dialogs.login import LoginDialog
from desktop.dialogs.movement import movement_dialog
from desktop.local_server import LocalServer
from desktop.main_window import MainWindow
from desktop.tabs.till import TillTab
from desktop.widgets import child
from shared.schemas.accounts import AccountPublic


def settle(ms: int = 300, until: Callable[[], bool] | None = None, timeout: float = 20) -> None:
    """Let queued signals and worker results arrive: wait `ms`, or until `until()` holds."""
    deadline = time.monotonic() + (timeout if until is not None else ms / 1000)
    while time.monotonic() < deadline:
        loop = QEventLoop()
        QTimer.singleShot(20, loop.quit)
        loop.exec()
        if until is not None and until():
            return


def _shows_payee(label: QLabel) -> bool:
    return "." in label.text()


def save(widget: QWidget, folder: Path, name: str) -> None:
    """Grab a widget to PNG."""
    widget.show()
    settle(300)
    widget.grab().save(str(folder / f"{name}.png"))
    print(f"wrote {folder / name}.png")


def first_start_shots(folder: Path) -> None:
    """Render the bundled bank's first-start dialog, filled in and with a reason to wait."""
    dialog = FirstStartDialog()
    dialog.bank_name_edit.setText("Riverside Savings Bank")
    dialog.username_edit.setText("ada")
    dialog.password_edit.setText("counting-house-1843")
    dialog.repeat_edit.setText("counting-house-1843")
    save(dialog, folder, "first-start")
    dialog.repeat_edit.setText("counting-house")
    save(dialog, folder, "first-start-invalid")
    dialog.close()


def admin_shots(url: str, folder: Path) -> None:
    """Render the administration panel (users, a user, the audit trail) and the statistics."""
    client = BankClient(url)
    user = client.login("admin", "admin123")
    # Some of today's traffic besides the demo's cash: transfers and a refused withdrawal.
    everyday: dict[str, AccountPublic] = {}  # each customer's first: the funded "Everyday"
    for account in client.accounts(status="active", sort="id").items:
        everyday.setdefault(account.owner_name, account)
    alice, bob = everyday["Alice Smith"], everyday["Bob Jones"]
    for amount in ("125.50", "60.00"):
        client.transfer(alice.id, bob.number, Decimal(amount), "Rent share", new_idempotency_key())
    with suppress(ApiError):
        client.withdraw(bob.id, Decimal("99999"), "Counter", new_idempotency_key())
    window = MainWindow(client, user)
    window.resize(1280, 800)
    window.show()
    settle(200, until=lambda: window.accounts_model.rowCount() > 0)
    panel = child(window, AdminPanel, "adminPanel")
    window.tabs.setCurrentWidget(panel)
    users = panel.users_model
    settle(200, until=lambda: users.rowCount() > 0 and not users.loading)
    row = next(r for r, u in enumerate(users.items()) if u.username == "alice")
    panel.users.table.selectRow(row)
    save(window, folder, "admin-users")

    selected = panel.users.selected_user()
    assert selected is not None
    dialog = EditUserDialog(client, selected, panel.users)
    dialog.role.setCurrentIndex(dialog.role.findData("teller"))
    dialog.password.setText("alice-new-1")
    dialog.confirm.setText("alice-new-1")
    save(dialog, folder, "admin-user-dialog")
    dialog.close()

    box = panel.users.confirm_delete()
    assert box is not None
    child(box, QPushButton, "confirmDeleteButton").click()
    settle(200, until=lambda: any(
        m.isVisible() for m in panel.findChildren(QMessageBox, "deleteRefusedMessage")
    ))  # fmt: skip
    refused = next(m for m in panel.findChildren(QMessageBox, "deleteRefusedMessage"))
    save(refused, folder, "admin-delete-refused")
    refused.close()

    panel.tabs.setCurrentWidget(panel.audit)
    audit = panel.audit
    audit.target_type.setCurrentIndex(audit.target_type.findData("account"))
    settle(200, until=lambda: audit.model.filters.get("target_type") == "account"
           and not audit.model.loading and audit.model.rowCount() > 0)  # fmt: skip
    save(window, folder, "admin-audit")

    stats = child(window, StatsPanel, "statsPanel")
    window.tabs.setCurrentWidget(stats)
    settle(200, until=lambda: stats.daily is not None)
    save(window, folder, "stats-panel")
    window.close()
    client.close()


def identity_shots(client: BankClient, window: MainWindow, folder: Path) -> None:
    """Render an account's Holds tab, a customer's documents and a search by document."""
    window.tabs.setCurrentWidget(window.accounts_tab)
    account = window.accounts_model.items()[0]
    client.place_hold(account.id, Decimal("40.00"), "cheque_clearing", "CHQ 100234", None,
                      new_idempotency_key())  # fmt: skip
    window.refresh_lists()
    window.accounts_tab.select(account.id)
    tab = window.accounts_tab
    tab.details.setCurrentWidget(tab.holds)
    settle(200, until=lambda: tab.holds.table.rowCount() > 0)
    save(window, folder, "holds-tab")
    owner = client.get_user(account.owner_id)
    dialog = EditCustomerDialog(client, owner, window)
    save(dialog, folder, "customer-documents")
    dialog.close()
    search = window.global_search
    if owner.documents and search is not None:
        search.setText(owner.documents[0].number.replace(" ", "").replace("-", ""))
        search.search_now()
        settle(200, until=lambda: not search.searching)
        save(window, folder, "search-by-document")
        search.hide_results()


def till_shots(url: str, folder: Path) -> None:
    """Render the Till tab of a teller at work, the blind count, and a supervisor's position."""
    client = BankClient(url)
    user = client.login("teller", "teller123")
    till = next(t for t in client.tills().items if t.name == "Till 1")
    if client.current_session() is None:
        client.open_session(till.id, None, new_idempotency_key())
    account = client.accounts(status="active", sort="id").items[0]
    client.deposit(account.id, Decimal("125.50"), "Counter service", new_idempotency_key())
    window = MainWindow(client, user)
    window.resize(1280, 800)
    window.show()
    tab = child(window, TillTab, "tillTab")
    window.tabs.setCurrentWidget(tab)
    settle(200, until=lambda: tab.model.rowCount() > 0)
    save(window, folder, "till-panel")
    dialog = tab.close_session()
    assert dialog is not None
    count = dialog.count.counts["USD"]
    count.by_pieces.setChecked(True)
    count.pieces["100.00"].setValue(3)
    count.pieces["20.00"].setValue(4)
    save(dialog, folder, "till-count-form")
    dialog.close()
    window.close()
    client.close()
    manager = BankClient(url)
    window = MainWindow(manager, manager.login("super", "super123"))
    window.resize(1280, 800)
    window.show()
    tab = child(window, TillTab, "tillTab")
    window.tabs.setCurrentWidget(tab)
    assert tab.position is not None
    settle(200, until=lambda: tab.position is not None and tab.position.position is not None)
    save(window, folder, "cash-position")
    window.close()
    manager.close()


def pdf_first_page(data: bytes, folder: Path, name: str) -> None:
    """Render a PDF's first page to PNG with pypdfium2 (the `docs` extra), when installed."""
    try:
        import pypdfium2 as pdfium
    except ImportError:
        print(f"skipped {folder / name}.png: pypdfium2 is not installed (pip install -e .[docs])")
        return
    page = pdfium.PdfDocument(data)[0]
    bitmap = page.render(scale=1.6, rev_byteorder=True)  # RGB order, as QImage reads it
    formats = {"RGB": QImage.Format.Format_RGB888, "RGBX": QImage.Format.Format_RGBX8888,
               "RGBA": QImage.Format.Format_RGBA8888}  # fmt: skip
    pixels = bytes(bitmap.buffer)  # QImage does not copy: keep the bytes alive while saving
    image = QImage(pixels, bitmap.width, bitmap.height, bitmap.stride, formats[bitmap.mode])
    if image.isNull() or not image.save(str(folder / f"{name}.png")):
        raise RuntimeError(f"could not write {folder / name}.png")
    print(f"wrote {folder / name}.png")


def day_shots(url: str, folder: Path) -> None:
    """Close the demo's business day as the supervisor: the End of day tab with the sealed
    report's preview, and the report PDF's first page (the page a branch manager signs)."""
    manager = BankClient(url)
    user = manager.login("super", "super123")
    teller = BankClient(url)
    teller.login("teller", "teller123")
    current = teller.current_session()
    if current is not None:  # counted exactly what the till holds (read by the supervisor)
        expected = manager.session(current.id).expected or {}
        teller.close_session(current.id, dict(expected), None, None, new_idempotency_key())
    teller.close()
    date = manager.business_day().date
    manager.close_business_day(date, new_idempotency_key())
    window = MainWindow(manager, user)
    window.resize(1280, 800)
    window.show()
    tab = window.open_end_of_day()
    assert tab is not None
    settle(200, until=lambda: tab.days.rowCount() > 0)
    tab.days.selectRow(0)
    settle(200, until=lambda: tab.report is not None)
    save(window, folder, "end-of-day")
    window.close()
    pdf_first_page(b"".join(manager.day_report_file(date, "pdf")), folder, "day-report-page-1")
    manager.close()


def main(argv: list[str] | None = None) -> int:
    """Write the screenshots into the folder given (default docs/screenshots)."""
    args = argv if argv is not None else sys.argv[1:]
    folder = Path(args[0] if args else "docs/screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication(sys.argv[:1])
    app.setStyle("Fusion")
    first_start_shots(folder)
    with tempfile.TemporaryDirectory() as data:
        server = LocalServer(Path(data), demo=True)
        url = server.start()
        try:
            login_client = BankClient(url)
            login = LoginDialog(login_client, username="teller")
            save(login, folder, "login")
            child(login, QLineEdit, "passwordEdit").setText("wrong")
            login.submit()
            settle(200, until=lambda: child(login, QLabel, "loginError").isVisible())
            save(login, folder, "login-error")
            login.close()
            login_client.close()

            client = BankClient(url)
            user = client.login("teller", "teller123")
            window = MainWindow(client, user)
            window.resize(1280, 800)
            window.show()
            settle(200, until=lambda: window.accounts_model.rowCount() > 0)
            window.accounts_table.selectRow(0)
            settle(200, until=lambda: window.transactions_model.rowCount() > 0)
            settle(400)
            save(window, folder, "main-window")
            account = window.selected_account()
            assert account is not None
            loaded = window.accounts_model.items()
            for kind in ("deposit", "withdraw", "transfer"):
                dialog = movement_dialog(client, kind, account, accounts=loaded, parent=window)
                child(dialog, QLineEdit, "amountEdit").setText("125.50")
                child(dialog, QLineEdit, "descriptionEdit").setText("Counter service")
                if kind == "transfer":
                    same = [
                        a for a in loaded if a.currency == account.currency and a.id != account.id
                    ]
                    child(dialog, QLineEdit, "toNumberEdit").setText(same[-1].number)
                    settle(200, until=partial(_shows_payee, child(dialog, QLabel, "payeeLabel")))
                save(dialog, folder, f"{kind}-dialog")
                child(dialog, QLineEdit, "amountEdit").setText("1,000")
                save(dialog, folder, f"{kind}-dialog-invalid")
                dialog.close()
            dialog = movement_dialog(client, "withdraw", account, accounts=loaded, parent=window)
            child(dialog, QLineEdit, "amountEdit").setText("999999")
            dialog.submit()
            settle(200)
            dialog.submit()
            settle(200, until=lambda: child(dialog, QLabel, "dialogError").isVisible())
            save(dialog, folder, "withdraw-dialog-error")
            dialog.close()
            window.tabs.setCurrentIndex(1)
            settle(200, until=lambda: window.customers_model is not None
                   and window.customers_model.rowCount() > 0)  # fmt: skip
            save(window, folder, "customers")
            identity_shots(client, window, folder)
            window.close()
            client.close()
            admin_shots(url, folder)
            till_shots(url, folder)
            day_shots(url, folder)
        finally:
            server.stop()
    QCoreApplication.processEvents()
    return 0


if __name__ == "__main__":
    sys.exit(main())
