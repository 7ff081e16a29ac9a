"""The bank's accounts as a lazily paged table: search, status filter, server-side sort."""

from __future__ import annotations

from enum import IntEnum
from typing import Any, ClassVar

from desktop.api.client import BankClient
from desktop.models.paging import (
    FOREGROUND,
    MUTED,
    NEGATIVE,
    TOOLTIP,
    PagedTableModel,
    local_time,
)
from shared.money import format_money
from shared.schemas.accounts import AccountPublic
from shared.schemas.common import AccountStatus, Page

_STATUS_TIPS = {
    AccountStatus.ACTIVE: "Active: money can move in and out",
    AccountStatus.FROZEN: "Frozen: no deposits, withdrawals or transfers until unfrozen",
    AccountStatus.CLOSED: "Closed: final; the account keeps its history",
}


class AccountsModel(PagedTableModel[AccountPublic]):
    """Accounts matching a query, one page at a time; the AccountPublic under UserRole."""

    class Column(IntEnum):
        """The table's columns."""

        NUMBER = 0
        OWNER = 1
        TYPE = 2
        CURRENCY = 3
        BALANCE = 4
        STATUS = 5
        NICKNAME = 6

    HEADERS: ClassVar[tuple[str, ...]] = (
        "Number", "Owner", "Type", "Currency", "Balance", "Status", "Nickname",
    )  # fmt: skip
    SORT_FIELDS: ClassVar[dict[int, str]] = {
        Column.NUMBER: "number",
        Column.OWNER: "owner_id",
        Column.BALANCE: "balance",
    }
    RIGHT_ALIGNED: ClassVar[frozenset[int]] = frozenset({Column.BALANCE})

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
            item.account_type.value.capitalize(),
            item.currency,
            format_money(item.balance, item.currency),
            item.status.value.capitalize(),
            item.nickname or "",
        )

    def _role_data(self, item: AccountPublic, column: int, role: int) -> Any:
        if role == FOREGROUND:
            if item.status == AccountStatus.CLOSED:
                return MUTED
            if column == self.Column.BALANCE and item.balance < 0:
                return NEGATIVE
            return None
        if role == TOOLTIP:
            return self._tooltip(item, column)
        return None

    @classmethod
    def _tooltip(cls, item: AccountPublic, column: int) -> str | None:
        if column == cls.Column.NUMBER:
            opened = local_time(item.created_at, "%Y-%m-%d")
            return f"Account {item.number} (id {item.id}), opened {opened}"
        if column == cls.Column.OWNER:
            return f"{item.owner_name} (customer id {item.owner_id})"
        if column == cls.Column.BALANCE:
            daily = item.daily_withdrawal_limit
            limit = format_money(daily, item.currency) if daily is not None else "none"
            overdraft = format_money(item.overdraft_limit, item.currency)
            return f"Overdraft limit {overdraft}; daily withdrawal limit {limit}"
        if column == cls.Column.STATUS:
            return _STATUS_TIPS.get(item.status)
        if column == cls.Column.NICKNAME and item.nickname:
            return item.nickname
        return None
