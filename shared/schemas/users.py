"""Users: sign-up, updates and the public view (never a password or hash)."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Self

from pydantic import AfterValidator, BaseModel, BeforeValidator, EmailStr, Field, model_validator

from shared.money import Money
from shared.schemas.common import AccountStatus, RequestModel, Role, Timestamp
from shared.schemas.customers import DocumentPublic, KycStatus, Profile

USERNAME_RE = re.compile(r"^[a-z0-9_.\-]{3,32}$")


def _fold_username(value: object) -> object:
    # ASCII only: "\u212a" (KELVIN SIGN) lower-cases to "k", so a name outside the
    # documented pattern would be taken in.
    return value.lower() if isinstance(value, str) and value.isascii() else value


def _check_username(value: str) -> str:
    if not USERNAME_RE.fullmatch(value):
        raise ValueError("username must be 3-32 characters of a-z, 0-9, '_', '.' or '-'")
    return value


def _check_full_name(value: str) -> str:
    if not value.strip():
        raise ValueError("full name must not be blank")
    if not value.isprintable():
        raise ValueError("full name must contain printable characters only")
    return value


Username = Annotated[
    str,
    BeforeValidator(_fold_username),
    Field(
        min_length=3,
        max_length=32,
        examples=["alice"],
        json_schema_extra={"pattern": "^[A-Za-z0-9_.-]{3,32}$"},  # folded to lower case
    ),
    AfterValidator(_check_username),
]
Password = Annotated[
    str,
    Field(
        min_length=8,
        max_length=128,
        description="8-128 characters, not the username; a teller's, supervisor's or admin's "
        "at least 12 (422 otherwise)",
    ),
]
FullName = Annotated[str, Field(min_length=1, max_length=100), AfterValidator(_check_full_name)]
Email = Annotated[EmailStr, Field(max_length=254)]  # RFC 5321's limit on a path


class UserCreate(RequestModel):
    """Sign-up or registration of a user."""

    username: Username
    password: Password
    full_name: FullName
    email: Email
    role: Role | None = None

    @model_validator(mode="after")
    def _password_is_not_username(self) -> Self:
        if self.password.lower() == self.username:
            raise ValueError("password must not equal the username")
        return self


class UserUpdate(RequestModel):
    """Changes to a user; which fields a caller may set depends on their role."""

    full_name: FullName | None = None
    email: Email | None = None
    password: Password | None = None
    current_password: Annotated[str, Field(max_length=128)] | None = None
    role: Role | None = None
    is_active: bool | None = None


class UserPublic(BaseModel):
    """A user as the API shows it."""

    id: int
    username: str
    full_name: str
    email: str
    role: Role
    is_active: bool
    created_at: Timestamp
    updated_at: Timestamp
    # Customers only (API.md "Customer identification"); null for staff.
    profile: Profile | None = None
    documents: list[DocumentPublic] | None = None
    kyc_status: KycStatus | None = None


class AccountSummary(BaseModel):
    """An account as listed under its owner (`include=accounts`)."""

    id: int
    number: str
    balance: Money
    currency: str
    status: AccountStatus


class UserWithAccounts(UserPublic):
    """A user with summaries of their accounts."""

    accounts: list[AccountSummary] = Field(default_factory=list)


class UserSort(StrEnum):
    """Fields a user list may be sorted by."""

    ID = "id"
    USERNAME = "username"
    FULL_NAME = "full_name"
    CREATED_AT = "created_at"
