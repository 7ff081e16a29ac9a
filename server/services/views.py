"""Turn stored documents into the shared response models (documents never cross the wire)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from server.documents import Account, User
from shared.schemas.accounts import AccountPublic
from shared.schemas.common import SortOrder
from shared.schemas.users import UserPublic


@dataclass(frozen=True)
class ListParams:
    """Paging and sorting of a list request."""

    skip: int = 0
    limit: int = 50
    sort: str = "id"
    order: SortOrder = SortOrder.ASC

    def mongo_sort(self) -> list[tuple[str, int]]:
        """Return the sort spec, with `_id` as the tie-breaker for a stable order."""
        field = "_id" if self.sort == "id" else self.sort
        direction = 1 if self.order is SortOrder.ASC else -1
        spec = [(field, direction)]
        if field != "_id":
            spec.append(("_id", direction))
        return spec


def user_public(user: User) -> UserPublic:
    """Return the API view of a user."""
    return UserPublic(
        id=user.id,
        username=user.username,
        full_name=user.full_name,
        email=user.email,
        role=user.role,
        is_active=user.is_active,
        created_at=user.created_at,
        updated_at=user.updated_at,
    )


def account_public(account: Account) -> AccountPublic:
    """Return the API view of an account."""
    return AccountPublic(
        id=account.id,
        number=account.number,
        owner_id=account.owner_id,
        owner_name=account.owner_name,
        account_type=account.account_type,
        currency=account.currency,
        balance=account.balance,
        held=account.held,
        available=account.balance + account.overdraft_limit - account.held,
        overdraft_limit=account.overdraft_limit,
        daily_withdrawal_limit=account.daily_withdrawal_limit,
        status=account.status,
        nickname=account.nickname,
        created_at=account.created_at,
        updated_at=account.updated_at,
        version=account.version,
    )


def from_raw[D: (User, Account)](model: type[D], raw: dict[str, Any]) -> D:
    """Build a document model from a raw PyMongo document."""
    return model.model_validate(raw)
