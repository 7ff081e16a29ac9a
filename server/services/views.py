"""Turn stored documents into the shared response models (documents never cross the wire)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from server.documents import Account, User
from shared.schemas.accounts import AccountPublic
from shared.schemas.common import Role, SortOrder
from shared.schemas.customers import DocumentPublic, KycStatus, Profile
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


def user_public(user: User, *, business_date: str | None = None) -> UserPublic:
    """Return the API view of a user; a customer's KYC status is as of `business_date`.

    Pass the open business date (`customers.user_view` reads it); without one the status is
    reckoned on today's UTC date, which differs only while a day is left unclosed.
    """
    customer = user.role is Role.USER
    return UserPublic(
        id=user.id,
        username=user.username,
        full_name=user.full_name,
        email=user.email,
        role=user.role,
        is_active=user.is_active,
        created_at=user.created_at,
        updated_at=user.updated_at,
        profile=Profile.model_validate(user.profile or {}) if customer else None,
        documents=[document_public(doc) for doc in user.documents] if customer else None,
        kyc_status=kyc_status(user.documents, business_date or _utc_today()) if customer else None,
    )


def _utc_today() -> str:
    return datetime.now(UTC).date().isoformat()


def document_public(doc: dict[str, Any]) -> DocumentPublic:
    """Return the API view of a stored identity document."""
    return DocumentPublic(
        id=doc["id"], type=doc["type"], number=doc["number"], country=doc["country"],
        expires_on=doc["expires_on"], verified_by=doc.get("verified_by"),
        verified_at=doc.get("verified_at"),
    )  # fmt: skip


def kyc_status(documents: list[dict[str, Any]], business_date: str) -> KycStatus:
    """Return the KYC status of stored documents on the open business date (API.md)."""
    verified = [doc for doc in documents if doc.get("verified_at") is not None]
    if any(str(doc["expires_on"]) >= business_date for doc in verified):
        return KycStatus.VERIFIED
    return KycStatus.EXPIRED if verified else KycStatus.PENDING


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
