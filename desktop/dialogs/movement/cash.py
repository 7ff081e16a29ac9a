"""The deposit and withdrawal dialogs: cash into or out of one account."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import shiboken6
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFormLayout, QWidget

from desktop import roles
from desktop.api.client import ApiError, BankClient
from desktop.dialogs.hold import held_words
from desktop.dialogs.movement.base import MovementDialog, Result
from desktop.dialogs.movement.flow import Kind, MovementRequest
from desktop.dialogs.movement.parts import RIGHT, account_line
from desktop.text import money, tr
from desktop.theme import Tone
from desktop.widgets.files import FileChooser
from desktop.widgets.labels import ToneLabel, plain_label
from desktop.workers import run_task
from shared.errors import ErrorCode
from shared.schemas.accounts import AccountPublic
from shared.schemas.common import Page
from shared.schemas.holds import HoldPublic, HoldStatus


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
        if self._kind == "withdraw":
            # A withdrawal may take what is available: the balance and overdraft, less holds.
            self.available_label = plain_label("availableLabel")
            self.available_label.setAlignment(RIGHT)
            form.addRow(tr("Available:"), self.available_label)
            self.held_hint = ToneLabel("heldHint", hint=True)
            form.addRow("", self.held_hint)
            self._show_available()

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

    def _perform(self) -> Callable[[MovementRequest, str], Result]:
        return send_cash(self._client)
