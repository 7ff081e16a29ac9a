"""The Customers tab (staff): search the customers, see their accounts and balances."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QLabel, QPushButton, QWidget

from desktop.api.client import BankClient
from desktop.models.customers import CustomersModel
from desktop.text import plural, tr
from desktop.widgets import named
from desktop.widgets.search import SearchField, list_layout
from desktop.widgets.tables import PagedTable, select_when_loaded
from shared.schemas.users import UserWithAccounts


class CustomersTab(QWidget):
    """Customers with their accounts; register, edit, and open accounts for them."""

    new_requested = Signal()
    edit_requested = Signal()
    open_account_requested = Signal()
    selection_changed = Signal()

    def __init__(self, client: BankClient, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("customersTab")
        self.model = CustomersModel(client, parent=self)
        self.table = PagedTable("customersTable", self.model)
        self.search = SearchField("customerSearchEdit", self.table)
        self.search.setPlaceholderText(tr("Search username, name or email…"))
        self.new_button = named(QPushButton(tr("New customer…")), "newCustomerButton")
        self.edit_button = named(QPushButton(tr("Edit customer…")), "editCustomerButton")
        self.edit_button.setToolTip(
            tr("Change the selected customer's name, email or access (or double-click a row)")
        )
        self.open_button = named(QPushButton(tr("Open account…")), "openAccountButton")
        self.open_button.setToolTip(tr("Open an account for the selected customer"))
        self.count = named(QLabel(), "customersCount")
        tools = (self.new_button, self.edit_button, self.open_button)
        list_layout(self, self.search, tools, self.table, self.count)
        self.search.settled.connect(self.model.set_query)
        self.new_button.clicked.connect(self.new_requested)
        self.edit_button.clicked.connect(self.edit_requested)
        self.open_button.clicked.connect(self.open_account_requested)
        self.table.doubleClicked.connect(lambda _index: self.edit_requested.emit())
        self.table.selectionModel().currentRowChanged.connect(lambda *_: self._update())
        self.model.modelReset.connect(self._update)
        self.model.total_changed.connect(
            lambda total: self.count.setText(plural(total, tr("%n customer"), tr("%n customers")))
        )
        self._update()

    def selected_customer(self) -> UserWithAccounts | None:
        """Return the customer chosen in the table."""
        index = self.table.currentIndex()
        return self.model.customer_at(index.row()) if index.isValid() else None

    def refresh(self) -> None:
        """Reload the customers, keeping the chosen one chosen."""
        chosen = self.selected_customer()
        self.model.refresh()
        if chosen is not None:
            select_when_loaded(self.table, self.model, chosen.id)

    def _update(self) -> None:
        chosen = self.selected_customer() is not None
        self.edit_button.setEnabled(chosen)
        self.open_button.setEnabled(chosen)
        self.selection_changed.emit()
