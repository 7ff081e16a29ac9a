"""Authentication routes: login, refresh, logout, me."""

from __future__ import annotations

from typing import Annotated

from fastapi import Form, Request, Response
from jose import jwt

from server.api.deps import AnonCtx, LimitsDep, SessionDep, SettingsDep, UserCtx
from server.api.routes import errors, router
from server.services import auth, customers
from shared.schemas.auth import RefreshRequest, TokenPair
from shared.schemas.users import UserPublic

routes = router(tags=["authentication"])


@routes.post("/login", name="login", response_model=TokenPair, responses=errors(401, 429))
async def login(
    request: Request,
    ctx: AnonCtx,
    settings: SettingsDep,
    limits: LimitsDep,
    username: Annotated[str, Form(max_length=256)],
    password: Annotated[str, Form(max_length=1024)],
) -> TokenPair:
    """Sign in with username and password (OAuth2 password flow, form-encoded).

    Too many failures from one client IP or for one username (`LOGIN_MAX_FAILURES` in
    `LOGIN_WINDOW_SECONDS`) answer 429 `rate_limited` with `Retry-After`, even for the
    right password, until the window passes or an admin unlocks the user.
    """
    pair = await auth.login(ctx, settings, username=username, password=password, limits=limits)
    # The access log names who signed in (the token was made here a moment ago).
    request.state.user_id = int(jwt.get_unverified_claims(pair.access_token)["sub"])
    return pair


@routes.post("/login/refresh", name="refresh", response_model=TokenPair, responses=errors(401))
async def refresh(
    ctx: AnonCtx, settings: SettingsDep, limits: LimitsDep, body: RefreshRequest
) -> TokenPair:
    """Trade a refresh token for new tokens; the old refresh token stops working."""
    return await auth.refresh(ctx, settings, refresh_token=body.refresh_token, revocations=limits)


@routes.post(
    "/logout", name="logout", status_code=204, response_class=Response, responses=errors(401)
)
async def logout(ctx: UserCtx, current: SessionDep, limits: LimitsDep) -> Response:
    """End this login session: all its tokens stop working."""
    await auth.logout(ctx, sid=current[1], revocations=limits)
    return Response(status_code=204)


@routes.get("/me", name="me", response_model=UserPublic, responses=errors(401))
async def me(ctx: UserCtx) -> UserPublic:
    """Return the signed-in user."""
    assert ctx.actor is not None
    return await customers.user_view(ctx.actor)
