"""What every movement dialog shares: amount and description, the confirmation, the answer.

Subclasses add where the money comes from and goes to (`CashDialog`, `TransferDialog`);
the steps live in a `MovementFlow`, which this dialog only shows. The network call runs on
a worker; the dialog refuses to close while it is on its way.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import shiboken6
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QVBoxLayout,
    QWidget,
)

from desktop import theme
from desktop.api.client import (
    ApiError,
    ApprovalRequired,
    BankClient,
    SessionExpired,
    new_idempotency_key,
)
from desktop.dialogs.approval import approval_of, outcome_text
from desktop.dialogs.approval_panel import PendingPanel
from desktop.dialogs.movement.flow import Kind, MovementFlow, MovementRequest, Press, Step
from desktop.dialogs.movement.messages import (
    amount_problem,
    amount_range,
    explain_failure,
    situation,
    words,
)
from desktop.dialogs.movement.parts import (
    RIGHT,
    amount_field,
    buddy,
    busy_row,
    confirmation_label,
    description_field,
    movement_buttons,
)
from desktop.dialogs.movement.receipt import Receipt, performer_name, write_receipt
from desktop.text import account_status, money, tr
from desktop.theme import Tone
from desktop.widgets.files import FileChooser
from desktop.widgets.labels import ToneLabel, plain_label
from desktop.workers import run_task
from shared.errors import ErrorCode
from shared.money import parse_amount
from shared.schemas.accounts import AccountPublic, Payee
from shared.schemas.approvals import ApprovalAction, ApprovalPublic, ApprovalStatus, PolicyPublic
from shared.schemas.common import AccountStatus, Page, Role
from shared.schemas.transactions import TransactionPublic, TransferPublic

Result = TransactionPublic | TransferPublic


# The approval policy of each kind of movement (API.md "Approvals").
_POLICY_OF: dict[Kind, ApprovalAction] = {
    "deposit": ApprovalAction.DEPOSIT, "withdraw": ApprovalAction.WITHDRAWAL,
    "transfer": ApprovalAction.TRANSFER,
}  # fmt: skip


class MovementDialog(QDialog):
    """Move money once, after a confirmation; show the answer and offer a receipt."""

    completed = Signal(object)  # the TransactionPublic or TransferPublic of a movement made
    # Reverse… on the receipt view (staff): the movement made and its account.
    reverse_requested = Signal(object, object)
    session_expired = Signal()
    source_hint: ToneLabel  # built by the subclass with the source rows

    def __init__(
        self, client: BankClient, kind: Kind, account: AccountPublic,
        files: FileChooser | None = None, parent: QWidget | None = None,
    ) -> None:  # fmt: skip
        super().__init__(parent)
        self._client = client
        self._kind: Kind = kind
        self._account = account
        self._files = files or FileChooser(None)
        self._words = words(kind)
        self.flow = MovementFlow(new_idempotency_key)
        self.movement_result: Result | None = None
        self.balance_after: Decimal | None = None
        self._result_account: AccountPublic | None = None
        self._result_payee: Payee | None = None
        self.pending_panel: PendingPanel | None = None  # while the movement awaits approval
        self.setObjectName(f"{kind}Dialog")
        self.setWindowTitle(self._words.title)
        self.setModal(True)
        self.setMinimumWidth(480)
        self._inputs: list[QWidget] = []
        self.policy: PolicyPublic | None = None  # this movement's approval policy (staff)
        self._build()
        user = getattr(client, "user", None)
        if user is not None and user.role is not Role.USER:
            # Staff read the policies (customers may not): the review then says when the
            # amount alone reaches the threshold. The server decides either way.
            run_task(client.approval_policies, on_done=self._policies_arrived,
                     on_error=lambda _error: None)  # fmt: skip

    # -- what subclasses provide -------------------------------------------------------

    def _build_source(self, form: QFormLayout) -> None:
        """Add the rows naming where the money comes from (or goes into)."""
        raise NotImplementedError

    def _build_destination(self, form: QFormLayout) -> None:
        """Add the rows naming where the money goes (transfers only)."""

    def source_account(self) -> AccountPublic | None:
        """Return the account money comes from (or goes into), if one is chosen."""
        return self._account

    def _destination(self, source: AccountPublic | None) -> tuple[bool, str | None]:
        """Check the destination: (usable, the number to send)."""
        return True, None

    def _perform(self) -> Callable[[MovementRequest, str], Result]:
        """Return the call that sends a request under a key (runs on a worker)."""
        raise NotImplementedError

    def _summary(self, request: MovementRequest, source: AccountPublic) -> str:
        """Return the confirmation question."""
        amount = money(request.amount, source.currency)
        where = f"{source.number} ({source.owner_name})"
        return f"{self._words.verb} {amount} {self._words.preposition} {where}?"

    def _result_text(self, result: Result, account: AccountPublic) -> str:
        """Return what happened, for the result panel."""
        return tr("{past} {amount} {preposition} {number}. Transaction no. {id}.").format(
            past=self._words.past, amount=money(result.amount, account.currency),
            preposition=self._words.preposition, number=account.number, id=result.id,
        )  # fmt: skip

    def _till_words(self, result: Result) -> str | None:
        """Return the till and session a cash movement went through, for its receipt."""
        return None

    def _learn(self, result: Result) -> None:
        """Remember what the answer tells beyond the movement (the payee named)."""

    def _refused(self, sent: MovementRequest | None, error: BaseException) -> None:
        """Update what the dialog shows from what a refusal taught (the balance now)."""
        source = self.source_account()
        facts = error.context if isinstance(error, ApiError) else {}
        if (
            isinstance(error, ApiError) and error.code == ErrorCode.INSUFFICIENT_FUNDS
            and source is not None and facts.get("currency") == source.currency
            and facts.get("balance") is not None
        ):  # fmt: skip
            self.balance_label.setText(money(Decimal(str(facts["balance"])), source.currency))

    # -- building ----------------------------------------------------------------------

    def _build(self) -> None:
        layout = QVBoxLayout(self)
        heading = plain_label("headingLabel", self._words.heading)
        theme.emphasize(heading, 1.2)
        layout.addWidget(heading)
        form = QFormLayout()
        form.setLabelAlignment(RIGHT)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.DontWrapRows)
        self._build_source(form)
        self.balance_label = plain_label("balanceLabel")
        self.balance_label.setAlignment(RIGHT)
        form.addRow(tr("Balance:"), self.balance_label)
        self._build_destination(form)
        self.amount_edit = amount_field()
        self.currency_label = plain_label("currencyLabel")
        amount_row = QHBoxLayout()
        amount_row.addWidget(self.amount_edit, 1)
        amount_row.addWidget(self.currency_label)
        form.addRow(buddy(tr("A&mount:"), self.amount_edit), amount_row)
        self.amount_hint = ToneLabel("amountHint", hint=True)
        form.addRow("", self.amount_hint)
        self.description_edit = description_field()
        form.addRow(buddy(tr("&Description:"), self.description_edit), self.description_edit)
        self.description_hint = ToneLabel("descriptionHint", hint=True)
        form.addRow("", self.description_hint)
        for edit in (self.amount_edit, self.description_edit):
            edit.textChanged.connect(self._edited)
            self._inputs.append(edit)
        layout.addLayout(form)
        self.confirm_label = confirmation_label()
        self.result_label = ToneLabel("resultLabel", panel=True)
        self.result_label.show_text("", Tone.OK)
        self.error_label = ToneLabel("dialogError", panel=True)
        self.error_label.show_text("", Tone.ERROR)
        for label in (self.confirm_label, self.result_label, self.error_label):
            layout.addWidget(label)
        row, self.busy_label, self.busy_bar = busy_row(self._words.noun)
        layout.addLayout(row)
        self._approval_area = QVBoxLayout()
        layout.addLayout(self._approval_area)
        (self.buttons, self.ok_button, self.cancel_button, self.receipt_button,
         self.close_button) = movement_buttons()  # fmt: skip
        self.ok_button.clicked.connect(self.submit)
        self.cancel_button.clicked.connect(self.reject)
        self.close_button.clicked.connect(self.accept)
        self.receipt_button.clicked.connect(lambda: self.save_receipt())
        self.reverse_button = self.buttons.addButton(
            tr("&Reverse…"), QDialogButtonBox.ButtonRole.ActionRole
        )
        self.reverse_button.setObjectName("reverseButton")
        self.reverse_button.setToolTip(tr("Reverse this movement (a reason, then its legs)"))
        self.reverse_button.clicked.connect(self._reverse)
        self.can_reverse = False  # set by whoever listens to reverse_requested (staff)
        layout.addWidget(self.buttons)
        self.amount_edit.setFocus()

    def _start(self) -> None:
        """Show the source's balance and check the empty form (subclasses call it once)."""
        self._source_changed()

    # -- reading the form --------------------------------------------------------------

    @property
    def kind(self) -> Kind:
        """Return what this dialog does: deposit, withdraw or transfer."""
        return self._kind

    @property
    def step(self) -> Step:
        """Return where the dialog is in its flow."""
        return self.flow.step

    @property
    def outcome_unknown(self) -> bool:
        """Tell whether the last request's outcome is unknown (money may have moved)."""
        return self.flow.step is Step.UNKNOWN

    @property
    def last_key(self) -> str | None:
        """Return the Idempotency-Key of the last request sent."""
        return self.flow.last_key

    def _source_problem(self, source: AccountPublic | None) -> str:
        if source is None:
            return tr("Choose an account from the list.")
        if source.status is not AccountStatus.ACTIVE:
            return tr("This account is {status}; no money can move on it.").format(
                status=account_status(source.status).lower()
            )
        return ""

    def _read(self) -> MovementRequest | None:
        """Check every field, show the reasons inline, and return the request if valid."""
        source = self.source_account()
        problem = self._source_problem(source)
        self.source_hint.show_text(problem, Tone.ERROR)
        ok = not problem
        usable, to_number = self._destination(source)
        ok = ok and usable

        text = self.amount_edit.text()
        currency = source.currency if source is not None else None
        reason = amount_problem(text)
        amount: Decimal | None = None
        if reason is None:
            amount = parse_amount(text)
            self.amount_hint.show_text(money(amount, currency), Tone.MUTED)
            self.amount_hint.setAlignment(Qt.AlignmentFlag.AlignRight)  # money lines up right
        else:
            ok = False
            self.amount_hint.setAlignment(Qt.AlignmentFlag.AlignLeft)
            if text == "":
                self.amount_hint.show_text(amount_range(), Tone.MUTED)
            else:
                self.amount_hint.show_text(reason, Tone.ERROR)
        self.amount_edit.setAccessibleDescription(self.amount_hint.text())

        description = self.description_edit.text().strip()
        if description and not description.isprintable():
            self.description_hint.show_text(tr("Use printable characters only."), Tone.ERROR)
            ok = False
        else:
            self.description_hint.show_text("", Tone.MUTED)
        if not ok or source is None or amount is None:
            return None
        return MovementRequest(self._kind, source.id, to_number, amount, description or None)

    # -- reacting ----------------------------------------------------------------------

    def _source_changed(self, _: str = "") -> None:
        source = self.source_account()
        if source is not None:
            self.balance_label.setText(money(source.balance, source.currency))
            self.currency_label.setText(source.currency)
        else:
            self.balance_label.setText("—")
            self.currency_label.setText("")
        self._edited()

    def _edited(self, _: str = "") -> None:
        """Re-check the form; any edit leaves the confirmation step."""
        self.flow.edited(self._read())
        self._render()

    def _revalidate(self) -> None:
        """Re-check after something outside the form changed, keeping the step."""
        self.flow.revalidated(self._read())
        self._render()

    def submit(self) -> None:
        """Press Ok: review the request, confirm it, or retry it after an unknown outcome."""
        source = self.source_account()
        press = self.flow.press()
        if press is Press.REVIEW and self.flow.request is not None and source is not None:
            self.confirm_label.setText(self._confirmation(self.flow.request, source))
            self._render()
            self.ok_button.setFocus()
        elif press is Press.SEND:
            request, key = self.flow.send()
            self._render()
            run_task(self._perform(), request, key, on_done=self._succeeded,
                     on_error=self._failed)  # fmt: skip

    def _confirmation(self, request: MovementRequest, source: AccountPublic) -> str:
        text = self._summary(request, source)
        if request.description:
            text += "\n" + tr("Description: {text}").format(text=request.description)
        if (threshold := self.approval_threshold(request.amount, source.currency)) is not None:
            text += "\n" + tr(
                "Needs a supervisor's approval: {threshold} and over. Nothing moves until "
                "it is approved."
            ).format(threshold=money(threshold, source.currency))  # fmt: skip
        return text

    def _policies_arrived(self, page: Page[PolicyPublic]) -> None:
        action = _POLICY_OF[self._kind]
        self.policy = next((p for p in page.items if p.action is action), None)

    def approval_threshold(self, amount: Decimal, currency: str) -> Decimal | None:
        """Return the policy's threshold when this amount alone reaches it, else None.

        (The server also counts the account's earlier movements of the day; a smaller amount
        may still wait for approval, and the dialog then shows the 202.)
        """
        policy = self.policy
        if policy is None or not policy.enabled or not policy.threshold:
            return None
        threshold = policy.threshold.get(currency)
        return threshold if threshold is not None and amount >= threshold else None

    def _succeeded(self, result: Result) -> None:
        if not shiboken6.isValid(self):
            return
        self.flow.succeeded()
        self.movement_result = result
        self.balance_after = result.balance_after
        self._result_account = self.source_account()
        self._learn(result)
        self.completed.emit(result)
        account = self._result_account
        assert account is not None
        text = self._result_text(result, account)
        if self.balance_after is not None:
            text += "\n" + tr("Balance now: {balance}.").format(
                balance=money(self.balance_after, account.currency)
            )
            self.balance_label.setText(money(self.balance_after, account.currency))
        self.result_label.show_text(text, Tone.OK)
        self._render()
        self.close_button.setFocus()

    def _failed(self, error: BaseException) -> None:
        if not shiboken6.isValid(self):
            return
        sent = self.flow.sent
        if isinstance(error, ApprovalRequired) and (approval := approval_of(error)) is not None:
            self._await_approval(approval)
            return
        explanation = explain_failure(
            error, self._kind, sent.account_id if sent else None, sent.to_number if sent else None
        )
        self.flow.failed(explanation.text, explanation.unknown)
        self._refused(sent, error)
        if isinstance(error, SessionExpired):
            self.session_expired.emit()
        self.flow.revalidated(self._read())
        self._render()

    def _await_approval(self, approval: ApprovalPublic) -> None:
        """Show that the movement waits for approval (202), with Approve here…."""
        self.flow.awaiting(approval.id)
        sent = self.flow.sent
        where = situation(self._kind, sent.account_id if sent else None,
                          sent.to_number if sent else None)  # fmt: skip
        self.pending_panel = PendingPanel(self._client, approval, where, self)
        self.pending_panel.decided.connect(self._approval_decided)
        self.pending_panel.session_expired.connect(self.session_expired)
        self._approval_area.addWidget(self.pending_panel)
        self._render()
        self.adjustSize()  # grow to the panel's wrapped lines
        self.pending_panel.approve_here_button.setFocus()

    def _approval_decided(self, approval: ApprovalPublic) -> None:
        """Show the executed movement (receipt and all), or why nothing moved."""
        result = approval.result
        if approval.status is ApprovalStatus.EXECUTED and result is not None:
            model = TransferPublic if self._kind == "transfer" else TransactionPublic
            self._succeeded(model.model_validate(result.body))
        else:
            assert self.pending_panel is not None
            self.flow.not_approved(outcome_text(approval, self.pending_panel.situation))
            self.flow.revalidated(self._read())
        self._render()

    def _render(self) -> None:
        """Show the widgets and button texts of the current step."""
        step = self.flow.step
        editable = self.flow.editable
        waiting = step is Step.PENDING
        if self.pending_panel is not None:
            self.pending_panel.setVisible(waiting)
        for widget in self._inputs:
            widget.setEnabled(editable)
        self.ok_button.setHidden(step in (Step.DONE, Step.PENDING))
        self.ok_button.setText(
            {Step.CONFIRMING: tr("Confirm"), Step.UNKNOWN: tr("Retry")}.get(step, tr("Review"))
        )
        self.ok_button.setEnabled(self.flow.can_press)
        self.cancel_button.setHidden(step in (Step.DONE, Step.PENDING))
        self.cancel_button.setEnabled(step is not Step.BUSY)
        self.close_button.setHidden(step is not Step.DONE and not waiting)
        self.receipt_button.setHidden(step is not Step.DONE)
        self.reverse_button.setHidden(step is not Step.DONE or not self.can_reverse)
        self.confirm_label.setHidden(
            step not in (Step.CONFIRMING, Step.BUSY, Step.UNKNOWN, Step.PENDING)
        )
        self.result_label.setHidden(step is not Step.DONE)
        self.error_label.show_text(self.flow.error or "")
        self.busy_label.setHidden(step is not Step.BUSY)
        self.busy_bar.setHidden(step is not Step.BUSY)
        (self.close_button if step is Step.DONE else self.ok_button).setDefault(True)

    # -- closing and receipts ----------------------------------------------------------

    def _reverse(self) -> None:
        """Close the receipt view and ask for the movement's reversal."""
        result, account = self.movement_result, self.source_account()
        if result is None or account is None or not self.can_reverse:
            return
        self.accept()
        self.reverse_requested.emit(result, account)

    def reject(self) -> None:
        """Close, except while a request is on its way (its answer must be seen)."""
        if self.flow.step is not Step.BUSY:
            super().reject()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt's name
        """Refuse to close while a request is on its way."""
        if self.flow.step is Step.BUSY:
            event.ignore()
            return
        super().closeEvent(event)

    def save_receipt(self, path: str | Path | None = None) -> Path | None:
        """Write the PDF receipt of the movement made; ask where when no path is given."""
        result, account = self.movement_result, self._result_account
        if result is None or account is None:
            return None
        target = Path(path) if path is not None else self._files.save(
            self, tr("Save receipt"), f"receipt-{self._kind}-{result.id}.pdf",
            tr("PDF files (*.pdf)"),
        )  # fmt: skip
        if target is None:
            return None
        performer = performer_name(self._client.user, result.performed_by)
        receipt = Receipt(result, account, self._kind, self.balance_after, self._result_payee,
                          performer, till=self._till_words(result))  # fmt: skip
        try:
            write_receipt(target, receipt)
        except OSError as exc:
            self.error_label.show_text(tr("Could not save the receipt: {reason}.").format(
                reason=exc.strerror or exc), Tone.ERROR)  # fmt: skip
            return None
        self.error_label.show_text("")
        text = self.result_label.text().split("\n" + tr("Receipt saved to"))[0]
        self.result_label.show_text(
            text + "\n" + tr("Receipt saved to {path}.").format(path=target), Tone.OK
        )
        return target
