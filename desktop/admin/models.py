"""The administration tables: users with their account summaries, and the audit trail.

Both page in lazily with the server doing the search, filtering and sorting. Their requests
go through the window's current client, read when each request starts: signing in again
after an expired session replaces the client, and a model holding the old one would only
ever get `SessionExpired` back.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal
from enum import IntEnum
from typing import Any, ClassVar

from pydantic import BaseModel

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
from shared.schemas.admin import AuditEventPublic
from shared.schemas.common import AccountStatus, Page, iso_utc_ms
from shared.schemas.users import AccountSummary, UserWithAccounts

ClientSource = Callable[[], BankClient]

# API.md "Administration": every action the audit trail records.
AUDIT_ACTIONS: tuple[str, ...] = (
    "login.succeeded", "login.failed", "logout",
    "user.created", "user.updated", "user.role_changed", "user.deactivated", "user.deleted",
    "user.unlocked",
    "account.opened", "account.updated", "account.frozen", "account.unfrozen", "account.closed",
    "money.deposit", "money.withdrawal", "money.transfer",
)  # fmt: skip
AUDIT_TARGET_TYPES: tuple[str, ...] = ("user", "account", "transfer")


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


def account_totals(accounts: Sequence[AccountSummary]) -> tuple[int, dict[str, Decimal]]:
    """Return how many accounts are not closed, and the balance per currency of them all."""
    open_count = sum(1 for a in accounts if a.status is not AccountStatus.CLOSED)
    totals: dict[str, Decimal] = {}
    for account in accounts:
        totals[account.currency] = totals.get(account.currency, Decimal(0)) + account.balance
    return open_count, dict(sorted(totals.items()))


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
        "Id", "Username", "Full name", "Email", "Role", "Active", "Accounts", "Balances",
        "Created",
    )  # fmt: skip
    SORT_FIELDS: ClassVar[dict[int, str]] = {
        Column.ID: "id",
        Column.USERNAME: "username",
        Column.FULL_NAME: "full_name",
        Column.CREATED: "created_at",
    }
    RIGHT_ALIGNED: ClassVar[frozenset[int]] = frozenset({Column.ACCOUNTS, Column.BALANCES})

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
        open_count, totals = account_totals(item.accounts)
        return (
            str(item.id),
            item.username,
            item.full_name,
            item.email,
            item.role.value.capitalize(),
            "Yes" if item.is_active else "No",
            str(open_count),
            " · ".join(format_money(total, currency) for currency, total in totals.items()),
            local_time(item.created_at, "%Y-%m-%d"),
        )

    def _role_data(self, item: UserWithAccounts, column: int, role: int) -> Any:
        if role == FOREGROUND:
            if column == self.Column.BALANCES and any(a.balance < 0 for a in item.accounts):
                return NEGATIVE
            return None if item.is_active else MUTED
        if role == TOOLTIP:
            if column in (self.Column.ACCOUNTS, self.Column.BALANCES):
                lines = [
                    f"{a.number} · {format_money(a.balance, a.currency)} · {a.status.value}"
                    for a in item.accounts
                ]
                return "\n".join(lines) if lines else "No accounts"
            if column == self.Column.ACTIVE and not item.is_active:
                return "Deactivated: cannot sign in"
            if column == self.Column.CREATED:
                return local_time(item.created_at, "%Y-%m-%d %H:%M")
        return None


# -- audit -------------------------------------------------------------------------------


def _details_text(details: dict[str, Any]) -> str:
    parts = []
    for key, value in details.items():
        if isinstance(value, list | tuple):
            value = ", ".join(str(v) for v in value) or "none"
        elif isinstance(value, dict):
            value = ", ".join(f"{k}={v}" for k, v in value.items())
        parts.append(f"{key}: {value}")
    return "; ".join(parts)


class AuditModel(FollowingModel[AuditEventPublic]):
    """Audit events matching the filters, newest first; the event under UserRole."""

    class Column(IntEnum):
        """The table's columns."""

        ID = 0
        AT = 1
        ACTOR = 2
        ACTION = 3
        OUTCOME = 4
        TARGET = 5
        IP = 6
        DETAILS = 7

    HEADERS: ClassVar[tuple[str, ...]] = (
        "Id", "Time", "Actor", "Action", "Outcome", "Target", "IP", "Details",
    )  # fmt: skip
    SORT_FIELDS: ClassVar[dict[int, str]] = {Column.ID: "id", Column.AT: "at"}
    DEFAULT_SORT: ClassVar[tuple[str, str]] = ("id", "desc")

    def __init__(
        self, client: BankClient | ClientSource, page_size: int = 100, parent: Any = None
    ) -> None:
        super().__init__(client, page_size, parent)
        self._filters: dict[str, Any] = {}

    @property
    def filters(self) -> dict[str, Any]:
        """Return the filters as sent to the server (a copy)."""
        return dict(self._filters)

    def set_filters(
        self,
        *,
        actor_id: int | None = None,
        action: str | None = None,
        target_type: str | None = None,
        target_id: int | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> None:
        """Show the events matching every given filter (`since` inclusive, `until` not)."""
        filters: dict[str, Any] = {
            "actor_id": actor_id,
            "action": action or None,
            "target_type": target_type or None,
            "target_id": target_id,
            "since": iso_utc_ms(since) if since is not None else None,
            "until": iso_utc_ms(until) if until is not None else None,
        }
        self._filters = {k: v for k, v in filters.items() if v is not None}
        self._reload()

    def event_at(self, row: int) -> AuditEventPublic | None:
        """Return the event on a row, or None outside the loaded rows."""
        return self.item_at(row)

    def _query_params(self) -> dict[str, Any]:
        return dict(self._filters)

    @staticmethod
    def _load_page(client: BankClient, params: dict[str, Any]) -> Page[AuditEventPublic]:
        return client.audit(**params)

    @staticmethod
    def _describe(item: AuditEventPublic) -> tuple[str, ...]:
        target = ""
        if item.target_type is not None:
            target = item.target_type + (
                f" #{item.target_id}" if item.target_id is not None else ""
            )
        outcome = item.outcome if item.code is None else f"{item.outcome}: {item.code}"
        return (
            str(item.id),
            local_time(item.at, "%Y-%m-%d %H:%M:%S"),
            f"#{item.actor_id}" if item.actor_id is not None else "—",
            item.action,
            outcome,
            target,
            item.ip or "",
            _details_text(item.details),
        )

    def _role_data(self, item: AuditEventPublic, column: int, role: int) -> Any:
        if role == FOREGROUND and item.outcome == "refused" and column == self.Column.OUTCOME:
            return NEGATIVE
        if role == TOOLTIP:
            if column == self.Column.AT:
                return f"{iso_utc_ms(item.at)} (UTC)"
            if column == self.Column.DETAILS and item.details:
                return _details_text(item.details).replace("; ", "\n")
            if column == self.Column.ID and item.request_id:
                return f"Request {item.request_id}"
        return None
