"""Deposit, withdrawal and transfer: check, confirm, move money once, print a receipt."""

from __future__ import annotations

from PySide6.QtWidgets import QWidget

from desktop.api.client import BankClient
from desktop.dialogs.movement.base import MovementDialog
from desktop.dialogs.movement.cash import CashDialog
from desktop.dialogs.movement.flow import KINDS, Kind, MovementFlow, MovementRequest, Step
from desktop.dialogs.movement.messages import amount_problem, explain_failure
from desktop.dialogs.movement.receipt import Receipt, receipt_html, write_receipt
from desktop.dialogs.movement.transfer import TransferDialog
from desktop.widgets.files import FileChooser
from shared.schemas.accounts import AccountPublic

__all__ = [
    "KINDS", "CashDialog", "Kind", "MovementDialog", "MovementFlow", "MovementRequest",
    "Receipt", "Step",
    "TransferDialog", "amount_problem", "explain_failure", "movement_dialog", "receipt_html",
    "write_receipt",
]  # fmt: skip


def movement_dialog(
    client: BankClient,
    kind: Kind,
    account: AccountPublic,
    accounts: list[AccountPublic] | None = None,
    files: FileChooser | None = None,
    parent: QWidget | None = None,
) -> MovementDialog:
    """Return the dialog for a kind of movement on an account."""
    if kind == "transfer":
        return TransferDialog(client, account, accounts, files, parent)
    if kind in KINDS:
        return CashDialog(client, kind, account, files, parent)
    raise ValueError(f"unknown movement kind {kind!r}")
