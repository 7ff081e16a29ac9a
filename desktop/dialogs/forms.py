"""Small forms: register or edit a customer, open an account. Network calls run off-thread."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
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
    QVBoxLayout,
    QWidget,
)

from desktop.api.client import ApiError, BankClient
from desktop.widgets import named
from desktop.workers import run_task
from shared.money import SUPPORTED_CURRENCIES
from shared.schemas.users import UserPublic


class _FormDialog(QDialog):
    """A form with an error line and OK/Cancel; subclasses supply the fields and the call."""

    completed = Signal(object)

    def __init__(self, title: str, name: str, parent: QWidget | None) -> None:
        super().__init__(parent)
        self.setObjectName(name)
        self.setWindowTitle(title)
        self.setMinimumWidth(420)
        self.form = QFormLayout()
        self.form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        self.error = named(QLabel(), "dialogError")
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #b00020;")
        self.error.hide()
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.accepted.connect(self._submit)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(self.form)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)

    def request(self) -> Callable[[], Any]:
        """Read the form (on the GUI thread) and return the call that sends it (off it)."""
        return lambda: None

    def _submit(self) -> None:
        self.error.hide()
        self.buttons.setEnabled(False)
        run_task(self.request(), on_done=self._done, on_error=self._failed)

    def reject(self) -> None:
        """Ignore Cancel and Escape while a request is out: its answer must arrive here."""
        if self.buttons.isEnabled():
            super().reject()

    def _done(self, result: object) -> None:
        self.buttons.setEnabled(True)
        self.completed.emit(result)
        self.accept()

    def _failed(self, error: BaseException) -> None:
        self.buttons.setEnabled(True)
        text = error.message if isinstance(error, ApiError) else str(error)
        self.error.setText(text)
        self.error.show()


class CustomerDialog(_FormDialog):
    """Register a new customer (role user)."""

    def __init__(self, client: BankClient, parent: QWidget | None = None) -> None:
        super().__init__("New customer", "customerDialog", parent)
        self.client = client
        self.username = named(QLineEdit(), "usernameEdit")
        self.full_name = named(QLineEdit(), "fullNameEdit")
        self.email = named(QLineEdit(), "emailEdit")
        self.password = named(QLineEdit(), "passwordEdit")
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.form.addRow("Username", self.username)
        self.form.addRow("Full name", self.full_name)
        self.form.addRow("Email", self.email)
        self.form.addRow("Initial password", self.password)

    def request(self) -> Callable[[], UserPublic]:
        fields = {
            "username": self.username.text().strip(),
            "full_name": self.full_name.text().strip(),
            "email": self.email.text().strip(),
            "password": self.password.text(),
        }
        return partial(self.client.create_user, **fields)


class AccountDialog(_FormDialog):
    """Open an account for a customer."""

    def __init__(
        self, client: BankClient, owner_id: int, owner_name: str, parent: QWidget | None = None
    ) -> None:
        super().__init__("Open account", "accountDialog", parent)
        self.client = client
        self.owner_id = owner_id
        self.form.addRow("Customer", QLabel(f"{owner_name} (#{owner_id})"))
        self.account_type = named(QComboBox(), "accountTypeCombo")
        self.account_type.addItems(["checking", "savings"])
        self.currency = named(QComboBox(), "currencyCombo")
        self.currency.addItems(list(SUPPORTED_CURRENCIES))
        self.nickname = named(QLineEdit(), "nicknameEdit")
        self.nickname.setMaxLength(50)
        self.form.addRow("Type", self.account_type)
        self.form.addRow("Currency", self.currency)
        self.form.addRow("Nickname", self.nickname)

    def request(self) -> Callable[[], Any]:
        return partial(
            self.client.open_account,
            self.owner_id,
            self.account_type.currentText(),
            self.currency.currentText(),
            self.nickname.text().strip() or None,
        )


class EditCustomerDialog(_FormDialog):
    """Change a customer's full name, email or whether they may sign in.

    Only the fields that differ from `user` are sent (a teller may set exactly these three);
    Ok stays disabled until something changed and the full name is not empty.
    """

    def __init__(self, client: BankClient, user: UserPublic, parent: QWidget | None = None) -> None:
        super().__init__("Edit customer", "editCustomerDialog", parent)
        self.client = client
        self.user = user
        self.form.addRow(
            "Customer", named(QLabel(f"{user.username} (#{user.id})"), "customerLabel")
        )
        self.full_name = named(QLineEdit(user.full_name), "fullNameEdit")
        self.full_name.setMaxLength(100)
        self.email = named(QLineEdit(user.email), "emailEdit")
        self.active = named(QCheckBox("Active"), "activeCheck")
        self.active.setChecked(user.is_active)
        self.active.setToolTip("An inactive customer cannot sign in")
        self.active_hint = named(
            QLabel(
                "Deactivating ends the customer's sessions; they cannot sign in until reactivated."
            ),
            "activeHint",
        )
        self.active_hint.setWordWrap(True)
        self.active_hint.setStyleSheet("color: #8a5a00;")
        self.active_hint.setVisible(False)
        self.form.addRow("Full name", self.full_name)
        self.form.addRow("Email", self.email)
        self.form.addRow("", self.active)
        self.form.addRow("", self.active_hint)
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.full_name.textChanged.connect(self._update)
        self.email.textChanged.connect(self._update)
        self.active.toggled.connect(self._update)
        self._update()

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
        ready = bool(self.changes()) and bool(self.full_name.text().strip())
        self.ok_button.setEnabled(ready and self.buttons.isEnabled())

    def _submit(self) -> None:
        fields = self.changes()
        if not fields or not self.full_name.text().strip():
            return
        self.error.hide()
        self.buttons.setEnabled(False)
        self._editable(False)
        # The fields are read here, on the GUI thread; only the call runs on the worker.
        run_task(
            self.client.update_user, self.user.id, on_done=self._done, on_error=self._failed,
            **fields,
        )  # fmt: skip

    def _done(self, result: object) -> None:
        if not shiboken6.isValid(self):
            return
        if isinstance(result, UserPublic):
            self.user = result
        super()._done(result)

    def _failed(self, error: BaseException) -> None:
        if not shiboken6.isValid(self):
            return
        self._editable(True)
        super()._failed(error)
        self._update()

    def reject(self) -> None:
        """Cancel, except while the change is on its way (its outcome is shown first)."""
        if self.buttons.isEnabled():
            super().reject()

    def _editable(self, editable: bool) -> None:
        for widget in (self.full_name, self.email, self.active):
            widget.setEnabled(editable)
