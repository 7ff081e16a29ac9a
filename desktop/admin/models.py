"""The users table of the administration panel: every role, with account summaries.

It pages in lazily with the server doing the search, filtering and sorting.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import IntEnum
from typing import Any, ClassVar

from pydantic import BaseModel

from desktop import text, theme
from desktop.api.client import BankClient
from desktop.models.paging import FOREGROUND, TOOLTIP, PagedTableModel
from desktop.models.summaries import account_totals, accounts_tooltip, any_negative, balances_text
from desktop.text import QT_TRANSLATE_NOOP, tr
from shared.schemas.common import Page
from shared.schemas.users import UserWithAccounts

ClientSource = Callable[[], BankClient]


def as_source(client: BankClient | ClientSource) -> ClientSource:
    """Return a function giving the client to use now (a fixed client gives itself)."""
    if isinstance(client, BankClient):
        return lambda: client
    return client


class FollowingModel[T: BaseModel](PagedTableModel[T]):
    """A paged model whose every request goes through the client its source gives now."""

    def __init__(
        self, client: BankClient | ClientSource, page_size: int = 100, parent: Any = None
    ) -> None:
        self._source = as_source(client)
        super().__init__(self._source(), page_size, parent)

    def _request(self) -> None:
        self._client = self._source()
        super()._request()


# -- users -------------------------------------------------------------------------------


class UsersModel(FollowingModel[UserWithAccounts]):
    """Users matching a search and a role, with account summaries; the user under UserRole."""

    class Column(IntEnum):
        """The table's columns."""

        ID = 0
        USERNAME = 1
        FULL_NAME = 2
        EMAIL = 3
        ROLE = 4
        ACTIVE = 5
        ACCOUNTS = 6
        BALANCES = 7
        CREATED = 8

    HEADERS: ClassVar[tuple[str, ...]] = (
        QT_TRANSLATE_NOOP("bank", "Id"), QT_TRANSLATE_NOOP("bank", "Username"),
        QT_TRANSLATE_NOOP("bank", "Full name"), QT_TRANSLATE_NOOP("bank", "Email"),
        QT_TRANSLATE_NOOP("bank", "Role"), QT_TRANSLATE_NOOP("bank", "Active"),
        QT_TRANSLATE_NOOP("bank", "Accounts"), QT_TRANSLATE_NOOP("bank", "Balances"),
        QT_TRANSLATE_NOOP("bank", "Created"),
    )  # fmt: skip
    SORT_FIELDS: ClassVar[dict[int, str]] = {
        Column.ID: "id",
        Column.USERNAME: "username",
        Column.FULL_NAME: "full_name",
        Column.CREATED: "created_at",
    }
    RIGHT_ALIGNED: ClassVar[frozenset[int]] = frozenset({Column.ACCOUNTS, Column.BALANCES})
    PRIORITY: ClassVar[tuple[int, ...]] = (
        Column.USERNAME, Column.ROLE, Column.FULL_NAME, Column.BALANCES, Column.ACTIVE,
        Column.ACCOUNTS, Column.EMAIL, Column.ID, Column.CREATED,
    )  # fmt: skip
    STRETCH: ClassVar[int] = Column.EMAIL

    def __init__(
        self, client: BankClient | ClientSource, page_size: int = 100, parent: Any = None
    ) -> None:
        super().__init__(client, page_size, parent)
        self._q = ""
        self._role: str | None = None

    @property
    def query(self) -> dict[str, Any]:
        """Return the current search, role filter and sort."""
        return {"q": self._q, "role": self._role, "sort": self._sort, "order": self._order}

    def set_query(self, q: str = "", role: str | None = None, sort: str | None = None,
                  order: str | None = None) -> None:  # fmt: skip
        """Show the users matching a search and a role (None: every role)."""
        self._q = q.strip()
        self._role = str(role) if role else None
        if sort is not None:
            self._sort = str(sort)
        if order is not None:
            self._order = str(order)
        self._reload()

    def user_at(self, row: int) -> UserWithAccounts | None:
        """Return the user on a row, or None outside the loaded rows."""
        return self.item_at(row)

    def _query_params(self) -> dict[str, Any]:
        return {"q": self._q, "role": self._role}

    @staticmethod
    def _load_page(client: BankClient, params: dict[str, Any]) -> Page[UserWithAccounts]:
        return client.users_with_accounts(**params)

    @staticmethod
    def _describe(item: UserWithAccounts) -> tuple[str, ...]:
        open_count, _totals = account_totals(item.accounts)
        return (
            str(item.id),
            item.username,
            item.full_name,
            item.email,
            text.role(item.role),
            text.yes_no(item.is_active),
            str(open_count),
            balances_text(item.accounts),
            text.date_text(item.created_at),
        )

    def _role_data(self, item: UserWithAccounts, column: int, role: int) -> Any:
        if role == FOREGROUND:
            if column == self.Column.BALANCES and any_negative(item.accounts):
                return theme.colors().negative
            return None if item.is_active else theme.colors().muted
        if role == TOOLTIP:
            if column in (self.Column.ACCOUNTS, self.Column.BALANCES):
                return accounts_tooltip(item.accounts)
            if column == self.Column.ACTIVE and not item.is_active:
                return tr("Deactivated: cannot sign in")
            if column == self.Column.CREATED:
                return text.time_text(item.created_at)
        return None
