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
from server.errors import DomainError, forbidden
from server.limits import AbuseLimits
from server.net import resolve_client_ip
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
            try:
                self._json = json.loads(text, **JSON_LOADS_KWARGS)
            except RecursionError as exc:  # "[[[[..." 20,000 deep fits in the body cap
                raise json.JSONDecodeError("JSON is nested too deeply", text[:0], 0) from exc
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


def get_limits(request: Request) -> AbuseLimits:
    """Return the app's abuse limits and revoked-session list."""
    limits: AbuseLimits = request.app.state.limits
    return limits


# FastAPI runs a plain `def` dependency on a worker thread; for these lookups the thread hop
# cost more than the lookup (about a tenth of a read's CPU in the bench), so the
# dependencies are these coroutines. The functions above stay for direct calls.
async def _settings_dep(request: Request) -> Settings:
    return get_settings_dep(request)


async def _database_dep(request: Request) -> Database:
    return get_database(request)


async def _limits_dep(request: Request) -> AbuseLimits:
    return get_limits(request)


SettingsDep = Annotated[Settings, Depends(_settings_dep)]
DatabaseDep = Annotated[Database, Depends(_database_dep)]
LimitsDep = Annotated[AbuseLimits, Depends(_limits_dep)]

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/login", auto_error=False)


def client_ip(request: Request) -> str | None:
    """Return the caller's IP: the peer, or what the TRUSTED_PROXIES in front of it forwarded."""
    settings: Settings = request.app.state.settings
    peer = request.client.host if request.client else None
    return resolve_client_ip(peer, request.headers, settings.trusted_proxies)


def request_id(request: Request) -> str | None:
    """Return the request id the middleware assigned."""
    value = getattr(request.state, "request_id", None)
    return value if isinstance(value, str) else None


async def anonymous_ctx(request: Request, database: DatabaseDep) -> Ctx:
    """Return the context of a caller that has not signed in."""
    return Ctx(db=database, ip=client_ip(request), request_id=request_id(request),
               settings=get_settings_dep(request))  # fmt: skip


async def current_session(
    request: Request,
    settings: SettingsDep,
    token: Annotated[str | None, Depends(oauth2_scheme)],
) -> tuple[User, str]:
    """Return the signed-in user and their login session id, or answer 401."""
    if not token:
        raise DomainError(
            ErrorCode.NOT_AUTHENTICATED, "sign in first: send Authorization: Bearer <access_token>"
        )
    user, sid = await auth.authenticate(settings, token, revocations=get_limits(request))
    request.state.user_id = user.id
    return user, sid


SessionDep = Annotated[tuple[User, str], Depends(current_session)]


async def user_ctx(request: Request, database: DatabaseDep, current: SessionDep) -> Ctx:
    """Return the context of a signed-in caller."""
    return Ctx(db=database, actor=current[0], ip=client_ip(request),
               request_id=request_id(request), settings=get_settings_dep(request))  # fmt: skip


async def optional_ctx(
    request: Request,
    database: DatabaseDep,
    settings: SettingsDep,
    token: Annotated[str | None, Depends(oauth2_scheme)],
) -> Ctx:
    """Return the caller's context, signed in or not (a bad token still answers 401)."""
    actor = None
    if token:
        actor = (await auth.authenticate(settings, token, revocations=get_limits(request)))[0]
        request.state.user_id = actor.id
    return Ctx(db=database, actor=actor, ip=client_ip(request), request_id=request_id(request),
               settings=get_settings_dep(request))  # fmt: skip


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
StaffCtx = Annotated[Ctx, Depends(require_roles(Role.TELLER, Role.SUPERVISOR, Role.ADMIN))]
SupervisorCtx = Annotated[Ctx, Depends(require_roles(Role.SUPERVISOR, Role.ADMIN))]
AdminCtx = Annotated[Ctx, Depends(require_roles(Role.ADMIN))]


async def ledger_ready(request: Request) -> None:
    """Answer 503 while the ledger migration runs: no money moves before it has finished."""
    gate = getattr(request.app.state, "ledger", None)
    if gate is not None and not gate.ready:
        raise DomainError(
            ErrorCode.SERVICE_UNAVAILABLE,
            "the ledger is being migrated to version 2; try again shortly",
            retry_after=5,
        )


LedgerReady = Depends(ledger_ready)


def list_params(
    sort_fields: type[StrEnum], default_order: SortOrder = SortOrder.ASC
) -> Callable[..., Coroutine[Any, Any, ListParams]]:
    """Build the skip/limit/sort/order dependency of a list route.

    `limit` is 1..200 by the contract (outside: 422). MAX_PAGE_SIZE may lower the cap: a
    `limit` above it is served as the cap, and the answer's `limit` says so, so a client
    written to the contract (asking for 200, say) keeps working and pages by what it got.
    """
    default_sort = sort_fields("id")

    async def dependency(  # async: no worker thread (see SettingsDep)
        request: Request,
        skip: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
        limit: Annotated[
            int, Query(ge=1, le=200, description="page size, at most MAX_PAGE_SIZE (200)")
        ] = 50,
        sort: Annotated[sort_fields, Query(description="sort field")] = default_sort,  # type: ignore[valid-type]
        order: Annotated[SortOrder, Query()] = default_order,
    ) -> ListParams:
        limit = min(limit, get_settings_dep(request).max_page_size)
        return ListParams(skip=skip, limit=limit, sort=str(sort), order=order)

    return dependency
