"""The bank's customers (users with role `user`) as a lazily paged, searchable table."""

from __future__ import annotations

from enum import IntEnum
from typing import Any, ClassVar

from desktop.api.client import BankClient
from desktop.models.paging import FOREGROUND, MUTED, TOOLTIP, PagedTableModel, local_time
from shared.schemas.common import Page, Role
from shared.schemas.users import UserPublic


class CustomersModel(PagedTableModel[UserPublic]):
    """Customers matching a search, one page at a time; the UserPublic under UserRole."""

    class Column(IntEnum):
        """The table's columns."""

        USERNAME = 0
        FULL_NAME = 1
        EMAIL = 2
        ACTIVE = 3
        CREATED = 4

    HEADERS: ClassVar[tuple[str, ...]] = (
        "Username",
        "Full name",
        "Email",
        "Active",
        "Customer since",
    )
    SORT_FIELDS: ClassVar[dict[int, str]] = {
        Column.USERNAME: "username",
        Column.FULL_NAME: "full_name",
        Column.CREATED: "created_at",
    }

    def __init__(self, client: BankClient, page_size: int = 100, parent: Any = None) -> None:
        super().__init__(client, page_size, parent)
        self._q = ""

    @property
    def query(self) -> dict[str, Any]:
        """Return the current search and sort."""
        return {"q": self._q, "sort": self._sort, "order": self._order}

    def set_query(self, q: str = "", sort: str = "id", order: str = "asc") -> None:
        """Show the customers whose username, full name or email contains `q`."""
        self._q = q.strip()
        self._sort, self._order = str(sort), str(order)
        self._reload()

    def customer_at(self, row: int) -> UserPublic | None:
        """Return the customer on a row, or None outside the loaded rows."""
        return self.item_at(row)

    user_at = customer_at

    def _query_params(self) -> dict[str, Any]:
        return {"role": Role.USER.value, "q": self._q}

    @staticmethod
    def _load_page(client: BankClient, params: dict[str, Any]) -> Page[UserPublic]:
        return client.users(**params)

    @staticmethod
    def _describe(item: UserPublic) -> tuple[str, ...]:
        return (
            item.username,
            item.full_name,
            item.email,
            "Yes" if item.is_active else "No",
            local_time(item.created_at, "%Y-%m-%d"),
        )

    def _role_data(self, item: UserPublic, column: int, role: int) -> Any:
        if role == FOREGROUND:
            return None if item.is_active else MUTED
        if role == TOOLTIP:
            if column == self.Column.ACTIVE and not item.is_active:
                return "Deactivated: cannot sign in"
            if column == self.Column.CREATED:
                return local_time(item.created_at, "%Y-%m-%d %H:%M")
            if column == self.Column.USERNAME:
                return f"Customer id {item.id}"
        return None
