"""The deposit and withdrawal dialogs: cash into or out of one account."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFormLayout, QWidget

from desktop.api.client import BankClient
from desktop.dialogs.movement.base import MovementDialog, Result
from desktop.dialogs.movement.flow import Kind, MovementRequest
from desktop.dialogs.movement.parts import account_line
from desktop.text import tr
from desktop.widgets.files import FileChooser
from desktop.widgets.labels import ToneLabel, plain_label
from shared.schemas.accounts import AccountPublic


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
        super().__init__(client, kind, account, files, parent)
        self._start()

    def _build_source(self, form: QFormLayout) -> None:
        self.account_label = plain_label("accountLabel", account_line(self._account))
        self.account_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        form.addRow(tr("Account:"), self.account_label)
        self.source_hint = ToneLabel("accountHint", hint=True)
        form.addRow("", self.source_hint)

    def _perform(self) -> Callable[[MovementRequest, str], Result]:
        return send_cash(self._client)
