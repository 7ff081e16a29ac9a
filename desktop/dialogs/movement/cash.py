"""The deposit and withdrawal dialogs: cash into or out of one account, through a till.

Staff cash goes through the till of their open teller session (API.md "Cash needs a till"):
the dialog names that till, and without a session says so and offers to open one.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import shiboken6
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFormLayout, QHBoxLayout, QPushButton, QWidget

from desktop import roles
from desktop.api.client import ApiError, BankClient
from desktop.dialogs.hold import held_words
from desktop.dialogs.movement.base import MovementDialog, Result
from desktop.dialogs.movement.flow import Kind, MovementRequest
from desktop.dialogs.movement.parts import RIGHT, account_line
from desktop.dialogs.till_open import OpenSessionDialog, TillState, load_state
from desktop.dialogs.till_words import session_line
from desktop.text import money, tr
from desktop.theme import Tone
from desktop.widgets import named
from desktop.widgets.files import FileChooser
from desktop.widgets.labels import ToneLabel, plain_label
from desktop.workers import run_task
from shared.errors import ErrorCode
from shared.schemas.accounts import AccountPublic
from shared.schemas.common import Page
from shared.schemas.holds import HoldPublic, HoldStatus
from shared.schemas.tills import SessionStatus


def send_cash(client: BankClient) -> Callable[[MovementRequest, str], Result]:
    """Return the call that deposits or withdraws a request under its key (worker thread)."""

    def send(request: MovementRequest, key: str) -> Result:
        move = client.deposit if request.kind == "deposit" else client.withdraw
        return move(request.account_id, request.amount, request.description, key)

    return send


class CashDialog(MovementDialog):
    """Deposit cash into, or withdraw cash from, one account."""

    def __init__(
        self, client: BankClient, kind: Kind, account: AccountPublic,
        files: FileChooser | None = None, parent: QWidget | None = None,
    ) -> None:  # fmt: skip
        if kind not in ("deposit", "withdraw"):
            raise ValueError(f"not a cash movement: {kind!r}")
        self._holds: list[HoldPublic] = []
        super().__init__(client, kind, account, files, parent)
        self._start()
        if kind == "withdraw":
            self._load_available()

    def _build_source(self, form: QFormLayout) -> None:
        self.account_label = plain_label("accountLabel", account_line(self._account))
        self.account_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        form.addRow(tr("Account:"), self.account_label)
        self.source_hint = ToneLabel("accountHint", hint=True)
        form.addRow("", self.source_hint)
        self._build_till(form)
        if self._kind == "withdraw":
            # A withdrawal may take what is available: the balance and overdraft, less holds.
            self.available_label = plain_label("availableLabel")
            self.available_label.setAlignment(RIGHT)
            form.addRow(tr("Available:"), self.available_label)
            self.held_hint = ToneLabel("heldHint", hint=True)
            form.addRow("", self.held_hint)
            self._show_available()

    # -- the till ------------------------------------------------------------------------

    def _build_till(self, form: QFormLayout) -> None:
        self.till: TillState | None = None
        user = self._client.user
        self.till_label = ToneLabel("tillLabel")
        self.open_session_button = named(QPushButton(tr("Open a session…")),
                                         "cashOpenSessionButton")  # fmt: skip
        self.open_session_button.hide()
        self.open_session_button.clicked.connect(lambda: self.open_session())
        if user is None or not roles.is_staff(user.role):
            return  # customers' own cash goes through no till
        row = QHBoxLayout()
        row.addWidget(self.till_label, 1)
        row.addWidget(self.open_session_button)
        form.addRow(tr("Till:"), row)
        self.till_label.show_text(tr("Looking up your till session…"), Tone.MUTED)
        self._find_till()

    def _find_till(self) -> None:
        run_task(load_state, self._client, None, on_done=self._till_found,
                 on_error=lambda _e: self._till_found(None))  # fmt: skip

    def _till_found(self, state: TillState | None) -> None:
        if not shiboken6.isValid(self):
            return
        self.till = state
        session = state.session if state is not None else None
        if state is None:
            self.till_label.show_text(tr("Your till session could not be looked up."),
                                      Tone.MUTED)  # fmt: skip
        elif session is None:
            self._no_session()
        elif session.status is SessionStatus.OPEN:
            self.till_label.show_text(session_line(session, state.till_name), Tone.NORMAL)
            self.open_session_button.hide()
        else:
            self.till_label.show_text(tr("{line}: no cash moves until its count is approved.")
                                      .format(line=session_line(session, state.till_name)),
                                      Tone.WARNING)  # fmt: skip

    def _no_session(self) -> None:
        self.till_label.show_text(tr("You have no open till session; cash needs one."),
                                  Tone.WARNING)  # fmt: skip
        self.open_session_button.show()

    def open_session(self) -> OpenSessionDialog:
        """Open a session on a free till, then name it here."""
        dialog = OpenSessionDialog(self._client, self)
        dialog.completed.connect(lambda _result: self._find_till())
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        return dialog

    # -- what is available -------------------------------------------------------------

    def _staff(self) -> bool:
        user = self._client.user
        return user is not None and roles.is_staff(user.role)

    def _show_available(self) -> None:
        account = self._account
        self.available_label.setText(money(account.available, account.currency))
        # Staff see why money is held; an owner sees only how much (legal holds stay hidden).
        words = held_words(account, self._holds if self._staff() else None)
        self.held_hint.show_text(words, Tone.WARNING)

    def _load_available(self) -> None:
        """Read the account and its active holds again: the list may be minutes old."""
        account_id = self._account.id

        def fetch() -> tuple[AccountPublic, Page[HoldPublic] | None]:
            fresh = self._client.account(account_id)
            holds = self._client.holds(account_id, status=HoldStatus.ACTIVE.value, limit=200) \
                if self._staff() and fresh.held > 0 else None  # fmt: skip
            return fresh, holds

        def loaded(answer: tuple[AccountPublic, Page[HoldPublic] | None]) -> None:
            if not shiboken6.isValid(self) or not self.flow.editable:
                return
            self._account, page = answer
            self._holds = list(page.items) if page is not None else []
            self._show_available()
            self._revalidate()

        run_task(fetch, on_done=loaded, on_error=lambda _e: None)  # the server checks anyway

    def _read(self) -> MovementRequest | None:
        """Check the form, and a withdrawal against what is available, saying what is held."""
        request = super()._read()
        account = self._account
        if request is None or self._kind != "withdraw" or request.amount <= account.available:
            return request
        available = money(max(account.available, Decimal(0)), account.currency)
        words = tr("Only {available} can be withdrawn.").format(available=available)
        held = held_words(account, self._holds if self._staff() else None)
        self.amount_hint.setAlignment(Qt.AlignmentFlag.AlignLeft)
        self.amount_hint.show_text(f"{words} {held}".strip(), Tone.ERROR)
        return None

    def _refused(self, sent: MovementRequest | None, error: BaseException) -> None:
        super()._refused(sent, error)
        if isinstance(error, ApiError) and error.code == ErrorCode.INSUFFICIENT_FUNDS:
            self._load_available()  # what is available now, and why the rest is held
        if isinstance(error, ApiError) and error.code == ErrorCode.NO_OPEN_SESSION:
            self._no_session()

    def _till_words(self, result: Result) -> str | None:
        session_id = getattr(result, "session_id", None)
        if session_id is None:
            return None
        state = self.till
        if state is not None and state.session is not None and state.session.id == session_id:
            name = state.till_name or tr("Till {id}").format(id=state.session.till_id)
            return tr("{till} · session {id}").format(till=name, id=session_id)
        return tr("session {id}").format(id=session_id)

    def _result_text(self, result: Result, account: AccountPublic) -> str:
        text = super()._result_text(result, account)
        till = self._till_words(result)
        return text + ("\n" + tr("Through {till}.").format(till=till) if till else "")

    def _perform(self) -> Callable[[MovementRequest, str], Result]:
        return send_cash(self._client)
