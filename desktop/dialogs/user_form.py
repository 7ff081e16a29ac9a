"""The user form: register a customer (tellers) or a user of any role (admins), checked as typed.

Ok stays disabled, with the reason shown, until the form is one the API accepts (API.md's
username, full name, email and password rules), so the server's validator is not the first
to say what is wrong. The username field has the focus when the form opens; Tab walks the
fields in order, then Ok, then Cancel. A registered customer is offered an account at once.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import shiboken6
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desktop import messages, text
from desktop.api.client import BankClient, SessionExpired
from desktop.text import tr
from desktop.theme import Tone
from desktop.widgets import named
from desktop.widgets.labels import ToneLabel
from desktop.workers import run_task
from shared.schemas.common import Role
from shared.schemas.users import USERNAME_RE, UserPublic

PASSWORD_MIN, PASSWORD_MAX = 8, 128
# What email-validator (the server's rule) needs at least: one @, a dot in the domain.
_EMAIL_RE = re.compile(r"[^@\s]+@[^@\s.]+(\.[^@\s.]+)+")


def staff_roles() -> tuple[Role, ...]:
    """Return the roles in order of rights (with supervisor when this version has it)."""
    return tuple(Role)


def password_problem(password: str, confirm: str, username: str) -> str | None:
    """Return why a new password would be refused (API.md's rule), or None when it is fine."""
    if not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        return tr("The password needs {low}-{high} characters.").format(
            low=PASSWORD_MIN, high=PASSWORD_MAX
        )
    if username and password.lower() == username.lower():
        return tr("The password must not be the username.")
    if password != confirm:
        return tr("The two passwords differ.")
    return None


def name_problem(full_name: str, email: str) -> str | None:
    """Return why a full name or an email address would be refused, or None."""
    if not full_name.strip():
        return tr("Enter the full name.")
    if not full_name.strip().isprintable():
        return tr("The full name may hold printable characters only.")
    if not _EMAIL_RE.fullmatch(email.strip()):
        return tr("Enter an email address, e.g. name@example.com.")
    return None


class UserForm(QDialog):
    """Fields shared by the user dialogs, a hint line, an error line, Ok and Cancel."""

    completed = Signal(object)
    session_expired = Signal()

    def __init__(self, title: str, name: str, client: BankClient, parent: QWidget | None) -> None:
        super().__init__(parent)
        self.setObjectName(name)
        self.setWindowTitle(title)
        self.setMinimumWidth(460)
        self.client = client
        self.form = QFormLayout()
        self.form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        self.full_name = named(QLineEdit(), "fullNameEdit")
        self.full_name.setMaxLength(100)
        self.email = named(QLineEdit(), "emailEdit")
        self.email.setMaxLength(254)
        self.role = named(QComboBox(), "roleCombo")
        for role in staff_roles():
            self.role.addItem(text.role(role), role.value)
        self.password = named(QLineEdit(), "passwordEdit")
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.password.setMaxLength(PASSWORD_MAX)
        self.confirm = named(QLineEdit(), "confirmPasswordEdit")
        self.confirm.setEchoMode(QLineEdit.EchoMode.Password)
        self.confirm.setMaxLength(PASSWORD_MAX)
        self.hint = ToneLabel("dialogHint")
        self.error = ToneLabel("dialogError", panel=True)
        self.error.show_text("", Tone.ERROR)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setDefault(True)
        self.cancel_button = self.buttons.button(QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.submit)
        self.buttons.rejected.connect(self.reject)
        self._busy = False
        self._built = False  # subclasses call _built_now() once their fields exist
        layout = QVBoxLayout(self)
        layout.addLayout(self.form)
        layout.addWidget(self.hint)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)
        for edit in (self.full_name, self.email, self.password, self.confirm):
            edit.textChanged.connect(self._update)
        self.role.currentIndexChanged.connect(self._update)

    def selected_role(self) -> Role:
        """Return the role chosen in the combo box."""
        return Role(self.role.currentData())

    def set_role(self, role: Role) -> None:
        """Choose a role in the combo box."""
        self.role.setCurrentIndex(max(0, self.role.findData(role.value)))

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
        self.hint.show_text(problem or self._notice(), Tone.WARNING)
        self.ok_button.setEnabled(problem is None and self.has_changes() and not self._busy)

    def _built_now(self, first: QWidget) -> None:
        self._built = True
        self._update()
        first.setFocus()  # the first field, so the first keystrokes and Tab go through the form

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
        self.error.show_text("")
        run_task(fn, *args, on_done=self._done, on_error=self._failed, **kwargs)

    def _set_busy(self, busy: bool) -> None:
        self._busy = busy
        self.cancel_button.setEnabled(not busy)
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
        situation = messages.Situation(nothing_happened=tr("Nothing was changed."))
        self.error.show_text(messages.explain(error, situation).text, Tone.ERROR)
        if isinstance(error, SessionExpired):
            self.session_expired.emit()


class NewUserDialog(UserForm):
    """Register a user: a customer (a teller's only choice) or, for admins, any role.

    With `offer_account`, a registered customer is not closed on: the dialog says who was
    registered and offers to open their first account (`open_account_requested`).
    """

    open_account_requested = Signal(object)  # the UserPublic just registered

    def __init__(
        self, client: BankClient, roles: Sequence[Role] = (Role.USER,), *,
        offer_account: bool = True, parent: QWidget | None = None,
    ) -> None:  # fmt: skip
        customers_only = tuple(roles) == (Role.USER,)
        super().__init__(
            tr("New customer") if customers_only else tr("New user"),
            "customerDialog" if customers_only else "newUserDialog", client, parent,
        )  # fmt: skip
        self._offer = offer_account
        self.created: UserPublic | None = None
        self.username = named(QLineEdit(), "usernameEdit")
        self.username.setMaxLength(32)
        self.username.setPlaceholderText(tr("3-32 of a-z 0-9 _ . -"))
        self.username.textChanged.connect(self._update)
        self.role.clear()
        for role in roles:
            self.role.addItem(text.role(role), role.value)
        self.form.addRow(tr("&Username"), self.username)
        self.form.addRow(tr("&Full name"), self.full_name)
        self.form.addRow(tr("&Email"), self.email)
        if not customers_only:
            self.form.addRow(tr("&Role"), self.role)
        else:
            self.role.hide()
        self.form.addRow(tr("&Password") if not customers_only else tr("Initial &password"),
                         self.password)  # fmt: skip
        self.form.addRow(tr("Repeat pass&word"), self.confirm)
        self.offer_button = named(QPushButton(tr("Open an account…")), "openAccountOfferButton")
        self.offer_button.setToolTip(tr("Open the new customer's first account now"))
        self.offer_button.clicked.connect(self._open_account)
        self.offer_button.hide()
        self.buttons.addButton(self.offer_button, QDialogButtonBox.ButtonRole.ActionRole)
        self._built_now(self.username)

    def problem(self) -> str | None:
        """Return why the new user cannot be sent yet, or None."""
        username = self.username.text().strip().lower()
        if not USERNAME_RE.fullmatch(username):
            return tr("The username needs 3-32 characters of a-z, 0-9, '_', '.' or '-'.")
        names = name_problem(self.full_name.text(), self.email.text())
        if names is not None:
            return names
        return password_problem(self.password.text(), self.confirm.text(), username)

    def _request(self) -> tuple[Any, tuple[Any, ...], dict[str, Any]]:
        fields = {
            "username": self.username.text().strip().lower(),
            "full_name": self.full_name.text().strip(),
            "email": self.email.text().strip(),
            "password": self.password.text(),
        }
        if self.selected_role() is not Role.USER:
            fields["role"] = self.selected_role().value
        return self.client.create_user, (), fields

    def _done(self, result: object) -> None:
        if not shiboken6.isValid(self):
            return
        if not (self._offer and isinstance(result, UserPublic) and result.role is Role.USER):
            super()._done(result)
            return
        self._set_busy(False)
        self.created = result
        self.completed.emit(result)
        for widget in self.findChildren(QLineEdit):
            widget.setEnabled(False)
        self.hint.show_text(tr("Registered {name} ({username}). Open their first account now?")
                            .format(name=result.full_name, username=result.username),
                            Tone.OK)  # fmt: skip
        self.ok_button.hide()
        self.cancel_button.setText(tr("Close"))
        self.offer_button.show()
        self.offer_button.setDefault(True)
        self.offer_button.setFocus()

    def _update(self) -> None:
        if self.created is None:  # once registered, the hint says so and stays
            super()._update()

    def _open_account(self) -> None:
        if self.created is not None:
            self.open_account_requested.emit(self.created)
        self.accept()
