"""The window's lock: while locked, a page that shows nothing but how to get back.

Locking hides the window's content and its open dialogs (names and balances must not stay
readable behind the sign-in dialog) and disables every action and shortcut; unlocking shows
them again as they were.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QLabel,
    QMainWindow,
    QStackedWidget,
    QToolBar,
    QVBoxLayout,
    QWidget,
)
from shiboken6 import isValid

from desktop.text import tr
from desktop.widgets import named


def locked_page() -> QWidget:
    """Return the page shown while locked."""
    page = named(QWidget(), "lockedPage")
    label = QLabel(tr("This window is locked.\nSign in again to continue, or sign out."))
    label.setAlignment(Qt.AlignmentFlag.AlignCenter)
    layout = QVBoxLayout(page)
    layout.addWidget(label)
    return page


class WindowLock:
    """Switch a main window between its content and the locked page."""

    def __init__(self, window: QMainWindow, content: QWidget) -> None:
        self._window = window
        self.pages = named(QStackedWidget(), "windowPages")
        self.pages.addWidget(content)
        self.pages.addWidget(locked_page())
        window.setCentralWidget(self.pages)
        self.locked = False
        self._hidden: list[QDialog] = []

    def set_locked(self, locked: bool) -> None:
        """Hide the content, dialogs and actions, or show them again."""
        if locked == self.locked:
            return
        self.locked = locked
        window = self._window
        self.pages.setCurrentIndex(1 if locked else 0)
        window.menuBar().setEnabled(not locked)
        for toolbar in window.findChildren(QToolBar):
            toolbar.setEnabled(not locked)
        for action in window.actions():
            action.setEnabled(not locked and action.isVisible())
        if locked:
            self._hidden = [d for d in window.findChildren(QDialog)
                            if d.isVisible() and d.parent() is window]  # fmt: skip
            for dialog in self._hidden:
                dialog.hide()
        else:
            for dialog in self._hidden:
                if isValid(dialog):
                    dialog.show()
            self._hidden = []
