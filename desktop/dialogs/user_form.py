"""The user form: register a customer (tellers) or a user of any role (admins), checked as typed.

Ok stays disabled, with the reason shown, until the form is one the API accepts (API.md's
username, full name, email and password rules), so the server's validator is not the first
to say what is wrong. The username field has the focus when the form opens; Tab walks the
fields in order, then Ok, then Cancel. A registered customer is offered an account at once.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QLineEdit, QPushButton, QWidget

from desktop import text
from desktop.api.client import BankClient
from desktop.dialogs.form import FormDialog, Request
from desktop.text import tr
from desktop.widgets import named
from shared.schemas.common import Role
from shared.schemas.users import USERNAME_RE, UserPublic

PASSWORD_MIN, PASSWORD_MAX = 8, 128
STAFF_PASSWORD_MIN = 12  # a teller's, supervisor's or admin's (API.md)
# What email-validator (the server's rule) needs at least: one @, a dot in the domain.
_EMAIL_RE = re.compile(r"[^@\s]+@[^@\s.]+(\.[^@\s.]+)+")


def staff_roles() -> tuple[Role, ...]:
    """Return the roles in order of rights (with supervisor when this version has it)."""
    return tuple(Role)


def password_problem(
    password: str, confirm: str, username: str, *, staff: bool = False
) -> str | None:
    """Return why a new password would be refused (API.md's rule), or None when it is fine."""
    low = STAFF_PASSWORD_MIN if staff else PASSWORD_MIN
    if not low <= len(password) <= PASSWORD_MAX:
        if staff:
            return tr("A staff member's password needs {low}-{high} characters.").format(
                low=low, high=PASSWORD_MAX
            )
        return tr("The password needs {low}-{high} characters.").format(low=low, high=PASSWORD_MAX)
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


class UserForm(FormDialog):
    """The fields the user dialogs share: full name, email, role, a password twice."""

    result_model = UserPublic  # a role change carried out after its approval answers a User

    def __init__(self, title: str, name: str, client: BankClient, parent: QWidget | None) -> None:
        super().__init__(title, name, client, parent)
        self.setMinimumWidth(460)
        self.full_name = named(QLineEdit(), "fullNameEdit")
        self.full_name.setMaxLength(100)
        self.email = named(QLineEdit(), "emailEdit")
        self.email.setMaxLength(254)
        self.role = named(QComboBox(), "roleCombo")
        for role in staff_roles():
            self.role.addItem(text.role(role), role.value)
        self.password = named(QLineEdit(), "passwordEdit")
        self.confirm = named(QLineEdit(), "confirmPasswordEdit")
        for secret in (self.password, self.confirm):
            secret.setEchoMode(QLineEdit.EchoMode.Password)
            secret.setMaxLength(PASSWORD_MAX)
        for edit in (self.full_name, self.email, self.password, self.confirm):
            edit.textChanged.connect(self.update_state)
        self.role.currentIndexChanged.connect(self.update_state)

    def selected_role(self) -> Role:
        """Return the role chosen in the combo box."""
        return Role(self.role.currentData())

    def set_role(self, role: Role) -> None:
        """Choose a role in the combo box."""
        self.role.setCurrentIndex(max(0, self.role.findData(role.value)))


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
        self.username.textChanged.connect(self.update_state)
        self.role.clear()
        for role in roles:
            self.role.addItem(text.role(role), role.value)
        self.form.addRow(tr("&Username"), self.username)
        self.form.addRow(tr("&Full name"), self.full_name)
        self.form.addRow(tr("&Email"), self.email)
        if customers_only:
            self.role.hide()
        else:
            self.form.addRow(tr("&Role"), self.role)
        self.form.addRow(tr("Initial &password") if customers_only else tr("&Password"),
                         self.password)  # fmt: skip
        self.form.addRow(tr("Repeat pass&word"), self.confirm)
        self.offer_button = named(QPushButton(tr("Open an account…")), "openAccountOfferButton")
        self.offer_button.setToolTip(tr("Open the new customer's first account now"))
        self.offer_button.clicked.connect(self._open_account)
        self.built(self.username)

    def problem(self) -> str | None:
        """Return why the new user cannot be sent yet, or None."""
        username = self.username.text().strip().lower()
        if not USERNAME_RE.fullmatch(username):
            return tr("The username needs 3-32 characters of a-z, 0-9, '_', '.' or '-'.")
        names = name_problem(self.full_name.text(), self.email.text())
        if names is not None:
            return names
        return password_problem(self.password.text(), self.confirm.text(), username,
                                staff=self.selected_role() is not Role.USER)  # fmt: skip

    def request(self) -> Request:
        fields = {
            "username": self.username.text().strip().lower(),
            "full_name": self.full_name.text().strip(),
            "email": self.email.text().strip(),
            "password": self.password.text(),
        }
        if self.selected_role() is not Role.USER:
            fields["role"] = self.selected_role().value
        return self.client.create_user, (), fields

    def finish(self, result: object) -> None:
        if not (self._offer and isinstance(result, UserPublic) and result.role is Role.USER):
            self.accept()
            return
        self.created = result
        self.offer(tr("Registered {name} ({username}). Open their first account now?").format(
            name=result.full_name, username=result.username), self.offer_button)  # fmt: skip

    def _open_account(self) -> None:
        if self.created is not None:
            self.open_account_requested.emit(self.created)
        self.accept()
