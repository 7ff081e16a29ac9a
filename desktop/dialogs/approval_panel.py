"""A request that waits for approval, shown where it was made: what it is, who may approve,
"Approve here…", and the decision once it is made.

The panel polls the approval through the maker's own client on a timer, off the GUI thread
(the teller is told when the queue decides it), and stops once it is decided. "Approve
here…" opens the checker's sign-in (desktop/dialogs/approval_here.py); its answer is the
decision. A maker may also cancel their request here.
"""

from __future__ import annotations

import shiboken6
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desktop import messages
from desktop.api.client import ApprovalRequired, BankClient, SessionExpired
from desktop.dialogs.approval import approval_of, outcome_text, pending_text
from desktop.dialogs.approval_here import ApproveHereDialog
from desktop.text import tr
from desktop.theme import Tone
from desktop.widgets import named
from desktop.widgets.labels import ToneLabel
from desktop.workers import run_task
from shared.schemas.approvals import ApprovalPublic, ApprovalStatus

POLL_MS = 5_000


class PendingPanel(QWidget):
    """One approval: waiting (with Approve here… and Cancel request), then its outcome."""

    decided = Signal(object)  # the ApprovalPublic, once it left `pending`
    session_expired = Signal()

    def __init__(
        self, client: BankClient, approval: ApprovalPublic,
        situation: messages.Situation = messages.GENERAL, parent: QWidget | None = None,
        *, poll_ms: int = POLL_MS,
    ) -> None:  # fmt: skip
        super().__init__(parent)
        self.setObjectName("pendingApprovalPanel")
        self.client = client
        self.approval = approval
        self.situation = situation
        self.label = ToneLabel("pendingApprovalLabel", panel=True)
        self.approve_here_button = named(QPushButton(tr("Approve here…")), "approveHereButton")
        self.approve_here_button.setToolTip(
            tr("A supervisor at your side signs in for this approval only")
        )
        self.cancel_request_button = named(QPushButton(tr("Cancel request")),
                                           "cancelRequestButton")  # fmt: skip
        self.approve_here_button.clicked.connect(self.open_approve_here)
        self.cancel_request_button.clicked.connect(self.cancel_request)
        buttons = QHBoxLayout()
        buttons.addWidget(self.approve_here_button)
        buttons.addWidget(self.cancel_request_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.label)
        layout.addLayout(buttons)
        self._checking = False
        self.timer = QTimer(self, interval=poll_ms)
        self.timer.timeout.connect(self.check)
        self._show(approval)

    @property
    def pending(self) -> bool:
        """Tell whether the approval still waits."""
        return self.approval.status is ApprovalStatus.PENDING

    def _show(self, approval: ApprovalPublic) -> None:
        self.approval = approval
        pending = self.pending
        tone = Tone.WARNING if pending else (
            Tone.OK if approval.status is ApprovalStatus.EXECUTED else Tone.ERROR)  # fmt: skip
        self.label.show_text(outcome_text(approval, self.situation), tone)
        for button in (self.approve_here_button, self.cancel_request_button):
            button.setVisible(pending)
            button.setEnabled(pending)
        if pending:
            self.timer.start()
        else:
            self.timer.stop()

    def check(self) -> None:
        """Ask the server how the approval stands now (off the GUI thread)."""
        if self._checking or not self.pending:
            return
        self._checking = True
        run_task(self.client.approval, self.approval.id, on_done=self.arrived,
                 on_error=self._check_failed)  # fmt: skip

    def _check_failed(self, error: BaseException) -> None:
        if shiboken6.isValid(self):
            self._checking = False
            if isinstance(error, SessionExpired):
                self.timer.stop()
                self.session_expired.emit()

    def arrived(self, approval: object) -> None:
        """Show the approval as the server has it now; say when it was decided."""
        if not shiboken6.isValid(self) or not isinstance(approval, ApprovalPublic):
            return
        self._checking = False
        was_pending = self.pending
        self._show(approval)
        if was_pending and not self.pending:
            self.decided.emit(approval)

    def open_approve_here(self) -> ApproveHereDialog:
        """Let a supervisor at the counter approve now, on a client of their own."""
        dialog = ApproveHereDialog(self.client.base_url, self.approval, self)
        dialog.completed.connect(self.arrived)
        dialog.open()
        return dialog

    def cancel_request(self) -> None:
        """Withdraw the request (the maker's right while it waits)."""
        self.cancel_request_button.setEnabled(False)

        def failed(error: BaseException) -> None:
            if shiboken6.isValid(self):
                self.cancel_request_button.setEnabled(self.pending)
                self.label.show_text(
                    pending_text(self.approval) + "\n" + messages.explain(error).text,
                    Tone.WARNING,
                )
                self.check()  # it may have been decided meanwhile

        run_task(self.client.cancel_approval, self.approval.id, on_done=self.arrived,
                 on_error=failed)  # fmt: skip

    def stop(self) -> None:
        """Stop polling (the dialog is closing)."""
        self.timer.stop()


class ApprovalDialog(QDialog):
    """A small window for a request that answered 202 where no form stays open."""

    decided = Signal(object)

    def __init__(
        self, client: BankClient, approval: ApprovalPublic, title: str,
        situation: messages.Situation = messages.GENERAL, parent: QWidget | None = None,
    ) -> None:  # fmt: skip
        super().__init__(parent)
        self.setObjectName("approvalDialog")
        self.setWindowTitle(title)
        self.setMinimumWidth(460)
        self.panel = PendingPanel(client, approval, situation, self)
        self.panel.decided.connect(self.decided)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.panel)
        layout.addWidget(buttons)
        self.finished.connect(lambda _code: self.panel.stop())


def show_waiting(
    client: BankClient, error: ApprovalRequired, title: str, parent: QWidget,
    situation: messages.Situation = messages.GENERAL,
) -> ApprovalDialog | None:  # fmt: skip
    """Open the waiting window for a 202 (None when the answer carried no Approval)."""
    approval = approval_of(error)
    if approval is None:
        return None
    dialog = ApprovalDialog(client, approval, title, situation, parent)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.open()
    return dialog
