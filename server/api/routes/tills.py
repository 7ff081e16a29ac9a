"""Till and teller-session routes."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Path, Request
from fastapi.responses import JSONResponse

from server.api.deps import AdminCtx, LedgerReady, StaffCtx, SupervisorCtx, list_params
from server.api.idempotent import IdempotencyKey, idempotent_answer, in_transaction
from server.api.routes import errors, pending, router
from server.errors import not_found
from server.services.context import Ctx
from server.services.idempotency import Claim
from server.services.tills import sessions as tills
from server.services.tills import vault
from server.services.tills.cash import open_session_of
from server.services.tills.views import session_public, till_public
from server.services.views import ListParams
from shared.schemas.common import Page
from shared.schemas.ledger import JournalPublic
from shared.schemas.tills import (
    SessionClose,
    SessionOpen,
    SessionPublic,
    TillCashMove,
    TillCreate,
    TillPublic,
    TillSort,
    VaultCash,
)

routes = router(tags=["tills"])
TillId = Annotated[int, Path(ge=1, le=2**62)]
SessionId = Annotated[int, Path(ge=1, le=2**62)]
TillList = Annotated[ListParams, Depends(list_params(TillSort))]


async def _till_view(ctx: Ctx, till: dict[str, Any]) -> TillPublic:
    session = None
    if till.get("session_id") is not None:
        session = await tills.sessions().find_one({"_id": till["session_id"]})
    return till_public(ctx, till, await tills.till_cash(int(till["_id"])), session)


@routes.post("/tills", name="create", status_code=201, response_model=TillPublic,
             responses=errors(401, 403))  # fmt: skip
async def create_till(ctx: SupervisorCtx, body: TillCreate) -> TillPublic:
    """Create a till."""
    till = await tills.create_till(ctx, name=body.name, cash_limit=body.cash_limit)
    return await _till_view(ctx, till)


@routes.get("/tills", name="list", response_model=Page[TillPublic], responses=errors(401, 403))
async def list_tills(ctx: StaffCtx, params: TillList) -> Page[TillPublic]:
    """List the tills (tellers do not see their cash)."""
    collection = tills.tills()
    total = await collection.count_documents({})
    cursor = collection.find({}).sort(params.mongo_sort()).skip(params.skip).limit(params.limit)
    items = [await _till_view(ctx, till) async for till in cursor]
    return Page[TillPublic](items=items, total=total, skip=params.skip, limit=params.limit)


@routes.get("/tills/{till_id}", name="get", response_model=TillPublic,
            responses=errors(401, 403, 404))  # fmt: skip
async def get_till(ctx: StaffCtx, till_id: TillId) -> TillPublic:
    """Return one till."""
    till = await tills.tills().find_one({"_id": till_id})
    if till is None:
        raise not_found("till not found")
    return await _till_view(ctx, till)


@routes.post("/tills/{till_id}/sessions", name="open_session", status_code=201,
             response_model=SessionPublic, responses=errors(401, 403, 404, 409))  # fmt: skip
async def open_session(ctx: StaffCtx, till_id: TillId, body: SessionOpen) -> SessionPublic:
    """Open the caller's session on a free till; `opening` is the till's cash."""
    doc = await tills.open_session(ctx, till_id=till_id)
    return session_public(ctx, doc, await tills.till_cash(till_id))


@routes.get("/sessions/current", name="current", response_model=SessionPublic,
            responses=errors(401, 403, 404))  # fmt: skip
async def current_session(ctx: StaffCtx) -> SessionPublic:
    """Return the caller's session that is not closed."""
    assert ctx.actor is not None
    doc = await open_session_of(ctx.actor.id)
    if doc is None:
        raise not_found("you have no open session")
    return session_public(ctx, doc, await tills.till_cash(int(doc["till_id"])))


@routes.get("/sessions/{session_id}", name="get_session", response_model=SessionPublic,
            responses=errors(401, 403, 404))  # fmt: skip
async def get_session(ctx: StaffCtx, session_id: SessionId) -> SessionPublic:
    """Return a session to its teller, a supervisor or an admin."""
    doc = await tills.sessions().find_one({"_id": session_id})
    if doc is None or not (ctx.is_supervisor or doc["teller_id"] == ctx.actor_id):
        raise not_found("session not found")
    return session_public(ctx, doc, await tills.till_cash(int(doc["till_id"])))


@routes.post("/sessions/{session_id}/close", name="close_session", response_model=SessionPublic,
             responses=errors(401, 403, 404, 409))  # fmt: skip
async def close_session(ctx: StaffCtx, session_id: SessionId, body: SessionClose) -> SessionPublic:
    """Close a session with the teller's count."""
    doc = await ctx.db.transaction(
        lambda session: tills.close_balanced_body(
            ctx, session, session_id=session_id, counted=body.counted, note=body.note,
            denominations=body.denominations,
        )
    )  # fmt: skip
    return session_public(ctx, doc, None)


@routes.post("/vault/cash", name="vault_cash", status_code=201, response_model=JournalPublic,
             responses={**errors(401, 403, 409), **pending()},
             dependencies=[LedgerReady])  # fmt: skip
async def vault_cash(
    ctx: AdminCtx, request: Request, body: VaultCash, idempotency_key: IdempotencyKey = None
) -> JSONResponse:
    """Cash delivered by or returned to the cash centre (always through approval)."""

    async def run(ctx: Ctx, claim: Claim | None) -> Any:
        return await in_transaction(
            ctx, claim, lambda session: vault.vault_cash_body(ctx, session, body)
        )

    return await idempotent_answer(ctx, request, idempotency_key, body, run)


@routes.post("/tills/{till_id}/cash", name="till_cash", status_code=201,
             response_model=JournalPublic, responses={**errors(401, 403, 404, 409), **pending()},
             dependencies=[LedgerReady])  # fmt: skip
async def till_cash(
    ctx: StaffCtx,
    request: Request,
    till_id: TillId,
    body: TillCashMove,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Move cash between the vault and a till."""

    async def run(ctx: Ctx, claim: Claim | None) -> Any:
        return await in_transaction(
            ctx, claim, lambda session: vault.till_cash_body(ctx, session, till_id, body)
        )

    return await idempotent_answer(ctx, request, idempotency_key, body, run)
