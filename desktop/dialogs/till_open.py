"""Open a teller session on a free till, with an optional count of the cash found in it."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import shiboken6
from PySide6.QtWidgets import QCheckBox, QComboBox, QWidget

from desktop import messages
from desktop.api.client import ApiError, ApprovalRequired, BankClient, NetworkError
from desktop.api.client import new_idempotency_key as new_key
from desktop.dialogs.form import FormDialog, Request
from desktop.dialogs.till_words import Keys, or_approval, session_line, waiting
from desktop.text import tr
from desktop.theme import Tone
from desktop.widgets import named
from desktop.widgets.denominations import CountForm
from desktop.workers import run_task
from shared.errors import ErrorCode
from shared.schemas.tills import SessionPublic, TillPublic, TillStatus


def outcome_unknown(error: BaseException) -> bool:
    """Tell whether a failed request may still have taken effect."""
    return isinstance(error, NetworkError) or (
        isinstance(error, ApiError) and error.outcome_unknown
    )


@dataclass(frozen=True)
class TillState:
    """The caller's session not closed (or the last one they closed here) and its till."""

    session: SessionPublic | None
    till_name: str | None


def load_state(client: BankClient, last_id: int | None) -> TillState:
    """Fetch the caller's session and its till's name (worker thread)."""
    session = client.current_session()
    if session is None and last_id is not None:
        session = client.session(last_id)  # closed meanwhile: show how it ended
    till_name = client.till(session.till_id).name if session is not None else None
    return TillState(session, till_name)


class OpenSessionDialog(FormDialog):
    """Choose a free till and open a session on it; `completed(SessionPublic)` when open."""

    def __init__(self, client: BankClient, parent: QWidget | None = None) -> None:
        super().__init__(tr("Open a till session"), "openSessionDialog", client, parent)
        self.ok_button.setText(tr("Open session"))
        self.keys = Keys(new_key)
        self.tills: list[TillPublic] = []
        self.till_combo = named(QComboBox(), "tillCombo")
        self.till_combo.setPlaceholderText(tr("Loading the tills…"))
        self.form.addRow(tr("&Till:"), self.till_combo)
        self.count_check = named(QCheckBox(tr("Count the cash in the till first")),
                                 "openingCountCheck")  # fmt: skip
        self.count_check.setToolTip(tr(
            "A count that differs from the till's cash needs a supervisor's approval before "
            "the session opens"))  # fmt: skip
        self.form.addRow("", self.count_check)
        self.count = CountForm(["USD"])
        self.count.hide()
        self.form.addRow(self.count)
        self.count_check.toggled.connect(self._toggle_count)
        self.count.changed.connect(self.update_state)
        self.till_combo.currentIndexChanged.connect(lambda _i: self.update_state())
        self.built(self.till_combo)
        run_task(lambda: client.tills(limit=200, sort="id").items,
                 on_done=self._tills_loaded, on_error=self._tills_failed)  # fmt: skip

    def _tills_loaded(self, tills: list[TillPublic]) -> None:
        if not shiboken6.isValid(self):
            return
        self.tills = tills
        self.till_combo.clear()
        free = [t for t in tills if t.status is TillStatus.ACTIVE and t.session_id is None]
        for till in free:
            self.till_combo.addItem(till.name, till.id)
        self.till_combo.setPlaceholderText(tr("No till is free"))
        self.update_state()

    def _tills_failed(self, error: BaseException) -> None:
        if shiboken6.isValid(self):
            self.error.show_text(messages.explain(error).text, Tone.ERROR)

    def _toggle_count(self, on: bool) -> None:
        self.count.setVisible(on)
        self.adjustSize()
        self.update_state()

    def problem(self) -> str | None:
        """Say why the session cannot be opened yet."""
        if self.till_combo.currentData() is None:
            return tr("Choose a free till.")
        if self.count_check.isChecked():
            return self.count.problem()
        return None

    def notice(self) -> str:
        """Explain the opening count."""
        if self.count_check.isChecked():
            return tr("Count every currency in the drawer.")
        return tr("The session opens with the cash the till holds now.")

    def request(self) -> Request:
        """Open a session on the chosen till (with the count, if one is typed)."""
        till_id = int(self.till_combo.currentData())
        counted: dict[str, Decimal] | None = (
            self.count.counted() if self.count_check.isChecked() else None
        )
        key = self.keys.key_for((till_id, tuple(sorted((counted or {}).items()))))
        return or_approval(self.client.open_session), (till_id, counted, key), {}

    def set_busy(self, busy: bool) -> None:
        """Freeze the count with the other fields."""
        super().set_busy(busy)
        self.count.set_enabled(not busy)

    def refused(self, error: BaseException) -> None:
        """Keep the key only for a retry; add the currencies a count left out."""
        self.keys.settled(outcome_unknown(error))
        if isinstance(error, ApiError) and error.code == ErrorCode.COUNT_INCOMPLETE:
            for currency in error.context.get("missing") or []:
                self.count.add_currency(str(currency))
        if isinstance(error, ApiError) and error.code == ErrorCode.TILL_IN_USE:
            run_task(lambda: self.client.tills(limit=200, sort="id").items,
                     on_done=self._tills_loaded)  # fmt: skip

    def finish(self, result: object) -> None:
        """Close when the session is open; say so when its count waits for approval."""
        self.keys.settled(False)
        if isinstance(result, SessionPublic):
            self.opened = result
            self.accept()
            return
        if isinstance(result, ApprovalRequired):
            self._offered = True
            self.count.set_enabled(False)
            for widget in (self.till_combo, self.count_check):
                widget.setEnabled(False)
            self.hint.show_text(waiting(result), Tone.WARNING)
            self.ok_button.hide()
            self.cancel_button.setText(tr("Close"))

    def opened_line(self) -> str:
        """Return the opened session in a line (after `completed`)."""
        return session_line(self.opened, self.till_combo.currentText())

    opened: SessionPublic
