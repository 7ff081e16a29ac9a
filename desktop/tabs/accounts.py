"""The Accounts tab: search the accounts; the chosen one's head, balance chart and history.

The detail side always shows an account the list shows: a search that leaves the chosen
account out empties it (and chooses it again if the new results hold it), and the chart
never keeps a previous account's axes.
"""

from __future__ import annotations

import shiboken6
from PySide6.QtCore import QModelIndex, QPoint, Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QLabel,
    QMenu,
    QSizePolicy,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from desktop import text
from desktop.api.client import BankClient
from desktop.dialogs.reverse import not_reversible
from desktop.models.accounts import AccountsModel
from desktop.models.paging import MAX_PAGE_SIZE
from desktop.models.transactions import TransactionsModel
from desktop.text import plural, tr
from desktop.widgets import named
from desktop.widgets.account_panel import AccountPanel
from desktop.widgets.chart import BalanceChart
from desktop.widgets.holds_panel import HoldsPanel
from desktop.widgets.search import SearchField, choice_box, list_layout
from desktop.widgets.tables import PagedTable, select_when_loaded
from desktop.workers import run_task
from shared.schemas.accounts import AccountPublic
from shared.schemas.common import AccountStatus, Role
from shared.schemas.users import UserPublic


class AccountsTab(QWidget):
    """Accounts on the left; the chosen account's head, chart and history on the right."""

    account_changed = Signal(object)  # the AccountPublic shown, or None
    reverse_requested = Signal(object)  # the TransactionPublic of the history row to reverse

    def __init__(
        self, client: BankClient, *, administers: bool, role: Role = Role.USER,
        parent: QWidget | None = None,
    ) -> None:  # fmt: skip
        super().__init__(parent)
        self.setObjectName("accountsTab")
        self.client = client
        self.staff = role is not Role.USER
        # The contract's largest page: half the round trips and repaints of a long scroll.
        self.accounts_model = AccountsModel(client, page_size=MAX_PAGE_SIZE, parent=self)
        self.transactions_model = TransactionsModel(client, parent=self)
        self.table = PagedTable("accountsTable", self.accounts_model)
        self.search = SearchField("accountSearchEdit", self.table)
        self.search.setPlaceholderText(tr("Search number, nickname or holder…"))
        self.status_filter = choice_box(
            "statusFilter", tr("All statuses"),
            ((text.account_status(status), status.value) for status in AccountStatus),
        )  # fmt: skip
        self.count = named(QLabel(), "accountsCount")
        self.panel = AccountPanel(administers)
        self.chart = BalanceChart()
        self.chart.setObjectName("balanceChart")
        self.history = PagedTable("transactionsTable", self.transactions_model)
        self.holds = HoldsPanel(client, role)
        self.details = named(QTabWidget(), "accountDetailTabs")
        self.menu_actions: list[QAction | None] = []  # the table's context menu (None: a line)
        # The history's context menu; the window hides it from customers.
        self.reverse_action = named(QAction(tr("Reverse…"), self), "reverseAction")
        self.reverse_action.triggered.connect(lambda _checked=False: self._reverse_row())
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self._build()
        self._wire()

    def _build(self) -> None:
        left = QWidget()
        list_layout(left, self.search, (self.status_filter,), self.table, self.count)
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.addWidget(self.panel)
        history = QWidget()
        history_layout = QVBoxLayout(history)
        history_layout.setContentsMargins(0, 4, 0, 0)
        history_layout.addWidget(self.chart, 2)
        history_layout.addWidget(self.history, 3)
        self.details.addTab(history, tr("History"))
        self.details.addTab(self.holds, tr("Holds"))
        right_layout.addWidget(self.details, 1)
        self.splitter.addWidget(left)
        self.splitter.addWidget(right)
        self.splitter.setChildrenCollapsible(False)
        # Both halves grow with the window; each keeps room for its money columns.
        self.splitter.setStretchFactor(0, 1)
        self.splitter.setStretchFactor(1, 1)
        left.setMinimumWidth(330)
        right.setMinimumWidth(380)
        # The holds page's row of controls must not claim the accounts' width: the detail
        # side scrolls its tables rather than squeezing the list to its minimum.
        right.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.splitter)
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.history.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)

    def _wire(self) -> None:
        self.search.settled.connect(lambda _text: self.apply_search())
        self.status_filter.currentIndexChanged.connect(lambda _i: self.apply_search())
        self.table.selectionModel().currentRowChanged.connect(self._row_changed)
        # A reset clears the selection without a signal: the detail side must follow it.
        self.accounts_model.modelReset.connect(lambda: self.show_account(None))
        self.table.customContextMenuRequested.connect(self._context_menu)
        self.history.customContextMenuRequested.connect(self._history_menu)
        self.accounts_model.total_changed.connect(
            lambda total: self.count.setText(plural(total, tr("%n account"), tr("%n accounts")))
        )
        self.transactions_model.modelReset.connect(self.redraw_chart)
        self.transactions_model.rowsInserted.connect(lambda *_: self.redraw_chart())
        self.transactions_model.total_changed.connect(lambda _t: self.redraw_chart())

    # -- state -------------------------------------------------------------------------

    def selected_account(self) -> AccountPublic | None:
        """Return the account chosen in the table."""
        index = self.table.currentIndex()
        return self.accounts_model.account_at(index.row()) if index.isValid() else None

    def shown_account(self) -> AccountPublic | None:
        """Return the account the detail side shows."""
        return self.panel.account

    def select(self, account_id: int) -> None:
        """Choose an account in the table once it is loaded."""
        row = self.accounts_model.row_of(account_id)
        if row is not None:
            self.table.setCurrentIndex(self.accounts_model.index(row, 0))
        else:
            select_when_loaded(self.table, self.accounts_model, account_id)

    def apply_search(self) -> None:
        """Show the accounts matching the search box and the status filter."""
        self.search.settle_now()
        chosen = self.selected_account()
        self.accounts_model.set_query(self.search.text().strip(), self.status_filter.currentData())
        if chosen is not None:  # chosen again if the new results hold it
            select_when_loaded(self.table, self.accounts_model, chosen.id)

    def refresh(self) -> None:
        """Reload the accounts, keeping the chosen one chosen (and shown)."""
        chosen = self.selected_account() or self.shown_account()
        self.accounts_model.refresh()
        if chosen is not None:
            select_when_loaded(self.table, self.accounts_model, chosen.id)

    def show_account(self, account: AccountPublic | None) -> None:
        """Show an account's head, history and chart (None: an empty detail side)."""
        self.panel.show_account(account)
        self.holds.show_account(account)
        self._show_owner_kyc(account)
        self.transactions_model.set_account(account)  # a fresh history with a fresh balance
        self.redraw_chart()
        self.account_changed.emit(account)

    def _show_owner_kyc(self, account: AccountPublic | None) -> None:
        # Staff see whether the bank knows the holder; the account does not say, its owner does.
        if not self.staff or account is None:
            return
        owner_id = account.owner_id

        def loaded(user: UserPublic) -> None:
            shown = self.panel.account
            if shiboken6.isValid(self) and shown is not None and shown.owner_id == owner_id:
                self.panel.show_kyc(owner_id, user.kyc_status)

        run_task(self.client.get_user, owner_id, on_done=loaded, on_error=lambda _e: None)

    def _row_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        account = self.accounts_model.account_at(current.row()) if current.isValid() else None
        self.show_account(account)

    def redraw_chart(self) -> None:
        """Draw the shown account's balance, or say why there is nothing to draw."""
        account = self.transactions_model.account
        model = self.transactions_model
        if account is None:
            self.chart.show_message(tr("Choose an account to see its balance over time."))
        elif model.total is None:
            self.chart.show_message(tr("Loading the history…"))
        else:
            # The account's opening is the start only when every entry is loaded.
            whole = model.rowCount() >= model.total
            self.chart.show_entries(
                model.entries_oldest_first(), account.currency,
                opened=account.created_at if whole else None,
            )  # fmt: skip

    def _context_menu(self, position: QPoint) -> None:
        index = self.table.indexAt(position)
        if not index.isValid():
            return
        self.table.setCurrentIndex(index)
        menu = QMenu(self)
        menu.setObjectName("accountMenu")
        for action in self.menu_actions:
            if action is None:
                menu.addSeparator()
            elif action.isVisible():
                menu.addAction(action)
        menu.popup(self.table.viewport().mapToGlobal(position))

    def _history_menu(self, position: QPoint) -> None:
        index = self.history.indexAt(position)
        item = self.transactions_model.transaction_at(index.row()) if index.isValid() else None
        if item is None or not self.reverse_action.isVisible():
            return
        self.history.setCurrentIndex(index)
        why = not_reversible(item)
        self.reverse_action.setEnabled(why is None)
        self.reverse_action.setToolTip(why or tr("Post the mirror of this whole movement"))
        menu = named(QMenu(self), "historyMenu")
        menu.setToolTipsVisible(True)
        menu.addAction(self.reverse_action)
        menu.popup(self.history.viewport().mapToGlobal(position))

    def _reverse_row(self) -> None:
        index = self.history.currentIndex()
        item = self.transactions_model.transaction_at(index.row()) if index.isValid() else None
        if item is not None and not_reversible(item) is None:
            self.reverse_requested.emit(item)
