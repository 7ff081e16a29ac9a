"""Which requests an approval can execute, and how: one entry per covered route.

An approval stores the frozen request (method, path, body). Executing it finds the entry
whose method and path pattern match, parses the body with that route's schema and calls
the same service function the route calls, inside the approval's transaction, as the maker.
Services register their covered routes here at import (server/services/covered.py), so the
approval engine knows nothing of deposits, tills or policies.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from pymongo.asynchronous.client_session import AsyncClientSession

from server.services.context import Ctx

type Execute = Callable[[Ctx, AsyncClientSession, dict[str, str], Any], Awaitable[Any]]
type Hook = Callable[[Ctx, AsyncClientSession, dict[str, Any]], Awaitable[None]]


@dataclass(frozen=True)
class CoveredRoute:
    """A route whose request an approval may execute."""

    method: str
    pattern: str
    schema: type[BaseModel]
    execute: Execute
    status: int = 201  # the success status the maker would have had

    def match(self, method: str, path: str) -> dict[str, str] | None:
        """Return the path parameters when this route serves the request, else None."""
        if method.upper() != self.method:
            return None
        regex = "^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", self.pattern) + "$"
        found = re.match(regex, path.rstrip("/") or "/")
        return found.groupdict() if found else None


_ROUTES: list[CoveredRoute] = []
_ON_REJECT: dict[str, Hook] = {}
_ON_CANCEL: dict[str, Hook] = {}


def register(route: CoveredRoute) -> None:
    """Register a covered route (once per pattern)."""
    if any(r.method == route.method and r.pattern == route.pattern for r in _ROUTES):
        return
    _ROUTES.append(route)


def on_reject(action: str, hook: Hook) -> None:
    """Run `hook` in the transaction that rejects an approval of `action`."""
    _ON_REJECT[action] = hook


def on_cancel(action: str, hook: Hook) -> None:
    """Run `hook` in the transaction that cancels or expires an approval of `action`."""
    _ON_CANCEL[action] = hook


def route_for(method: str, path: str) -> tuple[CoveredRoute, dict[str, str]]:
    """Return the covered route of a frozen request and its path parameters."""
    for route in _ROUTES:
        params = route.match(method, path)
        if params is not None:
            return route, params
    raise LookupError(f"no covered route serves {method} {path}")


async def execute(ctx: Ctx, session: AsyncClientSession, approval: dict[str, Any]) -> Any:
    """Execute an approval's frozen request as `ctx` (the maker) in `session`."""
    request = approval["request"]
    route, params = route_for(request["method"], request["path"])
    body = route.schema.model_validate(request["body"])
    return await route.execute(ctx, session, params, body)


async def rejected(ctx: Ctx, session: AsyncClientSession, approval: dict[str, Any]) -> None:
    """Run the action's rejection hook, if it has one."""
    hook = _ON_REJECT.get(approval["action"])
    if hook is not None:
        await hook(ctx, session, approval)


async def cancelled(ctx: Ctx, session: AsyncClientSession, approval: dict[str, Any]) -> None:
    """Run the action's cancellation hook, if it has one."""
    hook = _ON_CANCEL.get(approval["action"])
    if hook is not None:
        await hook(ctx, session, approval)


def success_status(approval: dict[str, Any]) -> int:
    """Return the status the maker would have had on success."""
    request = approval["request"]
    return route_for(request["method"], request["path"])[0].status
