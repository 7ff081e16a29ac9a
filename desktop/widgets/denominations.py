"""A cash count per currency: an amount, or a grid of notes and coins that adds up as you type.

A count names an amount in each currency counted. A teller may count by denominations
instead: the grid's total fills the amount, and the pieces go to the server with it (which
checks they add up). Nothing here knows what the till should hold (blind balancing).
"""

from __future__ import annotations

from decimal import Decimal

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from desktop import theme
from desktop.text import currency_label, money, tr
from desktop.widgets import named
from desktop.widgets.labels import ToneLabel, plain_label
from shared.money import SUPPORTED_CURRENCIES, parse_money

RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
MAX_PIECES = 10_000_000

# The notes and coins a drawer holds, largest first (money strings, as the API names them).
_EURO = ("500.00", "200.00", "100.00", "50.00", "20.00", "10.00", "5.00", "2.00", "1.00",
         "0.50", "0.20", "0.10", "0.05", "0.02", "0.01")  # fmt: skip
DENOMINATIONS: dict[str, tuple[str, ...]] = {
    "USD": ("100.00", "50.00", "20.00", "10.00", "5.00", "2.00", "1.00", "0.25", "0.10",
            "0.05", "0.01"),
    "EUR": _EURO,
    "GBP": ("50.00", "20.00", "10.00", "5.00", "2.00", "1.00", "0.50", "0.20", "0.10", "0.05",
            "0.02", "0.01"),
    "CHF": ("1000.00", "200.00", "100.00", "50.00", "20.00", "10.00", "5.00", "2.00", "1.00",
            "0.50", "0.20", "0.10", "0.05"),
    "CAD": ("100.00", "50.00", "20.00", "10.00", "5.00", "2.00", "1.00", "0.25", "0.10",
            "0.05"),
    "AUD": ("100.00", "50.00", "20.00", "10.00", "5.00", "2.00", "1.00", "0.50", "0.20",
            "0.10", "0.05"),
    "NZD": ("100.00", "50.00", "20.00", "10.00", "5.00", "2.00", "1.00", "0.50", "0.20",
            "0.10"),
    "SEK": ("1000.00", "500.00", "200.00", "100.00", "50.00", "20.00", "10.00", "5.00",
            "2.00", "1.00"),
    "NOK": ("1000.00", "500.00", "200.00", "100.00", "50.00", "20.00", "10.00", "5.00",
            "1.00"),
    "DKK": ("1000.00", "500.00", "200.00", "100.00", "50.00", "20.00", "10.00", "5.00",
            "2.00", "1.00", "0.50"),
    "PLN": ("500.00", "200.00", "100.00", "50.00", "20.00", "10.00", "5.00", "2.00", "1.00",
            "0.50", "0.20", "0.10", "0.05", "0.02", "0.01"),
    "CZK": ("5000.00", "2000.00", "1000.00", "500.00", "200.00", "100.00", "50.00", "20.00",
            "10.00", "5.00", "2.00", "1.00"),
    "SGD": ("1000.00", "100.00", "50.00", "10.00", "5.00", "2.00", "1.00", "0.50", "0.20",
            "0.10", "0.05"),
    "HKD": ("1000.00", "500.00", "100.00", "50.00", "20.00", "10.00", "5.00", "2.00", "1.00",
            "0.50", "0.20", "0.10"),
}  # fmt: skip


def parse_count(text: str) -> Decimal | None:
    """Return a counted amount (0.00 or more, two places at most), or None if it is not one."""
    try:
        return parse_money(text.strip().replace(",", ""))
    except ValueError:
        return None


class CurrencyCount(QGroupBox):
    """One currency's count: an amount typed in, or the total of a denominations grid."""

    changed = Signal()

    def __init__(self, currency: str, parent: QWidget | None = None) -> None:
        super().__init__(currency_label(currency), parent)
        self.setObjectName(f"count{currency}")
        self.currency = currency
        layout = QVBoxLayout(self)
        row = QHBoxLayout()
        self.amount_edit = named(QLineEdit(), f"countAmount{currency}")
        self.amount_edit.setAlignment(RIGHT)
        self.amount_edit.setPlaceholderText("0.00")
        self.amount_edit.setMaxLength(20)
        self.amount_edit.setAccessibleName(tr("Counted {currency}").format(currency=currency))
        self.by_pieces = named(QCheckBox(tr("Count by notes and coins")), f"byPieces{currency}")
        row.addWidget(QLabel(tr("Counted:")))
        row.addWidget(self.amount_edit, 1)
        row.addWidget(plain_label(f"countCurrency{currency}", currency))
        row.addWidget(self.by_pieces)
        layout.addLayout(row)
        self.grid_box = QWidget()
        grid = QGridLayout(self.grid_box)
        grid.setContentsMargins(0, 0, 0, 0)
        self.pieces: dict[str, QSpinBox] = {}
        self._subtotals: dict[str, QLabel] = {}
        faces = DENOMINATIONS.get(currency, _EURO)
        half = (len(faces) + 1) // 2  # two columns of faces keep the grid short
        for index, face in enumerate(faces):
            spin = named(QSpinBox(), f"pieces{currency}_{face}")
            spin.setRange(0, MAX_PIECES)
            spin.setAlignment(RIGHT)
            spin.setAccessibleName(tr("Pieces of {face} {currency}").format(
                face=face, currency=currency))  # fmt: skip
            spin.valueChanged.connect(self._recount)
            subtotal = plain_label(f"subtotal{currency}_{face}", money(Decimal(0)))
            subtotal.setAlignment(RIGHT)
            subtotal.setMinimumWidth(110)
            r, c = index % half, (index // half) * 4
            face_label = plain_label("", money(Decimal(face)) + " ×")
            face_label.setAlignment(RIGHT)
            grid.addWidget(face_label, r, c)
            grid.addWidget(spin, r, c + 1)
            grid.addWidget(subtotal, r, c + 2)
            self.pieces[face] = spin
            self._subtotals[face] = subtotal
        grid.setColumnMinimumWidth(3, 24)
        layout.addWidget(self.grid_box)
        self.total_label = plain_label(f"piecesTotal{currency}")
        self.total_label.setAlignment(RIGHT)
        theme.emphasize(self.total_label)
        layout.addWidget(self.total_label)
        self.hint = ToneLabel(f"countHint{currency}", hint=True)
        layout.addWidget(self.hint)
        self.grid_box.hide()
        self.total_label.hide()
        self.amount_edit.textChanged.connect(self._typed)
        self.by_pieces.toggled.connect(self._toggle_pieces)

    # -- reading -----------------------------------------------------------------------

    def pieces_total(self) -> Decimal:
        """Return what the grid's pieces add up to."""
        return sum((Decimal(face) * spin.value() for face, spin in self.pieces.items()),
                   Decimal("0.00"))  # fmt: skip

    def amount(self) -> Decimal | None:
        """Return the amount counted, or None while the field is not an amount."""
        if self.by_pieces.isChecked():
            return self.pieces_total()
        return parse_count(self.amount_edit.text())

    def problem(self) -> str | None:
        """Return why this count cannot be sent yet."""
        if self.by_pieces.isChecked():
            return None
        if not self.amount_edit.text().strip():
            return tr("Type the {currency} counted (0.00 if none).").format(
                currency=self.currency)  # fmt: skip
        if self.amount() is None:
            return tr("The {currency} count is not an amount such as 1250.50.").format(
                currency=self.currency)  # fmt: skip
        return None

    def denominations(self) -> dict[str, int] | None:
        """Return the pieces counted (faces with none left out), when counting by pieces."""
        if not self.by_pieces.isChecked():
            return None
        return {face: spin.value() for face, spin in self.pieces.items() if spin.value()}

    # -- reacting ----------------------------------------------------------------------

    def _toggle_pieces(self, on: bool) -> None:
        self.grid_box.setVisible(on)
        self.total_label.setVisible(on)
        self.amount_edit.setReadOnly(on)
        self._recount()

    def _recount(self, _value: int = 0) -> None:
        for face, spin in self.pieces.items():
            self._subtotals[face].setText(money(Decimal(face) * spin.value()))
        if self.by_pieces.isChecked():
            total = self.pieces_total()
            self.total_label.setText(tr("Total: {total}").format(
                total=money(total, self.currency)))  # fmt: skip
            self.amount_edit.setText(format(total, "f"))  # the grid decides the amount
        self.changed.emit()

    def _typed(self, _text: str) -> None:
        problem = self.problem()
        amount = self.amount()
        if problem is None and amount is not None and not self.by_pieces.isChecked():
            self.hint.show_text(money(amount, self.currency), None)
        else:
            self.hint.show_text("")
        self.changed.emit()


class CountForm(QWidget):
    """A count in one or more currencies; more can be added (cash the teller finds)."""

    changed = Signal()

    def __init__(self, currencies: list[str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("countForm")
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self.counts: dict[str, CurrencyCount] = {}
        adder = QHBoxLayout()
        self.add_combo = named(QComboBox(), "addCurrencyCombo")
        self.add_button = named(QPushButton(tr("Add currency")), "addCurrencyButton")
        adder.addWidget(QLabel(tr("Other cash:")))
        adder.addWidget(self.add_combo, 1)
        adder.addWidget(self.add_button)
        self._layout.addLayout(adder)
        self.add_button.clicked.connect(lambda: self.add_currency(self.add_combo.currentData()))
        for currency in currencies or ["USD"]:
            self.add_currency(currency)

    def add_currency(self, currency: str | None) -> CurrencyCount | None:
        """Add a currency to count (no-op if it is there already)."""
        if not currency:
            return None
        if currency in self.counts:
            return self.counts[currency]
        count = CurrencyCount(currency)
        count.changed.connect(self.changed)
        self._layout.insertWidget(len(self.counts), count)
        self.counts[currency] = count
        self.add_combo.clear()
        for code in SUPPORTED_CURRENCIES:
            if code not in self.counts:
                self.add_combo.addItem(currency_label(code), code)
        self.changed.emit()
        return count

    def problem(self) -> str | None:
        """Return the first reason the count cannot be sent."""
        return next((p for c in self.counts.values() if (p := c.problem()) is not None), None)

    def counted(self) -> dict[str, Decimal]:
        """Return the amount counted per currency (only those that read as amounts)."""
        return {code: a for code, c in self.counts.items() if (a := c.amount()) is not None}

    def denominations(self) -> dict[str, dict[str, int]] | None:
        """Return the pieces of every currency counted by pieces, or None if none was."""
        found = {code: p for code, c in self.counts.items() if (p := c.denominations()) is not None}
        return found or None

    def set_enabled(self, enabled: bool) -> None:
        """Freeze the count while it is on its way."""
        for widget in (self.add_combo, self.add_button, *self.counts.values()):
            widget.setEnabled(enabled)
