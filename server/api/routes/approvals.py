"""Maker-checker routes: approval policies and approvals."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Path, Query, Request
from fastapi.responses import JSONResponse

from server.api.deps import AdminCtx, StaffCtx, UserCtx, list_params
from server.api.idempotent import IdempotencyKey, idempotent_answer
from server.api.routes import errors, pending, router
from server.services import covered
from server.services.approvals import decisions, policies
from server.services.context import Ctx
from server.services.idempotency import Claim
from server.services.views import ListParams
from shared.schemas.approvals import (
    ApprovalAction,
    ApprovalPublic,
    ApprovalSort,
    ApprovalStatus,
    ApproveRequest,
    PolicyPublic,
    PolicySort,
    PolicyUpdate,
    RejectRequest,
)
from shared.schemas.common import Page, SortOrder

routes = router(tags=["approvals"])
ApprovalId = Annotated[int, Path(ge=1, le=2**62)]
PolicyList = Annotated[ListParams, Depends(list_params(PolicySort))]
ApprovalList = Annotated[
    ListParams, Depends(list_params(ApprovalSort, default_order=SortOrder.DESC))
]


@routes.get("/approval-policies", name="policies", response_model=Page[PolicyPublic],
            responses=errors(401, 403))  # fmt: skip
async def list_policies(_ctx: StaffCtx, params: PolicyList) -> Page[PolicyPublic]:
    """List every approval policy (defaults included), in the contract's order."""
    every = await policies.all_policies()
    if params.order is SortOrder.DESC:
        every.reverse()
    items = every[params.skip : params.skip + params.limit]
    return Page[PolicyPublic](items=items, total=len(every), skip=params.skip, limit=params.limit)


@routes.put("/approval-policies/{action}", name="update_policy", response_model=PolicyPublic,
            responses={**errors(401, 403, 409), **pending()})  # fmt: skip
async def update_policy(
    ctx: AdminCtx,
    request: Request,
    action: ApprovalAction,
    body: PolicyUpdate,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Change a policy with its `version`; a weakening change waits for approval (202)."""

    async def run(ctx: Ctx, claim: Claim | None) -> Any:
        async def txn(session: Any) -> Any:
            result = await covered.update_policy_body(ctx, session, action, body)
            if claim is not None:
                await claim.complete(session, result)
            return result

        return await ctx.db.transaction(txn)

    return await idempotent_answer(ctx, request, idempotency_key, body, run, status=200,
                                   money=False)  # fmt: skip


@routes.get("/approvals", name="list", response_model=Page[ApprovalPublic],
            responses=errors(401, 403))  # fmt: skip
async def list_approvals(
    ctx: StaffCtx,
    params: ApprovalList,
    status: ApprovalStatus | None = None,
    action: ApprovalAction | None = None,
    maker_id: Annotated[int | None, Query(ge=1, le=2**62)] = None,
) -> Page[ApprovalPublic]:
    """List approvals, newest first (tellers: their own, and those they are to accept)."""
    return await decisions.list_approvals(
        ctx, params, status=status, action=action, maker_id=maker_id
    )


@routes.get("/approvals/{approval_id}", name="get", response_model=ApprovalPublic,
            responses=errors(401, 404))  # fmt: skip
async def get_approval(ctx: UserCtx, approval_id: ApprovalId) -> ApprovalPublic:
    """Return an approval to its maker (a customer too), its eligible checkers, supervisors
    and admins; 404 to anyone else."""
    return await decisions.get(ctx, approval_id)


DECISION_ERRORS = errors(401, 403, 404, 409)


@routes.post("/approvals/{approval_id}/approve", name="approve", response_model=ApprovalPublic,
             responses=DECISION_ERRORS)  # fmt: skip
async def approve(
    ctx: StaffCtx,
    request: Request,
    approval_id: ApprovalId,
    body: ApproveRequest,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Approve; the last approval executes the request as its maker (`result` says how)."""

    async def run(ctx: Ctx, claim: Claim | None) -> Any:
        return await decisions.approve(ctx, approval_id, claim=claim)

    return await idempotent_answer(ctx, request, idempotency_key, body, run, status=200,
                                   money=False)  # fmt: skip


@routes.post("/approvals/{approval_id}/reject", name="reject", response_model=ApprovalPublic,
             responses=DECISION_ERRORS)  # fmt: skip
async def reject(
    ctx: StaffCtx,
    request: Request,
    approval_id: ApprovalId,
    body: RejectRequest,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Reject with a reason: nothing of the request happens."""

    async def run(ctx: Ctx, claim: Claim | None) -> Any:
        return await decisions.reject(ctx, approval_id, body.reason, claim=claim)

    return await idempotent_answer(ctx, request, idempotency_key, body, run, status=200,
                                   money=False)  # fmt: skip


@routes.post("/approvals/{approval_id}/cancel", name="cancel", response_model=ApprovalPublic,
             responses=DECISION_ERRORS)  # fmt: skip
async def cancel(
    ctx: UserCtx, request: Request, approval_id: ApprovalId, idempotency_key: IdempotencyKey = None
) -> JSONResponse:
    """Let the maker (a customer too) withdraw a pending request."""

    async def run(ctx: Ctx, claim: Claim | None) -> Any:
        return await decisions.cancel(ctx, approval_id, claim=claim)

    return await idempotent_answer(ctx, request, idempotency_key, None, run, status=200,
                                   money=False)  # fmt: skip
