"""The bank's customers (users with role `user`) with their accounts, lazily paged, searchable."""

from __future__ import annotations

from enum import IntEnum
from typing import Any, ClassVar

from desktop import text, theme
from desktop.api.client import BankClient
from desktop.models.paging import FOREGROUND, TOOLTIP, PagedTableModel
from desktop.models.summaries import account_totals, accounts_tooltip, any_negative, balances_text
from desktop.text import QT_TRANSLATE_NOOP, tr
from desktop.widgets.kyc_badge import kyc_tip, kyc_tone
from shared.schemas.common import Page, Role
from shared.schemas.users import UserWithAccounts


class CustomersModel(PagedTableModel[UserWithAccounts]):
    """Customers matching a search, with their accounts; the user under UserRole."""

    class Column(IntEnum):
        """The table's columns."""

        USERNAME = 0
        FULL_NAME = 1
        EMAIL = 2
        ACCOUNTS = 3
        BALANCES = 4
        ACTIVE = 5
        CREATED = 6
        KYC = 7

    HEADERS: ClassVar[tuple[str, ...]] = (
        QT_TRANSLATE_NOOP("bank", "Username"), QT_TRANSLATE_NOOP("bank", "Full name"),
        QT_TRANSLATE_NOOP("bank", "Email"), QT_TRANSLATE_NOOP("bank", "Accounts"),
        QT_TRANSLATE_NOOP("bank", "Balances"), QT_TRANSLATE_NOOP("bank", "Active"),
        QT_TRANSLATE_NOOP("bank", "Customer since"), QT_TRANSLATE_NOOP("bank", "Identity"),
    )  # fmt: skip
    SORT_FIELDS: ClassVar[dict[int, str]] = {
        Column.USERNAME: "username",
        Column.FULL_NAME: "full_name",
        Column.CREATED: "created_at",
    }
    RIGHT_ALIGNED: ClassVar[frozenset[int]] = frozenset({Column.ACCOUNTS, Column.BALANCES})
    PRIORITY: ClassVar[tuple[int, ...]] = (
        Column.FULL_NAME, Column.BALANCES, Column.KYC, Column.USERNAME, Column.ACCOUNTS,
        Column.ACTIVE, Column.EMAIL, Column.CREATED,
    )  # fmt: skip
    STRETCH: ClassVar[int] = Column.EMAIL

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

    def customer_at(self, row: int) -> UserWithAccounts | None:
        """Return the customer on a row, or None outside the loaded rows."""
        return self.item_at(row)

    user_at = customer_at

    def _query_params(self) -> dict[str, Any]:
        return {"role": Role.USER.value, "q": self._q}

    @staticmethod
    def _load_page(client: BankClient, params: dict[str, Any]) -> Page[UserWithAccounts]:
        return client.users_with_accounts(**params)

    @staticmethod
    def _describe(item: UserWithAccounts) -> tuple[str, ...]:
        open_count, _totals = account_totals(item.accounts)
        return (
            item.username,
            item.full_name,
            item.email,
            str(open_count),
            balances_text(item.accounts),
            text.yes_no(item.is_active),
            text.date_text(item.created_at),
            text.kyc_status(item.kyc_status) if item.kyc_status else "",
        )

    def _role_data(self, item: UserWithAccounts, column: int, role: int) -> Any:
        if role == FOREGROUND:
            if column == self.Column.BALANCES and any_negative(item.accounts):
                return theme.colors().negative
            if column == self.Column.KYC and item.kyc_status is not None:
                return kyc_color(item.kyc_status)
            return None if item.is_active else theme.colors().muted
        if role == TOOLTIP:
            if column in (self.Column.ACCOUNTS, self.Column.BALANCES):
                return accounts_tooltip(item.accounts)
            if column == self.Column.ACTIVE and not item.is_active:
                return tr("Deactivated: cannot sign in")
            if column == self.Column.CREATED:
                return text.time_text(item.created_at)
            if column == self.Column.KYC:
                return kyc_tip(item.kyc_status)
        return None


def kyc_color(status: object) -> Any:
    """Return the text colour of a KYC status in a table: verified green, else a warning."""
    colors = theme.colors()
    tone = kyc_tone(status)
    return {"ok": colors.positive, "error": colors.negative}.get(tone.value, colors.warning)
