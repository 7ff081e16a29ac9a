"""Types used by every resource: timestamps, pages, roles and statuses."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, PlainSerializer


def iso_utc_ms(value: datetime) -> str:
    """Format a timestamp as ISO 8601 UTC with milliseconds: 2026-11-29T10:15:00.123Z."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def now_ms() -> datetime:
    """Return the current UTC time truncated to the millisecond MongoDB keeps."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


Timestamp = Annotated[datetime, PlainSerializer(iso_utc_ms, return_type=str, when_used="json")]

# RFC 3339 with an offset: what `format: date-time` promises. Pydantic alone would also read
# "0.5" or "1700000000" as Unix times and accept "2026-11-01 10:00Z" (found by schemathesis).
_RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})", re.ASCII
)


def _rfc3339_only(value: object) -> object:
    if isinstance(value, str) and not _RFC3339.fullmatch(value):
        raise ValueError(
            "use an ISO 8601 timestamp with seconds and an offset, e.g. 2026-11-01T00:00:00Z"
        )
    return value


TimestampFilter = Annotated[AwareDatetime, BeforeValidator(_rfc3339_only)]
"""A `since`/`until` query filter: RFC 3339 date-time with an offset, nothing looser."""


class Role(StrEnum):
    """Who a user is to the bank."""

    USER = "user"
    TELLER = "teller"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"


class AccountStatus(StrEnum):
    """Lifecycle of an account; closed is final."""

    ACTIVE = "active"
    FROZEN = "frozen"
    CLOSED = "closed"


class AccountType(StrEnum):
    """Kinds of account the bank opens."""

    CHECKING = "checking"
    SAVINGS = "savings"


class SortOrder(StrEnum):
    """Direction of a list's sort."""

    ASC = "asc"
    DESC = "desc"


class Page[T](BaseModel):
    """One page of a list: the items and where they sit in the whole."""

    items: list[T]
    total: int
    skip: int
    limit: int


class RequestModel(BaseModel):
    """Base of every request body: unknown fields are refused (no mass assignment)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)
