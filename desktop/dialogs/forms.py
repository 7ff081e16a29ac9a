"""Small forms: register a customer, open an account. Network calls run off-thread."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
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

    def request(self) -> Any:
        """Send the form to the server (runs on a worker thread)."""
        return None

    def _submit(self) -> None:
        self.error.hide()
        self.buttons.setEnabled(False)
        run_task(self.request, on_done=self._done, on_error=self._failed)

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

    def request(self) -> UserPublic:
        return self.client.create_user(
            username=self.username.text().strip(),
            full_name=self.full_name.text().strip(),
            email=self.email.text().strip(),
            password=self.password.text(),
        )


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

    def request(self) -> Any:
        return self.client.open_account(
            self.owner_id,
            self.account_type.currentText(),
            self.currency.currentText(),
            self.nickname.text().strip() or None,
        )
