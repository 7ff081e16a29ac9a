"""The audit trail as a paged table that reads like sentences: names, numbers, money.

Events come with their actor's and target's names (`GET /audit?include=names`); account
ids in the details become account numbers (the number is the id with check digits), and
each detail gets a readable label. Session ids stay out of the table: they are in the
event's details pane, shortened.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation
from enum import IntEnum
from typing import Any, ClassVar

from desktop import text, theme
from desktop.admin.models import ClientSource, FollowingModel
from desktop.api.client import BankClient
from desktop.models.paging import FOREGROUND, TOOLTIP
from desktop.text import QT_TRANSLATE_NOOP, tr
from shared.account_number import account_number
from shared.schemas.admin import AuditEventPublic
from shared.schemas.common import Page, iso_utc_ms

AUDIT_TARGET_TYPES: tuple[str, ...] = ("user", "account", "transfer")
_N = "bank"
_LABELS = {
    "amount": QT_TRANSLATE_NOOP(_N, "Amount"),
    "balance_after": QT_TRANSLATE_NOOP(_N, "Balance after"),
    "transaction_id": QT_TRANSLATE_NOOP(_N, "Transaction no."),
    "from_account_id": QT_TRANSLATE_NOOP(_N, "From account"),
    "to_account_id": QT_TRANSLATE_NOOP(_N, "To account"),
    "owner_id": QT_TRANSLATE_NOOP(_N, "Customer no."),
    "number": QT_TRANSLATE_NOOP(_N, "Account"),
    "fields": QT_TRANSLATE_NOOP(_N, "Changed"),
    "username": QT_TRANSLATE_NOOP(_N, "Username"),
    "role": QT_TRANSLATE_NOOP(_N, "Role"),
    "reason": QT_TRANSLATE_NOOP(_N, "Reason"),
    "closed_accounts": QT_TRANSLATE_NOOP(_N, "Accounts closed"),
    "sid": QT_TRANSLATE_NOOP(_N, "Sign-in session"),
}
_FIELD_NAMES = {
    "nickname": QT_TRANSLATE_NOOP(_N, "nickname"),
    "overdraft_limit": QT_TRANSLATE_NOOP(_N, "overdraft limit"),
    "daily_withdrawal_limit": QT_TRANSLATE_NOOP(_N, "daily withdrawal limit"),
    "account_type": QT_TRANSLATE_NOOP(_N, "account type"),
    "full_name": QT_TRANSLATE_NOOP(_N, "full name"),
    "email": QT_TRANSLATE_NOOP(_N, "email"),
    "password": QT_TRANSLATE_NOOP(_N, "password"),
    "role": QT_TRANSLATE_NOOP(_N, "role"),
    "is_active": QT_TRANSLATE_NOOP(_N, "access"),
}
# Facts shown only in the details pane, not in the table's Details column.
_PANE_ONLY = frozenset({"sid"})


def _number_of(value: Any) -> str:
    try:
        return account_number(int(value))
    except (TypeError, ValueError):
        return str(value)


def _value(event: AuditEventPublic, key: str, value: Any) -> str:
    currency = str(event.details.get("currency") or "") or None
    if key in ("amount", "balance_after"):
        try:
            return text.money(Decimal(str(value)), currency)
        except (InvalidOperation, ValueError):
            return str(value)
    if key in ("from_account_id", "to_account_id"):
        return _number_of(value)
    if key == "closed_accounts":
        return ", ".join(_number_of(v) for v in value) if value else tr("none")
    if key == "fields" and isinstance(value, list):
        return ", ".join(tr(_FIELD_NAMES[f]) if f in _FIELD_NAMES else str(f) for f in value)
    if key == "role":
        return text.role(value)
    if key == "sid":
        return f"{str(value)[:8]}…"
    if key == "reason":
        return str(value).capitalize()
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return str(value)


def _rows(event: AuditEventPublic) -> list[tuple[str, str, str]]:
    """Return an event's details as (key, label, value) rows."""
    details = dict(event.details)
    rows: list[tuple[str, str, str]] = []
    if event.action == "user.role_changed" and {"from", "to"} <= details.keys():
        change = f"{text.role(details.pop('from'))} → {text.role(details.pop('to'))}"
        rows.append(("role", tr("Role"), change))
    details.pop("currency", None)  # said with the amounts
    if event.target_type == "account" and event.target_name:
        details.pop("number", None)  # the target names the account and its holder already
        details.pop("owner_id", None)
    for key, value in details.items():
        label = tr(_LABELS[key]) if key in _LABELS else key.replace("_", " ").capitalize()
        rows.append((key, label, _value(event, key, value)))
    return rows


def describe_details(event: AuditEventPublic) -> list[tuple[str, str]]:
    """Return an event's details as (label, value) rows a person reads."""
    return [(label, value) for _key, label, value in _rows(event)]


def details_summary(event: AuditEventPublic) -> str:
    """Return the details in one line for the table (without session ids)."""
    return "; ".join(
        f"{label}: {value}" for key, label, value in _rows(event) if key not in _PANE_ONLY
    )


def actor_text(event: AuditEventPublic) -> str:
    """Return who acted: a username, "user no. 7" when unknown, "—" for the system."""
    if event.actor_id is None:
        return "—"
    return event.actor_name or tr("user no. {id}").format(id=event.actor_id)


def target_text(event: AuditEventPublic) -> str:
    """Return what the event is about: "Account 0000000195 (Alice Smith)", "User alice"."""
    if event.target_type is None:
        return ""
    kind = text.target_type(event.target_type)
    if event.target_name:
        return f"{kind} {event.target_name}"
    if event.target_id is None:
        return kind
    if event.target_type == "account":
        return f"{kind} {_number_of(event.target_id)}"
    return tr("{kind} no. {id}").format(kind=kind, id=event.target_id)


def outcome_text(event: AuditEventPublic) -> str:
    """Return "Done" or "Refused (insufficient funds)"."""
    if event.outcome == "ok":
        return tr("Done")
    reason = (event.code or "").replace("_", " ")
    return tr("Refused ({reason})").format(reason=reason) if reason else tr("Refused")


class AuditModel(FollowingModel[AuditEventPublic]):
    """Audit events matching the filters, newest first, named; the event under UserRole."""

    Column = IntEnum("Column", "ID AT ACTOR ACTION OUTCOME TARGET IP DETAILS", start=0)

    HEADERS: ClassVar[tuple[str, ...]] = (
        QT_TRANSLATE_NOOP(_N, "No."), QT_TRANSLATE_NOOP(_N, "Time"),
        QT_TRANSLATE_NOOP(_N, "Actor"), QT_TRANSLATE_NOOP(_N, "Action"),
        QT_TRANSLATE_NOOP(_N, "Outcome"), QT_TRANSLATE_NOOP(_N, "Target"),
        QT_TRANSLATE_NOOP(_N, "IP"), QT_TRANSLATE_NOOP(_N, "Details"),
    )  # fmt: skip
    PRIORITY: ClassVar[tuple[int, ...]] = (
        Column.AT, Column.ACTION, Column.ACTOR, Column.TARGET, Column.OUTCOME, Column.DETAILS,
        Column.IP, Column.ID,
    )  # fmt: skip
    STRETCH: ClassVar[int] = Column.DETAILS
    SORT_FIELDS: ClassVar[dict[int, str]] = {Column.ID: "id", Column.AT: "at"}
    DEFAULT_SORT: ClassVar[tuple[str, str]] = ("id", "desc")  # newest first

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

    @staticmethod
    def _load_page(client: BankClient, params: dict[str, Any]) -> Page[AuditEventPublic]:
        return client.audit(**params)

    def _query_params(self) -> dict[str, Any]:
        return {**self._filters, "include": "names"}  # actors and targets by name

    @staticmethod
    def _describe(item: AuditEventPublic) -> tuple[str, ...]:
        return (
            str(item.id),
            text.time_text(item.at, seconds=True),
            actor_text(item),
            text.audit_action(item.action),
            outcome_text(item),
            target_text(item),
            item.ip or "",
            details_summary(item),
        )

    def _role_data(self, item: AuditEventPublic, column: int, role: int) -> Any:
        if role == FOREGROUND and item.outcome == "refused" and column == self.Column.OUTCOME:
            return theme.colors().negative
        if role == TOOLTIP:
            if column == self.Column.AT:
                return f"{iso_utc_ms(item.at)} (UTC)"
            if column == self.Column.DETAILS and item.details:
                return "\n".join(f"{label}: {value}" for label, value in describe_details(item))
            if column == self.Column.ACTION:
                return item.action
            if column == self.Column.ID and item.request_id:
                return tr("Request {id}").format(id=item.request_id)
        return None
