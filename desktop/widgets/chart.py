"""The balance-over-time chart (pyqtgraph: light, fast with many points, works with
PySide6-Essentials; QtCharts would need the much larger PySide6-Addons)."""

from __future__ import annotations

import os

os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QVBoxLayout, QWidget


class BalanceChart(QWidget):
    """A step chart of an account's balance after each movement."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        pg.setConfigOptions(antialias=True, background="w", foreground="#444")
        self.plot = pg.PlotWidget(axisItems={"bottom": pg.DateAxisItem(utcOffset=0)})
        self.plot.showGrid(x=True, y=True, alpha=0.2)
        self.plot.setMenuEnabled(False)
        self.plot.setLabel("left", "Balance")
        self.plot.setMouseEnabled(x=True, y=False)
        self.curve = self.plot.plot(
            [], [], stepMode=None, pen=pg.mkPen("#1f5fbf", width=2),
            symbol="o", symbolSize=5, symbolBrush="#1f5fbf",
        )  # fmt: skip
        self.zero = pg.InfiniteLine(angle=0, pen=pg.mkPen("#bbb", style=Qt.PenStyle.DashLine))
        self.plot.addItem(self.zero)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot)
        self.points: list[tuple[float, float]] = []

    def set_points(self, points: list[tuple[float, float]]) -> None:
        """Show (unix time, balance) points in time order."""
        self.points = list(points)
        if not self.points:
            self.clear_points()
            return
        xs = [p[0] for p in self.points]
        ys = [p[1] for p in self.points]
        self.curve.setData(xs, ys)
        self.plot.enableAutoRange()

    def clear_points(self) -> None:
        """Show an empty chart."""
        self.points = []
        self.curve.setData([], [])
