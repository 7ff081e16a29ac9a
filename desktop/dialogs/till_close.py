"""Close a teller session with a blind count: what the till should hold shows only after it.

The teller counts each currency (typed, or by notes and coins) and submits. Equal to the
expected cash, the session closes and the answer shows both figures. A difference makes the
session `closing` until a supervisor approves it (`till.variance`); its own teller learns the
expected figure only once the session is closed.
"""

from __future__ import annotations

import shiboken6
from PySide6.QtWidgets import QLabel, QLineEdit, QVBoxLayout, QWidget

from desktop.api.client import ApiError, ApprovalRequired, BankClient
from desktop.api.client import new_idempotency_key as new_key
from desktop.dialogs.form import FormDialog, Request
from desktop.dialogs.till_open import outcome_unknown
from desktop.dialogs.till_words import (
    Keys,
    money_map,
    or_approval,
    session_line,
    session_result,
    waiting,
)
from desktop.text import time_text, tr
from desktop.theme import Tone
from desktop.widgets import named
from desktop.widgets.denominations import CountForm
from desktop.widgets.labels import ToneLabel, plain_label
from desktop.workers import run_task
from shared.errors import ErrorCode
from shared.schemas.tills import SessionPublic, SessionStatus

NOTE_MAX = 500


class CloseSessionDialog(FormDialog):
    """Count the till and close the session; `completed(SessionPublic | ApprovalRequired)`."""

    def __init__(
        self, client: BankClient, session: SessionPublic, till_name: str | None,
        currencies: list[str] | None = None, parent: QWidget | None = None,
    ) -> None:  # fmt: skip
        super().__init__(tr("Close the till session"), "closeSessionDialog", client, parent)
        self.setMinimumWidth(620)
        self.ok_button.setText(tr("Submit count"))
        self.session = session
        self.till_name = till_name
        self.keys = Keys(new_key)
        self.closed_session: SessionPublic | None = None
        self.approval: ApprovalRequired | None = None
        about = tr("{line}, opened {when}. Opening cash: {opening}.").format(
            line=session_line(session, till_name), when=time_text(session.opened_at),
            opening=money_map(session.opening))  # fmt: skip
        self.form.addRow(plain_label("sessionAbout", about))
        blind = named(QLabel(tr("Count the cash in the drawer. What the till should hold is "
                                "shown after you submit the count.")), "blindNotice")  # fmt: skip
        blind.setWordWrap(True)
        self.form.addRow(blind)
        wanted = sorted(set(session.opening) | set(currencies or [])) or ["USD"]
        self.count = CountForm(wanted)
        self.form.addRow(self.count)
        self.note_edit = named(QLineEdit(), "noteEdit")
        self.note_edit.setMaxLength(NOTE_MAX)
        self.note_edit.setPlaceholderText(tr("Needed only if the count differs"))
        self.form.addRow(tr("&Note:"), self.note_edit)
        self.outcome = ToneLabel("countResult", panel=True)
        self.outcome.show_text("", Tone.OK)
        layout = self.layout()
        assert isinstance(layout, QVBoxLayout)
        layout.insertWidget(1, self.outcome)  # above the hint: the outcome is what matters
        self.count.changed.connect(self.update_state)
        self.note_edit.textChanged.connect(lambda _t: self.update_state())
        self.built(next(iter(self.count.counts.values())).amount_edit)

    def problem(self) -> str | None:
        """Say why the count cannot be submitted yet."""
        return self.count.problem()

    def notice(self) -> str:
        """Say what is about to be submitted."""
        return tr("You counted {amounts}.").format(amounts=money_map(self.count.counted()))

    def request(self) -> Request:
        """Submit the count (with the pieces and the note) under its Idempotency-Key."""
        counted = self.count.counted()
        pieces = self.count.denominations()
        note = self.note_edit.text().strip() or None
        body = (tuple(sorted(counted.items())), repr(pieces), note)
        key = self.keys.key_for(body)
        return (or_approval(self.client.close_session),
                (self.session.id, counted, pieces, note, key), {})  # fmt: skip

    def set_busy(self, busy: bool) -> None:
        """Freeze the count with the other fields."""
        super().set_busy(busy)
        self.count.set_enabled(not busy and self.closed_session is None and self.approval is None)

    def refused(self, error: BaseException) -> None:
        """Keep the key only for a retry; help with what the refusal asks for."""
        self.keys.settled(outcome_unknown(error))
        if not isinstance(error, ApiError):
            return
        if error.code == ErrorCode.COUNT_INCOMPLETE:
            for currency in error.context.get("missing") or []:
                self.count.add_currency(str(currency))
        elif error.code == ErrorCode.NOTE_REQUIRED:
            self.error.show_text(tr("The count differs from what the till should hold. Count "
                                    "again, or write a note saying why, and submit it."),
                                 Tone.ERROR)  # fmt: skip
            self.note_edit.setFocus()

    def finish(self, result: object) -> None:
        """Show the outcome: closed with both figures, or closing until a supervisor approves."""
        self.keys.settled(False)
        if isinstance(result, SessionPublic):
            self.closed_session = result
            tone = Tone.OK if result.status is SessionStatus.CLOSED else Tone.WARNING
            self.outcome.show_text(session_result(result), tone)
        elif isinstance(result, ApprovalRequired):
            self.approval = result
            self.outcome.show_text(waiting(result), Tone.WARNING)
            # The session as the caller may see it now (its own teller: still blind).
            run_task(self.client.session, self.session.id, on_done=self._closing)
        self._offered = True
        self.count.set_enabled(False)
        self.note_edit.setEnabled(False)
        self.hint.hide()
        self.ok_button.hide()
        self.cancel_button.setText(tr("Close"))
        self.cancel_button.setFocus()

    def _closing(self, session: SessionPublic) -> None:
        if shiboken6.isValid(self):
            self.closed_session = session
            self.outcome.show_text(session_result(session), Tone.WARNING)
