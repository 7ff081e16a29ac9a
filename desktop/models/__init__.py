"""Qt table models over the server's lists, paged in lazily off the GUI thread."""

from desktop.models.accounts import AccountsModel
from desktop.models.customers import CustomersModel
from desktop.models.paging import PagedTableModel
from desktop.models.transactions import TransactionsModel

__all__ = ["AccountsModel", "CustomersModel", "PagedTableModel", "TransactionsModel"]
