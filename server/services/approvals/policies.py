"""Approval policies: stored, versioned, audited, with the contract's defaults.

A policy that was never changed is not stored: it reads as its default (version 1), and
the first change stores it. So every reader sees the table's defaults on a new bank.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from bson import Decimal128
from pymongo import ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession

from server.documents.branch import ApprovalPolicyDoc
from server.errors import invalid_field, refused
from server.services.ledger.posting import dec
from shared.errors import ErrorCode
from shared.money import SUPPORTED_CURRENCIES
from shared.schemas.approvals import ApprovalAction, PolicyPublic, PolicyUpdate

DEFAULT_THRESHOLD = Decimal("10000.00")
THRESHOLD_ACTIONS = frozenset(
    {ApprovalAction.DEPOSIT, ApprovalAction.WITHDRAWAL, ApprovalAction.TRANSFER}
)
# Actions that cannot be turned off: there is no other way to do them.
ALWAYS = frozenset({ApprovalAction.TILL_RECEIVE, ApprovalAction.POLICY_UPDATE})


def _policies() -> Any:
    return ApprovalPolicyDoc.get_pymongo_collection()


def default(action: ApprovalAction) -> dict[str, Any]:
    """Return the stored shape of a policy's default."""
    threshold = (
        {currency: DEFAULT_THRESHOLD for currency in SUPPORTED_CURRENCIES}
        if action in THRESHOLD_ACTIONS
        else None
    )
    return {"_id": action.value, "enabled": True, "threshold": threshold,
            "approvals_required": 1, "version": 1}  # fmt: skip


def public(raw: dict[str, Any]) -> PolicyPublic:
    """Return the API view of a stored (or default) policy."""
    threshold = raw.get("threshold")
    return PolicyPublic(
        action=ApprovalAction(raw["_id"]), enabled=bool(raw["enabled"]),
        threshold={k: dec(v) for k, v in threshold.items()} if threshold is not None else None,
        approvals_required=int(raw["approvals_required"]), version=int(raw["version"]),
    )  # fmt: skip


async def get(action: ApprovalAction, session: AsyncClientSession | None = None) -> PolicyPublic:
    """Return a policy as it is now."""
    raw = await _policies().find_one({"_id": action.value}, session=session)
    return public(raw if raw is not None else default(action))


async def all_policies() -> list[PolicyPublic]:
    """Return every policy, in the contract's order."""
    stored = {raw["_id"]: raw async for raw in _policies().find({})}
    return [public(stored.get(action.value, default(action))) for action in ApprovalAction]


def check_update(action: ApprovalAction, current: PolicyPublic, data: PolicyUpdate) -> None:
    """Refuse an update the contract does not allow (422) or that is stale (409)."""
    if data.version != current.version:
        raise refused(
            ErrorCode.VERSION_CONFLICT,
            f"the policy changed (version {current.version}); reload and try again",
            current_version=current.version,
        )
    if action in ALWAYS and data.enabled is False:
        raise invalid_field("body", "enabled", f"{action.value} is always required", False)
    if data.threshold is not None:
        if action not in THRESHOLD_ACTIONS:
            raise invalid_field("body", "threshold", f"{action.value} has no threshold")
        if set(data.threshold) != set(SUPPORTED_CURRENCIES):
            raise invalid_field(
                "body", "threshold", "the threshold names all 14 currencies",
                sorted(data.threshold),
            )  # fmt: skip


def weakens(current: PolicyPublic, data: PolicyUpdate) -> bool:
    """Tell whether a change disables a policy, raises a threshold or lowers the checkers."""
    if data.enabled is False and current.enabled:
        return True
    if data.approvals_required is not None and data.approvals_required < current.approvals_required:
        return True
    if data.threshold is not None and current.threshold is not None:
        return any(data.threshold[c] > current.threshold.get(c, Decimal(0)) for c in data.threshold)
    return False


async def apply(
    action: ApprovalAction, data: PolicyUpdate, session: AsyncClientSession
) -> PolicyPublic:
    """Store the change, bumping the version; 409 if another change came first."""
    current = await get(action, session)
    check_update(action, current, data)
    stored = {
        "enabled": current.enabled if data.enabled is None else data.enabled,
        "threshold": (
            {k: Decimal128(v) for k, v in (data.threshold or current.threshold or {}).items()}
            if (data.threshold or current.threshold) is not None else None
        ),
        "approvals_required": data.approvals_required or current.approvals_required,
        "version": current.version + 1,
    }  # fmt: skip
    updated = await _policies().find_one_and_update(
        {"_id": action.value, "version": current.version}
        if current.version > 1
        else {"_id": action.value, "version": {"$in": [1, None]}},
        {"$set": stored},
        upsert=current.version == 1,
        return_document=ReturnDocument.AFTER,
        session=session,
    )
    if updated is None:
        raise refused(ErrorCode.VERSION_CONFLICT, "the policy changed; reload and try again",
                      current_version=(await get(action, session)).version)  # fmt: skip
    return public(dict(updated))
