"""User routes."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Depends, Path, Query, Response

from server.api.deps import AdminCtx, LimitsDep, OptionalCtx, StaffCtx, UserCtx, list_params
from server.api.routes import errors, router
from server.services import customers, users
from server.services.accounts import page_of_accounts
from server.services.views import ListParams
from shared.schemas.accounts import AccountPublic, AccountSort
from shared.schemas.common import Page, Role
from shared.schemas.users import UserCreate, UserPublic, UserSort, UserUpdate, UserWithAccounts

routes = router(prefix="/users", tags=["users"])
UserId = Annotated[int, Path(ge=1, le=2**62)]
UserList = Annotated[ListParams, Depends(list_params(UserSort))]
AccountList = Annotated[ListParams, Depends(list_params(AccountSort))]


@routes.post(
    "", name="create", status_code=201, response_model=UserPublic, responses=errors(401, 403, 409)
)
async def create_user(ctx: OptionalCtx, body: UserCreate) -> UserPublic:
    """Sign up (role user), or register a user as staff."""
    return await users.create_user(ctx, body)


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
    "/{user_id}", name="update", response_model=UserPublic, responses=errors(401, 403, 404, 409)
)
async def update_user(ctx: UserCtx, user_id: UserId, body: UserUpdate) -> UserPublic:
    """Change a user within what the caller's role allows."""
    return await users.update_user(ctx, user_id, body)


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
    return await page_of_accounts({"owner_id": user_id}, params, ctx)


@routes.post(
    "/{user_id}/unlock", name="unlock", status_code=204, response_class=Response,
    responses=errors(401, 403, 404),
)  # fmt: skip
async def unlock_user(ctx: AdminCtx, user_id: UserId, limits: LimitsDep) -> Response:
    """Clear a user's login lockout (their username's failed sign-ins)."""
    await users.unlock_user(ctx, user_id, limits=limits)
    return Response(status_code=204)
