"""The API view of an approval."""

from __future__ import annotations

from typing import Any

from server.services.ledger.posting import dec
from shared.schemas.approvals import (
    ApprovalAction,
    ApprovalPublic,
    ApprovalResult,
    ApprovalStatus,
    ApprovalVote,
    FrozenRequest,
)


def approval_public(raw: dict[str, Any]) -> ApprovalPublic:
    """Return an approval as the API shows it."""
    result = raw.get("result")
    return ApprovalPublic(
        id=int(raw["_id"]), action=ApprovalAction(raw["action"]),
        status=ApprovalStatus(raw["status"]), maker_id=int(raw["maker_id"]),
        request=FrozenRequest.model_validate(raw["request"]), summary=raw["summary"],
        amount=dec(raw["amount"]) if raw.get("amount") is not None else None,
        currency=raw.get("currency"), account_id=raw.get("account_id"),
        session_id=raw.get("session_id"),
        approvals=[ApprovalVote(by=int(vote["by"]), at=vote["at"])
                   for vote in raw.get("approvals", [])],
        required=int(raw.get("required", 1)), decided_by=raw.get("decided_by"),
        reason=raw.get("reason"),
        result=ApprovalResult.model_validate(result) if result is not None else None,
        business_date=raw["business_date"], created_at=raw["created_at"],
        expires_at=raw.get("expires_at"),
    )  # fmt: skip
