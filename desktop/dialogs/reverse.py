"""Reverse a movement: a reason and a note, a confirmation naming both legs, then the answer.

A reversal is never an edit: the server posts the mirror of the whole movement (both sides
of a transfer; a cash leg through the reverser's own till). A teller's own cash movement of
their open session is reversed at once; anything else waits for approval `reversal` (202),
which the dialog says in so many words. Review shows the legs; Confirm sends, under one
Idempotency-Key for as long as the form is unchanged (a retry after an unknown outcome
reuses it, so money never moves twice).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import shiboken6
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QDialogButtonBox, QLineEdit, QVBoxLayout, QWidget

from desktop import messages, text
from desktop.api.client import ApiError, ApprovalRequired, BankClient, new_idempotency_key
from desktop.dialogs.form import FormDialog, Request
from desktop.dialogs.movement.flow import Kind
from desktop.dialogs.movement.receipt import Receipt, performer_name, write_receipt
from desktop.text import money, tr
from desktop.theme import Tone
from desktop.widgets import named
from desktop.widgets.files import FileChooser
from desktop.widgets.labels import ToneLabel
from desktop.workers import run_task
from shared.schemas.accounts import AccountPublic
from shared.schemas.transactions import (
    Direction,
    ReversalReason,
    TransactionPublic,
    TransactionType,
    TransferPublic,
)

NOTE_MAX = 500


def not_reversible(item: TransactionPublic) -> str | None:
    """Return why an entry cannot be reversed from the desktop, or None."""
    if item.type is TransactionType.REVERSAL:
        return tr("A reversal cannot be reversed.")
    if item.reversed_by is not None:
        return tr("Already reversed by entry no. {id}.").format(id=item.reversed_by)
    return None


def legs(item: TransactionPublic, account: AccountPublic) -> list[str]:
    """Return the two sides the reversal posts, in words, this account first."""
    amount = money(item.amount, account.currency)
    here = f"{account.number} ({account.owner_name})"
    taken_back = item.direction is Direction.CREDIT  # the account gives the money back
    first = (
        tr("Account {account}: {amount} taken back (debit).")
        if taken_back
        else tr("Account {account}: {amount} given back (credit).")
    ).format(account=here, amount=amount)
    if item.transfer_id is not None:
        other = item.counterparty_number or tr("the other account")
        second = (
            tr("Account {account}: {amount} given back (credit).")
            if taken_back
            else tr("Account {account}: {amount} taken back (debit).")
        ).format(account=other, amount=amount)
    elif item.session_id is not None:
        second = (
            tr("Your till: {amount} in cash paid out to the customer.")
            if taken_back
            else tr("Your till: {amount} in cash taken in from the customer.")
        ).format(amount=amount)
    else:  # a self-service or migrated movement: its contra account is the bank's own
        second = tr("The bank's contra account of the movement: {amount}.").format(amount=amount)
    return [first, second]


class ReverseDialog(FormDialog):
    """Reverse one movement; `completed(reversal)` when done, `approval_requested(approval)`."""

    approval_requested = Signal(object)  # the approval (dict) the reversal waits for
    result_model = TransactionPublic  # the reversal entry, once its approval executed it

    def __init__(
        self,
        client: BankClient,
        account: AccountPublic,
        movement: TransactionPublic | TransferPublic,
        parent: QWidget | None = None,
        files: FileChooser | None = None,
    ) -> None:
        super().__init__(tr("Reverse movement"), "reverseDialog", client, parent)
        self._files = files or FileChooser(None)
        self.setMinimumWidth(520)
        self.account = account
        self.transaction: TransactionPublic | None = None
        self.loading_error: str | None = None
        self._confirming = False
        self._key: str | None = None
        self.approval: dict[str, Any] | None = None
        self.reversal: TransactionPublic | None = None
        self.what = named(ToneLabel("reverseWhat"), "reverseWhat")
        self.reason = named(QComboBox(), "reasonCombo")
        for reason in ReversalReason:
            self.reason.addItem(text.reversal_reason(reason), reason.value)
        self.note = named(QLineEdit(), "noteEdit")
        self.note.setMaxLength(NOTE_MAX)
        self.note.setPlaceholderText(tr("What happened (optional)"))
        self.confirm = ToneLabel("reverseConfirmation", panel=True)
        self.result_label = ToneLabel("reverseResult", panel=True)
        self.form.addRow(tr("Movement:"), self.what)
        self.form.addRow(tr("&Reason:"), self.reason)
        self.form.addRow(tr("&Note:"), self.note)
        layout = self.layout()
        assert isinstance(layout, QVBoxLayout)
        layout.insertWidget(layout.indexOf(self.hint), self.confirm)
        layout.insertWidget(layout.indexOf(self.buttons), self.result_label)
        self.confirm.show_text("", Tone.WARNING)
        self.result_label.show_text("", Tone.OK)
        self.ok_button.setText(tr("Review"))
        self.receipt_button = self.buttons.addButton(
            tr("Save receipt…"), QDialogButtonBox.ButtonRole.ActionRole
        )
        self.receipt_button.setObjectName("receiptButton")
        self.receipt_button.clicked.connect(lambda: self.save_receipt())
        self.receipt_button.hide()  # once the reversal is posted
        self.reason.currentIndexChanged.connect(lambda _i: self._edited())
        self.note.textChanged.connect(lambda _t: self._edited())
        if isinstance(movement, TransactionPublic):
            self._found(movement)
        else:  # a transfer's receipt: reverse its source leg, found in the account's history
            self.what.show_text(tr("Transfer no. {id}").format(id=movement.id))
            run_task(_transfer_leg, client, account.id, movement.id,
                     on_done=self._found, on_error=self._not_found)  # fmt: skip
        self.built(self.reason)

    # -- the movement ------------------------------------------------------------------

    def _found(self, item: TransactionPublic | None) -> None:
        if not shiboken6.isValid(self):
            return
        if item is None:
            self.loading_error = tr("The transfer's entry is not in this account's history.")
        else:
            self.transaction = item
            self.what.show_text(tr("{type} no. {id} of {day}: {amount}").format(
                type=text.transaction_type(item.type), id=item.id, day=item.business_date,
                amount=text.signed_money(item.amount, item.direction is Direction.CREDIT,
                                         self.account.currency),
            ))  # fmt: skip
        self.update_state()

    def _not_found(self, error: BaseException) -> None:
        if shiboken6.isValid(self):
            self.loading_error = messages.explain(error).text
            self.update_state()

    # -- the form ----------------------------------------------------------------------

    def problem(self) -> str | None:
        """Return why the reversal cannot be sent yet."""
        if self.loading_error is not None:
            return self.loading_error
        if self.transaction is None:
            return tr("Finding the movement…")
        if (reason := not_reversible(self.transaction)) is not None:
            return reason
        if self.reason.currentData() == ReversalReason.OTHER and not self.note.text().strip():
            return tr("Say in the note what the other reason is.")
        return None

    def notice(self) -> str:
        """Say what happens next."""
        if self._confirming:
            return tr("Press Confirm to post the reversal.")
        return tr("Your own cash movement of your open session is reversed at once; any other "
                  "waits for a supervisor's approval.")  # fmt: skip

    def _edited(self) -> None:
        self._confirming = False
        self._key = None  # a changed request is a new request
        self.confirm.show_text("")
        self.ok_button.setText(tr("Review"))
        self.update_state()

    def submit(self) -> None:
        """Review first (the legs are shown), then send on Confirm."""
        if self.busy or self._offered or self.problem() is not None or self.transaction is None:
            return
        if not self._confirming:
            self._confirming = True
            lines = [tr("Reverse {type} no. {id}? The reversal posts:").format(
                type=text.transaction_type(self.transaction.type).lower(),
                id=self.transaction.id)]  # fmt: skip
            lines += ["• " + leg for leg in legs(self.transaction, self.account)]
            lines.append(tr("Reason: {reason}").format(reason=self.reason.currentText()))
            if note := self.note.text().strip():
                lines.append(tr("Note: {note}").format(note=note))
            self.confirm.show_text("\n".join(lines), Tone.WARNING)
            self.ok_button.setText(tr("Confirm"))
            self.update_state()
            return
        super().submit()

    def request(self) -> Request:
        """Read the form: the reversal under this request's Idempotency-Key."""
        assert self.transaction is not None
        if self._key is None:
            self._key = new_idempotency_key()
        note = self.note.text().strip() or None
        args = (self.transaction.id, str(self.reason.currentData()), note, self._key)
        return self.client.reverse, args, {}

    # -- the answer --------------------------------------------------------------------

    def finish(self, result: object) -> None:
        """Show the reversal posted, and offer only Close."""
        assert isinstance(result, TransactionPublic)
        self.reversal = result
        self._closed_form(tr("Reversed. Reversal entry no. {id}; balance now {balance}.").format(
            id=result.id, balance=money(result.balance_after, self.account.currency)))  # fmt: skip
        self.receipt_button.show()

    def save_receipt(self, path: str | Path | None = None) -> Path | None:
        """Write the PDF receipt of the reversal (naming the movement it reverses)."""
        result = self.reversal
        if result is None:
            return None
        target = Path(path) if path is not None else self._files.save(
            self, tr("Save receipt"), f"receipt-reversal-{result.id}.pdf",
            tr("PDF files (*.pdf)"),
        )  # fmt: skip
        if target is None:
            return None
        performer = performer_name(self.client.user, result.performed_by)
        kind: Kind = "deposit" if result.direction is Direction.CREDIT else "withdraw"
        till = tr("session {id}").format(id=result.session_id) if result.session_id else None
        receipt = Receipt(result, self.account, kind, performed_by=performer, till=till,
                          title=tr("Reversal"))  # fmt: skip
        try:
            write_receipt(target, receipt)
        except OSError as exc:
            self.result_label.show_text(tr("Could not save the receipt: {reason}.").format(
                reason=exc.strerror or exc), Tone.ERROR)  # fmt: skip
            return None
        words = self.result_label.text().split("\n" + tr("Receipt saved to"))[0]
        self.result_label.show_text(
            words + "\n" + tr("Receipt saved to {path}.").format(path=target), Tone.OK
        )
        return target

    def _await_approval(self, error: ApprovalRequired, situation: messages.Situation) -> bool:
        """Show the reversal waiting for approval `reversal` (the form's pending panel)."""
        self.approval = error.approval
        self.confirm.show_text("")
        self.result_label.show_text(tr(
            "Sent for approval: request no. {id} (reversal) waits for a supervisor's "
            "approval. Nothing is reversed until it is approved."
        ).format(id=error.approval_id), Tone.OK)  # fmt: skip
        self.approval_requested.emit(error.approval)
        return super()._await_approval(error, situation)

    def refused(self, error: BaseException) -> None:
        """Forget the key of a refusal for good: a second try is a new request."""
        if not (isinstance(error, ApiError) and error.outcome_unknown):
            self._key = None

    def _closed_form(self, words: str) -> None:
        self.confirm.show_text("")
        self.result_label.show_text(words, Tone.OK)
        self.hint.show_text("")
        self.ok_button.hide()
        self.cancel_button.setText(tr("Close"))
        self.cancel_button.setEnabled(True)
        self.buttons.button(QDialogButtonBox.StandardButton.Cancel).setFocus()
        for widget in (self.reason, self.note):
            widget.setEnabled(False)
        self._offered = True  # nothing more to send from this dialog


def _transfer_leg(
    client: BankClient, account_id: int, transfer_id: int
) -> TransactionPublic | None:
    """Return an account's leg of a transfer (worker thread), newest first within 200."""
    page = client.transactions(account_id, limit=200)
    return next((t for t in page.items if t.transfer_id == transfer_id
                 and t.type is not TransactionType.REVERSAL), None)  # fmt: skip
