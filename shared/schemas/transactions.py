"""Money movement: requests and ledger entries."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Self

from pydantic import AfterValidator, BaseModel, Field, model_validator

from shared.money import Amount, Money
from shared.schemas.common import RequestModel, Timestamp


class TransactionType(StrEnum):
    """Kinds of ledger entry."""

    DEPOSIT = "deposit"
    WITHDRAWAL = "withdrawal"
    TRANSFER_IN = "transfer_in"
    TRANSFER_OUT = "transfer_out"
    REVERSAL = "reversal"


class Direction(StrEnum):
    """Which way a Transaction moves its account."""

    CREDIT = "credit"
    DEBIT = "debit"


class ReversalReason(StrEnum):
    """Why a movement is reversed."""

    TELLER_ERROR = "teller_error"
    CUSTOMER_REQUEST = "customer_request"
    DUPLICATE = "duplicate"
    FRAUD = "fraud"
    OTHER = "other"


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
    """One line of an account's history: the account's leg of a journal entry."""

    id: int
    account_id: int
    type: TransactionType
    direction: Direction
    amount: Money
    balance_after: Money
    description: str | None
    transfer_id: int | None
    counterparty_number: str | None
    performed_by: int | None
    created_at: Timestamp
    business_date: str
    journal_id: int
    session_id: int | None = None
    approval_id: int | None = None
    reversed_by: int | None = None
    reverses_id: int | None = None
    forced: bool = False


class ReversalRequest(RequestModel):
    """Reversing a movement."""

    reason_code: ReversalReason
    note: Annotated[str, Field(min_length=1, max_length=500)] | None = None
    force: bool = False


class TransferCreate(RequestModel):
    """Body of a transfer: the destination by id or by number, never both."""

    from_account_id: int = Field(ge=1, le=2**62)
    to_account_id: int | None = Field(default=None, ge=1, le=2**62)
    to_account_number: Annotated[str, Field(min_length=1, max_length=32)] | None = None
    amount: Amount
    description: Description = None

    @model_validator(mode="after")
    def _one_destination(self) -> Self:
        if (self.to_account_id is None) == (self.to_account_number is None):
            raise ValueError("give exactly one of to_account_id and to_account_number")
        return self


class TransferPublic(BaseModel):
    """A transfer between two accounts, as the API shows it."""

    id: int
    from_account_id: int
    to_account_id: int
    from_number: str
    to_number: str
    amount: Money
    description: str | None
    performed_by: int | None
    created_at: Timestamp
    business_date: str
    balance_after: Money | None = Field(
        default=None,
        description="the source account's balance after the transfer: in the answer to POST "
        "/transfers (and its Idempotency-Key replays) only, null when read later",
    )
    journal_id: int


class TransactionSort(StrEnum):
    """Fields an account's history may be sorted by."""

    ID = "id"
    CREATED_AT = "created_at"
    AMOUNT = "amount"


class StatementFormat(StrEnum):
    """File formats of a statement."""

    CSV = "csv"
    PDF = "pdf"
