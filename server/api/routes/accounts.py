"""Account and payee routes."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Path, Query, Request, Response
from fastapi.responses import JSONResponse

from server.api.deps import AdminCtx, LimitsDep, UserCtx, list_params
from server.api.idempotent import IdempotencyKey, idempotent_answer
from server.api.routes import errors, pending, router
from server.services import accounts
from server.services.context import Ctx
from server.services.idempotency import Claim
from server.services.views import ListParams, account_public
from shared.schemas.accounts import (
    AccountAdminUpdate,
    AccountCreate,
    AccountPublic,
    AccountSort,
    AccountUpdate,
    Payee,
)
from shared.schemas.common import AccountStatus, Page

routes = router(tags=["accounts"])
payees = router(tags=["payees"])
AccountList = Annotated[ListParams, Depends(list_params(AccountSort))]
AccountId = Annotated[int, Path(ge=1, le=2**62)]


@routes.post(
    "/accounts",
    name="open",
    status_code=201,
    response_model=AccountPublic,
    responses=errors(401, 403, 404, 409, 429),
)
async def open_account(ctx: UserCtx, limits: LimitsDep, body: AccountCreate) -> AccountPublic:
    """Open an account (customers for themselves, staff for `owner_id`).

    429 `rate_limited` past OPEN_RATE_PER_HOUR users and accounts created by one user
    (OPEN_RATE_PER_HOUR_PER_IP from one IP). With KYC_REQUIRED (on in production) the
    owner, if a customer, must be verified: 409 `kyc_not_verified` otherwise.
    """
    await limits.check_opening(ip=ctx.ip, user_id=ctx.actor_id)
    return await accounts.open_account(ctx, body)


@routes.get("/accounts", name="list", response_model=Page[AccountPublic], responses=errors(401))
async def list_accounts(
    ctx: UserCtx,
    params: AccountList,
    owner_id: Annotated[int | None, Query(ge=1, le=2**62)] = None,
    status: AccountStatus | None = None,
    q: Annotated[str | None, Query(max_length=100)] = None,
) -> Page[AccountPublic]:
    """List accounts the caller may see."""
    return await accounts.list_accounts(ctx, params, owner_id=owner_id, status=status, q=q)


@routes.get(
    "/accounts/{account_id}", name="get", response_model=AccountPublic, responses=errors(401, 404)
)
async def get_account(ctx: UserCtx, account_id: AccountId) -> AccountPublic:
    """Return an account the caller may see."""
    return account_public(await accounts.visible_account(ctx, account_id))


@routes.patch(
    "/accounts/{account_id}",
    name="rename",
    response_model=AccountPublic,
    responses=errors(401, 403, 404, 409),
)
async def rename_account(ctx: UserCtx, account_id: AccountId, body: AccountUpdate) -> AccountPublic:
    """Let the owner set the account's nickname."""
    return await accounts.update_nickname(ctx, account_id, body)


@routes.put(
    "/accounts/{account_id}/admin",
    name="update_settings",
    response_model=AccountPublic,
    responses={**errors(401, 403, 404, 409), **pending()},
)
async def admin_update(
    ctx: AdminCtx,
    request: Request,
    account_id: AccountId,
    body: AccountAdminUpdate,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Change status (active/frozen), type or limits; a stale `version` answers 409.

    Unfreezing (`frozen` → `active`) waits for approval `account.unfreeze`, and raising
    `overdraft_limit` or `daily_withdrawal_limit` (or setting it to null) for approval
    `account.limits` (202, unless the policy is off); a request that needs both answers 422.
    """

    async def run(ctx: Ctx, claim: Claim | None) -> Any:
        return await accounts.admin_update(ctx, account_id, body, claim=claim)

    return await idempotent_answer(ctx, request, idempotency_key, body, run, status=200,
                                   money=False, partial=True)  # fmt: skip


@routes.delete(
    "/accounts/{account_id}",
    name="close",
    status_code=204,
    response_class=Response,
    responses=errors(401, 403, 404, 409),
)
async def close_account(ctx: AdminCtx, account_id: AccountId) -> Response:
    """Close an account whose balance is zero."""
    await accounts.close_account(ctx, account_id)
    return Response(status_code=204)


@payees.get(
    "/payees/{number}", response_model=Payee, name="lookup", responses=errors(401, 404, 429)
)
async def payee(
    ctx: UserCtx,
    limits: LimitsDep,
    # No length limit here: any string that is not an active account's number answers 404.
    number: Annotated[str, Path(description="10-digit account number", examples=["0000000195"])],
) -> Payee:
    """Show the masked holder and currency of an active account number.

    Every lookup, found or not, counts against PAYEE_RATE_PER_MINUTE of the caller (429
    `rate_limited` past it), so numbers cannot be tried in bulk.
    """
    await limits.check_payee(ctx.actor_id)
    return await accounts.payee(ctx, number)
