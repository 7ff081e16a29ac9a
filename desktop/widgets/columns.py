"""Fit a table's columns to its width: the least important go first, one column takes the rest.

A model names its columns from most to least important (`PRIORITY`) and the one that
stretches (`STRETCH`). Each column wants its content's width (measured on the first rows
of a page, and never less than its header); while they do not fit, the least important
visible column is hidden, until only the first `keep` remain. Whatever width is left goes
to the stretching column. So a narrow window shows the number and the balance and no
horizontal scroll bar; a wide one shows everything.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import QHeaderView, QTableView

# Room for the stretching column when space is short, in pixels.
MIN_STRETCH = 90
MARGIN = 16  # between a cell's text and the next column


class AdaptiveColumns(QObject):
    """Keep a table view's columns fitted to its width."""

    def __init__(
        self, view: QTableView, priority: Sequence[int], stretch: int, keep: int = 2
    ) -> None:
        super().__init__(view)
        self._view = view
        self._priority = list(priority)
        self._stretch = stretch
        self._keep = keep
        self._wanted: dict[int, int] = {}
        self._fitting = False
        header = view.horizontalHeader()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setResizeContentsPrecision(50)  # measure the first rows, not all of them
        view.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        view.setTextElideMode(Qt.TextElideMode.ElideRight)
        view.viewport().installEventFilter(self)
        model = view.model()
        # Measure the first page only: measuring again for every page a scrolling view
        # fetches re-reads the rows each time (most of filling a 10,000-row table).
        model.rowsInserted.connect(lambda _p, first, _l: self.measure() if first == 0 else None)
        model.modelReset.connect(self.measure)
        model.headerDataChanged.connect(lambda *_: self.measure())
        self.measure()

    @property
    def hidden(self) -> list[int]:
        """Return the columns hidden for lack of room."""
        return [c for c in self._priority if self._view.isColumnHidden(c)]

    def measure(self) -> None:
        """Learn each column's natural width from its header and loaded rows, then fit."""
        header = self._view.horizontalHeader()
        for column in self._priority:
            content = self._view.sizeHintForColumn(column)
            title = header.sectionSizeFromContents(column).width()
            self._wanted[column] = max(content + MARGIN, title)
        self.fit()

    def fit(self) -> None:
        """Show the columns that fit the viewport, most important first; stretch one."""
        if self._fitting or not self._wanted:
            return
        self._fitting = True
        try:
            self._fit(self._view.viewport().width())
        finally:
            self._fitting = False

    def _fit(self, room: int) -> None:
        shown = list(self._priority)
        wanted = self._wanted

        def need(columns: list[int]) -> int:
            return sum(MIN_STRETCH if c == self._stretch else wanted[c] for c in columns)

        while len(shown) > self._keep and need(shown) > room:
            shown.pop()  # the least important column still shown
        for column in self._priority:
            self._view.setColumnHidden(column, column not in shown)
        fixed = sum(wanted[c] for c in shown if c != self._stretch)
        for column in shown:
            if column != self._stretch:
                self._view.setColumnWidth(column, wanted[column])
        if self._stretch in shown:
            # The rest of the row, but never less than it needs when there is room for it.
            self._view.setColumnWidth(self._stretch, max(MIN_STRETCH, room - fixed))

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        """Fit again when the viewport changes width."""
        if event.type() == QEvent.Type.Resize:
            self.fit()
        return False
