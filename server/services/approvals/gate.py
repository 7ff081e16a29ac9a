"""The gate every covered request passes after all its rules, before it writes anything.

A service checks its request in full (API.md "Rules across version 2": only a request that
would succeed now answers 202), then asks the gate. The gate answers None (go on and
write) or an `ApprovalPending`: the approval, stored in the request's own transaction with
its `approval.requested` event; the service then returns it instead of writing, and the
route answers 202 with `Location`. When the approval executes, the same service runs again
as the maker with `ctx.approval` set, and the gate lets it through (the approval stands in
for the missing right); every other rule is checked again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any

from bson import Decimal128
from pymongo.asynchronous.client_session import AsyncClientSession

from server.documents import IdempotencyRecord, User
from server.documents.branch import ApprovalDoc
from server.errors import forbidden, invalid_field, refused
from server.services import audit, calendar
from server.services.approvals import policies
from server.services.approvals.views import approval_public
from server.services.audit import Action
from server.services.context import Ctx
from shared.errors import ErrorCode
from shared.schemas.approvals import ApprovalAction, ApprovalPublic
from shared.schemas.common import Role, now_ms

SECRETS = frozenset({"password", "current_password"})
KEEP_WHILE_PENDING = timedelta(days=366)
CHECKER_ROLES = (Role.SUPERVISOR.value, Role.ADMIN.value)


@dataclass(frozen=True)
class Covered:
    """What a covered request tells the gate about itself."""

    action: ApprovalAction
    summary: str
    amount: Decimal | None = None
    currency: str | None = None
    account_id: int | None = None
    # Every account the request touches (a transfer's two); `account_id` is the main one.
    account_ids: frozenset[int] = field(default_factory=frozenset)
    session_id: int | None = None
    # The account's same-action movements of the business date (threshold actions).
    day_total: Decimal = Decimal("0.00")
    # Users whose own user or own account the request touches: never its checkers.
    touches_users: frozenset[int] = field(default_factory=frozenset)
    # till.receive: the one teller who may accept.
    checker_id: int | None = None
    # The caller's role may do this only through approval (disabled policy: 403).
    only_through_approval: bool = False
    # Asked for whatever the policy says (till.receive, a weakening policy change).
    always: bool = False


@dataclass(frozen=True)
class ApprovalPending:
    """The answer of a covered request that now waits for its checkers."""

    approval: ApprovalPublic


def executing(ctx: Ctx, action: ApprovalAction) -> bool:
    """Tell whether this request runs as the execution of an approval of `action`."""
    return ctx.approval is not None and ctx.approval.get("action") == action.value


async def needs_approval(ctx: Ctx, covered: Covered, session: AsyncClientSession) -> bool:
    """Tell whether the policy puts this request behind approval (403 when it cannot be done)."""
    if executing(ctx, covered.action):
        return False
    if covered.always:
        return True
    policy = await policies.get(covered.action, session)
    if not policy.enabled:
        if covered.only_through_approval:
            raise forbidden(f"{covered.action.value} is done only through approval, which is off")
        return False
    if covered.action in policies.THRESHOLD_ACTIONS:
        assert covered.amount is not None
        assert covered.currency is not None
        threshold = (policy.threshold or {}).get(covered.currency)
        return threshold is not None and covered.amount + covered.day_total >= threshold
    return True


async def eligible_checkers(
    covered: Covered, maker_id: int, session: AsyncClientSession, *, required: int
) -> int:
    """Count the active users who could approve (never the maker or anyone it touches)."""
    excluded = sorted({maker_id, *covered.touches_users})
    query: dict[str, Any] = {"is_active": True, "deleted_at": None, "_id": {"$nin": excluded}}
    if covered.checker_id is not None:
        query["_id"] = covered.checker_id if covered.checker_id not in excluded else -1
    else:
        query["role"] = {"$in": list(CHECKER_ROLES)}
    return int(await User.get_pymongo_collection().count_documents(query, session=session))


def _accounts_of(covered: Covered) -> set[int]:
    accounts = set(covered.account_ids)
    if covered.account_id is not None:
        accounts.add(covered.account_id)
    return accounts


async def gate(ctx: Ctx, session: AsyncClientSession, covered: Covered) -> ApprovalPending | None:
    """Let a checked request through, or store its approval and return it (202)."""
    if not await needs_approval(ctx, covered, session):
        return None
    assert ctx.actor is not None
    request = ctx.request
    if request is None:
        raise RuntimeError(f"{covered.action.value} needs approval but has no request to freeze")
    # A key sent as null carries no secret; any value at all would be stored with the approval.
    secret = {name for name in SECRETS if request.body.get(name) is not None}
    if secret:
        raise invalid_field("body", sorted(secret)[0],
                            "a request that needs approval may not carry a password")  # fmt: skip
    approvals = ApprovalDoc.get_pymongo_collection()
    duplicate = await approvals.find_one(
        {"maker_id": ctx.actor.id, "status": "pending", "fingerprint": request.fingerprint},
        session=session,
    )
    if duplicate is not None:
        raise refused(ErrorCode.APPROVAL_PENDING, "the same request already waits for approval",
                      approval_id=duplicate["_id"])  # fmt: skip
    policy = await policies.get(covered.action, session)
    required = 1 if covered.checker_id is not None else policy.approvals_required
    if await eligible_checkers(covered, ctx.actor.id, session, required=required) < required:
        raise refused(ErrorCode.NO_CHECKER, "nobody else could approve this request",
                      required=required)  # fmt: skip
    approval_id = await ctx.db.next_id("approvals", session=session)
    now = now_ms()
    doc = {
        "_id": approval_id, "action": covered.action.value, "status": "pending",
        "maker_id": ctx.actor.id,
        "request": {"method": request.method, "path": request.path, "body": request.body},
        "fingerprint": request.fingerprint, "idempotency_record": request.idempotency_record,
        "summary": covered.summary,
        "amount": Decimal128(covered.amount) if covered.amount is not None else None,
        "currency": covered.currency, "account_id": covered.account_id,
        "account_ids": sorted(_accounts_of(covered)),
        "session_id": covered.session_id, "touches_users": sorted(covered.touches_users),
        "checker_id": covered.checker_id, "approvals": [], "required": required,
        "decided_by": None, "reason": None, "result": None,
        "business_date": await calendar.posting_date(session), "created_at": now,
        "expires_at": None, "decided_at": None,
    }  # fmt: skip
    await approvals.insert_one(doc, session=session)
    if request.idempotency_record is not None:
        # The stored 202 lives until the approval leaves pending (then a day more, set by
        # the decision): a pending approval ends at its day's close, well within this.
        await IdempotencyRecord.get_pymongo_collection().update_one(
            {"_id": request.idempotency_record},
            {"$set": {"expires_at": now + KEEP_WHILE_PENDING}}, session=session,
        )  # fmt: skip
    await audit.record(
        ctx, action=Action.APPROVAL_REQUESTED, session=session, target_type="approval",
        target_id=approval_id,
        details={"action": covered.action.value, "approval_id": approval_id,
                 "account_id": covered.account_id, "summary": covered.summary},
    )  # fmt: skip
    return ApprovalPending(approval_public(doc))


async def gate_one_of(
    ctx: Ctx, session: AsyncClientSession, candidates: list[Covered]
) -> ApprovalPending | None:
    """Gate a request that may fall under several actions; only one may need approval.

    One approval executes one request under one policy, so a request that two policies
    would each put behind approval (e.g. unfreezing an account and raising its limit) is
    refused 422: the client sends the changes one at a time.
    """
    needed = [covered for covered in candidates if await needs_approval(ctx, covered, session)]
    if len(needed) > 1:
        names = " and ".join(covered.action.value for covered in needed)
        raise invalid_field("body", "body", f"this request needs approvals {names} at once; "
                            "send those changes one at a time")  # fmt: skip
    return await gate(ctx, session, needed[0]) if needed else None
