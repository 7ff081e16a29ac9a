"""Account administration (admins, supervisors): freeze, unfreeze, change limits, close.

Every change is sent with the account's `version` as last read, so a change made meanwhile
by someone else is refused (409 `version_conflict`) instead of overwritten; the limits
dialog then shows the account as it is now. Refusals are shown in the words of
`desktop.messages`, and nothing changes.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import shiboken6
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractButton,
    QCheckBox,
    QDialogButtonBox,
    QLineEdit,
    QMessageBox,
    QWidget,
)

from desktop import messages, text
from desktop.api.client import ApiError, ApprovalRequired, BankClient
from desktop.dialogs.approval_panel import show_waiting
from desktop.dialogs.form import FormDialog, Request
from desktop.text import QT_TRANSLATE_NOOP, tr
from desktop.widgets import named
from desktop.widgets.account_panel import account_facts
from desktop.widgets.labels import plain_label
from desktop.workers import run_task
from shared.errors import ErrorCode
from shared.money import parse_money
from shared.schemas.accounts import AccountPublic


def changing() -> messages.Situation:
    """Describe a settings change for the words of its refusal."""
    return messages.Situation(nothing_happened=tr("Nothing was changed."))


def money_problem(value: str) -> str | None:
    """Return why a limit is not money the API takes (0.00 or more, two places), or None."""
    try:
        parse_money(value.strip())
    except ValueError:
        return tr("Type an amount such as 500.00 (digits, at most two decimals).")
    return None


class LimitsDialog(FormDialog):
    """Change an account's overdraft limit and daily withdrawal limit (or remove the latter)."""

    result_model = AccountPublic  # raising a limit may wait for approval (account.limits)

    def __init__(self, client: BankClient, account: AccountPublic,
                 parent: QWidget | None = None) -> None:  # fmt: skip
        super().__init__(tr("Account limits"), "limitsDialog", client, parent,
                         ok=QDialogButtonBox.StandardButton.Save)  # fmt: skip
        self.save_button = self.ok_button
        self.account = account
        self.heading = plain_label("limitsAccountLabel")
        self.overdraft = named(QLineEdit(), "overdraftEdit")
        self.daily = named(QLineEdit(), "dailyLimitEdit")
        self.no_daily = named(QCheckBox(tr("No daily limit")), "noDailyLimitCheck")
        for edit in (self.overdraft, self.daily):
            edit.setAlignment(Qt.AlignmentFlag.AlignRight)
            edit.setMaxLength(14)
            edit.textChanged.connect(self.update_state)
        self.no_daily.toggled.connect(self.update_state)
        self.form.addRow(tr("Account"), self.heading)
        self.form.addRow(tr("&Overdraft limit"), self.overdraft)
        self.form.addRow(tr("&Daily withdrawal limit"), self.daily)
        self.form.addRow("", self.no_daily)
        self._notice = ""  # what the form learnt from a refusal, shown while nothing is wrong
        self._load(account)
        self.built(self.overdraft)

    def _load(self, account: AccountPublic) -> None:
        """Fill the form from an account as the server has it."""
        self.account = account
        self.heading.setText(f"{account.number} · {account.owner_name} · {account.currency}")
        self.overdraft.setText(format(account.overdraft_limit, "f"))
        daily = account.daily_withdrawal_limit
        self.no_daily.setChecked(daily is None)
        self.daily.setText(format(daily, "f") if daily is not None else "")

    def changes(self) -> dict[str, Any]:
        """Return the limits that differ from the account as loaded (JSON-ready)."""
        fields: dict[str, Any] = {}
        if money_problem(self.overdraft.text()) is None:
            overdraft = parse_money(self.overdraft.text().strip())
            if overdraft != self.account.overdraft_limit:
                fields["overdraft_limit"] = format(overdraft, "f")
        daily: Decimal | None = None
        if not self.no_daily.isChecked():
            if money_problem(self.daily.text()) is not None:
                return fields
            daily = parse_money(self.daily.text().strip())
        if daily != self.account.daily_withdrawal_limit:
            fields["daily_withdrawal_limit"] = None if daily is None else format(daily, "f")
        return fields

    def has_changes(self) -> bool:
        """Tell whether a limit differs from the account as loaded."""
        return bool(self.changes())

    def problem(self) -> str | None:
        """Return why the form cannot be saved yet, or None."""
        overdraft = money_problem(self.overdraft.text())
        if overdraft:
            return tr("Overdraft limit: {reason}").format(reason=overdraft)
        daily = None if self.no_daily.isChecked() else money_problem(self.daily.text())
        if daily:
            return tr("Daily limit: {reason}").format(reason=daily)
        return None

    def notice(self) -> str:
        """Say what the account's limits are now, after a change made meanwhile."""
        return self._notice

    def update_state(self) -> None:
        """Enable the daily limit unless there is none, then check the form."""
        self.daily.setEnabled(not self.no_daily.isChecked() and not self.busy)
        super().update_state()

    def request(self) -> Request:
        return self.client.update_account, (self.account.id, self.account.version), self.changes()

    def refused(self, error: BaseException) -> None:
        """After a change made meanwhile, show the account as it is now; keep what was typed."""
        if isinstance(error, ApiError) and error.code == ErrorCode.VERSION_CONFLICT:
            wanted = (self.overdraft.text(), self.daily.text(), self.no_daily.isChecked())
            run_task(self.client.account, self.account.id,
                     on_done=lambda fresh: self._reloaded(fresh, wanted))  # fmt: skip

    def _reloaded(self, account: AccountPublic, wanted: tuple[str, str, bool]) -> None:
        if not shiboken6.isValid(self):
            return
        self._notice = tr("Now: overdraft limit {overdraft}, daily limit {daily}.").format(
            overdraft=text.money(account.overdraft_limit, account.currency),
            daily=text.money_or(account.daily_withdrawal_limit, account.currency, tr("none")),
        )  # fmt: skip
        self._load(account)
        self.overdraft.setText(wanted[0])
        self.daily.setText(wanted[1])
        self.no_daily.setChecked(wanted[2])
        self.update_state()


_N = "bank"
# Freezing (True) and unfreezing: the box's name, title, button, question, detail, and the
# status bar's words after.
_STATUS_WORDS = {
    True: ("freezeConfirm", QT_TRANSLATE_NOOP(_N, "Freeze account"), QT_TRANSLATE_NOOP(
        _N, "Freeze"), QT_TRANSLATE_NOOP(_N, "Freeze {number} ({holder})?"), QT_TRANSLATE_NOOP(
        _N, "No deposits, withdrawals or transfers until it is unfrozen."), QT_TRANSLATE_NOOP(
        _N, "Froze {number}")),
    False: ("unfreezeConfirm", QT_TRANSLATE_NOOP(_N, "Unfreeze account"), QT_TRANSLATE_NOOP(
        _N, "Unfreeze"), QT_TRANSLATE_NOOP(_N, "Unfreeze {number} ({holder})?"),
        QT_TRANSLATE_NOOP(_N, "Money can move on it again."), QT_TRANSLATE_NOOP(
        _N, "Unfroze {number}")),
}  # fmt: skip


class AccountAdmin(QObject):
    """Run account administration for a window: confirm, send, report in plain words."""

    changed = Signal(object)  # the AccountPublic after a change (None after closing)
    message = Signal(str)  # what happened, for the status bar
    failed = Signal(object)  # errors that are not refusals (network, session)

    def __init__(self, client: BankClient, window: QWidget) -> None:
        super().__init__(window)
        self._client = client
        self._window = window

    def freeze(self, account: AccountPublic) -> QMessageBox:
        """Ask, then freeze an account: no money moves on it until it is unfrozen."""
        return self._set_status(account, frozen=True)

    def unfreeze(self, account: AccountPublic) -> QMessageBox:
        """Ask, then make a frozen account active again."""
        return self._set_status(account, frozen=False)

    def _set_status(self, account: AccountPublic, *, frozen: bool) -> QMessageBox:
        name, title, verb, question, detail, done = (tr(words) for words in _STATUS_WORDS[frozen])
        fields = {"status": "frozen" if frozen else "active"}
        return self._confirm(
            name, title, question.format(number=account.number, holder=account.owner_name),
            detail, verb, lambda: self._update(account, fields, done),
        )  # fmt: skip

    def change_limits(self, account: AccountPublic) -> LimitsDialog:
        """Open the limits dialog for an account."""
        dialog = LimitsDialog(self._client, account, self._window)
        dialog.completed.connect(self._limits_saved)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        return dialog

    def close_account(self, account: AccountPublic) -> QMessageBox:
        """Ask, then close an account (final; its balance must be 0.00)."""
        return self._confirm(
            "closeAccountConfirm", tr("Close account"),
            tr("Close {number} ({holder})?").format(number=account.number,
                                                    holder=account.owner_name),
            tr("Closing is final: the account keeps its history, but no money moves on it "
               "again. The bank refuses while it holds money.") + "\n" + account_facts(account),
            tr("Close account"), lambda: self._close(account),
        )  # fmt: skip

    def _confirm(self, name: str, title: str, question: str, detail: str, verb: str,
                 go: Callable[[], None]) -> QMessageBox:  # fmt: skip
        box = named(QMessageBox(self._window), name)
        box.setIcon(QMessageBox.Icon.Question)
        box.setWindowTitle(title)
        box.setTextFormat(Qt.TextFormat.PlainText)  # the question names the holder
        box.setText(question)
        box.setInformativeText(detail)
        yes = named(box.addButton(verb, QMessageBox.ButtonRole.AcceptRole), "confirmButton")
        box.setDefaultButton(box.addButton(QMessageBox.StandardButton.Cancel))
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)

        def clicked(button: QAbstractButton) -> None:
            if button is yes:
                go()

        box.buttonClicked.connect(clicked)
        box.open()
        return box

    def _update(self, account: AccountPublic, fields: dict[str, Any], done: str) -> None:
        run_task(
            self._client.update_account, account.id, account.version,
            on_done=lambda changed: self._changed(changed, done.format(number=account.number)),
            on_error=lambda error: self._refused(account, error), **fields,
        )  # fmt: skip

    def _close(self, account: AccountPublic) -> None:
        run_task(
            self._client.close_account, account.id,
            on_done=lambda _r: self._changed(None, tr("Closed {number}").format(
                number=account.number)),
            on_error=lambda error: self._refused(account, error),
        )  # fmt: skip

    def _limits_saved(self, account: AccountPublic) -> None:
        self._changed(account, tr("Saved the limits of {number}").format(number=account.number))

    def _changed(self, account: AccountPublic | None, words: str) -> None:
        if shiboken6.isValid(self):
            self.message.emit(words)
            self.changed.emit(account)

    def _refused(self, account: AccountPublic, error: BaseException) -> None:
        if not shiboken6.isValid(self):
            return
        if isinstance(error, ApprovalRequired):
            # Unfreezing waits for a second person (account.unfreeze): say so, not "failed".
            title = tr("Account {number}").format(number=account.number)
            waiting = show_waiting(self._client, error, title, self._window, changing())
            if waiting is not None:
                waiting.decided.connect(lambda _approval: self.changed.emit(account))
                self.message.emit(tr("Waiting for approval: {number}").format(
                    number=account.number))  # fmt: skip
                return
        if not isinstance(error, ApiError):
            self.failed.emit(error)
            return
        box = named(QMessageBox(self._window), "accountRefusedMessage")
        box.setIcon(QMessageBox.Icon.Information)
        box.setWindowTitle(tr("Account {number}").format(number=account.number))
        box.setTextFormat(Qt.TextFormat.PlainText)
        box.setText(messages.explain(error, changing()).text)
        box.setStandardButtons(QMessageBox.StandardButton.Ok)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()
        self.message.emit(tr("Not changed: {number}").format(number=account.number))
        self.changed.emit(account)  # show it as it is now
