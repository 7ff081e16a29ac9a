"""Small forms: open an account (then offer its first deposit), edit a customer."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desktop import text
from desktop.api.client import BankClient
from desktop.dialogs.customer_profile import ProfileFields
from desktop.dialogs.documents import DocumentsSection
from desktop.dialogs.form import FormDialog, Request
from desktop.dialogs.user_form import name_problem
from desktop.text import tr
from desktop.theme import Tone
from desktop.widgets import named
from desktop.widgets.labels import ToneLabel, plain_label
from shared.money import SUPPORTED_CURRENCIES
from shared.schemas.accounts import AccountPublic
from shared.schemas.common import AccountType
from shared.schemas.users import UserPublic


class AccountDialog(FormDialog):
    """Open an account for a customer; then offer to take its first deposit."""

    deposit_requested = Signal(object)  # the AccountPublic just opened

    def __init__(self, client: BankClient, owner_id: int, owner_name: str,
                 parent: QWidget | None = None) -> None:  # fmt: skip
        super().__init__(tr("Open account"), "accountDialog", client, parent)
        self.owner_id = owner_id
        self.opened: AccountPublic | None = None
        self.form.addRow(tr("Customer"), plain_label("ownerLabel", owner_name))
        self.account_type = named(QComboBox(), "accountTypeCombo")
        for kind in AccountType:
            self.account_type.addItem(text.account_type(kind), kind.value)
        self.currency = named(QComboBox(), "currencyCombo")
        for code in SUPPORTED_CURRENCIES:
            self.currency.addItem(text.currency_label(code), code)
        self.nickname = named(QLineEdit(), "nicknameEdit")
        self.nickname.setMaxLength(50)
        self.nickname.setPlaceholderText(tr("Optional, e.g. Rainy day"))
        self.nickname.textChanged.connect(self.update_state)
        self.form.addRow(tr("&Type"), self.account_type)
        self.form.addRow(tr("&Currency"), self.currency)
        self.form.addRow(tr("&Nickname"), self.nickname)
        self.deposit_button = named(QPushButton(tr("Take the first deposit…")),
                                    "firstDepositButton")  # fmt: skip
        self.deposit_button.clicked.connect(self._deposit)
        self.built(self.account_type)

    def problem(self) -> str | None:
        """Return why the account cannot be opened as typed, or None."""
        nickname = self.nickname.text().strip()
        if nickname and not nickname.isprintable():
            return tr("The nickname may hold printable characters only.")
        return None

    def request(self) -> Request:
        nickname = self.nickname.text().strip() or None
        args = (self.owner_id, self.account_type.currentData(), self.currency.currentData(),
                nickname)  # fmt: skip
        return self.client.open_account, args, {}

    def finish(self, result: object) -> None:
        if not isinstance(result, AccountPublic):
            self.accept()
            return
        self.opened = result
        self.offer(tr("Opened {number} ({kind}, {currency}). Take its first deposit now?").format(
            number=result.number, kind=text.account_type(result.account_type),
            currency=result.currency,
        ), self.deposit_button)  # fmt: skip

    def _deposit(self) -> None:
        if self.opened is not None:
            self.deposit_requested.emit(self.opened)
        self.accept()


def _save_customer(client: BankClient, user_id: int, fields: dict[str, Any],
                   profile: dict[str, Any]) -> UserPublic:  # fmt: skip
    """Send the account fields, then the profile (worker thread); return the user after."""
    user = client.update_user(user_id, **fields) if fields else None
    if profile:
        user = client.update_profile(user_id, **profile)
    assert user is not None
    return user


class EditCustomerDialog(FormDialog):
    """Change a customer's full name, email, access and profile; file and verify documents.

    Only the fields that differ from `user` are sent (a teller may set exactly these three);
    Ok stays disabled until something changed and the form is one the API accepts.
    """

    def __init__(self, client: BankClient, user: UserPublic, parent: QWidget | None = None) -> None:
        super().__init__(tr("Edit customer"), "editCustomerDialog", client, parent)
        self.user = user
        self.form.addRow(tr("Customer"), plain_label("customerLabel", user.username))
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
        self.profile = ProfileFields(self.form, user.profile)
        self.full_name.textChanged.connect(self.update_state)
        self.email.textChanged.connect(self.update_state)
        self.active.toggled.connect(self.update_state)
        for edit in self.profile.edits():
            edit.textChanged.connect(self.update_state)
        # Documents are filed and verified at once, each on its own: not part of Ok.
        self.documents = DocumentsSection(client, user, self)
        layout = self.layout()
        assert isinstance(layout, QVBoxLayout)
        layout.insertWidget(1, self.documents)  # below the fields, above the hint
        self.built(self.full_name)

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

    def has_changes(self) -> bool:
        """Tell whether anything differs from the customer as loaded."""
        return bool(self.changes()) or bool(self.profile.changes())

    def problem(self) -> str | None:
        """Return why the change would be refused, or None."""
        return name_problem(self.full_name.text(), self.email.text()) or self.profile.problem()

    def update_state(self) -> None:
        """Warn about deactivating, then check the form."""
        self.active_hint.setVisible(self.user.is_active and not self.active.isChecked())
        super().update_state()

    def request(self) -> Request:
        args = (self.client, self.user.id, self.changes(), self.profile.changes())
        return _save_customer, args, {}

    def finish(self, result: object) -> None:
        if isinstance(result, UserPublic):
            self.user = result
        self.accept()
