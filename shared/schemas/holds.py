"""Holds: money set aside on an account without moving it."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, Field

from shared.money import Amount, Money
from shared.schemas.common import RequestModel, Timestamp


class HoldReason(StrEnum):
    """Why money is held."""

    CHEQUE_CLEARING = "cheque_clearing"
    DISPUTE = "dispute"
    LEGAL = "legal"
    FRAUD = "fraud"
    OTHER = "other"


TELLER_HOLD_REASONS = frozenset({HoldReason.CHEQUE_CLEARING, HoldReason.DISPUTE, HoldReason.OTHER})
RESTRICTED_HOLD_REASONS = frozenset({HoldReason.LEGAL, HoldReason.FRAUD})


class HoldStatus(StrEnum):
    """Lifecycle of a hold."""

    ACTIVE = "active"
    RELEASED = "released"
    EXPIRED = "expired"


class HoldCreate(RequestModel):
    """Placing a hold."""

    amount: Amount
    reason_code: HoldReason
    reference: Annotated[str, Field(min_length=1, max_length=140)] | None = None
    expires_at: AwareDatetime | None = None


class HoldRelease(RequestModel):
    """Releasing a hold."""

    note: Annotated[str, Field(min_length=1, max_length=500)] | None = None


class HoldPublic(BaseModel):
    """A hold on an account."""

    id: int
    account_id: int
    amount: Money
    reason_code: HoldReason
    reference: str | None
    status: HoldStatus
    created_by: int | None
    created_at: Timestamp
    expires_at: Timestamp | None
    released_by: int | None
    released_at: Timestamp | None


class HoldSort(StrEnum):
    """Fields the hold list may be sorted by."""

    ID = "id"
    CREATED_AT = "created_at"
