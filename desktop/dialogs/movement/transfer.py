"""The transfer dialog: from one of the listed accounts to an account number, named first."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QCompleter, QFormLayout, QLineEdit, QWidget

from desktop.api.client import BankClient
from desktop.dialogs.movement.base import MovementDialog, Result
from desktop.dialogs.movement.flow import MovementRequest
from desktop.dialogs.movement.parts import account_line, buddy
from desktop.dialogs.movement.payee import PayeeLookup, check_destination
from desktop.text import money, tr
from desktop.theme import Tone
from desktop.widgets.files import FileChooser
from desktop.widgets.labels import ToneLabel
from shared.errors import ErrorCode
from shared.schemas.accounts import AccountPublic
from shared.schemas.transactions import TransferPublic


def send_transfer(client: BankClient) -> Callable[[MovementRequest, str], Result]:
    """Return the call that sends a transfer under its key (worker thread)."""

    def send(request: MovementRequest, key: str) -> Result:
        assert request.to_number is not None
        return client.transfer(
            request.account_id, request.to_number, request.amount, request.description, key
        )

    return send


def combo_line(account: AccountPublic) -> str:
    """Return an account as the source list shows it, with its balance."""
    return f"{account_line(account)} · {money(account.balance, account.currency)}"


class TransferDialog(MovementDialog):
    """Transfer from an account (searchable among `accounts`) to an account number."""

    def __init__(
        self, client: BankClient, account: AccountPublic,
        accounts: list[AccountPublic] | None = None, files: FileChooser | None = None,
        parent: QWidget | None = None,
    ) -> None:  # fmt: skip
        self._accounts = list(accounts or [])
        if all(a.id != account.id for a in self._accounts):
            self._accounts.insert(0, account)
        self.payees = PayeeLookup(client)
        super().__init__(client, "transfer", account, files, parent)
        self.payees.setParent(self)
        self.payees.changed.connect(self._revalidate)
        self.payees.session_expired.connect(self.session_expired)
        self._start()

    def _build_source(self, form: QFormLayout) -> None:
        combo = QComboBox()
        combo.setObjectName("fromAccountCombo")
        combo.setEditable(True)
        combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        for account in self._accounts:
            combo.addItem(combo_line(account), account)
        completer = QCompleter(combo.model(), combo)
        completer.setFilterMode(Qt.MatchFlag.MatchContains)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        completer.setCompletionMode(QCompleter.CompletionMode.PopupCompletion)
        combo.setCompleter(completer)
        combo.setCurrentIndex(
            next(i for i, a in enumerate(self._accounts) if a.id == self._account.id)
        )
        combo.setAccessibleName(tr("Source account"))
        combo.currentTextChanged.connect(self._source_changed)
        self.from_combo = combo
        self._inputs.append(combo)
        form.addRow(buddy(tr("&From account:"), combo), combo)
        self.source_hint = ToneLabel("fromAccountHint", hint=True)
        form.addRow("", self.source_hint)

    def _build_destination(self, form: QFormLayout) -> None:
        self.to_edit = QLineEdit()
        self.to_edit.setObjectName("toNumberEdit")
        self.to_edit.setPlaceholderText(tr("10-digit account number"))
        self.to_edit.setMaxLength(20)
        self.to_edit.setAccessibleName(tr("Destination account number"))
        self.to_edit.textChanged.connect(self._to_number_changed)
        self.to_edit.editingFinished.connect(self._lookup_now)
        self._inputs.append(self.to_edit)
        form.addRow(buddy(tr("&To account:"), self.to_edit), self.to_edit)
        self.payee_label = ToneLabel("payeeLabel", hint=True)
        form.addRow("", self.payee_label)

    def source_account(self) -> AccountPublic | None:
        text = self.from_combo.currentText()
        for i in range(self.from_combo.count()):
            if self.from_combo.itemText(i) == text:
                account: AccountPublic = self.from_combo.itemData(i)
                return account
        typed = text.strip()
        return next((a for a in self._accounts if a.number == typed), None)

    def to_number(self) -> str:
        """Return the destination as typed, without spaces."""
        return self.to_edit.text().replace(" ", "")

    def _destination(self, source: AccountPublic | None) -> tuple[bool, str | None]:
        payee, line, tone = check_destination(self.to_number(), source, self.payees)
        self.payee_label.show_text(line, tone)
        self.to_edit.setAccessibleDescription(line)
        return payee is not None, payee.number if payee is not None else None

    def _source_changed(self, _: str = "") -> None:
        self._schedule_lookup()  # a number refused as "the source account" may now be fine
        super()._source_changed()

    def _to_number_changed(self, _: str = "") -> None:
        self._schedule_lookup()
        self._edited()

    def _schedule_lookup(self) -> None:
        source = self.source_account()
        self.payees.schedule(self.to_number(), skip=source.number if source else None)

    def _lookup_now(self) -> None:
        source = self.source_account()
        number = self.to_number()
        if source is None or number != source.number:
            self.payees.lookup(number)
            self._revalidate()

    def _perform(self) -> Callable[[MovementRequest, str], Result]:
        return send_transfer(self._client)

    def _summary(self, request: MovementRequest, source: AccountPublic) -> str:
        payee = self.payees.payees.get(request.to_number or "")
        holder = f" ({payee.holder})" if payee else ""
        return tr("Transfer {amount} from {source} ({holder}) to {to}{payee}?").format(
            amount=money(request.amount, source.currency), source=source.number,
            holder=source.owner_name, to=request.to_number, payee=holder,
        )  # fmt: skip

    def _result_text(self, result: Result, account: AccountPublic) -> str:
        assert isinstance(result, TransferPublic)
        payee = self._result_payee
        holder = f" ({payee.holder})" if payee else ""
        return tr("Transferred {amount} from {source} to {to}{payee}. Transfer no. {id}.").format(
            amount=money(result.amount, account.currency), source=result.from_number,
            to=result.to_number, payee=holder, id=result.id,
        )  # fmt: skip

    def _learn(self, result: Result) -> None:
        if isinstance(result, TransferPublic):
            self._result_payee = self.payees.payees.get(result.to_number)

    def _refused(self, sent: MovementRequest | None, error: BaseException) -> None:
        super()._refused(sent, error)
        if getattr(error, "code", None) == ErrorCode.NOT_FOUND and sent and sent.to_number:
            self.payees.forget(sent.to_number)
            self.payee_label.show_text(tr("Looking up the account…"), Tone.MUTED)
