"""The statistics panel: `/stats` figures and a bar chart of the last 30 days (`/stats/daily`)."""

from __future__ import annotations

import os
from datetime import date
from decimal import Decimal
from typing import Any

os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")

import pyqtgraph as pg
import shiboken6
from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from desktop import text, theme
from desktop.admin.models import ClientSource, as_source
from desktop.api.client import BankClient
from desktop.models.paging import RIGHT
from desktop.text import QT_TRANSLATE_NOOP, tr
from desktop.theme import Tone
from desktop.widgets import named
from desktop.widgets.chart import MoneyAxis, style_plot
from desktop.widgets.labels import ToneLabel
from desktop.workers import run_task
from shared.schemas.admin import CountSum, DailyStats, DayStats, Stats

CHART_DAYS = 30
# Each kind of movement, its name, and its bar colour's index in theme.colors().bars.
KINDS: tuple[tuple[str, str, int], ...] = (
    ("deposits", QT_TRANSLATE_NOOP("bank", "Deposits"), 0),
    ("withdrawals", QT_TRANSLATE_NOOP("bank", "Withdrawals"), 1),
    ("transfers", QT_TRANSLATE_NOOP("bank", "Transfers"), 2),
)
COUNTS = ""  # the chart measure that counts movements instead of summing one currency


def day_value(day: DayStats, kind: str, currency: str) -> Decimal:
    """Return one kind's count (currency COUNTS, every currency) or one currency's sum."""
    buckets: dict[str, CountSum] = getattr(day, kind)
    if currency == COUNTS:
        return Decimal(sum(bucket.count for bucket in buckets.values()))
    bucket = buckets.get(currency)
    return bucket.sum if bucket is not None else Decimal(0)


def currencies_of(stats: Stats | None, daily: DailyStats | None) -> list[str]:
    """Return every currency with a balance or a movement, sorted."""
    found: set[str] = set(stats.total_balance) if stats is not None else set()
    for day in daily.days if daily is not None else []:
        for kind, _label, _color in KINDS:
            found.update(getattr(day, kind))
    return sorted(found)


class DailyChart(QWidget):
    """Grouped bars per UTC day: deposits, withdrawals and transfers."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.plot = pg.PlotWidget(axisItems={"left": MoneyAxis()})
        self.plot.showGrid(x=False, y=True, alpha=0.2)
        self.plot.setMenuEnabled(False)
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.hideButtons()
        self.legend = self.plot.addLegend(offset=(10, 5), colCount=3)
        self.bars: dict[str, pg.BarGraphItem] = {}
        width = 0.8 / len(KINDS)
        for kind, label, color in KINDS:
            # No outline: a day without movements shows nothing, not a hairline.
            bar = pg.BarGraphItem(x=[], height=[], width=width, brush=theme.colors().bars[color],
                                  pen=None, name=tr(label))  # fmt: skip
            self.bars[kind] = bar
            self.plot.addItem(bar)
        self._width = width
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot)
        self.dates: list[str] = []
        self.values: dict[str, list[Decimal]] = {kind: [] for kind, _l, _c in KINDS}
        self._apply_theme()

    def _apply_theme(self) -> None:
        colors = style_plot(self.plot)
        self.legend.setLabelTextColor(colors.text)
        for kind, _label, color in KINDS:
            self.bars[kind].setOpts(brush=colors.bars[color])

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 - Qt's name
        """Follow a palette change (light or dark)."""
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange:
            self._apply_theme()

    def set_days(self, days: list[DayStats], currency: str = COUNTS) -> None:
        """Draw the days (oldest first): counts of movements, or sums in one currency."""
        self.dates = [day.date for day in days]
        xs = list(range(len(days)))
        for n, (kind, _label, _color) in enumerate(KINDS):
            values = [day_value(day, kind, currency) for day in days]
            self.values[kind] = values
            offset = (n - (len(KINDS) - 1) / 2) * self._width
            self.bars[kind].setOpts(
                x=[x + offset for x in xs], height=[float(v) for v in values], width=self._width
            )
        self.plot.setLabel(
            "left",
            tr("Movements")
            if currency == COUNTS
            else tr("Volume ({currency})").format(currency=currency),
        )
        axis = self.plot.getAxis("bottom")
        step = max(1, len(days) // 6)
        ticks = [(i, _short(self.dates[i])) for i in range(len(days) - 1, -1, -step)]
        axis.setTicks([ticks, [(i, "") for i in xs]])
        top = max((float(v) for vs in self.values.values() for v in vs), default=0.0)
        self.plot.setXRange(-0.7, max(len(days) - 0.3, 0.3), padding=0)
        self.plot.setYRange(0, top * 1.15 if top > 0 else 1, padding=0)


def _short(iso_day: str) -> str:
    return date.fromisoformat(iso_day).strftime("%m-%d")


def _load(client: BankClient, days: int) -> tuple[Stats, DailyStats]:
    """Fetch the figures and the daily series (worker thread)."""
    return client.stats(), client.daily_stats(days)


def _table(name: str, headers: list[str]) -> QTableWidget:
    table = named(QTableWidget(0, len(headers)), name)
    table.setHorizontalHeaderLabels(headers)
    table.verticalHeader().hide()
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
    table.setAlternatingRowColors(True)
    table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
    table.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
    _fit_rows(table)
    return table


def _fit_rows(table: QTableWidget, most: int = 5) -> None:
    """Make a table as tall as its rows (up to `most`, then it scrolls): the chart gets the rest."""
    rows = min(max(table.rowCount(), 1), most)
    height = table.horizontalHeader().sizeHint().height() + 2 * table.frameWidth()
    height += rows * table.verticalHeader().defaultSectionSize()
    table.setFixedHeight(height)


def _cell(text: str, right: bool = True) -> QTableWidgetItem:
    item = QTableWidgetItem(text)
    if right:
        item.setTextAlignment(RIGHT)
    return item


def today_headers() -> list[str]:
    """Return the today table's headers: a count and a sum for each kind of movement."""
    headers = [tr("Currency")]
    for _kind, label, _color in KINDS:
        headers += [tr("{kind}\nnumber").format(kind=tr(label)),
                    tr("{kind}\nsum").format(kind=tr(label))]  # fmt: skip
    return headers


class StatsPanel(QWidget):
    """The bank's figures today and a chart of the last 30 days; loads when first shown."""

    failed = Signal(object)
    loaded = Signal()

    def __init__(self, client: BankClient | ClientSource, days: int = CHART_DAYS,
                 parent: QWidget | None = None) -> None:  # fmt: skip
        super().__init__(parent)
        self.setObjectName("statsPanel")
        self._client = as_source(client)
        self.days = days
        self.stats: Stats | None = None
        self.daily: DailyStats | None = None
        self.loading = False
        self._shown = False

        self.refresh_button = named(QPushButton(tr("Refresh")), "refreshStatsButton")
        self.refresh_button.clicked.connect(self.refresh)
        self.updated = ToneLabel("statsUpdated", hint=True)
        self.updated.show_text(tr("Not loaded yet"), Tone.MUTED)
        self.users_figure = named(QLabel("–"), "usersFigure")
        self.accounts_figure = named(QLabel("–"), "accountsFigure")
        figures = QGroupBox(tr("The bank"))
        grid = QGridLayout(figures)
        for row, (label, value) in enumerate(
            ((tr("Users"), self.users_figure), (tr("Open accounts"), self.accounts_figure))
        ):
            theme.emphasize(value, 1.5)
            value.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            grid.addWidget(QLabel(label), row, 0)
            grid.addWidget(value, row, 1)
        self.balances_table = _table("balancesTable", [tr("Currency"), tr("Total balance")])
        grid.addWidget(self.balances_table, 2, 0, 1, 2)

        self.today_box = QGroupBox(tr("Today (UTC)"))
        self.today_table = _table("todayTable", today_headers())
        today_layout = QVBoxLayout(self.today_box)
        today_layout.addWidget(self.today_table)
        today_layout.addStretch(1)

        self.measure = named(QComboBox(), "chartMeasure")
        self.measure.addItem(tr("Number of movements"), COUNTS)
        self.measure.currentIndexChanged.connect(lambda _i: self._draw_chart())
        self._chart: DailyChart | None = None  # built when first drawn: it costs ~50 ms
        chart_box = QGroupBox(tr("Last {days} days (UTC)").format(days=days))
        self._chart_layout = QVBoxLayout(chart_box)
        measure_row = QHBoxLayout()
        measure_row.addWidget(QLabel(tr("Show")))
        measure_row.addWidget(self.measure)
        measure_row.addStretch(1)
        self._chart_layout.addLayout(measure_row)

        head = QHBoxLayout()
        title = QLabel(tr("Statistics"))
        theme.emphasize(title, 1.15)
        head.addWidget(title)
        head.addWidget(self.updated, 1)
        head.addWidget(self.refresh_button)
        top = QHBoxLayout()
        top.addWidget(figures, 2)
        top.addWidget(self.today_box, 4)
        layout = QVBoxLayout(self)
        layout.addLayout(head)
        layout.addLayout(top, 0)
        layout.addWidget(chart_box, 1)

    @property
    def client(self) -> BankClient:
        """Return the client requests go through."""
        return self._client()

    @property
    def chart(self) -> DailyChart:
        """Return the daily chart, building it the first time."""
        if self._chart is None:
            self._chart = named(DailyChart(), "dailyChart")
            self._chart_layout.addWidget(self._chart, 1)
        return self._chart

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt's name
        """Load the figures the first time the panel is shown."""
        super().showEvent(event)
        if not self._shown:
            self._shown = True
            self.refresh()

    def refresh(self) -> None:
        """Fetch `/stats` and `/stats/daily` again, off the GUI thread."""
        if self.loading:
            return
        self.loading = True
        self.refresh_button.setEnabled(False)
        self.updated.show_text(tr("Loading…"), Tone.MUTED)
        run_task(_load, self.client, self.days, on_done=self._arrived, on_error=self._failed)

    def _arrived(self, result: tuple[Stats, DailyStats]) -> None:
        if not shiboken6.isValid(self):
            return
        self.loading = False
        self.refresh_button.setEnabled(True)
        self.stats, self.daily = result
        self._show_figures(self.stats)
        self._update_measures()
        self._draw_chart()
        self.updated.show_text(tr("as of {day} (UTC day)").format(
            day=text.iso_day(self.stats.today.date)), Tone.MUTED)  # fmt: skip
        self.loaded.emit()

    def _failed(self, error: BaseException) -> None:
        if not shiboken6.isValid(self):
            return
        self.loading = False
        self.refresh_button.setEnabled(True)
        self.updated.show_text(tr("Could not load the figures (showing the last ones)")
                               if self.stats else tr("Could not load the figures"),
                               Tone.WARNING)  # fmt: skip
        self.failed.emit(error)

    def _show_figures(self, stats: Stats) -> None:
        self.users_figure.setText(f"{stats.users:,}")
        self.accounts_figure.setText(f"{stats.accounts:,}")
        balances = sorted(stats.total_balance.items())
        self.balances_table.setRowCount(len(balances))
        for row, (currency, balance) in enumerate(balances):
            name = _cell(currency, right=False)
            name.setToolTip(text.currency_name(currency))
            self.balances_table.setItem(row, 0, name)
            self.balances_table.setItem(row, 1, _cell(text.money(balance, currency)))
        _fit_rows(self.balances_table)
        today = stats.today
        currencies = sorted(set(today.deposits) | set(today.withdrawals) | set(today.transfers))
        self.today_box.setTitle(tr("Today, {day} (UTC)").format(day=text.iso_day(today.date)))
        self.today_table.setRowCount(max(1, len(currencies)))
        if not currencies:
            self.today_table.setItem(0, 0, _cell(tr("No movements yet today"), right=False))
            for column in range(1, self.today_table.columnCount()):
                self.today_table.setItem(0, column, _cell(""))
        for row, currency in enumerate(currencies):
            name = _cell(currency, right=False)
            name.setToolTip(text.currency_name(currency))
            self.today_table.setItem(row, 0, name)
            for n, (kind, _label, _color) in enumerate(KINDS):
                bucket = getattr(today, kind).get(currency)
                count = f"{bucket.count:,}" if bucket else "–"
                total = text.money(bucket.sum) if bucket else "–"
                self.today_table.setItem(row, 1 + 2 * n, _cell(count))
                self.today_table.setItem(row, 2 + 2 * n, _cell(total))
        _fit_rows(self.today_table)

    def _update_measures(self) -> None:
        chosen = self.measure.currentData()
        self.measure.blockSignals(True)
        self.measure.clear()
        self.measure.addItem(tr("Number of movements"), COUNTS)
        for currency in currencies_of(self.stats, self.daily):
            self.measure.addItem(tr("Volume in {currency}").format(
                currency=text.currency_label(currency)), currency)  # fmt: skip
        index = self.measure.findData(chosen)
        self.measure.setCurrentIndex(max(0, index))
        self.measure.blockSignals(False)

    def _draw_chart(self) -> None:
        if self.daily is not None:
            self.chart.set_days(self.daily.days, str(self.measure.currentData() or COUNTS))

    def figures(self) -> dict[str, Any]:
        """Return what the panel shows, as text (for tests and accessibility tools)."""
        return {
            "users": self.users_figure.text(),
            "accounts": self.accounts_figure.text(),
            "balances": {
                _text(self.balances_table, r, 0): _text(self.balances_table, r, 1)
                for r in range(self.balances_table.rowCount())
            },
            "headers": [
                item.text() if (item := self.today_table.horizontalHeaderItem(c)) else ""
                for c in range(self.today_table.columnCount())
            ],
            "today": [
                [_text(self.today_table, r, c) for c in range(self.today_table.columnCount())]
                for r in range(self.today_table.rowCount())
            ],
        }


def _text(table: QTableWidget, row: int, column: int) -> str:
    item = table.item(row, column)
    return item.text() if item is not None else ""
