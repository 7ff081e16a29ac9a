"""Maker-checker: approval policies and approvals."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from shared.money import Money, MoneyLimit
from shared.schemas.common import RequestModel, Timestamp


class ApprovalAction(StrEnum):
    """Actions a policy may put behind a second person (API.md "Approvals")."""

    DEPOSIT = "deposit"
    WITHDRAWAL = "withdrawal"
    TRANSFER = "transfer"
    REVERSAL = "reversal"
    TILL_VARIANCE = "till.variance"
    TILL_RECEIVE = "till.receive"
    VAULT_TRANSFER = "vault.transfer"
    VAULT_CASH = "vault.cash"
    HOLD_RELEASE = "hold.release"
    ACCOUNT_LIMITS = "account.limits"
    ACCOUNT_UNFREEZE = "account.unfreeze"
    USER_ROLE = "user.role"
    POLICY_UPDATE = "policy.update"


class ApprovalStatus(StrEnum):
    """Lifecycle of an approval."""

    PENDING = "pending"
    EXECUTED = "executed"
    FAILED = "failed"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


class PolicyPublic(BaseModel):
    """An approval policy."""

    action: ApprovalAction
    enabled: bool
    threshold: dict[str, Money] | None
    approvals_required: int
    version: int


class PolicySort(StrEnum):
    """Policies are listed by action (`id`)."""

    ID = "id"


class PolicyUpdate(RequestModel):
    """A change of policy, guarded by its `version`."""

    enabled: bool | None = None
    threshold: dict[Annotated[str, Field(pattern="^[A-Z]{3}$")], MoneyLimit] | None = None
    approvals_required: Literal[1, 2, 3] | None = None
    version: int = Field(ge=1)


class FrozenRequest(BaseModel):
    """The request an approval will execute, as the maker sent it (never a secret)."""

    method: str
    path: str
    body: dict[str, Any]


class ApprovalVote(BaseModel):
    """One checker's approval."""

    by: int
    at: Timestamp


class ApprovalResult(BaseModel):
    """The answer the maker would have had, or the refusal at execution."""

    status: int
    body: dict[str, Any]


class ApprovalPublic(BaseModel):
    """An approval: the frozen request, its checkers and its outcome."""

    id: int
    action: ApprovalAction
    status: ApprovalStatus
    maker_id: int
    request: FrozenRequest
    summary: str
    amount: Money | None
    currency: str | None
    account_id: int | None
    session_id: int | None
    approvals: list[ApprovalVote]
    required: int
    decided_by: int | None
    reason: str | None
    result: ApprovalResult | None
    business_date: str
    created_at: Timestamp
    expires_at: Timestamp | None


class ApprovalSort(StrEnum):
    """Fields the approval list may be sorted by."""

    ID = "id"
    CREATED_AT = "created_at"


class ApprovalRequired(BaseModel):
    """The 202 answer of a covered request: exactly the approval and the code."""

    approval: ApprovalPublic
    code: Literal["approval_required"] = "approval_required"


class ApproveRequest(RequestModel):
    """An approval carries no fields."""


class RejectRequest(RequestModel):
    """A rejection says why."""

    reason: Annotated[str, Field(min_length=1, max_length=500)]
