"""A search box that hands the keyboard to its results: Down or Enter moves into the list."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

SEARCH_DELAY_MS = 250  # wait for a pause in typing before asking the server


class SearchField(QLineEdit):
    """A search line edit over a results view; Down/Enter focus the results' current row.

    `settled(text)` says what to search for once typing pauses.
    """

    settled = Signal(str)

    def __init__(self, name: str, results: QAbstractItemView, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName(name)
        self.setClearButtonEnabled(True)
        self._results = results
        self._timer = QTimer(self, singleShot=True, interval=SEARCH_DELAY_MS)
        self._timer.timeout.connect(lambda: self.settled.emit(self.text().strip()))
        self.textChanged.connect(lambda _t: self._timer.start())

    def settle_now(self) -> None:
        """Search at once, without waiting for the pause."""
        self._timer.stop()

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


def choice_box(name: str, everything: str, choices: Iterable[tuple[str, str]]) -> QComboBox:
    """Return a filter: "everything" (no filter), then (words, code) choices."""
    box = QComboBox()
    box.setObjectName(name)
    box.addItem(everything, None)
    for words, code in choices:
        box.addItem(words, code)
    return box


def list_layout(owner: QWidget, search: SearchField, tools: Sequence[QWidget],
                results: QAbstractItemView, count: QLabel) -> QVBoxLayout:  # fmt: skip
    """Lay a list out: the search box and its tools in a row, the results, their count."""
    row = QHBoxLayout()
    row.addWidget(search, 1)
    for tool in tools:
        row.addWidget(tool)
    layout = QVBoxLayout(owner)
    layout.addLayout(row)
    layout.addWidget(results, 1)
    layout.addWidget(count)
    return layout
