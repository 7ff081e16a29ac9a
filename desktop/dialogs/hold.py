"""Place a hold on an account, release one (legal and fraud releases wait for approval), and
say in words how much of an account is held and why."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from PySide6.QtCore import QDateTime, QTime
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDateTimeEdit,
    QLineEdit,
    QPushButton,
    QWidget,
)

from desktop import text
from desktop.api.client import ApprovalRequired, BankClient, new_idempotency_key
from desktop.dialogs.form import FormDialog, Request
from desktop.dialogs.movement.messages import amount_problem
from desktop.dialogs.movement.parts import account_line
from desktop.text import money, tr
from desktop.widgets import named
from desktop.widgets.labels import plain_label
from shared.money import parse_amount
from shared.schemas.accounts import AccountPublic
from shared.schemas.common import Role
from shared.schemas.holds import (
    RESTRICTED_HOLD_REASONS,
    TELLER_HOLD_REASONS,
    HoldPublic,
    HoldReason,
)

DEFAULT_EXPIRY_DAYS = 7


def held_words(account: AccountPublic, holds: Sequence[HoldPublic] | None = None) -> str:
    """Say how much of an account is held and, from its active holds, why ("" if nothing)."""
    if account.held <= 0:
        return ""
    total = money(account.held, account.currency)
    reasons = [
        f"{text.hold_reason(h.reason_code)} {money(h.amount, account.currency)}"
        + (f" ({h.reference})" if h.reference else "")
        for h in holds or () if h.status.value == "active"
    ]  # fmt: skip
    if not reasons:
        return tr("{total} is on hold.").format(total=total)
    return tr("{total} is on hold: {reasons}.").format(total=total, reasons="; ".join(reasons))


def reasons_for(role: Role) -> tuple[HoldReason, ...]:
    """Return the reasons a role may place a hold for (tellers: not legal or fraud)."""
    if role is Role.TELLER:
        return tuple(r for r in HoldReason if r in TELLER_HOLD_REASONS)
    return tuple(HoldReason)


class PlaceHoldDialog(FormDialog):
    """Hold an amount on an account for a reason, with a reference and an optional expiry."""

    def __init__(self, client: BankClient, account: AccountPublic, role: Role,
                 parent: QWidget | None = None) -> None:  # fmt: skip
        super().__init__(tr("Place hold"), "placeHoldDialog", client, parent)
        self.account = account
        self._keys: dict[tuple[Any, ...], str] = {}
        self.form.addRow(tr("Account"), plain_label("holdAccountLabel", account_line(account)))
        self.form.addRow(
            tr("Available"),
            plain_label("holdAvailableLabel", money(account.available, account.currency)),
        )
        self.reason = named(QComboBox(), "holdReasonCombo")
        for reason in reasons_for(role):
            self.reason.addItem(text.hold_reason(reason), reason.value)
        self.amount = named(QLineEdit(), "holdAmountEdit")
        self.amount.setPlaceholderText(tr("e.g. 250.00"))
        self.reference = named(QLineEdit(), "holdReferenceEdit")
        self.reference.setMaxLength(140)
        self.reference.setPlaceholderText(tr("Optional: cheque no., case or court reference"))
        self.expires = named(QCheckBox(tr("Expires")), "holdExpiresCheck")
        self.expires_at = named(QDateTimeEdit(), "holdExpiresEdit")
        self.expires_at.setCalendarPopup(True)
        self.expires_at.setDisplayFormat("yyyy-MM-dd HH:mm")
        later = QDateTime.currentDateTime().addDays(DEFAULT_EXPIRY_DAYS)
        later.setTime(QTime(17, 0))
        self.expires_at.setDateTime(later)
        self.expires_at.setEnabled(False)
        self.expires.toggled.connect(self.expires_at.setEnabled)
        self.form.addRow(tr("&Reason"), self.reason)
        self.form.addRow(tr("A&mount"), self.amount)
        self.form.addRow(tr("Re&ference"), self.reference)
        self.form.addRow(self.expires, self.expires_at)
        for edit in (self.amount, self.reference):
            edit.textChanged.connect(self.update_state)
        self.expires.toggled.connect(self.update_state)
        self.expires_at.dateTimeChanged.connect(self.update_state)
        self.built(self.reason)

    def _expiry(self) -> datetime | None:
        if not self.expires.isChecked():
            return None
        moment = self.expires_at.dateTime().toPython()
        assert isinstance(moment, datetime)
        return moment.astimezone(UTC)  # the edit shows local time

    def problem(self) -> str | None:
        """Return why the hold cannot be placed as typed, or None."""
        if self.reason.count() == 0:
            return tr("You may not place holds.")
        reason = amount_problem(self.amount.text())
        if reason is not None:
            return reason
        reference = self.reference.text().strip()
        if reference and not reference.isprintable():
            return tr("The reference may hold printable characters only.")
        expiry = self._expiry()
        if expiry is not None and expiry <= datetime.now(UTC) + timedelta(minutes=1):
            return tr("The expiry must be in the future.")
        return None

    def notice(self) -> str:
        """Warn when the hold is larger than what is available (a lien)."""
        if amount_problem(self.amount.text()) is None:
            amount = parse_amount(self.amount.text())
            if amount > self.account.available:
                return tr(
                    "This is more than the {available} available: the account can pay out "
                    "nothing until the hold is released or covered."
                ).format(available=money(self.account.available, self.account.currency))
        return ""

    def request(self) -> Request:
        amount: Decimal = parse_amount(self.amount.text())
        expiry = self._expiry()
        args = (self.account.id, amount, self.reason.currentData(),
                self.reference.text().strip() or None,
                expiry.isoformat() if expiry else None)  # fmt: skip
        # The same hold sent again (after no answer) carries the same key: placed once.
        key = self._keys.setdefault(args, new_idempotency_key())
        return self.client.place_hold, (*args, key), {}


def _release(client: BankClient, hold_id: int, note: str | None,
             key: str) -> HoldPublic | ApprovalRequired:  # fmt: skip
    """Release a hold; a release that waits for approval is an answer here, not a failure."""
    try:
        return client.release_hold(hold_id, note, key)
    except ApprovalRequired as pending:
        return pending


class ReleaseHoldDialog(FormDialog):
    """Release one active hold, with an optional note; legal and fraud ones go to approval."""

    def __init__(self, client: BankClient, account: AccountPublic, hold: HoldPublic,
                 parent: QWidget | None = None) -> None:  # fmt: skip
        super().__init__(tr("Release hold"), "releaseHoldDialog", client, parent)
        self.hold = hold
        self.approval_id: int | None = None
        self._key = new_idempotency_key()
        what = tr("{reason} {amount} on {number}").format(
            reason=text.hold_reason(hold.reason_code),
            amount=money(hold.amount, account.currency), number=account.number,
        )  # fmt: skip
        self.form.addRow(tr("Hold"), plain_label("releaseHoldLabel", what))
        if hold.reference:
            self.form.addRow(tr("Reference"), plain_label("releaseReferenceLabel", hold.reference))
        self.note = named(QLineEdit(), "releaseNoteEdit")
        self.note.setMaxLength(500)
        self.note.setPlaceholderText(tr("Optional: why it is released"))
        self.note.textChanged.connect(self.update_state)
        self.form.addRow(tr("&Note"), self.note)
        self.close_button = named(QPushButton(tr("Close")), "releaseCloseButton")
        self.close_button.clicked.connect(self.accept)
        self.built(self.note)

    @property
    def needs_approval(self) -> bool:
        """Tell whether the release waits for a second person (legal and fraud holds)."""
        return self.hold.reason_code in RESTRICTED_HOLD_REASONS

    def notice(self) -> str:
        """Say that a legal or fraud release waits for approval."""
        if self.needs_approval:
            return tr("A {reason} hold is released only once a second person approves "
                      "(approval hold.release).").format(
                reason=text.hold_reason(self.hold.reason_code).lower())  # fmt: skip
        return ""

    def problem(self) -> str | None:
        """Return why the release cannot be sent, or None."""
        note = self.note.text().strip()
        if note and not note.isprintable():
            return tr("The note may hold printable characters only.")
        return None

    def request(self) -> Request:
        return _release, (self.client, self.hold.id, self.note.text().strip() or None,
                          self._key), {}  # fmt: skip

    def finish(self, result: object) -> None:
        if isinstance(result, ApprovalRequired):
            self.approval_id = result.approval_id
            self.offer(tr("The release waits for approval hold.release (request no. {id}); "
                          "the hold stays active until a second person approves it.").format(
                id=result.approval_id), self.close_button)  # fmt: skip
            return
        self.accept()
