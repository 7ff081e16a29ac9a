"""Deciding approvals: approve (and execute on the last one), reject, cancel, expire.

Every step writes its `approval.*` event in the transaction of the change it records. The
approval document is updated conditionally on the state this transaction read (status
`pending` and the votes so far), so two checkers approving at once execute it once: the
second one's update misses, its transaction starts over, and it then reads `executed`.

On the last approval the request executes as the maker in that same transaction, through
the same service code its route uses, re-checking every rule. A refusal at execution
aborts that transaction (nothing moved) and a second one records `failed` with the refusal.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from pymongo import ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession

from server.db import RetryTransaction
from server.documents import Account, IdempotencyRecord, User
from server.documents.branch import ApprovalDoc
from server.errors import DomainError, answer, forbidden, not_found, refused
from server.services import audit
from server.services.approvals import registry
from server.services.approvals.gate import CHECKER_ROLES, ApprovalPending
from server.services.approvals.views import approval_public
from server.services.audit import Action
from server.services.context import Ctx, Frozen
from server.services.idempotency import Claim
from server.services.views import ListParams
from shared.errors import ErrorCode
from shared.schemas.approvals import ApprovalAction, ApprovalPublic, ApprovalStatus
from shared.schemas.common import Page, Role, now_ms

KEEP_ANSWER_AFTER_DECISION = timedelta(hours=24)
CASH_ACTIONS = frozenset({ApprovalAction.DEPOSIT.value, ApprovalAction.WITHDRAWAL.value,
                          ApprovalAction.REVERSAL.value, ApprovalAction.VAULT_TRANSFER.value,
                          ApprovalAction.TILL_RECEIVE.value})  # fmt: skip


def _approvals() -> Any:
    return ApprovalDoc.get_pymongo_collection()


def is_checker_for(ctx: Ctx, doc: dict[str, Any]) -> bool:
    """Tell whether the caller's role may decide this approval (not yet whether they may now)."""
    if ctx.actor is None:
        return False
    if doc.get("checker_id") is not None:
        return bool(ctx.actor.id == doc["checker_id"])
    return ctx.role in (Role.SUPERVISOR, Role.ADMIN)


def can_view(ctx: Ctx, doc: dict[str, Any]) -> bool:
    """Its maker, its eligible checkers, supervisors and admins may see an approval."""
    if ctx.actor is None:
        return False
    return ctx.is_supervisor or doc["maker_id"] == ctx.actor.id or is_checker_for(ctx, doc)


async def get(ctx: Ctx, approval_id: int) -> ApprovalPublic:
    """Return an approval the caller may see, or 404."""
    doc = await _approvals().find_one({"_id": approval_id})
    if doc is None or not can_view(ctx, doc):
        raise not_found("approval not found")
    return approval_public(doc)


async def list_approvals(
    ctx: Ctx,
    params: ListParams,
    *,
    status: ApprovalStatus | None,
    action: ApprovalAction | None,
    maker_id: int | None,
) -> Page[ApprovalPublic]:
    """List approvals: all for supervisors and admins; a teller's own and those they accept."""
    assert ctx.actor is not None
    query: dict[str, Any] = {}
    if status is not None:
        query["status"] = status.value
    if action is not None:
        query["action"] = action.value
    if maker_id is not None:
        query["maker_id"] = maker_id
    if not ctx.is_supervisor:
        if maker_id is not None and maker_id != ctx.actor.id:
            return Page(items=[], total=0, skip=params.skip, limit=params.limit)
        query["$or"] = [{"maker_id": ctx.actor.id}, {"checker_id": ctx.actor.id}]
    total = await _approvals().count_documents(query)
    cursor = _approvals().find(query).sort(params.mongo_sort()).skip(params.skip)
    items = [approval_public(doc) async for doc in cursor.limit(params.limit)]
    return Page[ApprovalPublic](items=items, total=total, skip=params.skip, limit=params.limit)


async def _owns_touched_account(ctx: Ctx, doc: dict[str, Any], session: AsyncClientSession) -> bool:
    account_ids = {doc.get("account_id")} | set(doc.get("account_ids", []))
    account_ids.discard(None)
    if not account_ids or ctx.actor is None:
        return False
    owned = await Account.get_pymongo_collection().count_documents(
        {"_id": {"$in": sorted(account_ids)}, "owner_id": ctx.actor.id}, session=session
    )
    return owned > 0


async def _for_decision(
    ctx: Ctx, session: AsyncClientSession, approval_id: int, *, deciding: bool = True
) -> dict[str, Any]:
    """Load an approval the caller may decide now, in the contract's order of refusals."""
    assert ctx.actor is not None
    doc = await _approvals().find_one({"_id": approval_id}, session=session)
    if doc is not None and deciding and await _owns_touched_account(ctx, doc, session):
        raise refused(ErrorCode.OWN_ACCOUNT, "you may not decide a request on your own account")
    if doc is None or not can_view(ctx, doc):
        raise not_found("approval not found")
    if deciding:
        voters = {int(vote["by"]) for vote in doc.get("approvals", [])}
        # Before the role check: a maker of any role learns it is their own request.
        if (
            ctx.actor.id == doc["maker_id"]
            or ctx.actor.id in voters
            or (ctx.actor.id in set(doc.get("touches_users", [])))
        ):
            raise refused(ErrorCode.SELF_APPROVAL,
                          "the maker, a checker who approved already, or someone the request "
                          "touches may not approve it")  # fmt: skip
        if not is_checker_for(ctx, doc):
            raise forbidden("you may not decide this approval")
    if doc["status"] != ApprovalStatus.PENDING.value:
        raise refused(ErrorCode.APPROVAL_NOT_PENDING, f"the approval is {doc['status']}",
                      status=doc["status"])  # fmt: skip
    return dict(doc)


async def _settle(
    ctx: Ctx,
    session: AsyncClientSession,
    doc: dict[str, Any],
    sets: dict[str, Any],
) -> dict[str, Any]:
    """Move a pending approval to its new state, if nobody else did first."""
    updated = await _approvals().find_one_and_update(
        {"_id": doc["_id"], "status": "pending", "approvals": doc.get("approvals", [])},
        {"$set": sets},
        return_document=ReturnDocument.AFTER,
        session=session,
    )
    if updated is None:
        raise RetryTransaction("the approval changed meanwhile")
    if sets.get("status", "pending") != "pending" and doc.get("idempotency_record"):
        # The maker's stored 202 lives on for a day after the approval leaves pending.
        await IdempotencyRecord.get_pymongo_collection().update_one(
            {"_id": doc["idempotency_record"]},
            {"$set": {"expires_at": now_ms() + KEEP_ANSWER_AFTER_DECISION}},
            session=session,
        )
    return dict(updated)


async def _event(
    ctx: Ctx, session: AsyncClientSession, action: str, doc: dict[str, Any], **details: Any
) -> None:
    await audit.record(
        ctx, action=action, session=session, target_type="approval", target_id=doc["_id"],
        details={"approval_id": doc["_id"], "action": doc["action"],
                 "account_id": doc.get("account_id"), **details},
    )  # fmt: skip


class _RefusedAtExecution(Exception):
    """The executed request was refused by a rule: the transaction is aborted."""

    def __init__(self, error: DomainError) -> None:
        super().__init__(str(error))
        self.error = error


def _render(result: Any, status: int) -> dict[str, Any]:
    if isinstance(result, ApprovalPending):
        return {"status": 202, "body": {"approval": result.approval.model_dump(mode="json"),
                                        "code": "approval_required"}}  # fmt: skip
    if hasattr(result, "model_dump"):
        return {"status": status, "body": result.model_dump(mode="json")}
    if isinstance(result, list):
        return {"status": status, "body": {"items": [r.model_dump(mode="json") for r in result]}}
    return {"status": status, "body": dict(result or {})}


async def _maker_ctx(ctx: Ctx, session: AsyncClientSession, doc: dict[str, Any]) -> Ctx:
    maker = await User.get_pymongo_collection().find_one({"_id": doc["maker_id"]}, session=session)
    if maker is None or maker.get("deleted_at") is not None or not maker.get("is_active", True):
        raise _RefusedAtExecution(forbidden("the maker is no longer an active user"))
    request = doc["request"]
    frozen = Frozen(method=request["method"], path=request["path"], body=request["body"],
                    fingerprint=doc["fingerprint"])  # fmt: skip
    return replace(ctx, actor=User.model_validate(maker), request=frozen, approval=doc)


async def approve(ctx: Ctx, approval_id: int, *, claim: Claim | None = None) -> ApprovalPublic:
    """Approve; on the last approval, execute the request as its maker."""
    assert ctx.actor is not None
    voter = ctx.actor.id

    async def body(session: AsyncClientSession) -> ApprovalPublic:
        doc = await _for_decision(ctx, session, approval_id)
        votes = [*doc.get("approvals", []), {"by": voter, "at": now_ms()}]
        if len(votes) < int(doc.get("required", 1)):
            updated = await _settle(ctx, session, doc, {"approvals": votes})
            await _event(ctx, session, Action.APPROVAL_APPROVED, doc, votes=len(votes))
            public = approval_public(updated)
            if claim is not None:
                await claim.complete(session, public)
            return public
        maker_ctx = await _maker_ctx(ctx, session, doc)
        try:
            result = await registry.execute(maker_ctx, session, doc)
        except DomainError as error:
            raise _RefusedAtExecution(error) from error
        outcome = _render(result, registry.success_status(doc))
        updated = await _settle(ctx, session, doc, {
            "approvals": votes, "status": "executed", "decided_by": voter,
            "decided_at": now_ms(), "result": outcome,
        })  # fmt: skip
        await _event(ctx, session, Action.APPROVAL_APPROVED, doc, votes=len(votes))
        await _event(ctx, session, Action.APPROVAL_EXECUTED, doc, status=outcome["status"])
        public = approval_public(updated)
        if claim is not None:
            await claim.complete(session, public)
        return public

    try:
        result: ApprovalPublic = await ctx.db.transaction(body)
        return result
    except _RefusedAtExecution as refusal:
        return await _record_failure(ctx, approval_id, voter, refusal.error, claim)


async def _record_failure(
    ctx: Ctx, approval_id: int, voter: int, error: DomainError, claim: Claim | None
) -> ApprovalPublic:
    status, body, _headers = answer(error)

    async def record(session: AsyncClientSession) -> ApprovalPublic:
        doc = await _for_decision(ctx, session, approval_id)
        votes = [*doc.get("approvals", []), {"by": voter, "at": now_ms()}]
        updated = await _settle(ctx, session, doc, {
            "approvals": votes, "status": "failed", "decided_by": voter, "decided_at": now_ms(),
            "result": {"status": status, "body": body},
        })  # fmt: skip
        await _event(ctx, session, Action.APPROVAL_APPROVED, doc, votes=len(votes))
        await audit.record(
            ctx, action=Action.APPROVAL_FAILED, session=session, target_type="approval",
            target_id=approval_id, outcome="refused", code=error.code.value,
            details={"approval_id": approval_id, "action": doc["action"],
                     "account_id": doc.get("account_id")},
        )  # fmt: skip
        public = approval_public(updated)
        if claim is not None:
            await claim.complete(session, public)
        return public

    result: ApprovalPublic = await ctx.db.transaction(record)
    return result


async def reject(
    ctx: Ctx, approval_id: int, reason: str, *, claim: Claim | None = None
) -> ApprovalPublic:
    """Reject an approval with a reason; nothing of its request happens."""
    assert ctx.actor is not None
    checker = ctx.actor.id

    async def body(session: AsyncClientSession) -> ApprovalPublic:
        doc = await _for_decision(ctx, session, approval_id)
        updated = await _settle(ctx, session, doc, {
            "status": "rejected", "decided_by": checker, "decided_at": now_ms(),
            "reason": reason,
        })  # fmt: skip
        await registry.rejected(ctx, session, updated)
        await _event(ctx, session, Action.APPROVAL_REJECTED, doc, reason=reason)
        public = approval_public(updated)
        if claim is not None:
            await claim.complete(session, public)
        return public

    result: ApprovalPublic = await ctx.db.transaction(body)
    return result


async def cancel(ctx: Ctx, approval_id: int, *, claim: Claim | None = None) -> ApprovalPublic:
    """Let the maker withdraw a pending request (never a till count's approval)."""
    assert ctx.actor is not None
    maker = ctx.actor.id

    async def body(session: AsyncClientSession) -> ApprovalPublic:
        doc = await _for_decision(ctx, session, approval_id, deciding=False)
        if doc["maker_id"] != maker:
            raise forbidden("only its maker may cancel an approval")
        if doc["action"] == ApprovalAction.TILL_VARIANCE.value:
            raise forbidden("a till count's approval cannot be cancelled by its maker")
        updated = await _settle(ctx, session, doc, {
            "status": "cancelled", "decided_by": maker, "decided_at": now_ms(),
            "reason": "cancelled by the maker",
        })  # fmt: skip
        await registry.cancelled(ctx, session, updated)
        await _event(ctx, session, Action.APPROVAL_CANCELLED, doc, reason="maker")
        public = approval_public(updated)
        if claim is not None:
            await claim.complete(session, public)
        return public

    result: ApprovalPublic = await ctx.db.transaction(body)
    return result


async def end_pending(
    ctx: Ctx,
    session: AsyncClientSession,
    query: dict[str, Any],
    *,
    status: str,
    reason: str,
    at: datetime | None = None,
) -> int:
    """End every pending approval matching `query` (expired or cancelled) in `session`."""
    moment = at or now_ms()
    ended = 0
    docs = [doc async for doc in _approvals().find({**query, "status": "pending"},
                                                   session=session)]  # fmt: skip
    for doc in docs:
        sets: dict[str, Any] = {"status": status, "reason": reason, "decided_at": moment}
        if status == "expired":
            sets["expires_at"] = moment
        updated = await _settle(ctx, session, doc, sets)
        await registry.cancelled(ctx, session, updated)
        action = Action.APPROVAL_EXPIRED if status == "expired" else Action.APPROVAL_CANCELLED
        await _event(ctx, session, action, doc, reason=reason)
        ended += 1
    return ended


async def cancel_for_session(ctx: Ctx, session: AsyncClientSession, session_id: int) -> int:
    """Cancel a closing till session's pending cash approvals (reason `session_closed`)."""
    return await end_pending(
        ctx, session, {"session_id": session_id, "action": {"$in": sorted(CASH_ACTIONS)}},
        status="cancelled", reason="session_closed",
    )  # fmt: skip


async def cancel_for_maker(ctx: Ctx, session: AsyncClientSession, user_id: int) -> int:
    """Cancel a deactivated, demoted or deleted user's pending requests (`maker_inactive`).

    When the change itself executes an approval of that user (an admin's approved request to
    demote themselves), that approval is the one being decided: it is left to settle.
    """
    query: dict[str, Any] = {"maker_id": user_id}
    if ctx.approval is not None:
        query["_id"] = {"$ne": ctx.approval["_id"]}
    return await end_pending(ctx, session, query, status="cancelled", reason="maker_inactive")


__all__ = ["CHECKER_ROLES", "approve", "cancel", "end_pending", "get", "reject"]
