"""Move cash between the vault and a till: a teller asks for their own till (a supervisor
approves it), a supervisor or admin moves it for any till."""

from __future__ import annotations

from decimal import Decimal

from PySide6.QtWidgets import QComboBox, QLineEdit, QWidget

from desktop.api.client import ApprovalRequired, BankClient
from desktop.api.client import new_idempotency_key as new_key
from desktop.dialogs.form import FormDialog, Request
from desktop.dialogs.till_open import outcome_unknown
from desktop.dialogs.till_words import Keys, or_approval, waiting
from desktop.text import currency_label, money, tr
from desktop.theme import Tone
from desktop.widgets import named
from shared.money import SUPPORTED_CURRENCIES, parse_amount
from shared.schemas.ledger import JournalPublic

TO_TILL, TO_VAULT = "to_till", "to_vault"


class TillCashDialog(FormDialog):
    """Cash into a till from the vault, or back; `completed(JournalPublic | ApprovalRequired)`."""

    def __init__(
        self, client: BankClient, tills: list[tuple[int, str]], *, direction: str = TO_TILL,
        currency: str = "USD", parent: QWidget | None = None,
    ) -> None:  # fmt: skip
        super().__init__(tr("Move cash"), "tillCashDialog", client, parent)
        self.ok_button.setText(tr("Move cash"))
        self.keys = Keys(new_key)
        self.journal: JournalPublic | None = None
        self.till_combo = named(QComboBox(), "cashTillCombo")
        for till_id, name in tills:
            self.till_combo.addItem(name, till_id)
        self.till_combo.setEnabled(len(tills) > 1)
        self.direction_combo = named(QComboBox(), "directionCombo")
        self.direction_combo.addItem(tr("From the vault into the till"), TO_TILL)
        self.direction_combo.addItem(tr("From the till back to the vault"), TO_VAULT)
        self.direction_combo.setCurrentIndex(self.direction_combo.findData(direction))
        self.currency_combo = named(QComboBox(), "cashCurrencyCombo")
        for code in SUPPORTED_CURRENCIES:
            self.currency_combo.addItem(currency_label(code), code)
        self.currency_combo.setCurrentIndex(max(0, self.currency_combo.findData(currency)))
        self.amount_edit = named(QLineEdit(), "cashAmountEdit")
        self.amount_edit.setPlaceholderText("0.00")
        self.reference_edit = named(QLineEdit(), "cashReferenceEdit")
        self.reference_edit.setMaxLength(140)
        self.reference_edit.setPlaceholderText(tr("Optional: a bag number, a reason"))
        self.form.addRow(tr("&Till:"), self.till_combo)
        self.form.addRow(tr("&Direction:"), self.direction_combo)
        self.form.addRow(tr("C&urrency:"), self.currency_combo)
        self.form.addRow(tr("A&mount:"), self.amount_edit)
        self.form.addRow(tr("&Reference:"), self.reference_edit)
        for edit in (self.amount_edit, self.reference_edit):
            edit.textChanged.connect(lambda _t: self.update_state())
        for combo in (self.till_combo, self.direction_combo, self.currency_combo):
            combo.currentIndexChanged.connect(lambda _i: self.update_state())
        self.built(self.amount_edit)

    def _amount(self) -> Decimal | None:
        try:
            return parse_amount(self.amount_edit.text().strip())
        except ValueError:
            return None

    def problem(self) -> str | None:
        """Say why the cash cannot move yet."""
        if self.till_combo.currentData() is None:
            return tr("Choose a till.")
        if not self.amount_edit.text().strip():
            return tr("Type the amount of cash to move.")
        if self._amount() is None:
            return tr("The amount must be between 0.01 and 1,000,000,000.00, such as 1250.50.")
        return None

    def notice(self) -> str:
        """Say what will move."""
        amount = self._amount()
        if amount is None:
            return ""
        currency = str(self.currency_combo.currentData())
        words = self.direction_combo.currentText().lower()
        return tr("{amount} {words}.").format(amount=money(amount, currency), words=words)

    def request(self) -> Request:
        """Send the move under its Idempotency-Key."""
        till_id = int(self.till_combo.currentData())
        body = (till_id, str(self.direction_combo.currentData()),
                str(self.currency_combo.currentData()), self._amount(),
                self.reference_edit.text().strip() or None)  # fmt: skip
        return or_approval(self.client.till_cash), (*body, self.keys.key_for(body)), {}

    def refused(self, error: BaseException) -> None:
        """Keep the key only for a retry of the same move."""
        self.keys.settled(outcome_unknown(error))

    def finish(self, result: object) -> None:
        """Close when the cash moved; say what a move that waits for approval waits for."""
        self.keys.settled(False)
        if isinstance(result, JournalPublic):
            self.journal = result
            self.accept()
            return
        if isinstance(result, ApprovalRequired):
            self._offered = True
            for widget in (self.till_combo, self.direction_combo, self.currency_combo,
                           self.amount_edit, self.reference_edit):  # fmt: skip
                widget.setEnabled(False)
            self.hint.show_text(waiting(result), Tone.WARNING)
            self.ok_button.hide()
            self.cancel_button.setText(tr("Close"))
