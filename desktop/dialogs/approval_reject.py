"""Reject a request that waits for approval: a reason is required, and the maker reads it."""

from __future__ import annotations

from PySide6.QtWidgets import QDialogButtonBox, QLineEdit, QWidget

from desktop.api.client import BankClient
from desktop.dialogs.form import FormDialog, Request
from desktop.text import tr
from desktop.widgets import named
from desktop.widgets.labels import plain_label
from shared.schemas.approvals import ApprovalPublic

REASON_MAX = 500  # RejectRequest.reason


class RejectDialog(FormDialog):
    """Ask why, then reject one approval; `completed(ApprovalPublic)` when done."""

    def __init__(self, client: BankClient, approval: ApprovalPublic,
                 parent: QWidget | None = None) -> None:  # fmt: skip
        super().__init__(tr("Reject request"), "rejectDialog", client, parent,
                         ok=QDialogButtonBox.StandardButton.Ok)  # fmt: skip
        self.approval = approval
        self.ok_button.setText(tr("Reject"))
        summary = plain_label("rejectSummary", tr("No. {id}: {summary}").format(
            id=approval.id, summary=approval.summary))  # fmt: skip
        summary.setWordWrap(True)
        self.reason = named(QLineEdit(), "rejectReasonEdit")
        self.reason.setMaxLength(REASON_MAX)
        self.reason.setPlaceholderText(tr("Why, in a few words the maker will read"))
        self.reason.setAccessibleName(tr("Reason"))
        self.reason.textChanged.connect(self.update_state)
        self.form.addRow(tr("Request"), summary)
        self.form.addRow(tr("&Reason"), self.reason)
        self.built(self.reason)

    def problem(self) -> str | None:
        """A rejection needs a reason."""
        if not self.reason.text().strip():
            return tr("Say why the request is rejected.")
        if not self.reason.text().isprintable():
            return tr("Use printable characters only.")
        return None

    def request(self) -> Request:
        return self.client.reject_approval, (self.approval.id, self.reason.text().strip()), {}
