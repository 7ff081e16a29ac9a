"""The PDF receipt of a movement: its HTML (values escaped) and a one-page A5 PDF."""

from __future__ import annotations

import html
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from PySide6.QtCore import QBuffer, QIODevice, QMarginsF
from PySide6.QtGui import QFont, QPageLayout, QPageSize, QPdfWriter, QTextDocument

from desktop import theme
from desktop.dialogs.movement.flow import KINDS, Kind
from desktop.dialogs.movement.messages import words
from desktop.text import money, time_with_zone, tr
from shared.schemas.accounts import AccountPublic, Payee
from shared.schemas.transactions import TransactionPublic, TransferPublic
from shared.schemas.users import UserPublic

BANK_NAME = "Bank System"


@dataclass(frozen=True)
class Receipt:
    """What a receipt shows: the movement, its account, and who moved the money."""

    result: TransactionPublic | TransferPublic
    account: AccountPublic
    kind: Kind
    balance_after: Decimal | None = None  # a transfer's source balance, if known
    payee: Payee | None = None
    performed_by: str | None = None  # "Terry Teller (teller)"; else the user id recorded
    bank_name: str = BANK_NAME
    till: str | None = None  # "Till 1 · session 12": where the cash went in or out
    title: str | None = None  # instead of the kind's words: "Reversal"


def performer_name(user: UserPublic | None, performed_by: int | None) -> str | None:
    """Name the signed-in user on a receipt when they moved the money ("Ann (ann)")."""
    if user is None or user.id != performed_by:
        return None
    return f"{user.full_name} ({user.username})"


def receipt_html(receipt: Receipt) -> str:
    """Return the receipt of a movement as HTML (values escaped)."""
    result, account, payee = receipt.result, receipt.account, receipt.payee
    kind_words = words(receipt.kind)
    kind_title = receipt.title or kind_words.receipt_type
    currency = account.currency
    rows: list[tuple[str, str, bool]] = [
        (tr("Date"), time_with_zone(result.created_at), False),
        (tr("Type"), kind_title, False),
    ]
    balance_after = (
        result.balance_after if result.balance_after is not None else (receipt.balance_after)
    )
    if isinstance(result, TransferPublic):
        to = result.to_number + (f" ({payee.holder})" if payee else "")
        rows += [
            (tr("From account"), f"{result.from_number} ({account.owner_name})", False),
            (tr("To account"), to, False),
        ]
    else:
        rows.append((tr("Account"), f"{account.number} ({account.owner_name})", False))
    rows.append((tr("Amount"), money(result.amount, currency), True))
    after = money(balance_after, currency) if balance_after is not None else tr("not available")
    rows.append((tr("Balance after"), after, True))
    rows.append((tr("Description"), result.description or "—", False))
    number_label = (
        tr("Transfer no.") if isinstance(result, TransferPublic) else tr("Transaction no.")
    )
    rows.append((number_label, str(result.id), False))
    if isinstance(result, TransactionPublic):  # a reversal and its original name each other
        if result.reverses_id is not None:
            rows.append((tr("Reverses"), tr("transaction no. {id}").format(
                id=result.reverses_id), False))  # fmt: skip
        if result.reversed_by is not None:
            rows.append((tr("Reversed by"), tr("transaction no. {id}").format(
                id=result.reversed_by), False))  # fmt: skip
    if receipt.till:
        rows.append((tr("Till"), receipt.till, False))
    if receipt.performed_by:
        rows.append((tr("Performed by"), receipt.performed_by, False))
    elif result.performed_by is not None:
        rows.append((tr("Performed by"), tr("user {id}").format(id=result.performed_by), False))
    muted = theme.paper_colors().muted.name()
    cells = "".join(
        f"<tr><td style='color:{muted}; padding:4px 16px 4px 0'>{html.escape(label)}</td>"
        f"<td style='padding:4px 0' align='{'right' if right else 'left'}'>"
        f"{html.escape(value)}</td></tr>"
        for label, value, right in rows
    )
    heading = tr("Receipt: {kind}").format(kind=kind_title.lower())
    return (
        f"<h2>{html.escape(receipt.bank_name)}</h2>"
        f"<p style='font-size:large'><b>{html.escape(heading)}</b></p>"
        f"<table cellspacing='0' width='100%'>{cells}</table>"
        f"<p style='color:{muted}; font-size:small'>"
        f"{html.escape(tr('Keep this receipt for your records.'))}</p>"
    )


def write_receipt(path: str | Path, receipt: Receipt) -> None:
    """Write a one-page PDF receipt of a movement (needs a QGuiApplication); raise OSError."""
    if receipt.kind not in KINDS:
        raise ValueError(f"unknown movement kind {receipt.kind!r}")
    buffer = QBuffer()
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    writer = QPdfWriter(buffer)
    writer.setTitle(f"{receipt.bank_name} receipt {receipt.result.id}")
    writer.setCreator(receipt.bank_name)
    writer.setResolution(300)
    writer.setPageLayout(QPageLayout(
        QPageSize(QPageSize.PageSizeId.A5), QPageLayout.Orientation.Portrait,
        QMarginsF(15, 15, 15, 15), QPageLayout.Unit.Millimeter,
    ))  # fmt: skip
    document = QTextDocument()
    font = QFont()
    font.setPointSizeF(10)
    document.setDefaultFont(font)
    document.setHtml(receipt_html(receipt))
    document.print_(writer)  # ends the painter, which finishes the PDF
    del writer
    buffer.close()
    # Write from Python so a bad path raises OSError instead of failing silently in Qt.
    Path(path).write_bytes(bytes(buffer.data().data()))
