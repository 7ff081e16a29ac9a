"""Labels that show data as plain text and keep their tone's colours when the palette changes."""

from __future__ import annotations

from PySide6.QtCore import QEvent, Qt
from PySide6.QtWidgets import QLabel, QWidget

from desktop import theme
from desktop.theme import Tone


def plain_label(name: str, text: str = "", parent: QWidget | None = None) -> QLabel:
    """Return a named label that never reads its text as HTML (names and notes are data)."""
    label = QLabel(text, parent)
    label.setObjectName(name)
    label.setTextFormat(Qt.TextFormat.PlainText)
    return label


class ToneLabel(QLabel):
    """Plain text in a tone (muted hint, error, ok), or a message panel; hidden while empty."""

    def __init__(
        self, name: str, *, panel: bool = False, hint: bool = False, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName(name)
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setWordWrap(True)
        self._panel = panel
        self._tone = Tone.MUTED if hint else Tone.NORMAL
        if panel:
            self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        if hint:
            font = self.font()
            if font.pointSizeF() > 0:
                font.setPointSizeF(font.pointSizeF() * 0.92)
            self.setFont(font)
        self._apply()

    @property
    def tone(self) -> Tone:
        """Return the tone shown."""
        return self._tone

    def show_text(self, text: str, tone: Tone | None = None) -> None:
        """Show text in a tone (the current one if not given); hide the label when empty."""
        if tone is not None:
            self._tone = tone
        self.setText(text)
        self.setProperty("tone", self._tone.value)
        self._apply()
        self.setHidden(not text)

    def _apply(self) -> None:
        # From the application's palette: the style sheet itself changes this label's.
        style = theme.panel_style(self._tone) if self._panel else theme.text_style(self._tone)
        if style != self.styleSheet():  # setting it sends PaletteChange: do it only once
            self.setStyleSheet(style)

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 - Qt's name
        """Pick the tone's colours again for a new palette (the system switched to dark)."""
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange:
            self._apply()
