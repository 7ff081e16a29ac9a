"""One account's ledger as a lazily paged table, newest first, with points for a balance chart."""

from __future__ import annotations

from datetime import datetime
from enum import IntEnum
from typing import Any, ClassVar

from PySide6.QtCore import Qt

from desktop import text, theme
from desktop.api.client import BankClient
from desktop.models.paging import FOREGROUND, TOOLTIP, PagedTableModel
from desktop.text import QT_TRANSLATE_NOOP, tr
from shared.schemas.accounts import AccountPublic
from shared.schemas.common import Page, iso_utc_ms
from shared.schemas.transactions import Direction, TransactionPublic, TransactionType


def is_credit(item: TransactionPublic) -> bool:
    """Tell whether an entry brought money into the account (a reversal either way)."""
    return item.direction is Direction.CREDIT


def type_text(item: TransactionPublic) -> str:
    """Return an entry's kind, linked to its reversal: "Deposit · reversed", "Reversal of no. 7"."""
    if item.type is TransactionType.REVERSAL and item.reverses_id is not None:
        return tr("Reversal of no. {id}").format(id=item.reverses_id)
    if item.reversed_by is not None:
        return tr("{type} · reversed").format(type=text.transaction_type(item.type))
    return text.transaction_type(item.type)


def signed_amount(item: TransactionPublic) -> str:
    """Return the amount with its sign: credits "+1,250.00", debits "-40.00"."""
    return text.signed_money(item.amount, is_credit(item))


class TransactionsModel(PagedTableModel[TransactionPublic]):
    """The ledger of one account (none at first), one page at a time."""

    class Column(IntEnum):
        """The table's columns."""

        DATE = 0
        TYPE = 1
        DESCRIPTION = 2
        COUNTERPARTY = 3
        AMOUNT = 4
        BALANCE = 5

    HEADERS: ClassVar[tuple[str, ...]] = (
        QT_TRANSLATE_NOOP("bank", "Date"), QT_TRANSLATE_NOOP("bank", "Type"),
        QT_TRANSLATE_NOOP("bank", "Description"), QT_TRANSLATE_NOOP("bank", "Counterparty"),
        QT_TRANSLATE_NOOP("bank", "Amount"), QT_TRANSLATE_NOOP("bank", "Balance"),
    )  # fmt: skip
    SORT_FIELDS: ClassVar[dict[int, str]] = {Column.DATE: "created_at", Column.AMOUNT: "amount"}
    RIGHT_ALIGNED: ClassVar[frozenset[int]] = frozenset({Column.AMOUNT, Column.BALANCE})
    DEFAULT_SORT: ClassVar[tuple[str, str]] = ("id", "desc")  # the API's default: newest first
    PRIORITY: ClassVar[tuple[int, ...]] = (
        Column.DATE, Column.AMOUNT, Column.BALANCE, Column.TYPE, Column.DESCRIPTION,
        Column.COUNTERPARTY,
    )  # fmt: skip
    STRETCH: ClassVar[int] = Column.DESCRIPTION

    def __init__(self, client: BankClient, page_size: int = 100, parent: Any = None) -> None:
        super().__init__(client, page_size, parent)
        self._account: AccountPublic | None = None
        self._filter: dict[str, Any] = {}

    @property
    def account(self) -> AccountPublic | None:
        """Return the account whose ledger is shown."""
        return self._account

    def set_account(self, account: AccountPublic | None) -> None:
        """Show an account's ledger in the current order (None empties the table)."""
        self._account = account
        self._reload()
        self.headerDataChanged.emit(Qt.Orientation.Horizontal, 0, len(self.HEADERS) - 1)

    def set_filter(
        self,
        type: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> None:
        """Show only one kind of entry and/or a time window (since inclusive, until not)."""
        self._filter = {
            "type": str(type) if type else None,
            "since": iso_utc_ms(since) if since else None,
            "until": iso_utc_ms(until) if until else None,
        }
        self._reload()

    def transaction_at(self, row: int) -> TransactionPublic | None:
        """Return the entry on a row, or None outside the loaded rows."""
        return self.item_at(row)

    def entries_oldest_first(self) -> list[TransactionPublic]:
        """Return the loaded entries in the order they happened."""
        return sorted(self._rows, key=lambda item: (item.created_at, item.id))

    def _header(self, section: int) -> str:
        title = tr(self.HEADERS[section])
        if self._account is not None and section in self.RIGHT_ALIGNED:
            return f"{title} ({self._account.currency})"
        return title

    def _ready(self) -> bool:
        return self._account is not None

    def _query_params(self) -> dict[str, Any]:
        assert self._account is not None
        return {"account_id": self._account.id, **self._filter}

    @staticmethod
    def _load_page(client: BankClient, params: dict[str, Any]) -> Page[TransactionPublic]:
        rest = dict(params)
        return client.transactions(rest.pop("account_id"), **rest)

    @staticmethod
    def _describe(item: TransactionPublic) -> tuple[str, ...]:
        return (
            text.time_text(item.created_at),
            type_text(item),
            item.description or "",
            item.counterparty_number or "",
            signed_amount(item),
            text.money(item.balance_after),
        )

    def _role_data(self, item: TransactionPublic, column: int, role: int) -> Any:
        if role == FOREGROUND:
            colors = theme.colors()
            if item.reversed_by is not None:  # undone: read, but not counted at a glance
                return colors.muted
            if column == self.Column.AMOUNT:
                return colors.positive if is_credit(item) else colors.negative
            if column == self.Column.BALANCE and item.balance_after < 0:
                return colors.negative
            return None
        if role == TOOLTIP:
            return self._tooltip(item, column)
        return None

    def _tooltip(self, item: TransactionPublic, column: int) -> str | None:
        if column == self.Column.DATE:
            return text.time_with_zone(item.created_at)
        if column == self.Column.TYPE:
            entry = tr("Entry no. {id}").format(id=item.id)
            if item.reversed_by is not None:
                return entry + " " + tr("Reversed by entry no. {id}.").format(id=item.reversed_by)
            if item.reverses_id is not None:
                return entry + " " + tr("Reverses entry no. {id}.").format(id=item.reverses_id)
            return entry
        if column == self.Column.DESCRIPTION and item.description:
            return item.description
        if column == self.Column.COUNTERPARTY and item.transfer_id is not None:
            return tr("Transfer no. {id} with account {number}").format(
                id=item.transfer_id, number=item.counterparty_number
            )
        if self._account is not None and column == self.Column.AMOUNT:
            return text.signed_money(item.amount, is_credit(item), self._account.currency)
        if self._account is not None and column == self.Column.BALANCE:
            return tr("Balance after: {balance}").format(
                balance=text.money(item.balance_after, self._account.currency)
            )
        return None
