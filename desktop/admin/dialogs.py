"""Create and edit users as an admin: role, access, password reset and unlock.

Ok stays disabled, with the reason shown, until the form is one the API accepts (username
and password rules of API.md). The edit dialog sends only the fields that changed; users
carry no `version` in the API, so there is nothing to send for concurrency.
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
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desktop.admin.models import ClientSource, as_source
from desktop.api.client import ApiError, BankClient, NetworkError, SessionExpired
from desktop.widgets import named
from desktop.workers import run_task
from shared.schemas.common import Role
from shared.schemas.users import USERNAME_RE, UserPublic

PASSWORD_MIN, PASSWORD_MAX = 8, 128
ROLES: tuple[Role, ...] = (Role.USER, Role.TELLER, Role.SUPERVISOR, Role.ADMIN)
ROLE_LABELS = {Role.USER: "Customer (user)", Role.TELLER: "Teller",
               Role.SUPERVISOR: "Supervisor", Role.ADMIN: "Administrator"}  # fmt: skip


def password_problem(password: str, confirm: str, username: str) -> str | None:
    """Return why a new password would be refused (API.md's rule), or None when it is fine."""
    if not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        return f"The password needs {PASSWORD_MIN}-{PASSWORD_MAX} characters."
    if username and password.lower() == username.lower():
        return "The password must not be the username."
    if password != confirm:
        return "The two passwords differ."
    return None


def error_text(error: BaseException) -> str:
    """Return a sentence for a failed request."""
    if isinstance(error, ApiError):
        return error.message
    if isinstance(error, NetworkError | SessionExpired):
        return f"{error}. Nothing was changed; try again."
    return str(error)


class _UserForm(QDialog):
    """Fields shared by the create and edit dialogs, a hint line, an error line, Ok/Cancel."""

    completed = Signal(object)
    session_expired = Signal()

    def __init__(self, title: str, name: str, client: BankClient | ClientSource,
                 parent: QWidget | None) -> None:  # fmt: skip
        super().__init__(parent)
        self.setObjectName(name)
        self.setWindowTitle(title)
        self.setMinimumWidth(460)
        self._client = as_source(client)
        self.form = QFormLayout()
        self.form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        self.full_name = named(QLineEdit(), "fullNameEdit")
        self.full_name.setMaxLength(100)
        self.email = named(QLineEdit(), "emailEdit")
        self.role = named(QComboBox(), "roleCombo")
        for role in ROLES:
            self.role.addItem(ROLE_LABELS[role], role.value)
        self.password = named(QLineEdit(), "passwordEdit")
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.password.setMaxLength(PASSWORD_MAX)
        self.confirm = named(QLineEdit(), "confirmPasswordEdit")
        self.confirm.setEchoMode(QLineEdit.EchoMode.Password)
        self.confirm.setMaxLength(PASSWORD_MAX)
        self.hint = named(QLabel(), "dialogHint")
        self.hint.setWordWrap(True)
        self.hint.setStyleSheet("color: #8a5a00;")
        self.error = named(QLabel(), "dialogError")
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #b00020;")
        self.error.hide()
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.buttons.accepted.connect(self.submit)
        self.buttons.rejected.connect(self.reject)
        self._busy = False
        self._built = False  # subclasses call _update() once their fields exist
        layout = QVBoxLayout(self)
        layout.addLayout(self.form)
        layout.addWidget(self.hint)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)
        for edit in (self.full_name, self.email, self.password, self.confirm):
            edit.textChanged.connect(self._update)
        self.role.currentIndexChanged.connect(self._update)

    @property
    def client(self) -> BankClient:
        """Return the client requests go through now."""
        return self._client()

    def selected_role(self) -> Role:
        """Return the role chosen in the combo box."""
        return Role(self.role.currentData())

    def set_role(self, role: Role) -> None:
        """Choose a role in the combo box."""
        self.role.setCurrentIndex(ROLES.index(role))

    def problem(self) -> str | None:
        """Return why the form cannot be sent yet, or None."""
        return None

    def has_changes(self) -> bool:
        """Tell whether there is anything to send."""
        return True

    def _update(self) -> None:
        if not self._built:
            return
        problem = self.problem()
        self.hint.setText(problem or self._notice())
        self.hint.setVisible(bool(self.hint.text()))
        self.ok_button.setEnabled(problem is None and self.has_changes() and not self._busy)

    def _built_now(self) -> None:
        self._built = True
        self._update()

    def _notice(self) -> str:
        return ""

    def _request(self) -> tuple[Any, tuple[Any, ...], dict[str, Any]]:
        raise NotImplementedError

    def submit(self) -> None:
        """Send the form (off the GUI thread), if it is ready."""
        if self._busy or self.problem() is not None or not self.has_changes():
            return
        fn, args, kwargs = self._request()  # read on the GUI thread
        self._set_busy(True)
        self.error.hide()
        run_task(fn, *args, on_done=self._done, on_error=self._failed, **kwargs)

    def _set_busy(self, busy: bool) -> None:
        self._busy = busy
        self.buttons.button(QDialogButtonBox.StandardButton.Cancel).setEnabled(not busy)
        for widget in self.findChildren(QLineEdit) + self.findChildren(QComboBox) + \
                self.findChildren(QCheckBox):  # fmt: skip
            widget.setEnabled(not busy)
        self._update()

    def reject(self) -> None:
        """Cancel, except while a request is out: its answer is shown here first."""
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
        self.error.setText(error_text(error))
        self.error.show()
        if isinstance(error, SessionExpired):
            self.session_expired.emit()


class NewUserDialog(_UserForm):
    """Register a user with any role (admin)."""

    def __init__(self, client: BankClient | ClientSource, parent: QWidget | None = None) -> None:
        super().__init__("New user", "newUserDialog", client, parent)
        self.username = named(QLineEdit(), "usernameEdit")
        self.username.setMaxLength(32)
        self.username.setPlaceholderText("3-32 of a-z 0-9 _ . -")
        self.username.textChanged.connect(self._update)
        self.form.addRow("Username", self.username)
        self.form.addRow("Full name", self.full_name)
        self.form.addRow("Email", self.email)
        self.form.addRow("Role", self.role)
        self.form.addRow("Password", self.password)
        self.form.addRow("Repeat password", self.confirm)
        self._built_now()

    def problem(self) -> str | None:
        """Return why the new user cannot be sent yet, or None."""
        username = self.username.text().strip().lower()
        if not USERNAME_RE.fullmatch(username):
            return "The username needs 3-32 characters of a-z, 0-9, '_', '.' or '-'."
        if not self.full_name.text().strip():
            return "Enter the full name."
        if "@" not in self.email.text():
            return "Enter an email address."
        return password_problem(self.password.text(), self.confirm.text(), username)

    def _request(self) -> tuple[Any, tuple[Any, ...], dict[str, Any]]:
        fields = {
            "username": self.username.text().strip().lower(),
            "full_name": self.full_name.text().strip(),
            "email": self.email.text().strip(),
            "role": self.selected_role().value,
            "password": self.password.text(),
        }
        return self.client.create_user, (), fields


class EditUserDialog(_UserForm):
    """Change a user's name, email, role or access, reset the password, or unlock sign-in.

    Only the fields that differ from the user as loaded are sent.
    """

    unlocked = Signal(int)

    def __init__(self, client: BankClient | ClientSource, user: UserPublic,
                 parent: QWidget | None = None) -> None:  # fmt: skip
        super().__init__("Edit user", "editUserDialog", client, parent)
        self.user = user
        self.form.addRow("User", named(QLabel(f"{user.username} (#{user.id})"), "userLabel"))
        self.full_name.setText(user.full_name)
        self.email.setText(user.email)
        self.set_role(user.role)
        self.active = named(QCheckBox("Active (may sign in)"), "activeCheck")
        self.active.setChecked(user.is_active)
        self.active.toggled.connect(self._update)
        self.password.setPlaceholderText("leave empty to keep the password")
        self.unlock_button = named(QPushButton("Unlock sign-in"), "unlockButton")
        self.unlock_button.setToolTip("Clear a lockout after too many wrong passwords")
        self.unlock_button.clicked.connect(self.unlock)
        self.unlock_status = named(QLabel(), "unlockStatus")
        unlock_row = QHBoxLayout()
        unlock_row.addWidget(self.unlock_button)
        unlock_row.addWidget(self.unlock_status, 1)
        self.form.addRow("Full name", self.full_name)
        self.form.addRow("Email", self.email)
        self.form.addRow("Role", self.role)
        self.form.addRow("", self.active)
        self.form.addRow("New password", self.password)
        self.form.addRow("Repeat password", self.confirm)
        self.form.addRow("Sign-in", unlock_row)
        self._built_now()

    def changes(self) -> dict[str, Any]:
        """Return the fields that differ from the user as loaded (a new password included)."""
        fields: dict[str, Any] = {}
        full_name, email = self.full_name.text().strip(), self.email.text().strip()
        if full_name != self.user.full_name:
            fields["full_name"] = full_name
        if email != self.user.email:
            fields["email"] = email
        if self.selected_role() is not self.user.role:
            fields["role"] = self.selected_role().value
        if self.active.isChecked() != self.user.is_active:
            fields["is_active"] = self.active.isChecked()
        if self.password.text() or self.confirm.text():
            fields["password"] = self.password.text()
        return fields

    def has_changes(self) -> bool:
        """Tell whether any field differs from the user as loaded."""
        return bool(self.changes())

    def problem(self) -> str | None:
        """Return why the change cannot be sent yet, or None."""
        if not self.full_name.text().strip():
            return "Enter the full name."
        if "@" not in self.email.text():
            return "Enter an email address."
        if self.password.text() or self.confirm.text():
            problem = password_problem(self.password.text(), self.confirm.text(),
                                       self.user.username)  # fmt: skip
            if problem:
                return problem
        return None

    def _notice(self) -> str:
        changes = self.changes()
        if {"role", "password"} & changes.keys() or changes.get("is_active") is False:
            return "Saving ends the user's sessions: they sign in again (or cannot, if inactive)."
        return ""

    def _request(self) -> tuple[Any, tuple[Any, ...], dict[str, Any]]:
        return self.client.update_user, (self.user.id,), self.changes()

    def _done(self, result: object) -> None:
        if shiboken6.isValid(self) and isinstance(result, UserPublic):
            self.user = result
        super()._done(result)

    def unlock(self) -> None:
        """Clear the user's login lockout now (POST /users/{id}/unlock)."""
        self.unlock_button.setEnabled(False)
        self.unlock_status.setText("Unlocking…")

        def done(_result: object) -> None:
            if shiboken6.isValid(self):
                self.unlock_button.setEnabled(True)
                self.unlock_status.setText("Unlocked: the user may sign in again.")
                self.unlocked.emit(self.user.id)

        def failed(error: BaseException) -> None:
            if shiboken6.isValid(self):
                self.unlock_button.setEnabled(True)
                self.unlock_status.setText(error_text(error))
                if isinstance(error, SessionExpired):
                    self.session_expired.emit()

        run_task(self.client.unlock_user, self.user.id, on_done=done, on_error=failed)
