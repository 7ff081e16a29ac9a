"""Administration: audit events and statistics."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, Field

from shared.money import Money
from shared.schemas.common import Timestamp


class AuditEventPublic(BaseModel):
    """One audit event as the API shows it."""

    id: int
    at: Timestamp
    actor_id: int | None
    action: str
    outcome: Literal["ok", "refused"]
    code: str | None
    target_type: str | None
    target_id: int | None
    ip: str | None
    request_id: str | None
    details: dict[str, Any] = Field(default_factory=dict)
    actor_name: str | None = Field(
        default=None, description="with `include=names`: the actor's username"
    )
    target_name: str | None = Field(
        default=None,
        description="with `include=names`: a user target's username, an account target's "
        'number and holder ("0000000195 (Alice Smith)")',
    )
    business_date: str | None = Field(
        default=None, description="the business date the event happened on (YYYY-MM-DD)"
    )


class AuditSort(StrEnum):
    """Fields the audit list may be sorted by."""

    ID = "id"
    AT = "at"


class CountSum(BaseModel):
    """How many movements of a kind, and their total, in one currency."""

    count: int
    sum: Money


class DayStats(BaseModel):
    """Movements of one UTC day, by currency."""

    date: str
    deposits: dict[str, CountSum] = Field(default_factory=dict)
    withdrawals: dict[str, CountSum] = Field(default_factory=dict)
    transfers: dict[str, CountSum] = Field(default_factory=dict)


class Stats(BaseModel):
    """What `GET /stats` answers."""

    users: int
    accounts: int
    total_balance: dict[str, Money]
    today: DayStats


class DailyStats(BaseModel):
    """What `GET /stats/daily` answers: oldest day first."""

    days: list[DayStats]
