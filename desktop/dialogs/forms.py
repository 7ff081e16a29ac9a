"""Small forms: open an account (then offer its first deposit), edit a customer.

Network calls run off the GUI thread; refusals are worded by `desktop.messages`.
"""

from __future__ import annotations

from typing import Any

import shiboken6
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desktop import messages, text
from desktop.api.client import BankClient
from desktop.dialogs.user_form import name_problem
from desktop.text import tr
from desktop.theme import Tone
from desktop.widgets import named
from desktop.widgets.labels import ToneLabel
from desktop.workers import run_task
from shared.money import SUPPORTED_CURRENCIES
from shared.schemas.accounts import AccountPublic
from shared.schemas.common import AccountType
from shared.schemas.users import UserPublic


class _FormDialog(QDialog):
    """A form with an error line and Ok/Cancel; the Ok press runs `_send` off the GUI thread."""

    completed = Signal(object)

    def __init__(self, title: str, name: str, client: BankClient, parent: QWidget | None) -> None:
        super().__init__(parent)
        self.setObjectName(name)
        self.setWindowTitle(title)
        self.setMinimumWidth(420)
        self.client = client
        self.form = QFormLayout()
        self.form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        self.hint = ToneLabel("dialogHint")
        self.error = ToneLabel("dialogError", panel=True)
        self.error.show_text("", Tone.ERROR)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.cancel_button = self.buttons.button(QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self._submit)
        self.buttons.rejected.connect(self.reject)
        self._busy = False
        layout = QVBoxLayout(self)
        layout.addLayout(self.form)
        layout.addWidget(self.hint)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)

    def _send(self) -> tuple[Any, tuple[Any, ...], dict[str, Any]] | None:
        """Read the form (GUI thread): the call, its arguments; None if there is nothing."""
        return None

    def _submit(self) -> None:
        request = self._send()
        if request is None or self._busy:
            return
        fn, args, kwargs = request
        self._set_busy(True)
        self.error.show_text("")
        run_task(fn, *args, on_done=self._done, on_error=self._failed, **kwargs)

    def _set_busy(self, busy: bool) -> None:
        self._busy = busy
        self.ok_button.setEnabled(not busy)
        self.cancel_button.setEnabled(not busy)
        for widget in self.findChildren(QLineEdit) + self.findChildren(QComboBox) + \
                self.findChildren(QCheckBox):  # fmt: skip
            widget.setEnabled(not busy)

    def reject(self) -> None:
        """Ignore Cancel and Escape while a request is out: its answer must arrive here."""
        if not self._busy:
            super().reject()

    def _done(self, result: object) -> None:
        if not shiboken6.isValid(self):
            return
        self._set_busy(False)
        self.completed.emit(result)
        self.accept()

    def _failed(self, error: BaseException) -> None:
        if not shiboken6.isValid(self):
            return
        self._set_busy(False)
        situation = messages.Situation(nothing_happened=tr("Nothing was changed."))
        self.error.show_text(messages.explain(error, situation).text, Tone.ERROR)


class AccountDialog(_FormDialog):
    """Open an account for a customer; then offer to take its first deposit."""

    deposit_requested = Signal(object)  # the AccountPublic just opened

    def __init__(self, client: BankClient, owner_id: int, owner_name: str,
                 parent: QWidget | None = None) -> None:  # fmt: skip
        super().__init__(tr("Open account"), "accountDialog", client, parent)
        self.owner_id = owner_id
        self.opened: AccountPublic | None = None
        self.form.addRow(tr("Customer"), named(QLabel(owner_name), "ownerLabel"))
        self.account_type = named(QComboBox(), "accountTypeCombo")
        for kind in AccountType:
            self.account_type.addItem(text.account_type(kind), kind.value)
        self.currency = named(QComboBox(), "currencyCombo")
        for code in SUPPORTED_CURRENCIES:
            self.currency.addItem(text.currency_label(code), code)
        self.nickname = named(QLineEdit(), "nicknameEdit")
        self.nickname.setMaxLength(50)
        self.nickname.setPlaceholderText(tr("Optional, e.g. Rainy day"))
        self.form.addRow(tr("&Type"), self.account_type)
        self.form.addRow(tr("&Currency"), self.currency)
        self.form.addRow(tr("&Nickname"), self.nickname)
        self.deposit_button = named(QPushButton(tr("Take the first deposit…")),
                                    "firstDepositButton")  # fmt: skip
        self.deposit_button.clicked.connect(self._deposit)
        self.deposit_button.hide()
        self.buttons.addButton(self.deposit_button, QDialogButtonBox.ButtonRole.ActionRole)
        self.ok_button.setDefault(True)
        self.account_type.setFocus()

    def choose_type(self, kind: AccountType) -> None:
        """Choose the account type."""
        self.account_type.setCurrentIndex(self.account_type.findData(kind.value))

    def _send(self) -> tuple[Any, tuple[Any, ...], dict[str, Any]] | None:
        nickname = self.nickname.text().strip()
        if nickname and not nickname.isprintable():
            self.hint.show_text(tr("The nickname may hold printable characters only."),
                                Tone.WARNING)  # fmt: skip
            return None
        args = (self.owner_id, self.account_type.currentData(), self.currency.currentData(),
                nickname or None)  # fmt: skip
        return self.client.open_account, args, {}

    def _done(self, result: object) -> None:
        if not shiboken6.isValid(self):
            return
        if not isinstance(result, AccountPublic):
            super()._done(result)
            return
        self._set_busy(False)
        self.opened = result
        self.completed.emit(result)
        for widget in (self.account_type, self.currency, self.nickname):
            widget.setEnabled(False)
        offer = tr("Opened {number} ({kind}, {currency}). Take its first deposit now?").format(
            number=result.number, kind=text.account_type(result.account_type),
            currency=result.currency,
        )  # fmt: skip
        self.hint.show_text(offer, Tone.OK)
        self.ok_button.hide()
        self.cancel_button.setText(tr("Close"))
        self.deposit_button.show()
        self.deposit_button.setDefault(True)
        self.deposit_button.setFocus()

    def _deposit(self) -> None:
        if self.opened is not None:
            self.deposit_requested.emit(self.opened)
        self.accept()


class EditCustomerDialog(_FormDialog):
    """Change a customer's full name, email or whether they may sign in.

    Only the fields that differ from `user` are sent (a teller may set exactly these three);
    Ok stays disabled until something changed and the form is one the API accepts.
    """

    def __init__(self, client: BankClient, user: UserPublic, parent: QWidget | None = None) -> None:
        super().__init__(tr("Edit customer"), "editCustomerDialog", client, parent)
        self.user = user
        self.form.addRow(tr("Customer"), named(QLabel(user.username), "customerLabel"))
        self.full_name = named(QLineEdit(user.full_name), "fullNameEdit")
        self.full_name.setMaxLength(100)
        self.email = named(QLineEdit(user.email), "emailEdit")
        self.active = named(QCheckBox(tr("Active")), "activeCheck")
        self.active.setChecked(user.is_active)
        self.active.setToolTip(tr("An inactive customer cannot sign in"))
        self.active_hint = ToneLabel("activeHint")
        self.active_hint.show_text(
            tr("Deactivating ends the customer's sessions; they cannot sign in until "
               "reactivated."), Tone.WARNING,
        )  # fmt: skip
        self.active_hint.setVisible(False)
        self.form.addRow(tr("&Full name"), self.full_name)
        self.form.addRow(tr("&Email"), self.email)
        self.form.addRow("", self.active)
        self.form.addRow("", self.active_hint)
        self.full_name.textChanged.connect(self._update)
        self.email.textChanged.connect(self._update)
        self.active.toggled.connect(self._update)
        self._update()
        self.full_name.setFocus()

    def changes(self) -> dict[str, Any]:
        """Return the fields that differ from the customer as loaded."""
        fields: dict[str, Any] = {}
        full_name = self.full_name.text().strip()
        email = self.email.text().strip()
        if full_name != self.user.full_name:
            fields["full_name"] = full_name
        if email != self.user.email:
            fields["email"] = email
        if self.active.isChecked() != self.user.is_active:
            fields["is_active"] = self.active.isChecked()
        return fields

    def _update(self) -> None:
        self.active_hint.setVisible(self.user.is_active and not self.active.isChecked())
        problem = name_problem(self.full_name.text(), self.email.text())
        self.hint.show_text(problem or "", Tone.WARNING)
        self.ok_button.setEnabled(problem is None and bool(self.changes()) and not self._busy)

    def _send(self) -> tuple[Any, tuple[Any, ...], dict[str, Any]] | None:
        fields = self.changes()
        if not fields or name_problem(self.full_name.text(), self.email.text()):
            return None
        return self.client.update_user, (self.user.id,), fields

    def _set_busy(self, busy: bool) -> None:
        super()._set_busy(busy)
        if not busy:
            self._update()

    def _done(self, result: object) -> None:
        if shiboken6.isValid(self) and isinstance(result, UserPublic):
            self.user = result
        super()._done(result)
