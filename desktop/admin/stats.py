"""The statistics panel: `/stats` figures and a bar chart of the last 30 days (`/stats/daily`)."""

from __future__ import annotations

import os
from datetime import date
from decimal import Decimal
from typing import Any

os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")

import pyqtgraph as pg
import shiboken6
from PySide6.QtCore import Qt, Signal
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

from desktop.admin.models import ClientSource, as_source
from desktop.api.client import BankClient
from desktop.models.paging import RIGHT
from desktop.widgets import named
from desktop.workers import run_task
from shared.money import format_money
from shared.schemas.admin import CountSum, DailyStats, DayStats, Stats

CHART_DAYS = 30
KINDS: tuple[tuple[str, str, str], ...] = (
    ("deposits", "Deposits", "#2e7d32"),
    ("withdrawals", "Withdrawals", "#c62828"),
    ("transfers", "Transfers", "#1f5fbf"),
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
        pg.setConfigOptions(antialias=True, background="w", foreground="#444")
        self.plot = pg.PlotWidget()
        self.plot.showGrid(x=False, y=True, alpha=0.2)
        self.plot.setMenuEnabled(False)
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.hideButtons()
        self.legend = self.plot.addLegend(offset=(10, 5), colCount=3)
        self.bars: dict[str, pg.BarGraphItem] = {}
        width = 0.8 / len(KINDS)
        for kind, label, color in KINDS:
            # No outline: a day without movements shows nothing, not a hairline.
            bar = pg.BarGraphItem(x=[], height=[], width=width, brush=color, pen=None, name=label)
            self.bars[kind] = bar
            self.plot.addItem(bar)
        self._width = width
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot)
        self.dates: list[str] = []
        self.values: dict[str, list[Decimal]] = {kind: [] for kind, _l, _c in KINDS}

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
        self.plot.setLabel("left", "Movements" if currency == COUNTS else f"Volume ({currency})")
        axis = self.plot.getAxis("bottom")
        step = max(1, len(days) // 6)
        ticks = [(i, _short(self.dates[i])) for i in range(len(days) - 1, -1, -step)]
        axis.setTicks([ticks, [(i, "") for i in xs]])
        top = max((float(v) for vs in self.values.values() for v in vs), default=0.0)
        self.plot.setXRange(-0.7, max(len(days) - 0.3, 0.3), padding=0)
        self.plot.setYRange(0, top * 1.15 if top > 0 else 1, padding=0)


def _short(iso_day: str) -> str:
    return date.fromisoformat(iso_day).strftime("%b %d")


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

        self.refresh_button = named(QPushButton("Refresh"), "refreshStatsButton")
        self.refresh_button.clicked.connect(self.refresh)
        self.updated = named(QLabel("Not loaded yet"), "statsUpdated")
        self.updated.setStyleSheet("color: #666;")
        self.users_figure = named(QLabel("–"), "usersFigure")
        self.accounts_figure = named(QLabel("–"), "accountsFigure")
        figures = QGroupBox("The bank")
        grid = QGridLayout(figures)
        for row, (label, value) in enumerate(
            (("Users", self.users_figure), ("Open accounts", self.accounts_figure))
        ):
            value.setStyleSheet("font-size: 20px; font-weight: 600;")
            value.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            grid.addWidget(QLabel(label), row, 0)
            grid.addWidget(value, row, 1)
        self.balances_table = _table("balancesTable", ["Currency", "Total balance"])
        grid.addWidget(self.balances_table, 2, 0, 1, 2)

        self.today_box = QGroupBox("Today (UTC)")
        self.today_table = _table(
            "todayTable", ["Currency", "Deposits", "Withdrawals", "Transfers"]
        )
        today_layout = QVBoxLayout(self.today_box)
        today_layout.addWidget(self.today_table)
        today_layout.addStretch(1)

        self.measure = named(QComboBox(), "chartMeasure")
        self.measure.addItem("Number of movements", COUNTS)
        self.measure.currentIndexChanged.connect(lambda _i: self._draw_chart())
        self.chart = named(DailyChart(), "dailyChart")
        chart_box = QGroupBox(f"Last {days} days (UTC)")
        chart_layout = QVBoxLayout(chart_box)
        measure_row = QHBoxLayout()
        measure_row.addWidget(QLabel("Show"))
        measure_row.addWidget(self.measure)
        measure_row.addStretch(1)
        chart_layout.addLayout(measure_row)
        chart_layout.addWidget(self.chart, 1)

        head = QHBoxLayout()
        title = QLabel("Statistics")
        title.setStyleSheet("font-size: 15px; font-weight: 600;")
        head.addWidget(title)
        head.addWidget(self.updated, 1)
        head.addWidget(self.refresh_button)
        top = QHBoxLayout()
        top.addWidget(figures, 2)
        top.addWidget(self.today_box, 3)
        layout = QVBoxLayout(self)
        layout.addLayout(head)
        layout.addLayout(top, 0)
        layout.addWidget(chart_box, 1)

    @property
    def client(self) -> BankClient:
        """Return the client requests go through now."""
        return self._client()

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
        self.updated.setText("Loading…")
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
        self.updated.setText(f"as of {self.stats.today.date} (UTC day)")
        self.loaded.emit()

    def _failed(self, error: BaseException) -> None:
        if not shiboken6.isValid(self):
            return
        self.loading = False
        self.refresh_button.setEnabled(True)
        self.updated.setText("Could not load the figures" + (" (showing the last ones)"
                                                             if self.stats else ""))  # fmt: skip
        self.failed.emit(error)

    def _show_figures(self, stats: Stats) -> None:
        self.users_figure.setText(f"{stats.users:,}")
        self.accounts_figure.setText(f"{stats.accounts:,}")
        balances = sorted(stats.total_balance.items())
        self.balances_table.setRowCount(len(balances))
        for row, (currency, total) in enumerate(balances):
            self.balances_table.setItem(row, 0, _cell(currency, right=False))
            self.balances_table.setItem(row, 1, _cell(format_money(total, currency)))
        _fit_rows(self.balances_table)
        today = stats.today
        currencies = sorted(set(today.deposits) | set(today.withdrawals) | set(today.transfers))
        self.today_box.setTitle(f"Today, {today.date} (UTC)")
        self.today_table.setRowCount(max(1, len(currencies)))
        if not currencies:
            self.today_table.setItem(0, 0, _cell("No movements yet today", right=False))
            for column in (1, 2, 3):
                self.today_table.setItem(0, column, _cell(""))
        for row, currency in enumerate(currencies):
            self.today_table.setItem(row, 0, _cell(currency, right=False))
            for column, (kind, _label, _color) in enumerate(KINDS, start=1):
                bucket = getattr(today, kind).get(currency)
                text = f"{bucket.count} · {format_money(bucket.sum)}" if bucket else "–"
                self.today_table.setItem(row, column, _cell(text))
        _fit_rows(self.today_table)

    def _update_measures(self) -> None:
        chosen = self.measure.currentData()
        self.measure.blockSignals(True)
        self.measure.clear()
        self.measure.addItem("Number of movements", COUNTS)
        for currency in currencies_of(self.stats, self.daily):
            self.measure.addItem(f"Volume in {currency}", currency)
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
            "today": [
                [_text(self.today_table, r, c) for c in range(self.today_table.columnCount())]
                for r in range(self.today_table.rowCount())
            ],
        }


def _text(table: QTableWidget, row: int, column: int) -> str:
    item = table.item(row, column)
    return item.text() if item is not None else ""
