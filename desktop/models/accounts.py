"""The bank's accounts as a lazily paged table: search, status filter, server-side sort."""

from __future__ import annotations

from enum import IntEnum
from typing import Any, ClassVar

from desktop import text, theme
from desktop.api.client import BankClient
from desktop.models.paging import FOREGROUND, TOOLTIP, PagedTableModel
from desktop.text import QT_TRANSLATE_NOOP, tr
from shared.schemas.accounts import AccountPublic
from shared.schemas.common import AccountStatus, Page


class AccountsModel(PagedTableModel[AccountPublic]):
    """Accounts matching a query, one page at a time; the AccountPublic under UserRole."""

    class Column(IntEnum):
        """The table's columns."""

        NUMBER = 0
        OWNER = 1
        TYPE = 2
        CURRENCY = 3
        BALANCE = 4
        AVAILABLE = 5
        STATUS = 6
        NICKNAME = 7

    HEADERS: ClassVar[tuple[str, ...]] = (
        QT_TRANSLATE_NOOP("bank", "Number"), QT_TRANSLATE_NOOP("bank", "Owner"),
        QT_TRANSLATE_NOOP("bank", "Type"), QT_TRANSLATE_NOOP("bank", "Currency"),
        QT_TRANSLATE_NOOP("bank", "Balance"), QT_TRANSLATE_NOOP("bank", "Available"),
        QT_TRANSLATE_NOOP("bank", "Status"),
        QT_TRANSLATE_NOOP("bank", "Nickname"),
    )  # fmt: skip
    SORT_FIELDS: ClassVar[dict[int, str]] = {
        Column.NUMBER: "number",
        Column.OWNER: "owner_id",
        Column.BALANCE: "balance",
    }
    RIGHT_ALIGNED: ClassVar[frozenset[int]] = frozenset({Column.BALANCE, Column.AVAILABLE})
    # What a narrow table keeps longest (see desktop/widgets/columns.py): money before words.
    PRIORITY: ClassVar[tuple[int, ...]] = (
        Column.NUMBER, Column.BALANCE, Column.AVAILABLE, Column.OWNER, Column.STATUS,
        Column.CURRENCY, Column.TYPE, Column.NICKNAME,
    )  # fmt: skip
    STRETCH: ClassVar[int] = Column.OWNER

    def __init__(self, client: BankClient, page_size: int = 100, parent: Any = None) -> None:
        super().__init__(client, page_size, parent)
        self._q = ""
        self._status: str | None = None

    @property
    def query(self) -> dict[str, Any]:
        """Return the current search, status filter and sort."""
        return {"q": self._q, "status": self._status, "sort": self._sort, "order": self._order}

    def set_query(
        self, q: str = "", status: str | None = None, sort: str = "id", order: str = "asc"
    ) -> None:
        """Show the accounts matching a search and a status, sorted on the server."""
        self._q = q.strip()
        self._status = str(status) if status else None
        self._sort, self._order = str(sort), str(order)
        self._reload()

    def account_at(self, row: int) -> AccountPublic | None:
        """Return the account on a row, or None outside the loaded rows."""
        return self.item_at(row)

    def _query_params(self) -> dict[str, Any]:
        return {"q": self._q, "status": self._status}

    @staticmethod
    def _load_page(client: BankClient, params: dict[str, Any]) -> Page[AccountPublic]:
        return client.accounts(**params)

    @staticmethod
    def _describe(item: AccountPublic) -> tuple[str, ...]:
        return (
            item.number,
            item.owner_name,
            text.account_type(item.account_type),
            item.currency,
            text.money(item.balance, item.currency),
            text.money(item.available, item.currency),
            text.account_status(item.status),
            item.nickname or "",
        )

    def _role_data(self, item: AccountPublic, column: int, role: int) -> Any:
        if role == FOREGROUND:
            if item.status == AccountStatus.CLOSED:
                return theme.colors().muted
            if column == self.Column.BALANCE and item.balance < 0:
                return theme.colors().negative
            if column == self.Column.AVAILABLE and item.available < 0:
                return theme.colors().negative
            if column == self.Column.AVAILABLE and item.held > 0:
                return theme.colors().warning  # part of the balance is held
            return None
        if role == TOOLTIP:
            return self._tooltip(item, column)
        return None

    @classmethod
    def _tooltip(cls, item: AccountPublic, column: int) -> str | None:
        if column == cls.Column.NUMBER:
            return tr("Account {number}, opened {day}").format(
                number=item.number, day=text.date_text(item.created_at)
            )
        if column == cls.Column.OWNER:
            return item.owner_name
        if column == cls.Column.CURRENCY:
            return text.currency_name(item.currency)
        if column == cls.Column.BALANCE:
            return limits_text(item)
        if column == cls.Column.AVAILABLE:
            if item.held > 0:
                return tr("{held} of the balance is on hold").format(
                    held=text.money(item.held, item.currency)
                )
            return tr("Nothing is on hold")
        if column == cls.Column.STATUS:
            return text.account_status_tip(item.status)
        if column == cls.Column.NICKNAME and item.nickname:
            return item.nickname
        return None


def limits_text(account: AccountPublic) -> str:
    """Return an account's limits in one sentence."""
    daily = text.money_or(account.daily_withdrawal_limit, account.currency, tr("none"))
    return tr("Overdraft limit {overdraft}; daily withdrawal limit {daily}").format(
        overdraft=text.money(account.overdraft_limit, account.currency), daily=daily
    )
