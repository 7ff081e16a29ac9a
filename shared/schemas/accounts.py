"""Accounts: opening, settings and the public view."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, BaseModel, Field

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

    status: AccountStatus | None = None
    account_type: AccountType | None = None
    overdraft_limit: MoneyLimit | None = None
    daily_withdrawal_limit: MoneyLimit | None = Field(
        default=None, description="null removes the limit"
    )
    version: int | None = Field(default=None, ge=1)


class AccountPublic(BaseModel):
    """An account as the API shows it."""

    id: int
    number: str
    owner_id: int
    owner_name: str
    account_type: AccountType
    currency: str
    balance: Money
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
