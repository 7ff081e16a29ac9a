"""The teller's main window: accounts, the selected account's history and chart, customers."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QModelIndex, QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMainWindow,
    QMessageBox,
    QProgressDialog,
    QPushButton,
    QSplitter,
    QTableView,
    QTabWidget,
    QToolBar,
    QVBoxLayout,
    QWidget,
)
from shiboken6 import isValid

from desktop.admin import AdminPanel, StatsPanel
from desktop.api.client import BankClient, NetworkError, SessionExpired
from desktop.dialogs.forms import AccountDialog, CustomerDialog, EditCustomerDialog
from desktop.dialogs.movement import Kind, MovementDialog, movement_dialog
from desktop.models.accounts import AccountsModel
from desktop.models.customers import CustomersModel
from desktop.models.paging import MAX_PAGE_SIZE, PagedTableModel
from desktop.models.transactions import TransactionsModel
from desktop.widgets import named
from desktop.widgets.chart import BalanceChart
from desktop.workers import run_task
from shared.money import format_money
from shared.schemas.accounts import AccountPublic
from shared.schemas.common import Role
from shared.schemas.users import UserPublic

TOKEN_CHECK_MS = 20_000
REFRESH_WHEN_LEFT_S = 120.0
CUSTOMERS_TAB = 1


class Banner(QFrame):
    """A non-blocking strip at the top of the window: a message and a Retry button."""

    retry = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("networkBanner")
        self.setStyleSheet(
            "#networkBanner { background: #fff4e5; border-bottom: 1px solid #f0b45a; }"
        )
        self.label = QLabel()
        self.label.setWordWrap(True)
        button = named(QPushButton("Retry"), "bannerRetryButton")
        button.clicked.connect(self.retry)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(12, 6, 12, 6)
        layout.addWidget(self.label, 1)
        layout.addWidget(button)
        self.hide()

    def show_message(self, text: str) -> None:
        """Show the banner with a message."""
        self.label.setText(text)
        self.show()


class MainWindow(QMainWindow):
    """Everything a teller does in a day, driven from one window."""

    session_expired = Signal()
    logged_out = Signal()

    def __init__(self, client: BankClient, user: UserPublic, settings: QSettings | None = None):
        super().__init__()
        self.setObjectName("mainWindow")
        self.client = client
        self.user = user
        self.settings = settings
        self.is_staff = user.role in (Role.TELLER, Role.ADMIN)
        self.setWindowTitle(f"Bank System — {user.full_name} ({user.role.value})")
        self.resize(1200, 760)

        # Owned by the window: a page that arrives after the window is gone is dropped.
        # The contract's largest page: half the round trips and repaints of a long scroll.
        self.accounts_model = AccountsModel(client, page_size=MAX_PAGE_SIZE, parent=self)
        self.transactions_model = TransactionsModel(client, parent=self)
        self.customers_model = CustomersModel(client, parent=self) if self.is_staff else None
        self._build_actions()
        self._build_ui()
        self._wire()
        self._token_timer = QTimer(self, interval=TOKEN_CHECK_MS)
        self._token_timer.timeout.connect(self._keep_token_fresh)
        self._token_timer.start()
        self.accounts_model.set_query()
        if self.customers_model is not None:
            self.customers_model.set_query()
        self._update_actions()

    # -- construction ------------------------------------------------------------------

    def _action(self, name: str, text: str, shortcut: str, slot: Callable[[], object]) -> QAction:
        action = named(QAction(text, self), name)
        action.setShortcut(QKeySequence(shortcut))
        action.setToolTip(f"{text} ({QKeySequence(shortcut).toString()})")
        action.triggered.connect(slot)
        self.addAction(action)
        return action

    def _build_actions(self) -> None:
        self.deposit_action = self._action("depositAction", "Deposit", "Ctrl+D",
                                           lambda: self.open_movement("deposit"))  # fmt: skip
        self.withdraw_action = self._action("withdrawAction", "Withdraw", "Ctrl+Shift+W",
                                            lambda: self.open_movement("withdraw"))  # fmt: skip
        self.transfer_action = self._action("transferAction", "Transfer", "Ctrl+T",
                                            lambda: self.open_movement("transfer"))  # fmt: skip
        self.new_account_action = self._action("newAccountAction", "Open account", "Ctrl+N",
                                               self.open_account_dialog)  # fmt: skip
        self.new_customer_action = self._action(
            "newCustomerAction", "New customer", "Ctrl+Shift+N", self.open_customer_dialog
        )
        self.edit_customer_action = self._action(
            "editCustomerAction", "Edit customer", "Ctrl+Shift+E", self.open_edit_customer_dialog
        )
        self.refresh_action = self._action("refreshAction", "Refresh", "F5", self.refresh)
        self.export_action = self._action("exportStatementAction", "Export statement",
                                          "Ctrl+E", self.export_statement)  # fmt: skip
        self.logout_action = self._action("logoutAction", "Sign out", "Ctrl+Shift+Q",
                                          self.logout)  # fmt: skip
        toolbar = named(QToolBar("Main", self), "mainToolbar")
        toolbar.setMovable(False)
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        for action in (self.deposit_action, self.withdraw_action, self.transfer_action):
            toolbar.addAction(action)
        toolbar.addSeparator()
        for action in (self.new_customer_action, self.edit_customer_action,
                       self.new_account_action, self.export_action):  # fmt: skip
            toolbar.addAction(action)
        toolbar.addSeparator()
        toolbar.addAction(self.refresh_action)
        toolbar.addAction(self.logout_action)
        self.addToolBar(toolbar)
        menu = self.menuBar()
        money = menu.addMenu("&Money")
        money.addActions([self.deposit_action, self.withdraw_action, self.transfer_action])
        accounts = menu.addMenu("&Accounts")
        accounts.addActions([self.new_customer_action, self.edit_customer_action,
                             self.new_account_action, self.export_action,
                             self.refresh_action])  # fmt: skip
        session = menu.addMenu("&Session")
        session.addAction(self.logout_action)
        if not self.is_staff:
            for action in (self.new_customer_action, self.edit_customer_action,
                           self.new_account_action):  # fmt: skip
                action.setVisible(False)
                action.setEnabled(False)

    def _table(self, name: str, model: Any) -> QTableView:
        view = named(QTableView(), name)
        view.setModel(model)
        view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        view.setAlternatingRowColors(True)
        view.verticalHeader().hide()
        view.verticalHeader().setDefaultSectionSize(26)
        header = view.horizontalHeader()
        header.setStretchLastSection(True)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setResizeContentsPrecision(50)  # size columns from the first rows, not all
        # Size the columns to the first page only: resizing again for every page a scrolling
        # view fetches re-reads the rows each time (most of filling a 10,000-row table).
        model.rowsInserted.connect(
            lambda _parent, first, _last: view.resizeColumnsToContents() if first == 0 else None
        )
        model.modelReset.connect(view.resizeColumnsToContents)
        return view

    def _build_ui(self) -> None:
        self.banner = Banner()
        self.search_edit = named(QLineEdit(), "accountSearchEdit")
        self.search_edit.setPlaceholderText("Search number, nickname or holder…")
        self.search_edit.setClearButtonEnabled(True)
        self.status_filter = named(QComboBox(), "statusFilter")
        self.status_filter.addItems(["All statuses", "active", "frozen", "closed"])
        self.accounts_table = self._table("accountsTable", self.accounts_model)
        self.accounts_table.horizontalHeader().setSortIndicator(0, Qt.SortOrder.AscendingOrder)
        self.accounts_table.setSortingEnabled(True)
        self.accounts_count = named(QLabel(), "accountsCount")

        left = QWidget()
        left_layout = QVBoxLayout(left)
        search_row = QHBoxLayout()
        search_row.addWidget(self.search_edit, 1)
        search_row.addWidget(self.status_filter)
        left_layout.addLayout(search_row)
        left_layout.addWidget(self.accounts_table, 1)
        left_layout.addWidget(self.accounts_count)

        self.account_title = named(QLabel("Select an account"), "accountTitle")
        self.account_title.setStyleSheet("font-size: 15px; font-weight: 600;")
        self.account_balance = named(QLabel(""), "accountBalance")
        self.account_balance.setStyleSheet("font-size: 22px; font-weight: 600;")
        self.account_balance.setAlignment(Qt.AlignmentFlag.AlignRight)
        self.transactions_table = self._table("transactionsTable", self.transactions_model)
        self.chart = BalanceChart()
        self.chart.setObjectName("balanceChart")
        right = QWidget()
        right_layout = QVBoxLayout(right)
        head = QHBoxLayout()
        head.addWidget(self.account_title, 1)
        head.addWidget(self.account_balance)
        right_layout.addLayout(head)
        right_layout.addWidget(self.chart, 2)
        right_layout.addWidget(self.transactions_table, 3)

        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setStretchFactor(0, 5)
        splitter.setStretchFactor(1, 6)
        splitter.setSizes([560, 680])

        self.tabs = named(QTabWidget(), "mainTabs")
        self.tabs.addTab(splitter, "Accounts")
        if self.customers_model is not None:
            self.customers_table = self._table("customersTable", self.customers_model)
            self.customer_search = named(QLineEdit(), "customerSearchEdit")
            self.customer_search.setPlaceholderText("Search username, name or email…")
            self.customer_search.setClearButtonEnabled(True)
            customers = QWidget()
            c_layout = QVBoxLayout(customers)
            c_row = QHBoxLayout()
            c_row.addWidget(self.customer_search, 1)
            new_button = named(QPushButton("New customer…"), "newCustomerButton")
            new_button.clicked.connect(self.open_customer_dialog)
            self.edit_customer_button = named(QPushButton("Edit customer…"), "editCustomerButton")
            self.edit_customer_button.setToolTip(
                "Change the selected customer's name, email or access (or double-click a row)"
            )
            self.edit_customer_button.clicked.connect(self.open_edit_customer_dialog)
            open_button = named(QPushButton("Open account for customer…"), "openAccountButton")
            open_button.clicked.connect(self.open_account_dialog)
            c_row.addWidget(new_button)
            c_row.addWidget(self.edit_customer_button)
            c_row.addWidget(open_button)
            c_layout.addLayout(c_row)
            c_layout.addWidget(self.customers_table, 1)
            self.tabs.addTab(customers, "Customers")
        # Statistics for staff, user management and the audit trail for admins; the others
        # never get these widgets. Both read the window's client, which a new sign-in replaces.
        self.stats_panel: StatsPanel | None = None
        self.admin_panel: AdminPanel | None = None
        if self.is_staff:
            self.stats_panel = StatsPanel(lambda: self.client)
            self.tabs.addTab(self.stats_panel, "Statistics")
        if self.user.role is Role.ADMIN:
            self.admin_panel = AdminPanel(lambda: self.client, self.user)
            self.tabs.addTab(self.admin_panel, "Administration")

        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.banner)
        layout.addWidget(self.tabs, 1)
        self.setCentralWidget(central)
        self.busy_label = named(QLabel(""), "busyLabel")
        self.statusBar().addPermanentWidget(self.busy_label)
        self.statusBar().showMessage(
            f"Signed in as {self.user.username} ({self.user.role.value}) at {self.client.base_url}"
        )

    def _wire(self) -> None:
        self._search_timer = QTimer(self, singleShot=True, interval=250)
        self._search_timer.timeout.connect(self._apply_search)
        self.search_edit.textChanged.connect(lambda _t: self._search_timer.start())
        self.status_filter.currentIndexChanged.connect(lambda _i: self._apply_search())
        self.accounts_table.selectionModel().currentRowChanged.connect(self._account_selected)
        self.accounts_model.modelReset.connect(self._update_actions)
        self.accounts_model.total_changed.connect(
            lambda total: self.accounts_count.setText(f"{total:,} accounts")
        )
        for model in (self.accounts_model, self.transactions_model, self.customers_model):
            if model is not None:
                model.load_failed.connect(self._handle_error)
                model.loading_changed.connect(self._loading)
        if self.stats_panel is not None:
            self.stats_panel.failed.connect(self._handle_error)
        if self.admin_panel is not None:
            self.admin_panel.failed.connect(self._handle_error)
            self.admin_panel.message.connect(lambda text: self.statusBar().showMessage(text, 8000))
            self.admin_panel.users_changed.connect(self._users_changed)
        self.transactions_model.modelReset.connect(self._redraw_chart)
        self.transactions_model.rowsInserted.connect(lambda *_: self._redraw_chart())
        self.banner.retry.connect(self.refresh)
        if self.customers_model is not None:
            self._customer_timer = QTimer(self, singleShot=True, interval=250)
            self._customer_timer.timeout.connect(
                lambda: (
                    self.customers_model.set_query(self.customer_search.text().strip())
                    if self.customers_model is not None
                    else None
                )
            )
            self.customer_search.textChanged.connect(lambda _t: self._customer_timer.start())
            self.customers_table.selectionModel().currentRowChanged.connect(
                lambda _c, _p: self._update_actions()
            )
            self.customers_model.modelReset.connect(self._update_actions)
            self.customers_table.doubleClicked.connect(self._customer_double_clicked)
            self.tabs.currentChanged.connect(lambda _i: self._update_actions())

    # -- state -------------------------------------------------------------------------

    def selected_account(self) -> AccountPublic | None:
        """Return the account selected in the accounts table."""
        index = self.accounts_table.currentIndex()
        if not index.isValid():
            return None
        return self.accounts_model.account_at(index.row())

    def selected_customer(self) -> UserPublic | None:
        """Return the customer selected in the Customers tab (staff only)."""
        if self.customers_model is None:
            return None
        index = self.customers_table.currentIndex()
        if not index.isValid():
            return None
        return self.customers_model.customer_at(index.row())

    def _update_actions(self) -> None:
        account = self.selected_account()
        active = account is not None and account.status.value == "active"
        for action in (self.deposit_action, self.withdraw_action, self.transfer_action):
            action.setEnabled(active)
        self.export_action.setEnabled(account is not None)
        if self.customers_model is not None:
            customer = self.selected_customer()
            self.edit_customer_button.setEnabled(customer is not None)
            # The shortcut edits only the customer the teller is looking at.
            self.edit_customer_action.setEnabled(
                customer is not None and self.tabs.currentIndex() == CUSTOMERS_TAB
            )

    def _apply_search(self) -> None:
        status = self.status_filter.currentText()
        self.accounts_model.set_query(
            self.search_edit.text().strip(), None if status == "All statuses" else status
        )

    def _account_selected(self, current: QModelIndex, _previous: QModelIndex) -> None:
        account = self.accounts_model.account_at(current.row()) if current.isValid() else None
        self._show_account(account)
        self._update_actions()

    def _show_account(self, account: AccountPublic | None) -> None:
        self.transactions_model.set_account(account)
        if account is None:
            self.account_title.setText("Select an account")
            self.account_balance.setText("")
            self.chart.clear_points()
            return
        nickname = f" · {account.nickname}" if account.nickname else ""
        self.account_title.setText(
            f"{account.number} · {account.owner_name}{nickname} · {account.account_type.value}"
            f" · {account.status.value}"
        )
        self.account_balance.setText(format_money(account.balance, account.currency))

    def _redraw_chart(self) -> None:
        self.chart.set_points(self.transactions_model.balance_points())

    def _loading(self, busy: bool) -> None:
        self.busy_label.setText("Loading…" if busy else "")

    def _handle_error(self, error: BaseException) -> None:
        if isinstance(error, SessionExpired):
            self.session_expired.emit()
            return
        if isinstance(error, NetworkError):
            self.banner.show_message(f"Connection lost: {error}. Your work is kept.")
            return
        self.statusBar().showMessage(str(error), 8000)

    # -- actions -----------------------------------------------------------------------

    def refresh(self) -> None:
        """Reload everything from the server, keeping the selected account and customer."""
        self.banner.hide()
        for panel in (self.stats_panel, self.admin_panel):
            if panel is not None and self.tabs.currentWidget() is panel:
                panel.refresh()
        account = self.selected_account()
        customer = self.selected_customer()
        self.accounts_model.refresh()
        if account is not None:
            self._select_when_loaded(self.accounts_table, self.accounts_model, account.id)
        if self.customers_model is not None:
            self.customers_model.refresh()
            if customer is not None:
                self._select_when_loaded(self.customers_table, self.customers_model, customer.id)
        if account is not None:
            # The fresh balance even when the row is not on the reloaded first page.
            run_task(self.client.account, account.id, on_done=self._show_account,
                     on_error=self._handle_error)  # fmt: skip

    def _select_when_loaded(
        self, table: QTableView, model: PagedTableModel[Any], item_id: int
    ) -> None:
        """Select an item's row again once a reloaded model shows it (until the next reset)."""
        connected = True

        def select(*_args: object) -> None:
            row = model.row_of(item_id)
            if row is None:
                return
            stop()
            table.setCurrentIndex(model.index(row, 0))

        def stop(*_args: object) -> None:
            nonlocal connected
            if connected:
                connected = False
                model.rowsInserted.disconnect(select)
                model.modelReset.disconnect(stop)

        model.rowsInserted.connect(select)
        model.modelReset.connect(stop)

    def _users_changed(self) -> None:
        """Reload what shows user data elsewhere (holder names, customers) after an admin edit."""
        self.accounts_model.refresh()
        if self.customers_model is not None:
            self.customers_model.refresh()

    def _keep_token_fresh(self) -> None:
        if self.client.signed_in and self.client.seconds_left() < REFRESH_WHEN_LEFT_S:
            run_task(self.client.refresh, on_error=self._handle_error)

    def open_movement(self, kind: Kind) -> MovementDialog | None:
        """Open the deposit, withdraw or transfer dialog for the selected account."""
        account = self.selected_account()
        if account is None:
            return None
        dialog = movement_dialog(
            self.client, kind, account, accounts=self.accounts_model.items(), parent=self
        )
        dialog.completed.connect(lambda _result: self.refresh())
        # An unknown outcome may still have moved money: show the server's balances after.
        dialog.finished.connect(lambda _code: self.refresh() if dialog.outcome_unknown else None)
        dialog.session_expired.connect(self.session_expired)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        return dialog

    def open_customer_dialog(self) -> CustomerDialog:
        """Register a new customer."""
        dialog = CustomerDialog(self.client, self)
        dialog.completed.connect(lambda _user: self.refresh())
        dialog.open()
        return dialog

    def open_edit_customer_dialog(self) -> EditCustomerDialog | None:
        """Edit the selected customer's full name, email or access."""
        customer = self.selected_customer()
        if customer is None:
            return None
        dialog = EditCustomerDialog(self.client, customer, self)
        dialog.completed.connect(lambda user: self._customer_edited(user))
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        return dialog

    def _customer_double_clicked(self, index: QModelIndex) -> None:
        if index.isValid():
            self.customers_table.setCurrentIndex(index)
            self.open_edit_customer_dialog()

    def _customer_edited(self, user: UserPublic) -> None:
        self.statusBar().showMessage(f"Saved {user.username} ({user.full_name})", 8000)
        self.refresh()  # the customers list, and the accounts' holder names; keeps the row

    def open_account_dialog(self) -> AccountDialog | None:
        """Open an account for the selected customer (or the selected account's owner)."""
        owner: tuple[int, str] | None = None
        if self.customers_model is not None and self.tabs.currentIndex() == CUSTOMERS_TAB:
            index = self.customers_table.currentIndex()
            if index.isValid():
                customer = self.customers_model.user_at(index.row())
                if customer is not None:
                    owner = (customer.id, customer.full_name)
        if owner is None and (account := self.selected_account()) is not None:
            owner = (account.owner_id, account.owner_name)
        if owner is None:
            QMessageBox.information(self, "Open account", "Select a customer or an account first.")
            return None
        dialog = AccountDialog(self.client, owner[0], owner[1], self)
        dialog.completed.connect(lambda _account: self.refresh())
        dialog.open()
        return dialog

    def export_statement(self, path: str | None = None, fmt: str | None = None) -> None:
        """Save the selected account's statement (CSV or PDF) with progress shown."""
        account = self.selected_account()
        if account is None:
            return
        if path is None:
            chosen, selected_filter = QFileDialog.getSaveFileName(
                self, "Export statement", f"statement-{account.number}.pdf",
                "PDF (*.pdf);;CSV (*.csv)",
            )  # fmt: skip
            if not chosen:
                return
            path = chosen
            fmt = "csv" if chosen.lower().endswith(".csv") or "CSV" in selected_filter else "pdf"
        fmt = fmt or ("csv" if path.lower().endswith(".csv") else "pdf")
        previous = getattr(self, "_statement_progress", None)
        if previous is not None and isValid(previous):
            previous.deleteLater()
        progress = named(
            QProgressDialog(
                f"Downloading the statement of {account.number}…", "Cancel", 0, 0, self
            ),
            "statementProgress",
        )
        progress.setWindowTitle("Export statement")
        progress.setWindowModality(Qt.WindowModality.WindowModal)
        progress.setMinimumDuration(0)
        canceled = threading.Event()  # the worker reads this, never the widget
        progress.canceled.connect(canceled.set)
        progress.show()
        self._statement_progress = progress
        target = Path(path)
        partial = target.with_name(target.name + ".part")

        def download() -> int | None:
            """Stream into a .part file; only a complete download replaces the target."""
            written = 0
            try:
                with partial.open("wb") as handle:
                    for chunk in self.client.statement(account.id, fmt):
                        if canceled.is_set():
                            break
                        handle.write(chunk)
                        written += len(chunk)
                if canceled.is_set():
                    partial.unlink(missing_ok=True)
                    return None
                partial.replace(target)
            except BaseException:
                partial.unlink(missing_ok=True)
                raise
            return written

        def done(written: int | None) -> None:
            if not isValid(self):
                return
            progress.close()
            if written is None:
                self.statusBar().showMessage("Statement export canceled", 8000)
                return
            self.statusBar().showMessage(f"Statement saved to {target} ({written:,} bytes)", 8000)
            self.statement_saved.emit(str(target))

        def failed(error: BaseException) -> None:
            if not isValid(self):
                return
            progress.close()
            if isinstance(error, OSError):
                self.statusBar().showMessage(f"Cannot save the statement: {error}", 8000)
                return
            self._handle_error(error)

        run_task(download, on_done=done, on_error=failed)

    statement_saved = Signal(str)

    def logout(self) -> None:
        """End the session on the server and return to the sign-in dialog."""

        def signed_out(_result: object = None) -> None:
            if isValid(self):
                self.logged_out.emit()

        run_task(self.client.logout, on_done=signed_out, on_error=signed_out)

    def closeEvent(self, event: Any) -> None:  # noqa: N802 - Qt's name
        """Remember the window geometry."""
        if self.settings is not None:
            self.settings.setValue("window/geometry", self.saveGeometry())
        super().closeEvent(event)
