"""The selected account's head: who and what it is, its balance and limits, and (for staff
above teller) the buttons that freeze, unfreeze, limit and close it."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal, SignalInstance
from PySide6.QtWidgets import QGridLayout, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from desktop import text, theme
from desktop.text import tr
from desktop.widgets import named
from desktop.widgets.kyc_badge import KycBadge
from desktop.widgets.labels import plain_label
from shared.schemas.accounts import AccountPublic
from shared.schemas.common import AccountStatus


def account_facts(account: AccountPublic) -> str:
    """Return an account's kind, status and currency in words: "Checking · Active · USD — …"."""
    return " · ".join((
        text.account_type(account.account_type),
        text.account_status(account.status),
        text.currency_label(account.currency),
    ))  # fmt: skip


def available_text(account: AccountPublic) -> str:
    """Return what an account can pay out now, and what is held: "available 350.00 USD · …"."""
    available = tr("available {amount}").format(
        amount=text.money(account.available, account.currency)
    )
    if account.held > 0:
        return (
            available
            + " · "
            + tr("held {amount}").format(amount=text.money(account.held, account.currency))
        )
    return available


class AccountPanel(QWidget):
    """Show one account (or a sentence when none is chosen) with its administration buttons."""

    freeze_requested = Signal(object)  # the AccountPublic to freeze
    unfreeze_requested = Signal(object)
    limits_requested = Signal(object)
    close_requested = Signal(object)

    def __init__(self, administers: bool, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("accountPanel")
        self.account: AccountPublic | None = None
        self.title = plain_label("accountTitle", tr("Choose an account"))
        theme.emphasize(self.title, 1.15)
        self.facts = plain_label("accountFacts")
        self.balance = plain_label("accountBalance")
        theme.emphasize(self.balance, 1.6)
        self.balance.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        # What can be paid out now, beside the balance: holds set money aside.
        self.available = plain_label("accountAvailable")
        self.available.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.kyc_badge = KycBadge("accountKycBadge")
        self.overdraft = plain_label("overdraftValue")
        self.daily = plain_label("dailyLimitValue")
        self.opened = plain_label("openedValue")
        grid = QGridLayout()
        grid.setContentsMargins(0, 0, 0, 0)
        for column, (label, value) in enumerate((
            (tr("Overdraft limit"), self.overdraft), (tr("Daily withdrawal limit"), self.daily),
            (tr("Opened"), self.opened),
        )):  # fmt: skip
            name = QLabel(label)
            name.setEnabled(False)  # the palette's quiet text colour
            grid.addWidget(name, 0, column)
            grid.addWidget(value, 1, column)
        self.freeze_button = named(QPushButton(tr("Freeze")), "freezeButton")
        self.limits_button = named(QPushButton(tr("Limits…")), "limitsButton")
        self.close_button = named(QPushButton(tr("Close account…")), "closeAccountButton")
        self.freeze_button.clicked.connect(self._freeze_clicked)
        self.limits_button.clicked.connect(lambda: self._emit(self.limits_requested))
        self.close_button.clicked.connect(lambda: self._emit(self.close_requested))
        self._buttons = (self.freeze_button, self.limits_button, self.close_button)
        head = QHBoxLayout()
        names = QVBoxLayout()
        title_row = QHBoxLayout()
        title_row.addWidget(self.title)
        title_row.addWidget(self.kyc_badge)
        title_row.addStretch(1)
        names.addLayout(title_row)
        names.addWidget(self.facts)
        head.addLayout(names, 1)
        money_column = QVBoxLayout()
        money_column.addWidget(self.balance)
        money_column.addWidget(self.available)
        head.addLayout(money_column)
        row = QHBoxLayout()
        row.addLayout(grid, 1)
        for button in self._buttons:
            button.setVisible(administers)
            row.addWidget(button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(head)
        layout.addLayout(row)
        self.show_account(None)

    def show_account(self, account: AccountPublic | None) -> None:
        """Show an account, or say that none is chosen."""
        self.account = account
        for value in (self.facts, self.overdraft, self.daily, self.opened, self.balance,
                      self.available):  # fmt: skip
            value.setText("")
        if account is None or self.kyc_badge.owner_id != account.owner_id:
            self.show_kyc(None, None)
        if account is None:
            self.title.setText(tr("Choose an account"))
            for button in self._buttons:
                button.setEnabled(False)
            return
        nickname = f" · {account.nickname}" if account.nickname else ""
        self.title.setText(f"{account.number} · {account.owner_name}{nickname}")
        self.facts.setText(account_facts(account))
        self.balance.setText(text.money(account.balance, account.currency))
        self.available.setText(available_text(account))
        self.available.setStyleSheet(theme.text_style(
            theme.Tone.ERROR if account.available < 0 else
            theme.Tone.WARNING if account.held > 0 else theme.Tone.MUTED))  # fmt: skip
        self.overdraft.setText(text.money(account.overdraft_limit, account.currency))
        self.daily.setText(
            text.money_or(account.daily_withdrawal_limit, account.currency, tr("none"))
        )
        self.opened.setText(text.date_text(account.created_at))
        closed = account.status is AccountStatus.CLOSED
        frozen = account.status is AccountStatus.FROZEN
        self.freeze_button.setText(tr("Unfreeze") if frozen else tr("Freeze"))
        for button in self._buttons:
            button.setEnabled(not closed)

    def show_kyc(self, owner_id: int | None, status: object) -> None:
        """Show the account owner's KYC status beside the title (None: no badge)."""
        self.kyc_badge.owner_id = owner_id
        self.kyc_badge.set_status(status)

    def _freeze_clicked(self) -> None:
        if self.account is not None and self.account.status is AccountStatus.FROZEN:
            self._emit(self.unfreeze_requested)
        else:
            self._emit(self.freeze_requested)

    def _emit(self, signal: SignalInstance) -> None:
        if self.account is not None:
            signal.emit(self.account)
