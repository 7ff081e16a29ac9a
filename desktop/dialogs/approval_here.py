"""Approve here: the supervisor at the teller's side signs in on a client of their own.

The dialog asks for the checker's username and password and sends them, with the
approval's number, to `approve_here` on a worker: a second BankClient signs in, approves
and signs out, and is closed. The teller's client and session are never touched.
"""

from __future__ import annotations

from typing import cast

from PySide6.QtWidgets import QDialogButtonBox, QLineEdit, QWidget

from desktop.api.client import BankClient
from desktop.dialogs.approval import approve_here
from desktop.dialogs.form import FormDialog, Request
from desktop.text import tr
from desktop.widgets import named
from desktop.widgets.labels import plain_label
from shared.schemas.approvals import ApprovalPublic


class ApproveHereDialog(FormDialog):
    """Ask a checker's username and password; approve one approval as them; `completed`."""

    def __init__(self, base_url: str, approval: ApprovalPublic,
                 parent: QWidget | None = None) -> None:  # fmt: skip
        # No client of the teller's: the form's one request goes through approve_here.
        no_client = cast(BankClient, None)
        super().__init__(tr("Approve here"), "approveHereDialog", no_client, parent,
                         ok=QDialogButtonBox.StandardButton.Ok)  # fmt: skip
        self.base_url = base_url
        self.approval = approval
        self.decision: ApprovalPublic | None = None
        self.ok_button.setText(tr("Approve"))
        summary = plain_label("approveHereSummary", tr("No. {id}: {summary}").format(
            id=approval.id, summary=approval.summary))  # fmt: skip
        summary.setWordWrap(True)
        self.username = named(QLineEdit(), "checkerUsernameEdit")
        self.username.setAccessibleName(tr("Supervisor's username"))
        self.password = named(QLineEdit(), "checkerPasswordEdit")
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.password.setAccessibleName(tr("Supervisor's password"))
        for edit in (self.username, self.password):
            edit.textChanged.connect(self.update_state)
        self.form.addRow(tr("Request"), summary)
        self.form.addRow(tr("Supervisor's &username"), self.username)
        self.form.addRow(tr("&Password"), self.password)
        self.built(self.username)

    def notice(self) -> str:
        """Say what signing in here does (and does not do)."""
        return tr("The supervisor signs in for this approval only; your session stays as it is.")

    def problem(self) -> str | None:
        """Ask for both fields."""
        if not self.username.text().strip() or not self.password.text():
            return tr("The supervisor types their username and password.")
        return None

    def request(self) -> Request:
        args = (self.base_url, self.username.text().strip(), self.password.text(), self.approval.id)
        return approve_here, args, {}

    def finish(self, result: object) -> None:
        if isinstance(result, ApprovalPublic):
            self.decision = result
        self.password.clear()  # nothing of the supervisor's stays in the form
        self.accept()

    def refused(self, error: BaseException) -> None:
        """Clear the password after a refusal, so it is typed again."""
        self.password.clear()
