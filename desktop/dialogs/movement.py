"""Deposit, withdrawal and transfer dialogs: check, confirm, move money once, print a receipt.

Money moves at most once per request: the dialog sends every request under an
Idempotency-Key and keeps that key while the outcome is unknown (no answer, a 5xx, or 409
`idempotency_key_in_use`), so Retry makes the server replay the first answer instead of
moving the money again. A final answer (success or a refusal) retires the key: the server
stores refusals too, so reusing the key would replay a stale "insufficient funds".
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import Enum, auto
from pathlib import Path
from typing import Literal

import shiboken6
from PySide6.QtCore import QBuffer, QIODevice, QMarginsF, QStandardPaths, Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QFont, QPageLayout, QPageSize, QPdfWriter, QTextDocument
from PySide6.QtWidgets import (
    QComboBox,
    QCompleter,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desktop.api.client import ApiError, BankClient, NetworkError, SessionExpired
from desktop.api.client import new_idempotency_key as _new_key
from desktop.workers import run_task
from shared.account_number import is_valid_number
from shared.errors import ErrorCode
from shared.money import MAX_AMOUNT, MIN_AMOUNT, format_money, parse_amount
from shared.schemas.accounts import AccountPublic, Payee
from shared.schemas.common import AccountStatus
from shared.schemas.transactions import TransactionPublic, TransactionType, TransferPublic

Kind = Literal["deposit", "withdraw", "transfer"]
KINDS: tuple[Kind, ...] = ("deposit", "withdraw", "transfer")
BANK_NAME = "Bank System"
DESCRIPTION_MAX = 140
# Wait this long after the last keystroke before asking the server who owns a number.
PAYEE_DEBOUNCE_MS = 300

_ERROR_COLOR = "#b3261e"
_TONE_STYLES = {
    "muted": "color: #5f6368;",
    "error": f"color: {_ERROR_COLOR};",
    "ok": "color: #1e7b34;",
}
_DIGITS_RE = re.compile(r"[0-9]+")
_BALANCE_RE = re.compile(
    r"balance (-?\d+(?:\.\d+)?) ([A-Z]{3})(?:, overdraft limit (\d+(?:\.\d+)?))?"
)
_LIMIT_RE = re.compile(
    r"limit of (\d+(?:\.\d+)?) ([A-Z]{3}).*?\((\d+(?:\.\d+)?) already out today\)"
)


@dataclass(frozen=True)
class _Words:
    title: str
    heading: str
    verb: str
    past: str
    preposition: str
    noun: str
    receipt_type: str


_WORDS: dict[str, _Words] = {
    "deposit": _Words("Deposit", "Deposit cash", "Deposit", "Deposited", "into", "deposit",
                      "Cash deposit"),
    "withdraw": _Words("Withdraw", "Withdraw cash", "Withdraw", "Withdrew", "from", "withdrawal",
                       "Cash withdrawal"),
    "transfer": _Words("Transfer", "Transfer money", "Transfer", "Transferred", "from", "transfer",
                       "Transfer"),
}  # fmt: skip


class Step(Enum):
    """Where the dialog is in its flow."""

    EDITING = auto()
    CONFIRMING = auto()
    BUSY = auto()
    UNKNOWN = auto()  # the last request has no known outcome; Retry resends it with its key
    DONE = auto()


@dataclass(frozen=True)
class MovementRequest:
    """What one press of Confirm asks the server to do; equal requests share a key."""

    kind: str
    account_id: int
    to_number: str | None
    amount: Decimal
    description: str | None


@dataclass(frozen=True)
class _Outcome:
    result: TransactionPublic | TransferPublic
    balance_after: Decimal | None


def _perform(client: BankClient, request: MovementRequest, key: str) -> _Outcome:
    """Send one movement (worker thread); for a transfer, also find the source's new balance."""
    if request.kind == "deposit":
        entry = client.deposit(request.account_id, request.amount, request.description, key)
        return _Outcome(entry, entry.balance_after)
    if request.kind == "withdraw":
        entry = client.withdraw(request.account_id, request.amount, request.description, key)
        return _Outcome(entry, entry.balance_after)
    assert request.to_number is not None
    transfer = client.transfer(
        request.account_id, request.to_number, request.amount, request.description, key
    )
    try:
        page = client.transactions(
            request.account_id, type=TransactionType.TRANSFER_OUT.value, limit=20
        )
    except Exception:  # the money moved; a missing balance must not read as a failure
        return _Outcome(transfer, None)
    leg = next((e for e in page.items if e.transfer_id == transfer.id), None)
    return _Outcome(transfer, leg.balance_after if leg else None)


def _sentence(text: str) -> str:
    text = text.strip()
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text.endswith((".", "?", "!")) else text + "."


def _money(text: str, currency: str) -> str:
    try:
        return format_money(Decimal(text), currency)
    except ArithmeticError:
        return f"{text} {currency}"


def explain_error(error: BaseException, kind: str) -> tuple[str, bool]:
    """Return a plain sentence for a failed movement and whether its outcome is unknown."""
    words = _WORDS[kind]
    unknown = (
        f" The {words.noun} may or may not have gone through. Press Retry to send the same "
        "request again: the bank will not apply it twice. If you change the request instead, "
        "check the account's history first."
    )
    if isinstance(error, SessionExpired):
        return "Your session has expired. Sign in again, then retry; no money moved.", False
    if isinstance(error, NetworkError):
        return f"No answer from the bank's server ({error}).{unknown}", True
    if not isinstance(error, ApiError):
        return f"Something unexpected went wrong ({error}).{unknown}", True
    code, detail = error.code, error.message
    which = "source account" if kind == "transfer" else "account"
    if code == ErrorCode.INSUFFICIENT_FUNDS:
        match = _BALANCE_RE.search(detail)
        if match:
            amount, currency, overdraft = match.groups()
            shown = f"balance {_money(amount, currency)}"
            if overdraft:
                shown += f", overdraft limit {_money(overdraft, currency)}"
            return f"Not enough money in the {which} ({shown}). No money moved.", False
        return f"Not enough money in the {which} ({detail}). No money moved.", False
    if code == ErrorCode.LIMIT_EXCEEDED:
        match = _LIMIT_RE.search(detail)
        if match:
            limit, currency, spent = match.groups()
            return (
                f"This would exceed the {which}'s daily withdrawal limit of "
                f"{_money(limit, currency)} ({_money(spent, currency)} already withdrawn or "
                "transferred out today). No money moved.",
                False,
            )
        return f"This would exceed the daily withdrawal limit ({detail}). No money moved.", False
    if code == ErrorCode.ACCOUNT_NOT_ACTIVE:
        if kind == "transfer":
            return f"One of the accounts is not active ({detail}). No money moved.", False
        return f"The account is not active ({detail}); no money can move on it.", False
    if code == ErrorCode.CURRENCY_MISMATCH:
        return (
            "The two accounts hold different currencies; a transfer needs the same currency "
            "on both sides. No money moved.",
            False,
        )
    if code == ErrorCode.SAME_ACCOUNT:
        return "The destination is the source account; choose another destination.", False
    if code == ErrorCode.NOT_FOUND:
        if kind == "transfer":
            return "No active account has that number, or the source account was not found. "\
                   "No money moved.", False  # fmt: skip
        return "The account was not found; it may have been closed. No money moved.", False
    if code == ErrorCode.FORBIDDEN:
        return f"You are not allowed to do this ({detail}). No money moved.", False
    if code == ErrorCode.VALIDATION_ERROR:
        return f"The bank did not accept the request ({detail}). No money moved.", False
    if code == ErrorCode.RATE_LIMITED:
        return "Too many requests just now; wait a moment and try again. No money moved.", False
    if code == ErrorCode.IDEMPOTENCY_KEY_IN_USE:
        return f"The bank is still working on this request.{unknown}", True
    if code == ErrorCode.IDEMPOTENCY_KEY_REUSED:
        return (
            "The bank saw this request's key on a different request; no money moved. "
            "Press Review to send it again under a new key.",
            False,
        )
    if code == ErrorCode.SERVICE_UNAVAILABLE:
        return f"The bank's database is not answering.{unknown}", True
    if error.outcome_unknown:
        return f"The bank's server had a problem ({detail}).{unknown}", True
    return f"The bank refused the request ({detail}). No money moved.", False


def amount_problem(text: str) -> str | None:
    """Return why `text` is not an amount the API accepts, or None if it is one."""
    try:
        parse_amount(text)
    except ValueError as exc:
        reason = str(exc)
    else:
        return None
    # parse_amount alone decides; these only say its refusal in a teller's words.
    if text == "":
        return "Enter an amount."
    if text != text.strip() or " " in text:
        return "Remove the spaces from the amount."
    if text.startswith("-"):
        return "The amount must be positive."
    if "," in text or "'" in text or "_" in text:
        return "Type the amount without thousands separators, e.g. 1250.00."
    if re.fullmatch(r"[0-9]+[eE][-+]?[0-9]+|[0-9]*\.?[0-9]*[eE][-+]?[0-9]+", text):
        return "Write the amount in plain digits, without exponent notation."
    if re.fullmatch(r"[0-9]+\.[0-9]{3,}", text, re.ASCII):
        return "Use at most two decimal places."
    if re.fullmatch(r"[0-9]{11,}(\.[0-9]*)?", text, re.ASCII):
        return f"The amount must be at most {format_money(MAX_AMOUNT)}."
    if "at most" in reason:
        return f"The amount must be at most {format_money(MAX_AMOUNT)}."
    if "at least" in reason:
        return f"The amount must be at least {format_money(MIN_AMOUNT)}."
    return _sentence(reason)


def _message_label(name: str, color: str, background: str, border: str) -> QLabel:
    """Return a selectable, word-wrapped message panel (success or error)."""
    label = _plain_label(name)
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    label.setStyleSheet(
        f"color: {color}; background: {background}; border: 1px solid {border};"
        " border-radius: 4px; padding: 8px;"
    )
    return label


def _plain_label(name: str, text: str = "") -> QLabel:
    label = QLabel(text)
    label.setObjectName(name)
    label.setTextFormat(Qt.TextFormat.PlainText)  # holder names and descriptions are data
    return label


def _hint_label(name: str) -> QLabel:
    label = _plain_label(name)
    label.setWordWrap(True)
    font = label.font()
    if font.pointSizeF() > 0:
        font.setPointSizeF(font.pointSizeF() * 0.92)
    label.setFont(font)
    return label


def _set_tone(label: QLabel, text: str, tone: str) -> None:
    label.setText(text)
    label.setProperty("tone", tone)
    label.setStyleSheet(_TONE_STYLES[tone])
    label.setHidden(not text)


def _account_line(account: AccountPublic) -> str:
    return f"{account.number} · {account.owner_name} · {account.account_type.value}"


def _combo_line(account: AccountPublic) -> str:
    return f"{_account_line(account)} · {format_money(account.balance, account.currency)}"


class MovementDialog(QDialog):
    """Deposit into, withdraw from, or transfer out of an account, with a confirmation step."""

    completed = Signal(object)  # the TransactionPublic or TransferPublic of a movement made
    session_expired = Signal()

    def __init__(
        self,
        client: BankClient,
        kind: str,
        account: AccountPublic,
        accounts: list[AccountPublic] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        if kind not in KINDS:
            raise ValueError(f"unknown movement kind {kind!r}")
        self._client = client
        self._kind: Kind = kind
        self._account = account
        self._accounts = list(accounts or [])
        if all(a.id != account.id for a in self._accounts):
            self._accounts.insert(0, account)
        self._words = _WORDS[kind]
        self._step = Step.EDITING
        self._request: MovementRequest | None = None
        self._sent: MovementRequest | None = None
        # Keys of requests whose outcome is unknown: the same request must reuse its key.
        self._keys: dict[MovementRequest, str] = {}
        self.last_key: str | None = None
        # Definitive payee answers (None: no active account has that number) and failures.
        self._payees: dict[str, Payee | None] = {}
        self._payee_failures: dict[str, str] = {}
        self._lookups: set[str] = set()
        self._payee_timer = QTimer(self)
        self._payee_timer.setSingleShot(True)
        self._payee_timer.setInterval(PAYEE_DEBOUNCE_MS)
        self._payee_timer.timeout.connect(self._lookup_payee)
        self.movement_result: TransactionPublic | TransferPublic | None = None
        self.balance_after: Decimal | None = None
        self._result_account: AccountPublic | None = None
        self._result_payee: Payee | None = None
        self._error_unknown = False  # the error shown is an unknown outcome: keep it on edits

        self.setObjectName(f"{kind}Dialog")
        self.setWindowTitle(self._words.title)
        self.setModal(True)
        self.setMinimumWidth(480)
        self._build()
        self._source_changed()
        self._refresh()

    # -- building ----------------------------------------------------------------------

    def _build(self) -> None:
        layout = QVBoxLayout(self)
        heading = _plain_label("headingLabel", self._words.heading)
        font = heading.font()
        font.setBold(True)
        if font.pointSizeF() > 0:
            font.setPointSizeF(font.pointSizeF() * 1.2)
        heading.setFont(font)
        layout.addWidget(heading)

        form = QFormLayout()
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.DontWrapRows)
        self._inputs: list[QWidget] = []

        self.from_combo: QComboBox | None = None
        self.to_edit: QLineEdit | None = None
        self.payee_label: QLabel | None = None
        if self._kind == "transfer":
            combo = QComboBox()
            combo.setObjectName("fromAccountCombo")
            combo.setEditable(True)
            combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
            for acc in self._accounts:
                combo.addItem(_combo_line(acc), acc)
            completer = QCompleter(combo.model(), combo)
            completer.setFilterMode(Qt.MatchFlag.MatchContains)
            completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
            completer.setCompletionMode(QCompleter.CompletionMode.PopupCompletion)
            combo.setCompleter(completer)
            combo.setCurrentIndex(next(
                i for i, acc in enumerate(self._accounts) if acc.id == self._account.id
            ))  # fmt: skip
            combo.setAccessibleName("Source account")
            combo.currentTextChanged.connect(self._source_changed)
            self.from_combo = combo
            self._inputs.append(combo)
            form.addRow(self._buddy("&From account:", combo), combo)
            self.from_hint = _hint_label("fromAccountHint")
            form.addRow("", self.from_hint)
        else:
            self.account_label = _plain_label("accountLabel", _account_line(self._account))
            self.account_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            form.addRow("Account:", self.account_label)
            self.from_hint = _hint_label("accountHint")
            form.addRow("", self.from_hint)

        self.balance_label = _plain_label("balanceLabel")
        self.balance_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        form.addRow("Balance:", self.balance_label)

        if self._kind == "transfer":
            to_edit = QLineEdit()
            to_edit.setObjectName("toNumberEdit")
            to_edit.setPlaceholderText("10-digit account number")
            to_edit.setMaxLength(20)
            to_edit.setAccessibleName("Destination account number")
            to_edit.textChanged.connect(self._to_number_changed)
            to_edit.editingFinished.connect(self._lookup_payee)
            self.to_edit = to_edit
            self._inputs.append(to_edit)
            form.addRow(self._buddy("&To account:", to_edit), to_edit)
            self.payee_label = _hint_label("payeeLabel")
            form.addRow("", self.payee_label)

        self.amount_edit = QLineEdit()
        self.amount_edit.setObjectName("amountEdit")
        self.amount_edit.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.amount_edit.setPlaceholderText("0.00")
        self.amount_edit.setMaxLength(32)
        self.amount_edit.setAccessibleName("Amount")
        font = self.amount_edit.font()
        if font.pointSizeF() > 0:
            font.setPointSizeF(font.pointSizeF() * 1.25)
        self.amount_edit.setFont(font)
        self.amount_edit.textChanged.connect(self._edited)
        self._inputs.append(self.amount_edit)
        self.currency_label = _plain_label("currencyLabel")
        amount_row = QHBoxLayout()
        amount_row.addWidget(self.amount_edit, 1)
        amount_row.addWidget(self.currency_label)
        form.addRow(self._buddy("A&mount:", self.amount_edit), amount_row)
        self.amount_hint = _hint_label("amountHint")
        form.addRow("", self.amount_hint)

        self.description_edit = QLineEdit()
        self.description_edit.setObjectName("descriptionEdit")
        self.description_edit.setMaxLength(DESCRIPTION_MAX)
        self.description_edit.setPlaceholderText("Optional; shown on statements")
        self.description_edit.setAccessibleName("Description")
        self.description_edit.textChanged.connect(self._edited)
        self._inputs.append(self.description_edit)
        form.addRow(self._buddy("&Description:", self.description_edit), self.description_edit)
        self.description_hint = _hint_label("descriptionHint")
        form.addRow("", self.description_hint)
        layout.addLayout(form)

        self.confirm_label = _plain_label("confirmLabel")
        self.confirm_label.setWordWrap(True)
        bold = self.confirm_label.font()
        bold.setBold(True)
        self.confirm_label.setFont(bold)
        self.confirm_label.setStyleSheet(
            "padding: 8px; border: 1px solid #c4c7c5; border-radius: 4px;"
        )
        layout.addWidget(self.confirm_label)

        self.result_label = _message_label("resultLabel", "#1e4620", "#edf7ed", "#b7dfb9")
        layout.addWidget(self.result_label)

        self.error_label = _message_label("dialogError", _ERROR_COLOR, "#fdecea", "#f5c2c0")
        self.error_label.setHidden(True)
        layout.addWidget(self.error_label)

        busy_row = QHBoxLayout()
        self.busy_bar = QProgressBar()
        self.busy_bar.setObjectName("busyBar")
        self.busy_bar.setRange(0, 0)  # indeterminate
        self.busy_bar.setTextVisible(False)
        self.busy_bar.setMaximumHeight(8)
        self.busy_label = _plain_label("busyLabel", f"Sending the {self._words.noun}…")
        busy_row.addWidget(self.busy_label)
        busy_row.addWidget(self.busy_bar, 1)
        layout.addLayout(busy_row)

        self.buttons = QDialogButtonBox()
        self.ok_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Ok)
        self.cancel_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        self.receipt_button = QPushButton("Save receipt…")
        self.receipt_button.setObjectName("receiptButton")
        self.buttons.addButton(self.receipt_button, QDialogButtonBox.ButtonRole.ActionRole)
        self.close_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Close)
        self.ok_button.setDefault(True)
        self.ok_button.clicked.connect(self._ok_pressed)
        self.cancel_button.clicked.connect(self.reject)
        self.close_button.clicked.connect(self.accept)
        self.receipt_button.clicked.connect(lambda: self.save_receipt())
        layout.addWidget(self.buttons)

    def _buddy(self, text: str, widget: QWidget) -> QLabel:
        label = QLabel(text)
        label.setBuddy(widget)
        return label

    # -- reading the form --------------------------------------------------------------

    @property
    def kind(self) -> Kind:
        """Return what this dialog does: deposit, withdraw or transfer."""
        return self._kind

    @property
    def step(self) -> Step:
        """Return where the dialog is in its flow."""
        return self._step

    @property
    def outcome_unknown(self) -> bool:
        """Tell whether the last request's outcome is unknown (money may have moved)."""
        return self._step is Step.UNKNOWN

    def source_account(self) -> AccountPublic | None:
        """Return the account money comes from (or goes into), if one is chosen."""
        if self.from_combo is None:
            return self._account
        text = self.from_combo.currentText()
        for i in range(self.from_combo.count()):
            if self.from_combo.itemText(i) == text:
                account: AccountPublic = self.from_combo.itemData(i)
                return account
        typed = text.strip()
        return next((a for a in self._accounts if a.number == typed), None)

    def _to_number(self) -> str:
        return self.to_edit.text().replace(" ", "") if self.to_edit is not None else ""

    def _check_destination(self, source: AccountPublic | None) -> tuple[Payee | None, str, str]:
        """Return the payee if the destination is usable, else None, with a line and a tone."""
        number = self._to_number()
        if not number:
            return None, "Enter the account number to pay (10 digits).", "muted"
        if not _DIGITS_RE.fullmatch(number):
            return None, "Account numbers have digits only.", "error"
        if len(number) < 10:
            return None, f"Account numbers have 10 digits ({len(number)} so far).", "muted"
        if len(number) > 10:
            return None, "Account numbers have 10 digits.", "error"
        if not is_valid_number(number):
            return None, "This is not a valid account number: check the digits.", "error"
        if source is not None and number == source.number:
            return None, "This is the source account; choose another destination.", "error"
        if number in self._payees:
            payee = self._payees[number]
            if payee is None:
                return None, "No active account has this number.", "error"
            line = f"{payee.holder} · {payee.currency} · {payee.account_type.value}"
            if source is not None and payee.currency != source.currency:
                return None, (
                    f"{line}: this account holds {payee.currency} and the source holds "
                    f"{source.currency}; a transfer needs the same currency on both sides."
                ), "error"  # fmt: skip
            return payee, line, "ok"
        if number in self._payee_failures:
            return None, (
                f"Could not check the number ({self._payee_failures[number]}). "
                "Press Enter in the field to try again."
            ), "error"  # fmt: skip
        return None, "Looking up the account…", "muted"

    def _validate(self) -> None:
        """Check every field, show the reasons inline and remember the request, if any."""
        source = self.source_account()
        ok = True
        if source is None:
            _set_tone(self.from_hint, "Choose an account from the list.", "error")
            ok = False
        elif source.status is not AccountStatus.ACTIVE:
            _set_tone(
                self.from_hint,
                f"This account is {source.status.value}; no money can move on it.",
                "error",
            )
            ok = False
        else:
            _set_tone(self.from_hint, "", "muted")

        to_number: str | None = None
        if self.payee_label is not None:
            payee, line, tone = self._check_destination(source)
            _set_tone(self.payee_label, line, tone)
            self.payee_label.setHidden(False)
            if self.to_edit is not None:
                self.to_edit.setAccessibleDescription(line)
            if payee is None:
                ok = False
            else:
                to_number = payee.number

        text = self.amount_edit.text()
        currency = source.currency if source is not None else ""
        problem = amount_problem(text)
        amount: Decimal | None = None
        if problem is None:
            amount = parse_amount(text)
            _set_tone(self.amount_hint, format_money(amount, currency or None), "muted")
            self.amount_hint.setAlignment(Qt.AlignmentFlag.AlignRight)  # money lines up right
        else:
            self.amount_hint.setAlignment(Qt.AlignmentFlag.AlignLeft)
            ok = False
            tone = "muted" if text == "" else "error"
            if text == "":
                problem = (
                    f"Enter an amount from {format_money(MIN_AMOUNT)} "
                    f"to {format_money(MAX_AMOUNT)}."
                )
            _set_tone(self.amount_hint, problem, tone)
        self.amount_hint.setHidden(False)
        self.amount_edit.setAccessibleDescription(self.amount_hint.text())

        description = self.description_edit.text().strip()
        if description and not description.isprintable():
            _set_tone(self.description_hint, "Use printable characters only.", "error")
            ok = False
        else:
            _set_tone(self.description_hint, "", "muted")

        if ok and source is not None and amount is not None:
            self._request = MovementRequest(
                self._kind, source.id, to_number, amount, description or None
            )
        else:
            self._request = None

    # -- reacting to edits -------------------------------------------------------------

    def _source_changed(self, _: str = "") -> None:
        source = self.source_account()
        if source is not None:
            self.balance_label.setText(format_money(source.balance, source.currency))
            self.currency_label.setText(source.currency)
        else:
            self.balance_label.setText("—")
            self.currency_label.setText("")
        self._schedule_lookup()  # a number refused as "the source account" may now be fine
        self._edited()

    def _to_number_changed(self, _: str = "") -> None:
        self._schedule_lookup()
        self._edited()

    def _schedule_lookup(self) -> None:
        """Look the destination up once the teller pauses, unless its answer is known."""
        if self.to_edit is None:
            return
        number = self._to_number()
        if is_valid_number(number) and number not in self._payees:
            self._payee_timer.start()
        else:
            self._payee_timer.stop()

    def _edited(self, _: str = "") -> None:
        """Re-check the form; any edit leaves the confirmation step."""
        if self._step in (Step.BUSY, Step.DONE):
            return
        if self._step is Step.CONFIRMING:
            self._step = Step.EDITING
        elif self._step is Step.UNKNOWN:
            # The warning stays: the old request may have moved money.
            self._step = Step.EDITING
        elif not self.error_label.isHidden() and not self._error_unknown:
            self.error_label.setHidden(True)
        self._validate()
        self._refresh()

    # -- payee lookup ------------------------------------------------------------------

    def _lookup_payee(self) -> None:
        number = self._to_number()
        if not is_valid_number(number) or number in self._payees or number in self._lookups:
            return
        source = self.source_account()
        if source is not None and number == source.number:
            return
        self._payee_timer.stop()
        self._payee_failures.pop(number, None)
        self._lookups.add(number)
        self._validate()
        run_task(
            self._client.payee,
            number,
            on_done=lambda payee: self._payee_found(number, payee),
            on_error=lambda error: self._payee_failed(number, error),
        )

    def _payee_found(self, number: str, payee: Payee) -> None:
        if not shiboken6.isValid(self):
            return
        self._lookups.discard(number)
        self._payees[number] = payee
        self._edited_quietly()

    def _payee_failed(self, number: str, error: BaseException) -> None:
        if not shiboken6.isValid(self):
            return
        self._lookups.discard(number)
        if isinstance(error, ApiError) and error.status == 404:
            self._payees[number] = None
        elif isinstance(error, SessionExpired):
            self._payee_failures[number] = "your session has expired; sign in again"
            self.session_expired.emit()
        elif isinstance(error, ApiError):
            self._payee_failures[number] = error.message
        else:
            self._payee_failures[number] = str(error) or type(error).__name__
        self._edited_quietly()

    def _edited_quietly(self) -> None:
        """Re-check after a lookup without leaving the step the teller is in."""
        if self._step in (Step.BUSY, Step.DONE):
            return
        self._validate()
        if self._request is None and self._step is Step.CONFIRMING:
            self._step = Step.EDITING
        self._refresh()

    # -- the flow ----------------------------------------------------------------------

    def submit(self) -> None:
        """Press Ok: review the request, confirm it, or retry it after an unknown outcome."""
        if self.ok_button.isEnabled() and not self.ok_button.isHidden():
            self._ok_pressed()

    def _ok_pressed(self) -> None:
        if self._request is None:
            return
        if self._step is Step.EDITING:
            self._step = Step.CONFIRMING
            self.confirm_label.setText(self._summary(self._request))
            self._refresh()
            self.ok_button.setFocus()
        elif self._step in (Step.CONFIRMING, Step.UNKNOWN):
            self._submit(self._request)

    def _summary(self, request: MovementRequest) -> str:
        source = self.source_account()
        assert source is not None
        amount = format_money(request.amount, source.currency)
        where = f"{source.number} ({source.owner_name})"
        if request.kind == "transfer":
            payee = self._payees.get(request.to_number or "")
            holder = f" ({payee.holder})" if payee else ""
            text = f"Transfer {amount} from {where} to {request.to_number}{holder}?"
        else:
            text = f"{self._words.verb} {amount} {self._words.preposition} {where}?"
        if request.description:
            text += f"\nDescription: {request.description}"
        return text

    def _submit(self, request: MovementRequest) -> None:
        key = self._keys.get(request) or _new_key()
        self._keys[request] = key  # kept until a final answer arrives
        self.last_key = key
        self._sent = request
        self._step = Step.BUSY
        self.error_label.setHidden(True)
        self._refresh()
        run_task(
            _perform, self._client, request, key,
            on_done=self._succeeded, on_error=self._failed,
        )  # fmt: skip

    def _succeeded(self, outcome: _Outcome) -> None:
        if not shiboken6.isValid(self):
            return
        if self._sent is not None:
            self._keys.pop(self._sent, None)
        self.movement_result = outcome.result
        self.balance_after = outcome.balance_after
        self._result_account = self.source_account()
        if isinstance(outcome.result, TransferPublic):
            self._result_payee = self._payees.get(outcome.result.to_number)
        self._error_unknown = False
        self.completed.emit(outcome.result)
        self._step = Step.DONE
        self.result_label.setText(self._result_text())
        if self.balance_after is not None and self._result_account is not None:
            self.balance_label.setText(
                format_money(self.balance_after, self._result_account.currency)
            )
        self._refresh()
        self.close_button.setFocus()

    def _failed(self, error: BaseException) -> None:
        if not shiboken6.isValid(self):
            return
        message, unknown = explain_error(error, self._kind)
        if not unknown and self._sent is not None:
            self._keys.pop(self._sent, None)  # a final answer: the next press is a new request
        self._error_unknown = unknown
        if isinstance(error, ApiError):
            self._learn_from_refusal(error)
        self.error_label.setText(message)
        self.error_label.setHidden(False)
        self._step = Step.UNKNOWN if unknown else Step.EDITING
        if isinstance(error, SessionExpired):
            self.session_expired.emit()
        self._validate()
        self._refresh()

    def _learn_from_refusal(self, error: ApiError) -> None:
        """Update what the dialog shows from what a refusal taught (balance, payee)."""
        source = self.source_account()
        if error.code == ErrorCode.INSUFFICIENT_FUNDS and source is not None:
            match = _BALANCE_RE.search(error.message)
            if match and match.group(2) == source.currency:
                self.balance_label.setText(_money(match.group(1), source.currency))
        if error.code == ErrorCode.NOT_FOUND and self._sent and self._sent.to_number:
            self._payees.pop(self._sent.to_number, None)
            self._payee_timer.start()

    def _result_text(self) -> str:
        result, account = self.movement_result, self._result_account
        assert result is not None
        assert account is not None
        amount = format_money(result.amount, account.currency)
        if isinstance(result, TransferPublic):
            payee = self._result_payee
            holder = f" ({payee.holder})" if payee else ""
            text = (
                f"Transferred {amount} from {result.from_number} to {result.to_number}{holder}. "
                f"Transfer no. {result.id}."
            )
        else:
            text = (
                f"{self._words.past} {amount} {self._words.preposition} {account.number}. "
                f"Transaction no. {result.id}."
            )
        if self.balance_after is not None:
            text += f"\nBalance now: {format_money(self.balance_after, account.currency)}."
        return text

    def _refresh(self) -> None:
        """Show the widgets and button texts of the current step."""
        step = self._step
        editable = step not in (Step.BUSY, Step.DONE)
        for widget in self._inputs:
            widget.setEnabled(editable)
        self.ok_button.setHidden(step is Step.DONE)
        self.ok_button.setText(
            {Step.CONFIRMING: "Confirm", Step.UNKNOWN: "Retry"}.get(step, "Review")
        )
        self.ok_button.setEnabled(editable and self._request is not None)
        self.cancel_button.setHidden(step is Step.DONE)
        self.cancel_button.setEnabled(step is not Step.BUSY)
        self.close_button.setHidden(step is not Step.DONE)
        self.receipt_button.setHidden(step is not Step.DONE)
        self.confirm_label.setHidden(step not in (Step.CONFIRMING, Step.BUSY, Step.UNKNOWN))
        self.result_label.setHidden(step is not Step.DONE)
        self.busy_label.setHidden(step is not Step.BUSY)
        self.busy_bar.setHidden(step is not Step.BUSY)
        if step is Step.DONE:
            self.close_button.setDefault(True)
        else:
            self.ok_button.setDefault(True)

    # -- closing and receipts ----------------------------------------------------------

    def reject(self) -> None:
        """Close, except while a request is on its way (its answer must be seen)."""
        if self._step is Step.BUSY:
            return
        super().reject()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt's name
        """Refuse to close while a request is on its way."""
        if self._step is Step.BUSY:
            event.ignore()
            return
        super().closeEvent(event)

    def save_receipt(self, path: str | Path | None = None) -> Path | None:
        """Write the PDF receipt of the movement made; ask where when no path is given."""
        if self.movement_result is None or self._result_account is None:
            return None
        if path is None:
            folder = QStandardPaths.writableLocation(
                QStandardPaths.StandardLocation.DocumentsLocation
            )
            suggested = str(Path(folder) / f"receipt-{self._kind}-{self.movement_result.id}.pdf")
            chosen, _ = QFileDialog.getSaveFileName(
                self, "Save receipt", suggested, "PDF files (*.pdf)"
            )
            if not chosen:
                return None
            path = chosen
        target = Path(path)
        try:
            write_receipt(
                target, self.movement_result, self._result_account, self._kind,
                balance_after=self.balance_after, payee=self._result_payee,
            )  # fmt: skip
        except OSError as exc:
            self.error_label.setText(f"Could not save the receipt: {exc.strerror or exc}.")
            self.error_label.setHidden(False)
            return None
        self.error_label.setHidden(True)
        self.result_label.setText(f"{self._result_text()}\nReceipt saved to {target}.")
        return target


def _when(moment: datetime) -> str:
    local = moment.astimezone()
    offset = local.strftime("%z")
    offset = f"{offset[:3]}:{offset[3:]}" if offset else ""
    return f"{local:%Y-%m-%d %H:%M:%S} (UTC{offset})"


def receipt_html(
    result: TransactionPublic | TransferPublic,
    account: AccountPublic,
    kind: str,
    *,
    balance_after: Decimal | None = None,
    payee: Payee | None = None,
    bank_name: str = BANK_NAME,
) -> str:
    """Return the receipt of a movement as HTML (values escaped)."""
    words = _WORDS[kind]
    currency = account.currency
    rows: list[tuple[str, str, bool]] = [
        ("Date", _when(result.created_at), False),
        ("Type", words.receipt_type, False),
    ]
    if isinstance(result, TransferPublic):
        to = result.to_number + (f" ({payee.holder})" if payee else "")
        rows += [
            ("From account", f"{result.from_number} ({account.owner_name})", False),
            ("To account", to, False),
        ]
    else:
        rows.append(("Account", f"{account.number} ({account.owner_name})", False))
    rows.append(("Amount", format_money(result.amount, currency), True))
    if isinstance(result, TransactionPublic):
        balance_after = result.balance_after
    rows.append((
        "Balance after",
        format_money(balance_after, currency) if balance_after is not None else "not available",
        True,
    ))  # fmt: skip
    rows.append(("Description", result.description or "—", False))
    if isinstance(result, TransferPublic):
        rows.append(("Transfer no.", str(result.id), False))
    else:
        rows.append(("Transaction no.", str(result.id), False))
    if result.performed_by is not None:
        rows.append(("Performed by", f"user {result.performed_by}", False))
    cells = "".join(
        f"<tr><td style='color:#5f6368; padding:4px 16px 4px 0'>{html.escape(label)}</td>"
        f"<td style='padding:4px 0' align='{'right' if money else 'left'}'>"
        f"{html.escape(value)}</td></tr>"
        for label, value, money in rows
    )
    return (
        f"<h2>{html.escape(bank_name)}</h2>"
        f"<p style='font-size:large'><b>Receipt: {html.escape(words.receipt_type.lower())}</b></p>"
        f"<table cellspacing='0' width='100%'>{cells}</table>"
        "<p style='color:#5f6368; font-size:small'>Keep this receipt for your records.</p>"
    )


def write_receipt(
    path: str | Path,
    result: TransactionPublic | TransferPublic,
    account: AccountPublic,
    kind: str,
    *,
    balance_after: Decimal | None = None,
    payee: Payee | None = None,
    bank_name: str = BANK_NAME,
) -> None:
    """Write a one-page PDF receipt of a movement (needs a QGuiApplication); raise OSError."""
    if kind not in _WORDS:
        raise ValueError(f"unknown movement kind {kind!r}")
    buffer = QBuffer()
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    writer = QPdfWriter(buffer)
    writer.setTitle(f"{bank_name} receipt {result.id}")
    writer.setCreator(bank_name)
    writer.setResolution(300)
    writer.setPageLayout(QPageLayout(
        QPageSize(QPageSize.PageSizeId.A5), QPageLayout.Orientation.Portrait,
        QMarginsF(15, 15, 15, 15), QPageLayout.Unit.Millimeter,
    ))  # fmt: skip
    document = QTextDocument()
    font = QFont()
    font.setPointSizeF(10)
    document.setDefaultFont(font)
    document.setHtml(
        receipt_html(
            result, account, kind, balance_after=balance_after, payee=payee, bank_name=bank_name
        )
    )
    document.print_(writer)  # ends the painter, which finishes the PDF
    del writer
    buffer.close()
    # Write from Python so a bad path raises OSError instead of failing silently in Qt.
    Path(path).write_bytes(bytes(buffer.data().data()))
