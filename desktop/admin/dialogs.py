"""Edit a user as an admin: name, email, role, access, password reset and unlock.

The dialog sends only the fields that changed; users carry no `version` in the API, so
there is nothing to send for concurrency. New users are made with the shared user form
(desktop/dialogs/user_form.py).
"""

from __future__ import annotations

from typing import Any

import shiboken6
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLineEdit, QPushButton, QWidget

from desktop import messages
from desktop.api.client import BankClient, SessionExpired
from desktop.dialogs.form import Request
from desktop.dialogs.user_form import UserForm, name_problem, password_problem
from desktop.text import tr
from desktop.widgets import named
from desktop.widgets.labels import plain_label
from desktop.workers import run_task
from shared.schemas.common import Role
from shared.schemas.users import UserPublic


class EditUserDialog(UserForm):
    """Change a user's name, email, role or access, reset the password, or unlock sign-in.

    Only the fields that differ from the user as loaded are sent.
    """

    unlocked = Signal(int)

    def __init__(self, client: BankClient, user: UserPublic,
                 parent: QWidget | None = None) -> None:  # fmt: skip
        super().__init__(tr("Edit user"), "editUserDialog", client, parent)
        self.user = user
        self.form.addRow(tr("User"), plain_label("userLabel", f"{user.username} (#{user.id})"))
        self.full_name.setText(user.full_name)
        self.email.setText(user.email)
        self.set_role(user.role)
        self.active = named(QCheckBox(tr("Active (may sign in)")), "activeCheck")
        self.active.setChecked(user.is_active)
        self.active.toggled.connect(self.update_state)
        self.password.setPlaceholderText(tr("leave empty to keep the password"))
        self.unlock_button = named(QPushButton(tr("Unlock sign-in")), "unlockButton")
        self.unlock_button.setToolTip(tr("Clear a lockout after too many wrong passwords"))
        self.unlock_button.clicked.connect(self.unlock)
        self.unlock_status = plain_label("unlockStatus")
        unlock_row = QHBoxLayout()
        unlock_row.addWidget(self.unlock_button)
        unlock_row.addWidget(self.unlock_status, 1)
        self.form.addRow(tr("&Full name"), self.full_name)
        self.form.addRow(tr("&Email"), self.email)
        self.form.addRow(tr("&Role"), self.role)
        self.form.addRow("", self.active)
        self.form.addRow(tr("New &password"), self.password)
        self.form.addRow(tr("Repeat pass&word"), self.confirm)
        self.form.addRow(tr("Sign-in"), unlock_row)
        # Your own role or password: the server asks for your current password (API.md).
        me = client.user
        self.is_self = me is not None and me.id == user.id
        self.current = named(QLineEdit(), "currentPasswordEdit")
        self.current.setEchoMode(QLineEdit.EchoMode.Password)
        self.current.textChanged.connect(self.update_state)
        if self.is_self:
            self.form.addRow(tr("Your &current password"), self.current)
        self.built(self.full_name)

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
        if self.needs_current(fields) and self.current.text():
            fields["current_password"] = self.current.text()
        return fields

    def needs_current(self, fields: dict[str, Any]) -> bool:
        """Tell whether the change is to your own role or password (confirmed by your own)."""
        return self.is_self and bool({"role", "password"} & fields.keys())

    def has_changes(self) -> bool:
        """Tell whether any field differs from the user as loaded."""
        return bool(self.changes())

    def problem(self) -> str | None:
        """Return why the change cannot be sent yet, or None."""
        names = name_problem(self.full_name.text(), self.email.text())
        if names is not None:
            return names
        if self.password.text() or self.confirm.text():
            problem = password_problem(self.password.text(), self.confirm.text(),
                                       self.user.username,
                                       staff=self.selected_role() is not Role.USER)  # fmt: skip
            if problem:
                return problem
        if self.needs_current(self.changes()) and not self.current.text():
            return tr("Enter your current password to change your own role or password.")
        return None

    def notice(self) -> str:
        """Warn that saving some changes ends the user's sessions."""
        changes = self.changes()
        if {"role", "password"} & changes.keys() or changes.get("is_active") is False:
            return tr(
                "Saving ends the user's sessions: they sign in again (or cannot, if inactive)."
            )
        return ""

    def request(self) -> Request:
        return self.client.update_user, (self.user.id,), self.changes()

    def finish(self, result: object) -> None:
        if isinstance(result, UserPublic):
            self.user = result
        self.accept()

    def unlock(self) -> None:
        """Clear the user's login lockout now (POST /users/{id}/unlock)."""
        self.unlock_button.setEnabled(False)
        self.unlock_status.setText(tr("Unlocking…"))

        def done(_result: object) -> None:
            if shiboken6.isValid(self):
                self.unlock_button.setEnabled(True)
                self.unlock_status.setText(tr("Unlocked: the user may sign in again."))
                self.unlocked.emit(self.user.id)

        def failed(error: BaseException) -> None:
            if shiboken6.isValid(self):
                self.unlock_button.setEnabled(True)
                self.unlock_status.setText(messages.explain(error).text)
                if isinstance(error, SessionExpired):
                    self.session_expired.emit()

        run_task(self.client.unlock_user, self.user.id, on_done=done, on_error=failed)
