"""A customer's KYC status as a small coloured badge: verified, expired or not verified."""

from __future__ import annotations

from PySide6.QtCore import QEvent, Qt
from PySide6.QtWidgets import QLabel, QWidget

from desktop import text, theme
from desktop.text import tr
from desktop.theme import Tone

_TONES = {"verified": Tone.OK, "expired": Tone.ERROR, "pending": Tone.WARNING}
_TIPS = {
    "verified": "A verified identity document is valid today.",
    "expired": "Every verified identity document has expired: check a new one.",
    "pending": "No identity document has been verified yet.",
}


def kyc_tone(status: object) -> Tone:
    """Return the tone of a KYC status (None or unknown: muted)."""
    return _TONES.get(str(getattr(status, "value", status)), Tone.MUTED)


def kyc_tip(status: object) -> str:
    """Return what a KYC status means, in a sentence."""
    tip = _TIPS.get(str(getattr(status, "value", status)))
    return tr(tip) if tip else ""


class KycBadge(QLabel):
    """Show a KYC status in its tone's colours; hidden while there is none (staff, unknown)."""

    def __init__(self, name: str = "kycBadge", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName(name)
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.status: str | None = None
        self.owner_id: int | None = None  # whose status it shows, where a view needs to know
        self.set_status(None)

    def set_status(self, status: object) -> None:
        """Show a status (a KycStatus or its value), or hide the badge for None."""
        self.status = None if status is None else str(getattr(status, "value", status))
        self.setText(text.kyc_status(self.status) if self.status else "")
        self.setToolTip(kyc_tip(self.status))
        self.setAccessibleName(self.text())
        self._apply()
        self.setHidden(self.status is None)

    def _apply(self) -> None:
        c = theme.colors()
        tone = kyc_tone(self.status)
        panel = {Tone.OK: c.ok_panel, Tone.WARNING: c.warning_panel}.get(tone, c.error_panel)
        fore, back, line = (color.name() for color in panel)
        style = (f"color: {fore}; background: {back}; border: 1px solid {line};"
                 " border-radius: 8px; padding: 1px 8px;")  # fmt: skip
        if style != self.styleSheet():
            self.setStyleSheet(style)

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 - Qt's name
        """Pick the colours again for a new palette."""
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange:
            self._apply()
