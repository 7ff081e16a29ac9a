"""User routes."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Depends, Path, Query, Request, Response
from fastapi.responses import JSONResponse

from server.api.deps import AdminCtx, LimitsDep, OptionalCtx, StaffCtx, UserCtx, list_params
from server.api.idempotent import IdempotencyKey, idempotent_answer
from server.api.routes import errors, pending, router
from server.services import customers, users
from server.services.accounts import page_of_accounts
from server.services.context import Ctx
from server.services.idempotency import Claim, check_key
from server.services.views import ListParams
from shared.schemas.accounts import AccountPublic, AccountSort
from shared.schemas.common import Page, Role
from shared.schemas.users import UserCreate, UserPublic, UserSort, UserUpdate, UserWithAccounts

routes = router(prefix="/users", tags=["users"])
UserId = Annotated[int, Path(ge=1, le=2**62)]
UserList = Annotated[ListParams, Depends(list_params(UserSort))]
AccountList = Annotated[ListParams, Depends(list_params(AccountSort))]


STAFF_CREATION = (
    "A role other than `user` is covered by approval `user.role`, and a covered request may "
    "not carry a password: while that policy is on (the default) such a request answers 422. "
    "Create a staff member as a customer (no role) and change the role with "
    "`PUT /users/{id}` (202 until a checker approves), or run `bank-server create-user "
    "--role teller|supervisor|admin` on the host (how a new bank gets its first checkers). "
    "Signed-in callers may send an `Idempotency-Key`; a sign-up's is ignored."
)


@routes.post(
    "", name="create", status_code=201, response_model=UserPublic,
    responses=errors(401, 403, 409, 429), description=STAFF_CREATION,
)  # fmt: skip
async def create_user(
    ctx: OptionalCtx,
    limits: LimitsDep,
    request: Request,
    body: UserCreate,
    idempotency_key: IdempotencyKey = None,
) -> Any:
    """Sign up (role user), or register a user as staff.

    Passwords: 8-128 characters, not the username; a teller's, supervisor's or admin's at
    least 12. 429 `rate_limited`: more than SIGNUP_RATE_PER_HOUR anonymous sign-ups from an
    IP, or OPEN_RATE_PER_HOUR users and accounts created by one signed-in user
    (OPEN_RATE_PER_HOUR_PER_IP from one IP).
    """
    await limits.check_opening(ip=ctx.ip, user_id=ctx.actor_id)
    if ctx.actor is None:  # a sign-up: never covered, and keys are scoped to a user
        if idempotency_key is not None:
            check_key(idempotency_key)  # unused, but a malformed one is still refused (422)
        return await users.create_user(ctx, body)

    async def run(ctx: Ctx, claim: Claim | None) -> Any:
        return await users.create_user(ctx, body, claim=claim)

    return await idempotent_answer(ctx, request, idempotency_key, body, run, money=False)


@routes.get(
    "",
    name="list",
    response_model=Page[UserWithAccounts] | Page[UserPublic],
    responses=errors(401, 403),
)
async def list_users(
    ctx: StaffCtx,
    params: UserList,
    q: Annotated[str | None, Query(max_length=100)] = None,
    role: Role | None = None,
    include_deleted: bool = False,
    include: Annotated[Literal["accounts"] | None, Query()] = None,
) -> Page[UserWithAccounts] | Page[UserPublic]:
    """List users (tellers see customers); `include=accounts` adds account summaries."""
    return await users.list_users(
        ctx, params, q=q, role=role, include_deleted=include_deleted,
        include_accounts=include == "accounts",
    )  # fmt: skip


@routes.get("/{user_id}", name="get", response_model=UserPublic, responses=errors(401, 404))
async def get_user(ctx: UserCtx, user_id: UserId) -> UserPublic:
    """Return a user the caller may see."""
    return await customers.user_view(await users.visible_user(ctx, user_id, allow_deleted=True))


@routes.put(
    "/{user_id}", name="update", response_model=UserPublic,
    responses={**errors(401, 403, 404, 409, 429), **pending()},
)  # fmt: skip
async def update_user(
    ctx: UserCtx,
    limits: LimitsDep,
    request: Request,
    user_id: UserId,
    body: UserUpdate,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Change a user within what the caller's role allows.

    A role change waits for approval `user.role` (202, unless the policy is off); a request
    that needs approval may not carry `password` or `current_password` (422).

    Changing one's own password (and, for an admin, one's own role) needs `current_password`,
    which counts as a sign-in attempt: a wrong one is a failed sign-in (403 here), and while
    the username is locked out the change answers 429 `rate_limited`. A staff member's new
    password needs at least 12 characters (422).
    """

    async def run(ctx: Ctx, claim: Claim | None) -> Any:
        return await users.update_user(ctx, user_id, body, limits=limits, claim=claim)

    return await idempotent_answer(ctx, request, idempotency_key, body, run, status=200,
                                   money=False, partial=True)  # fmt: skip


@routes.delete(
    "/{user_id}",
    name="delete",
    status_code=204,
    response_class=Response,
    responses=errors(401, 403, 404, 409),
)
async def delete_user(ctx: AdminCtx, user_id: UserId) -> Response:
    """Soft-delete a user; their zero-balance accounts close with them."""
    await users.delete_user(ctx, user_id)
    return Response(status_code=204)


@routes.get(
    "/{user_id}/accounts",
    name="accounts",
    response_model=Page[AccountPublic],
    responses=errors(401, 404),
)
async def user_accounts(ctx: UserCtx, user_id: UserId, params: AccountList) -> Page[AccountPublic]:
    """List one user's accounts."""
    await users.visible_user(ctx, user_id, allow_deleted=True)
    return await page_of_accounts({"owner_id": user_id}, params, ctx)  # a visible user's: all


@routes.post(
    "/{user_id}/unlock", name="unlock", status_code=204, response_class=Response,
    responses=errors(401, 403, 404),
)  # fmt: skip
async def unlock_user(ctx: AdminCtx, user_id: UserId, limits: LimitsDep) -> Response:
    """Clear a user's login lockout (their username's failed sign-ins)."""
    await users.unlock_user(ctx, user_id, limits=limits)
    return Response(status_code=204)
