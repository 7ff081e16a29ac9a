"""The balance-over-time chart: a step chart with dates and the currency, or a sentence.

pyqtgraph: light, fast with many points, and it works with PySide6-Essentials, where
QtCharts would need the much larger PySide6-Addons. A balance changes in steps, so the line
is flat between movements and jumps at each one (pyqtgraph's `stepMode="center"`: the x
values are the step boundaries, the last one "now"). The x axis is in local time and never
narrower than an hour, so a day's movements show as hours of that day, never as seconds;
the y axis shows whole money with thousands separators and names the currency.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal

os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")

import pyqtgraph as pg
from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QFont, QFontMetrics
from PySide6.QtWidgets import QLabel, QStackedLayout, QWidget

from desktop import text, theme
from desktop.text import tr
from shared.schemas.transactions import TransactionPublic

MIN_X_RANGE_S = 3600.0  # never zoom in below an hour: seconds are not how balances read
DAY_S = 86400.0
CREDIT_TYPES = frozenset({"deposit", "transfer_in"})


class MoneyAxis(pg.AxisItem):
    """A value axis that shows money as "1,250" (no SI prefix such as "x0.001")."""

    def __init__(self, orientation: str = "left") -> None:
        super().__init__(orientation)
        self.enableAutoSIPrefix(False)

    def tickStrings(self, values: Sequence[float], scale: float, spacing: float) -> list[str]:  # noqa: N802
        """Format ticks with separators, with cents only when the ticks are that close."""
        places = 2 if spacing < 1 else 0
        return [f"{value:,.{places}f}" for value in values]


def style_plot(plot: pg.PlotWidget) -> theme.Colors:
    """Colour a plot's background and axes from the palette; return the colours used."""
    colors = theme.colors()
    plot.setBackground(colors.base)
    for name in ("left", "bottom"):
        axis = plot.getAxis(name)
        axis.setPen(pg.mkPen(colors.text))
        axis.setTextPen(pg.mkPen(colors.text))
    return colors


def balance_steps(
    entries: Sequence[TransactionPublic], opened: datetime | None, now: datetime
) -> tuple[list[float], list[float]]:
    """Return the step boundaries (POSIX times, the last one `now`) and the balance of each step.

    The balance before the first entry shown is that entry's balance less its amount; it
    starts at the account's opening when that is earlier.
    """
    if not entries:
        return [], []
    first = entries[0]
    signed = first.amount if str(first.type) in CREDIT_TYPES else -first.amount
    before: Decimal = first.balance_after - signed
    xs: list[float] = []
    ys: list[float] = []
    if opened is not None and opened < first.created_at:
        xs.append(opened.timestamp())
        ys.append(float(before))
    for entry in entries:
        xs.append(entry.created_at.timestamp())
        ys.append(float(entry.balance_after))
    xs.append(max(now.timestamp(), xs[-1] + 1))
    return xs, ys


def x_range(xs: Sequence[float]) -> tuple[float, float]:
    """Return the time range to show: the local day when everything happened within one."""
    left, right = xs[0], xs[-1]
    first_day = (
        datetime.fromtimestamp(left).astimezone().replace(hour=0, minute=0, second=0, microsecond=0)
    )
    day_end = first_day + timedelta(days=1)
    if right <= day_end.timestamp():
        return first_day.timestamp(), day_end.timestamp()
    pad = (right - left) * 0.03
    return left - pad, right + pad


class BalanceChart(QWidget):
    """An account's balance over time, or a sentence saying why there is none."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.message = QLabel()
        self.message.setObjectName("chartMessage")
        self.message.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.message.setWordWrap(True)
        self.message.setEnabled(False)  # drawn in the palette's quiet, disabled text colour
        self._stack = QStackedLayout(self)
        self._stack.addWidget(self.message)
        self._plot: pg.PlotWidget | None = None  # built when first needed: it costs ~50 ms
        self.points: list[tuple[float, float]] = []
        self.currency: str | None = None
        self.show_message(tr("Choose an account to see its balance over time."))

    @property
    def plot(self) -> pg.PlotWidget:
        """Return the plot, building it the first time."""
        if self._plot is None:
            plot = pg.PlotWidget(
                axisItems={"bottom": pg.DateAxisItem(utcOffset=None), "left": MoneyAxis()}
            )
            plot.setObjectName("balancePlot")
            plot.showGrid(x=True, y=True, alpha=0.25)
            plot.setMenuEnabled(False)
            plot.hideButtons()
            plot.setMouseEnabled(x=True, y=False)
            plot.setLimits(minXRange=MIN_X_RANGE_S)
            self.curve = pg.PlotCurveItem()  # stepMode "center" comes with the data
            self.marks = pg.ScatterPlotItem([], [], size=6)
            self.zero = pg.InfiniteLine(pos=0, angle=0)
            for item in (self.zero, self.curve, self.marks):
                plot.addItem(item)
            self._stack.addWidget(plot)
            self._plot = plot
            self._apply_theme()
        return self._plot

    @property
    def step_mode(self) -> str | None:
        """Return how the line is drawn ("center": flat between movements)."""
        return self.curve.opts.get("stepMode") if self._plot is not None else None

    def show_message(self, sentence: str) -> None:
        """Show a sentence instead of the chart (no account, no movements)."""
        self.points = []
        if self._plot is not None:
            self.curve.clear()
            self.marks.clear()
        self.message.setText(sentence)
        self._stack.setCurrentWidget(self.message)

    def show_entries(
        self,
        entries: Sequence[TransactionPublic],
        currency: str,
        opened: datetime | None = None,
        now: datetime | None = None,
    ) -> None:
        """Draw the balance after each entry (oldest first), as steps up to now."""
        if not entries:
            self.show_message(tr("No money has moved on this account yet."))
            return
        moment = now or datetime.now().astimezone()
        xs, ys = balance_steps(entries, opened, moment)
        plot = self.plot
        self.currency = currency
        self.points = [(e.created_at.timestamp(), float(e.balance_after)) for e in entries]
        self.curve.setData(xs, ys, stepMode="center")
        self.marks.setData([p[0] for p in self.points], [p[1] for p in self.points])
        plot.setLabel("left", tr("Balance ({currency})").format(currency=currency))
        left, right = x_range(xs)
        plot.setLabel("bottom", self._period(left, right))
        plot.setXRange(left, right, padding=0)
        low, high = min(*ys, 0.0), max(*ys, 0.0)
        pad = (high - low) * 0.1 or 1.0
        plot.setYRange(low - pad, high + pad, padding=0)
        self._stack.setCurrentWidget(plot)

    def _period(self, left: float, right: float) -> str:
        start = datetime.fromtimestamp(left).astimezone()
        end = datetime.fromtimestamp(right - 1).astimezone()
        if start.date() == end.date():
            return tr("Local time on {day}").format(day=text.date_text(start))
        return text.period_text(start, end)

    def bottom_ticks(self) -> list[str]:
        """Return the time axis' tick texts for the range shown (for tests and checks)."""
        axis = self.plot.getAxis("bottom")
        if not hasattr(axis, "fontMetrics"):  # set by its first paint; the same font's metrics
            axis.fontMetrics = QFontMetrics(axis.style.get("tickFont") or QFont())
        left, right = self.plot.viewRange()[0]
        width = max(1.0, float(self.plot.width()))
        strings: list[str] = []
        for spacing, values in axis.tickValues(left, right, width):
            strings += axis.tickStrings(values, axis.scale, spacing)
        return strings

    def _apply_theme(self) -> None:
        if self._plot is None:
            return
        colors = style_plot(self._plot)
        self.curve.setPen(pg.mkPen(colors.accent, width=2))
        self.marks.setBrush(pg.mkBrush(colors.accent))
        self.marks.setPen(pg.mkPen(colors.accent))
        self.zero.setPen(pg.mkPen(colors.grid, style=Qt.PenStyle.DashLine))

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 - Qt's name
        """Follow a palette change (the desktop switched between light and dark)."""
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange:
            self._apply_theme()
