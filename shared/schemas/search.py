"""The one customer search: each result is a user, their accounts and what matched."""

from __future__ import annotations

from pydantic import BaseModel

from shared.schemas.accounts import AccountPublic
from shared.schemas.customers import MatchKind
from shared.schemas.users import UserPublic


class CustomerMatch(BaseModel):
    """A customer found by a search."""

    user: UserPublic
    accounts: list[AccountPublic]
    matched: MatchKind
