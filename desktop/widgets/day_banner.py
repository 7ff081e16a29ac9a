"""The business-day strip at the top of the window: "Business day 2026-12-01 · open".

Read from `GET /business-day` off the GUI thread, again every minute and whenever asked
(after a close). When the calendar date in the bank's time zone has moved past the open
business date, the day was not closed: the strip turns amber and says so, because every
posting still takes the old date until a supervisor closes it.
"""

from __future__ import annotations

import shiboken6
from PySide6.QtCore import QEvent, QTimer, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QWidget

from desktop import text, theme
from desktop.api.client import BankClient
from desktop.text import tr
from desktop.theme import Tone
from desktop.widgets.labels import ToneLabel
from desktop.workers import run_task
from shared.schemas.business_day import BusinessDayPublic

REFRESH_MS = 60_000


def day_words(day: BusinessDayPublic) -> tuple[str, bool]:
    """Return the strip's text and whether the day is overdue (the calendar moved on)."""
    words = tr("Business day {date} · {status}").format(
        date=day.date, status=text.day_status(day.status)
    )
    overdue = day.calendar_date > day.date  # ISO dates compare as strings
    if overdue:
        words += " — " + tr(
            "today is {today}: the day was not closed; postings still take {date}."
        ).format(today=day.calendar_date, date=day.date)
    return words, overdue


class DayBanner(QFrame):
    """Show the open business date; amber when it was not closed; `loaded(day)` on each read."""

    loaded = Signal(object)  # the BusinessDayPublic read
    failed = Signal(object)

    def __init__(self, client: BankClient, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("dayBanner")
        self.client = client
        self.day: BusinessDayPublic | None = None
        self.overdue = False
        self._loading = False
        self.label = ToneLabel("dayBannerLabel")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(12, 3, 12, 3)
        layout.addWidget(self.label, 1)
        self.label.show_text(tr("Business day …"), Tone.MUTED)
        self._timer = QTimer(self, interval=REFRESH_MS)
        self._timer.timeout.connect(self.refresh)
        self._timer.start()
        self._apply()
        self.refresh()

    def refresh(self) -> None:
        """Read the business day again (off the GUI thread)."""
        if self._loading or not self.client.signed_in:
            return
        self._loading = True
        run_task(self.client.business_day, on_done=self._show, on_error=self._failed)

    def _show(self, day: BusinessDayPublic) -> None:
        if not shiboken6.isValid(self):
            return
        self._loading = False
        self.day = day
        words, self.overdue = day_words(day)
        self.label.show_text(words, Tone.WARNING if self.overdue else Tone.MUTED)
        self.label.setToolTip(tr("Opened {time}").format(time=text.time_with_zone(day.opened_at)))
        self._apply()
        self.loaded.emit(day)

    def _failed(self, error: BaseException) -> None:
        if shiboken6.isValid(self):
            self._loading = False
            self.failed.emit(error)  # the window words it (and notices a lost connection)

    def _apply(self) -> None:
        style = theme.banner_style(self.objectName()) if self.overdue else ""
        if style != self.styleSheet():
            self.setStyleSheet(style)

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 - Qt's name
        """Pick the amber again for a new palette."""
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange:
            self._apply()
