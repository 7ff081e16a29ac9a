"""Table views over the paged models: read-only, row-selecting, server-sorted, fitted to width."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractItemView, QTableView

from desktop.models.paging import PagedTableModel
from desktop.widgets.columns import AdaptiveColumns


class PagedTable(QTableView):
    """A view of a paged model whose columns follow the model's priorities (`columns`)."""

    def __init__(self, name: str, model: PagedTableModel[Any], *, sortable: bool = True) -> None:
        super().__init__()
        self.setObjectName(name)
        self.setModel(model)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setAlternatingRowColors(True)
        self.setWordWrap(False)
        self.verticalHeader().hide()
        self.verticalHeader().setDefaultSectionSize(26)
        priority = getattr(model, "PRIORITY", tuple(range(len(model.HEADERS))))
        stretch = getattr(model, "STRETCH", len(model.HEADERS) - 1)
        self.columns = AdaptiveColumns(self, priority, stretch)
        if sortable:
            # Show the model's own order first: enabling sorting sorts by the indicator at once.
            column = next((c for c, f in model.SORT_FIELDS.items() if f == model.sort_field), 0)
            descending = model.sort_order == "desc"
            order = Qt.SortOrder.DescendingOrder if descending else Qt.SortOrder.AscendingOrder
            self.horizontalHeader().setSortIndicator(column, order)
            self.setSortingEnabled(True)


def select_when_loaded(table: QTableView, model: PagedTableModel[Any], item_id: int) -> None:
    """Select an item's row once a reloading model shows it again (until the next reset)."""
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
