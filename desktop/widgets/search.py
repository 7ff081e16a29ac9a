"""A search box that hands the keyboard to its results: Down or Enter moves into the list."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QAbstractItemView, QLineEdit, QWidget


class SearchField(QLineEdit):
    """A search line edit over a results view; Down/Enter focus the results' current row."""

    def __init__(self, name: str, results: QAbstractItemView, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName(name)
        self.setClearButtonEnabled(True)
        self._results = results

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt's name
        """Move into the results on Down, Enter or Return; type everything else."""
        if event.key() in (Qt.Key.Key_Down, Qt.Key.Key_Return, Qt.Key.Key_Enter):
            model = self._results.model()
            if model is not None and model.rowCount() > 0:
                if not self._results.currentIndex().isValid():
                    self._results.setCurrentIndex(model.index(0, 0))
                self._results.setFocus(Qt.FocusReason.ShortcutFocusReason)
                event.accept()
                return
        super().keyPressEvent(event)
