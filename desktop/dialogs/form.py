"""What every small form shares: fields, a hint, an error panel, Ok and Cancel, a request
sent off the GUI thread, and the words of a refusal.

A form says why it cannot be sent yet (`problem`), whether there is anything to send
(`has_changes`) and what to send (`request`); Ok stays disabled, with the reason in the
hint, until the form is one the API accepts. While the request is out nothing can be
edited and Cancel waits. A form may end with an offer of the next step (`offer`). A request
that waits for a second person's approval (202) shows the approval in the form instead of
an error, and `completed` follows when it is carried out (with `result_model`'s answer).
"""

from __future__ import annotations

from typing import Any, ClassVar

import shiboken6
from pydantic import BaseModel
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desktop import messages
from desktop.api.client import ApprovalRequired, BankClient, SessionExpired
from desktop.dialogs.approval import approval_of
from desktop.text import tr
from desktop.theme import Tone
from desktop.widgets.labels import ToneLabel
from desktop.workers import run_task

Request = tuple[Any, tuple[Any, ...], dict[str, Any]]


class FormDialog(QDialog):
    """A form whose Ok sends one request; `completed(result)` when the server took it."""

    completed = Signal(object)
    session_expired = Signal()
    # What the request answers when it succeeds, to read an executed approval's result.
    result_model: ClassVar[type[BaseModel] | None] = None

    def __init__(
        self, title: str, name: str, client: BankClient, parent: QWidget | None, *,
        ok: QDialogButtonBox.StandardButton = QDialogButtonBox.StandardButton.Ok,
    ) -> None:  # fmt: skip
        super().__init__(parent)
        self.setObjectName(name)
        self.setWindowTitle(title)
        self.setMinimumWidth(440)
        self.client = client
        self.form = QFormLayout()
        self.form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        self.hint = ToneLabel("dialogHint")
        self.error = ToneLabel("dialogError", panel=True)
        self.error.show_text("", Tone.ERROR)
        self.buttons = QDialogButtonBox(ok | QDialogButtonBox.StandardButton.Cancel)
        self.ok_button = self.buttons.button(ok)
        self.ok_button.setDefault(True)
        self.cancel_button = self.buttons.button(QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.submit)
        self.buttons.rejected.connect(self.reject)
        self._busy = False
        self._built = False
        self._offered = False
        layout = QVBoxLayout(self)
        layout.addLayout(self.form)
        layout.addWidget(self.hint)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)

    # -- what subclasses provide -------------------------------------------------------

    def problem(self) -> str | None:
        """Return why the form cannot be sent yet, or None."""
        return None

    def has_changes(self) -> bool:
        """Tell whether there is anything to send."""
        return True

    def notice(self) -> str:
        """Return what to say while nothing is wrong."""
        return ""

    def request(self) -> Request:
        """Read the form (GUI thread): the call and its arguments."""
        raise NotImplementedError

    def finish(self, result: object) -> None:
        """End the form after the server took it (close it, or offer the next step)."""
        self.accept()

    # -- the flow ----------------------------------------------------------------------

    def built(self, first: QWidget) -> None:
        """Start checking the form (once its fields exist) and give the first field focus."""
        self._built = True
        self.update_state()
        first.setFocus()  # so the first keystrokes and Tab go through the form, not a button

    def update_state(self) -> None:
        """Show the reason Ok is disabled, or the notice; enable Ok when the form is ready."""
        if not self._built or self._offered:
            return
        problem = self.problem()
        self.hint.show_text(problem or self.notice(), Tone.WARNING)
        self.ok_button.setEnabled(problem is None and self.has_changes() and not self._busy)

    @property
    def busy(self) -> bool:
        """Tell whether the form's request is out."""
        return self._busy

    def submit(self) -> None:
        """Send the form (off the GUI thread), if it is ready."""
        if self._busy or self._offered or self.problem() is not None or not self.has_changes():
            return
        fn, args, kwargs = self.request()  # read on the GUI thread
        self.set_busy(True)
        self.error.show_text("")
        run_task(fn, *args, on_done=self._done, on_error=self._failed, **kwargs)

    def set_busy(self, busy: bool) -> None:
        """Freeze the fields while the request is out, and free them after."""
        self._busy = busy
        self.cancel_button.setEnabled(not busy)
        for kind in (QLineEdit, QComboBox, QCheckBox):
            for widget in self.findChildren(kind):
                widget.setEnabled(not busy)
        self.update_state()

    def reject(self) -> None:
        """Cancel, except while a request is out: its answer is shown here first."""
        if not self._busy:
            super().reject()

    def _done(self, result: object) -> None:
        if not shiboken6.isValid(self):
            return
        self.set_busy(False)
        self.completed.emit(result)
        self.finish(result)

    def _failed(self, error: BaseException) -> None:
        if not shiboken6.isValid(self):
            return
        self.set_busy(False)
        situation = messages.Situation(nothing_happened=tr("Nothing was changed."))
        if isinstance(error, ApprovalRequired) and self._await_approval(error, situation):
            return
        self.error.show_text(messages.explain(error, situation).text, Tone.ERROR)
        self.refused(error)
        if isinstance(error, SessionExpired):
            self.session_expired.emit()

    def _await_approval(self, error: ApprovalRequired, situation: messages.Situation) -> bool:
        """Show that the request waits for approval; Ok goes, Cancel becomes Close."""
        # Imported here: the panel's "Approve here" sign-in is itself a FormDialog.
        from desktop.dialogs.approval_panel import PendingPanel

        approval = approval_of(error)
        if approval is None:
            return False
        self._offered = True
        for kind in (QLineEdit, QComboBox, QCheckBox):
            for widget in self.findChildren(kind):
                widget.setEnabled(False)
        self.hint.show_text("")
        self.ok_button.hide()
        self.cancel_button.setText(tr("Close"))
        self.pending_panel = PendingPanel(self.client, approval, situation, self)
        self.pending_panel.decided.connect(self._approval_decided)
        layout = self.layout()
        assert isinstance(layout, QVBoxLayout)
        layout.insertWidget(layout.indexOf(self.error), self.pending_panel)
        self.adjustSize()
        return True

    def _approval_decided(self, approval: Any) -> None:
        result = approval.result
        if approval.status == "executed" and result is not None and self.result_model:
            self.completed.emit(self.result_model.model_validate(result.body))

    def refused(self, error: BaseException) -> None:
        """Learn from a refusal (reload what changed meanwhile, say)."""

    def offer(self, done: str, button: QPushButton) -> None:
        """Say what was done and offer the next step instead of Ok; Cancel becomes Close."""
        self._offered = True
        for kind in (QLineEdit, QComboBox, QCheckBox):
            for widget in self.findChildren(kind):
                widget.setEnabled(False)
        self.hint.show_text(done, Tone.OK)
        self.ok_button.hide()
        self.cancel_button.setText(tr("Close"))
        # An action button: an accept-role one would send the form again.
        self.buttons.addButton(button, QDialogButtonBox.ButtonRole.ActionRole)
        button.setDefault(True)
        button.setFocus()
