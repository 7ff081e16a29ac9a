"""Accounts: opening, settings and the public view."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, BaseModel, Field, field_validator
from pydantic.json_schema import SkipJsonSchema

from shared.money import Money, MoneyLimit
from shared.schemas.common import AccountStatus, AccountType, RequestModel, Timestamp


def _check_nickname(value: str | None) -> str | None:
    if value is not None and not value.isprintable():
        raise ValueError("nickname must contain printable characters only")
    return value


Nickname = Annotated[str | None, Field(max_length=50), AfterValidator(_check_nickname)]


class AccountCreate(RequestModel):
    """Opening an account."""

    account_type: AccountType
    currency: Annotated[str, Field(min_length=1, max_length=8, examples=["USD"])] = "USD"
    nickname: Nickname = None
    owner_id: int | None = Field(default=None, ge=1, le=2**62)


class AccountUpdate(RequestModel):
    """What an owner may change."""

    nickname: Nickname


class AccountAdminUpdate(RequestModel):
    """What an admin may change; `version` guards against lost updates."""

    # Omitted means "leave as is"; only the daily limit may be set to null (no limit).
    status: AccountStatus | SkipJsonSchema[None] = None
    account_type: AccountType | SkipJsonSchema[None] = None
    overdraft_limit: MoneyLimit | SkipJsonSchema[None] = None
    daily_withdrawal_limit: MoneyLimit | None = Field(
        default=None, description="null removes the limit"
    )
    version: int | None = Field(default=None, ge=1)

    @field_validator("status", "account_type", "overdraft_limit")
    @classmethod
    def _not_null(cls, value: object) -> object:
        # Runs only for values the request gave: an explicit null is an error, not a no-op.
        if value is None:
            raise ValueError("may be omitted but not null")
        return value


class AccountPublic(BaseModel):
    """An account as the API shows it."""

    id: int
    number: str
    owner_id: int
    owner_name: str
    account_type: AccountType
    currency: str
    balance: Money
    held: Money = Field(description="active, unexpired holds")
    available: Money = Field(description="balance + overdraft_limit - held")
    overdraft_limit: Money
    daily_withdrawal_limit: Money | None
    status: AccountStatus
    nickname: str | None
    created_at: Timestamp
    updated_at: Timestamp
    version: int


class Payee(BaseModel):
    """What anyone signed in may learn about an account number before paying it."""

    number: str
    holder: str
    currency: str
    account_type: AccountType


class AccountSort(StrEnum):
    """Fields an account list may be sorted by."""

    ID = "id"
    NUMBER = "number"
    BALANCE = "balance"
    OWNER_ID = "owner_id"
    CREATED_AT = "created_at"
