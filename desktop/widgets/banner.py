"""A non-blocking strip across the top of the window: a message and a Retry button."""

from __future__ import annotations

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QWidget

from desktop import theme
from desktop.text import tr
from desktop.widgets import named


class Banner(QFrame):
    """Say that something is wrong without stopping the work, and offer to retry."""

    retry = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("networkBanner")
        self.label = QLabel()
        self.label.setTextFormat(Qt.TextFormat.PlainText)  # may carry the server's sentence
        self.label.setWordWrap(True)
        button = named(QPushButton(tr("Retry")), "bannerRetryButton")
        button.clicked.connect(self.retry)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(12, 6, 12, 6)
        layout.addWidget(self.label, 1)
        layout.addWidget(button)
        self._apply()
        self.hide()

    def show_message(self, message: str) -> None:
        """Show the banner with a message."""
        self.label.setText(message)
        self.show()

    def _apply(self) -> None:
        style = theme.banner_style(self.objectName())
        if style != self.styleSheet():
            self.setStyleSheet(style)

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 - Qt's name
        """Pick the banner's colours again for a new palette."""
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange:
            self._apply()
