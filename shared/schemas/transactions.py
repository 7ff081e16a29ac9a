"""Money movement: requests and ledger entries."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, BaseModel, Field

from shared.money import Amount, Money
from shared.schemas.common import RequestModel, Timestamp


class TransactionType(StrEnum):
    """Kinds of ledger entry."""

    DEPOSIT = "deposit"
    WITHDRAWAL = "withdrawal"
    TRANSFER_IN = "transfer_in"
    TRANSFER_OUT = "transfer_out"


def _check_description(value: str | None) -> str | None:
    if value is not None and not value.isprintable():
        raise ValueError("description must contain printable characters only")
    return value


Description = Annotated[str | None, Field(max_length=140), AfterValidator(_check_description)]


class MovementRequest(RequestModel):
    """Body of a deposit or a withdrawal."""

    amount: Amount
    description: Description = None


class TransactionPublic(BaseModel):
    """One ledger entry of an account."""

    id: int
    account_id: int
    type: TransactionType
    amount: Money
    balance_after: Money
    description: str | None
    transfer_id: int | None
    counterparty_number: str | None
    performed_by: int | None
    created_at: Timestamp
