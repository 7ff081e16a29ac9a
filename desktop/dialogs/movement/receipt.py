"""The PDF receipt of a movement: its HTML (values escaped) and a one-page A5 PDF."""

from __future__ import annotations

import html
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

BANK_NAME = "Bank System"


def receipt_html(
    result: TransactionPublic | TransferPublic,
    account: AccountPublic,
    kind: Kind,
    *,
    balance_after: Decimal | None = None,
    payee: Payee | None = None,
    performed_by: str | None = None,
    bank_name: str = BANK_NAME,
) -> str:
    """Return the receipt of a movement as HTML (values escaped).

    `performed_by` names who moved the money ("Terry Teller"); without it the receipt
    says the user id the server recorded.
    """
    kind_words = words(kind)
    currency = account.currency
    rows: list[tuple[str, str, bool]] = [
        (tr("Date"), time_with_zone(result.created_at), False),
        (tr("Type"), kind_words.receipt_type, False),
    ]
    if isinstance(result, TransferPublic):
        to = result.to_number + (f" ({payee.holder})" if payee else "")
        rows += [
            (tr("From account"), f"{result.from_number} ({account.owner_name})", False),
            (tr("To account"), to, False),
        ]
        balance_after = result.balance_after if result.balance_after is not None else balance_after
    else:
        rows.append((tr("Account"), f"{account.number} ({account.owner_name})", False))
        balance_after = result.balance_after
    rows.append((tr("Amount"), money(result.amount, currency), True))
    after = money(balance_after, currency) if balance_after is not None else tr("not available")
    rows.append((tr("Balance after"), after, True))
    rows.append((tr("Description"), result.description or "—", False))
    number_label = (
        tr("Transfer no.") if isinstance(result, TransferPublic) else tr("Transaction no.")
    )
    rows.append((number_label, str(result.id), False))
    if performed_by:
        rows.append((tr("Performed by"), performed_by, False))
    elif result.performed_by is not None:
        rows.append((tr("Performed by"), tr("user {id}").format(id=result.performed_by), False))
    muted = theme.paper_colors().muted.name()
    cells = "".join(
        f"<tr><td style='color:{muted}; padding:4px 16px 4px 0'>{html.escape(label)}</td>"
        f"<td style='padding:4px 0' align='{'right' if right else 'left'}'>"
        f"{html.escape(value)}</td></tr>"
        for label, value, right in rows
    )
    heading = tr("Receipt: {kind}").format(kind=kind_words.receipt_type.lower())
    return (
        f"<h2>{html.escape(bank_name)}</h2>"
        f"<p style='font-size:large'><b>{html.escape(heading)}</b></p>"
        f"<table cellspacing='0' width='100%'>{cells}</table>"
        f"<p style='color:{muted}; font-size:small'>"
        f"{html.escape(tr('Keep this receipt for your records.'))}</p>"
    )


def write_receipt(
    path: str | Path,
    result: TransactionPublic | TransferPublic,
    account: AccountPublic,
    kind: Kind,
    *,
    balance_after: Decimal | None = None,
    payee: Payee | None = None,
    performed_by: str | None = None,
    bank_name: str = BANK_NAME,
) -> None:
    """Write a one-page PDF receipt of a movement (needs a QGuiApplication); raise OSError."""
    if kind not in KINDS:
        raise ValueError(f"unknown movement kind {kind!r}")
    buffer = QBuffer()
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    writer = QPdfWriter(buffer)
    writer.setTitle(f"{bank_name} receipt {result.id}")
    writer.setCreator(bank_name)
    writer.setResolution(300)
    writer.setPageLayout(QPageLayout(
        QPageSize(QPageSize.PageSizeId.A5), QPageLayout.Orientation.Portrait,
        QMarginsF(15, 15, 15, 15), QPageLayout.Unit.Millimeter,
    ))  # fmt: skip
    document = QTextDocument()
    font = QFont()
    font.setPointSizeF(10)
    document.setDefaultFont(font)
    document.setHtml(receipt_html(
        result, account, kind, balance_after=balance_after, payee=payee,
        performed_by=performed_by, bank_name=bank_name,
    ))  # fmt: skip
    document.print_(writer)  # ends the painter, which finishes the PDF
    del writer
    buffer.close()
    # Write from Python so a bad path raises OSError instead of failing silently in Qt.
    Path(path).write_bytes(bytes(buffer.data().data()))
