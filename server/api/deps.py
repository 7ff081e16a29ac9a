"""Request dependencies as Annotated aliases: the caller, their role, list parameters.

No `from __future__ import annotations` here: FastAPI must see the real types of the
closures `list_params` builds.
"""

import json
from collections.abc import Callable, Coroutine
from enum import StrEnum
from typing import Annotated, Any

from fastapi import Depends, Query, Request, Response
from fastapi.routing import APIRoute
from fastapi.security import OAuth2PasswordBearer

from server.config import Settings
from server.db import Database
from server.documents import User
from server.errors import ApiError, forbidden
from server.services import auth
from server.services.context import Ctx
from server.services.views import ListParams
from shared.errors import ErrorCode
from shared.money import JSON_LOADS_KWARGS
from shared.schemas.common import Role, SortOrder


class DecimalJSONRequest(Request):
    """A request whose JSON numbers keep their literal text, so money never becomes float."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            body = await self.body()
            try:
                text = body.decode("utf-8")
            except UnicodeDecodeError as exc:
                # FastAPI answers JSONDecodeError with 422; anything else would be a 400.
                raise json.JSONDecodeError("body is not valid UTF-8", "", exc.start) from exc
            self._json = json.loads(text, **JSON_LOADS_KWARGS)
        return self._json


class DecimalJSONRoute(APIRoute):
    """Route class that parses request bodies with DecimalJSONRequest."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        original = super().get_route_handler()

        async def handler(request: Request) -> Response:
            return await original(DecimalJSONRequest(request.scope, request.receive))

        return handler


def get_settings_dep(request: Request) -> Settings:
    """Return the app's settings."""
    settings: Settings = request.app.state.settings
    return settings


def get_database(request: Request) -> Database:
    """Return the app's database."""
    database: Database = request.app.state.database
    return database


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
DatabaseDep = Annotated[Database, Depends(get_database)]

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/login", auto_error=False)


def client_ip(request: Request) -> str | None:
    """Return the caller's IP address."""
    return request.client.host if request.client else None


def request_id(request: Request) -> str | None:
    """Return the request id the middleware assigned."""
    value = getattr(request.state, "request_id", None)
    return value if isinstance(value, str) else None


async def anonymous_ctx(request: Request, database: DatabaseDep) -> Ctx:
    """Return the context of a caller that has not signed in."""
    return Ctx(db=database, ip=client_ip(request), request_id=request_id(request))


async def current_session(
    request: Request,
    settings: SettingsDep,
    token: Annotated[str | None, Depends(oauth2_scheme)],
) -> tuple[User, str]:
    """Return the signed-in user and their login session id, or answer 401."""
    if not token:
        raise ApiError(
            401,
            ErrorCode.NOT_AUTHENTICATED,
            "sign in first: send Authorization: Bearer <access_token>",
            headers={"WWW-Authenticate": "Bearer"},
        )
    user, sid = await auth.authenticate(settings, token)
    request.state.user_id = user.id
    return user, sid


SessionDep = Annotated[tuple[User, str], Depends(current_session)]


async def user_ctx(request: Request, database: DatabaseDep, current: SessionDep) -> Ctx:
    """Return the context of a signed-in caller."""
    return Ctx(db=database, actor=current[0], ip=client_ip(request), request_id=request_id(request))


async def optional_ctx(
    request: Request,
    database: DatabaseDep,
    settings: SettingsDep,
    token: Annotated[str | None, Depends(oauth2_scheme)],
) -> Ctx:
    """Return the caller's context, signed in or not (a bad token still answers 401)."""
    actor = (await auth.authenticate(settings, token))[0] if token else None
    return Ctx(db=database, actor=actor, ip=client_ip(request), request_id=request_id(request))


def require_roles(*roles: Role) -> Callable[..., Coroutine[Any, Any, Ctx]]:
    """Build a dependency that admits only the given roles (403 otherwise)."""

    async def dependency(ctx: Annotated[Ctx, Depends(user_ctx)]) -> Ctx:
        if ctx.role not in roles:
            raise forbidden("your role may not use this route")
        return ctx

    return dependency


AnonCtx = Annotated[Ctx, Depends(anonymous_ctx)]
OptionalCtx = Annotated[Ctx, Depends(optional_ctx)]
UserCtx = Annotated[Ctx, Depends(user_ctx)]
StaffCtx = Annotated[Ctx, Depends(require_roles(Role.TELLER, Role.ADMIN))]
AdminCtx = Annotated[Ctx, Depends(require_roles(Role.ADMIN))]


def list_params(
    sort_fields: type[StrEnum], default_order: SortOrder = SortOrder.ASC
) -> Callable[..., ListParams]:
    """Build the skip/limit/sort/order dependency of a list route."""
    default_sort = sort_fields("id")

    def dependency(
        skip: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
        sort: Annotated[sort_fields, Query(description="sort field")] = default_sort,  # type: ignore[valid-type]
        order: Annotated[SortOrder, Query()] = default_order,
    ) -> ListParams:
        return ListParams(skip=skip, limit=limit, sort=str(sort), order=order)

    return dependency
