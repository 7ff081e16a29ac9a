"""Authentication routes: login, refresh, logout, me."""

from __future__ import annotations

from typing import Annotated

from fastapi import Form, Header, Request, Response

from server.api.deps import AnonCtx, LimitsDep, SessionDep, SettingsDep, UserCtx
from server.api.routes import errors, router
from server.security import unverified_subject
from server.services import auth, customers
from shared.schemas.auth import RefreshRequest, TokenPair
from shared.schemas.users import UserPublic

routes = router(tags=["authentication"])


DEVICE_TOKEN_DOC = (
    "A remembered device: the `X-Device-Token` a previous successful sign-in of this user "
    "answered with. Failures for the username from elsewhere do not lock a remembered "
    "device out (they only slow it down); its own failures do."
)


@routes.post(
    "/login",
    name="login",
    response_model=TokenPair,
    responses={
        200: {
            "description": "Signed in",
            "headers": {
                auth.DEVICE_HEADER: {
                    "description": "Device token to send as `X-Device-Token` on this user's "
                    "next sign-ins from this client (a signed random id, valid for "
                    "DEVICE_TOKEN_DAYS); keep it with the client's settings",
                    "schema": {"type": "string"},
                }
            },
        },
        **errors(401, 429),
    },
)
async def login(
    request: Request,
    response: Response,
    ctx: AnonCtx,
    settings: SettingsDep,
    limits: LimitsDep,
    username: Annotated[str, Form(max_length=256)],
    password: Annotated[str, Form(max_length=1024)],
    device_token: Annotated[
        str | None,
        Header(alias=auth.DEVICE_HEADER, max_length=2048, description=DEVICE_TOKEN_DOC),
    ] = None,
) -> TokenPair:
    """Sign in with username and password (OAuth2 password flow, form-encoded).

    429 `rate_limited` with `Retry-After`, without the password being checked: more than
    LOGIN_ATTEMPTS_PER_MINUTE_PER_IP / _PER_USER attempts; LOGIN_MAX_FAILURES failures for
    this username from this IP (or this remembered device), or from anywhere (except for a
    remembered device, which is slowed down instead); LOGIN_MAX_FAILURES_PER_IP failures
    from this IP for any usernames; all within LOGIN_WINDOW_SECONDS, or until an admin
    unlocks the user. A user has at most MAX_SESSIONS_PER_USER sessions: signing in again
    revokes the oldest.
    """
    pair, device = await auth.login(
        ctx, settings, username=username, password=password, limits=limits, device=device_token
    )
    response.headers[auth.DEVICE_HEADER] = device
    # The access log names who signed in (the token was made here a moment ago).
    request.state.user_id = unverified_subject(pair.access_token)
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
