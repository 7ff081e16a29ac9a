"""The widgets every movement dialog is made of, built alike for deposits and transfers."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QWidget,
)

from desktop import theme
from desktop.text import account_type, tr
from desktop.widgets.labels import plain_label
from shared.schemas.accounts import AccountPublic

DESCRIPTION_MAX = 140
RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter


def account_line(account: AccountPublic) -> str:
    """Return an account as one line: number, holder and type."""
    return f"{account.number} · {account.owner_name} · {account_type(account.account_type)}"


def buddy(text: str, widget: QWidget) -> QLabel:
    """Return a form label whose mnemonic focuses `widget`."""
    label = QLabel(text)
    label.setBuddy(widget)
    return label


def amount_field() -> QLineEdit:
    """Return the amount field: large, right-aligned money."""
    edit = QLineEdit()
    edit.setObjectName("amountEdit")
    edit.setAlignment(RIGHT)
    edit.setPlaceholderText("0.00")
    edit.setMaxLength(32)
    edit.setAccessibleName(tr("Amount"))
    theme.emphasize(edit, 1.25, bold=False)
    return edit


def description_field() -> QLineEdit:
    """Return the description field (what statements show)."""
    edit = QLineEdit()
    edit.setObjectName("descriptionEdit")
    edit.setMaxLength(DESCRIPTION_MAX)
    edit.setPlaceholderText(tr("Optional; shown on statements"))
    edit.setAccessibleName(tr("Description"))
    return edit


def confirmation_label() -> QLabel:
    """Return the framed question asked before money moves."""
    label = plain_label("confirmLabel")
    label.setWordWrap(True)
    theme.emphasize(label)
    label.setStyleSheet(theme.frame_style())
    return label


def busy_row(noun: str) -> tuple[QHBoxLayout, QLabel, QProgressBar]:
    """Return the row shown while the request is on its way: words and a moving bar."""
    bar = QProgressBar()
    bar.setObjectName("busyBar")
    bar.setRange(0, 0)  # indeterminate
    bar.setTextVisible(False)
    bar.setMaximumHeight(8)
    label = plain_label("busyLabel", tr("Sending the {noun}…").format(noun=noun))
    row = QHBoxLayout()
    row.addWidget(label)
    row.addWidget(bar, 1)
    return row, label, bar


def movement_buttons() -> tuple[
    QDialogButtonBox, QPushButton, QPushButton, QPushButton, QPushButton
]:  # fmt: skip
    """Return the buttons: Ok (Review/Confirm/Retry), Cancel, Save receipt…, Close."""
    box = QDialogButtonBox()
    ok = box.addButton(QDialogButtonBox.StandardButton.Ok)
    cancel = box.addButton(QDialogButtonBox.StandardButton.Cancel)
    receipt = box.addButton(tr("Save receipt…"), QDialogButtonBox.ButtonRole.ActionRole)
    receipt.setObjectName("receiptButton")
    close = box.addButton(QDialogButtonBox.StandardButton.Close)
    ok.setDefault(True)
    return box, ok, cancel, receipt, close
