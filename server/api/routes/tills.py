"""Till and teller-session routes."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Path, Query, Request
from fastapi.responses import JSONResponse

from server.api.deps import AdminCtx, LedgerReady, StaffCtx, SupervisorCtx, list_params
from server.api.idempotent import IdempotencyKey, idempotent_answer, in_transaction
from server.api.routes import errors, pending, router
from server.errors import not_found
from server.services.context import Ctx
from server.services.idempotency import Claim
from server.services.tills import closing, position, reading, vault, vault_count
from server.services.tills import sessions as tills
from server.services.tills.cash import open_session_of
from server.services.tills.views import session_public
from server.services.views import ListParams
from shared.schemas.common import Page, SortOrder
from shared.schemas.ledger import JournalPublic
from shared.schemas.tills import (
    CashPosition,
    SessionClose,
    SessionLine,
    SessionLineSort,
    SessionOpen,
    SessionPublic,
    SessionSort,
    SessionStatus,
    TillCashMove,
    TillCreate,
    TillPublic,
    TillSort,
    TillUpdate,
    VaultCash,
    VaultCountRequest,
    VaultCountResult,
)

routes = router(tags=["tills"])
TillId = Annotated[int, Path(ge=1, le=2**62)]
SessionId = Annotated[int, Path(ge=1, le=2**62)]
TillList = Annotated[ListParams, Depends(list_params(TillSort))]
SessionList = Annotated[ListParams, Depends(list_params(SessionSort, SortOrder.DESC))]
LineList = Annotated[ListParams, Depends(list_params(SessionLineSort))]
UserFilter = Annotated[int | None, Query(ge=1, le=2**62)]
DateFilter = Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}-\d{2}$", examples=["2026-12-01"])]


@routes.post("/tills", name="create", status_code=201, response_model=TillPublic,
             responses=errors(401, 403))  # fmt: skip
async def create_till(ctx: SupervisorCtx, body: TillCreate) -> TillPublic:
    """Create a till."""
    till = await tills.create_till(ctx, name=body.name, cash_limit=body.cash_limit)
    return await tills.till_view(ctx, till)


@routes.get("/tills", name="list", response_model=Page[TillPublic], responses=errors(401, 403))
async def list_tills(ctx: StaffCtx, params: TillList) -> Page[TillPublic]:
    """List the tills (tellers do not see their cash)."""
    return await reading.list_tills(ctx, params)


@routes.get("/tills/{till_id}", name="get", response_model=TillPublic,
            responses=errors(401, 403, 404))  # fmt: skip
async def get_till(ctx: StaffCtx, till_id: TillId) -> TillPublic:
    """Return one till."""
    till = await tills.tills().find_one({"_id": till_id})
    if till is None:
        raise not_found("till not found")
    return await tills.till_view(ctx, till)


@routes.patch("/tills/{till_id}", name="update", response_model=TillPublic,
              responses=errors(401, 403, 404, 409))  # fmt: skip
async def update_till(
    ctx: SupervisorCtx,
    request: Request,
    till_id: TillId,
    body: TillUpdate,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Rename a till, change its cash limits, retire or reactivate it.

    Retiring a till that holds cash answers 409 `balance_not_zero`; one with a session not
    closed 409 `till_in_use` (checked in that order).
    """

    async def run(ctx: Ctx, claim: Claim | None) -> Any:
        async def body_(session: Any) -> TillPublic:
            till = await tills.update_till_body(ctx, session, till_id, body)
            return await tills.till_view(ctx, till, session)

        return await in_transaction(ctx, claim, body_)

    return await idempotent_answer(ctx, request, idempotency_key, body, run, status=200,
                                   money=False)  # fmt: skip


@routes.post("/tills/{till_id}/sessions", name="open_session", status_code=201,
             response_model=SessionPublic,
             responses={**errors(401, 403, 404, 409), **pending()},
             dependencies=[LedgerReady])  # fmt: skip
async def open_session(
    ctx: StaffCtx,
    request: Request,
    till_id: TillId,
    body: SessionOpen,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Open the caller's session on a free till; `opening` is the till's cash.

    A `counted` must name every currency the till holds (422 `count_incomplete`); one that
    differs from the till's cash waits for approval `till.variance` (202), whose execution
    posts the difference to over/short and opens the session.
    """

    async def run(ctx: Ctx, claim: Claim | None) -> Any:
        return await in_transaction(
            ctx, claim, lambda session: tills.open_public_body(ctx, session, till_id, body)
        )

    return await idempotent_answer(ctx, request, idempotency_key, body, run)


@routes.get("/sessions", name="list_sessions", response_model=Page[SessionPublic],
            responses=errors(401, 403))  # fmt: skip
async def list_sessions(
    ctx: StaffCtx,
    params: SessionList,
    status: SessionStatus | None = None,
    teller_id: UserFilter = None,
    till_id: UserFilter = None,
    business_date: DateFilter = None,
) -> Page[SessionPublic]:
    """List teller sessions, newest first (tellers: their own; another's filter: empty)."""
    return await reading.list_sessions(
        ctx, params, status=status, teller_id=teller_id, till_id=till_id,
        business_date=business_date,
    )  # fmt: skip


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
    doc = await reading.readable_session(ctx, session_id)
    return session_public(ctx, doc, await tills.till_cash(int(doc["till_id"])))


@routes.get("/sessions/{session_id}/journal", name="session_journal",
            response_model=Page[SessionLine], responses=errors(401, 403, 404))  # fmt: skip
async def session_journal(
    ctx: StaffCtx, session_id: SessionId, params: LineList
) -> Page[SessionLine]:
    """Page through the till's legs in a session, oldest first.

    `till_balance_after` is null for the session's own teller while it is not closed.
    """
    return await reading.session_journal(ctx, session_id, params)


@routes.post("/sessions/{session_id}/close", name="close_session", response_model=SessionPublic,
             responses={**errors(401, 403, 404, 409), **pending()},
             dependencies=[LedgerReady])  # fmt: skip
async def close_session(
    ctx: StaffCtx,
    request: Request,
    session_id: SessionId,
    body: SessionClose,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Close a session with the teller's count (a supervisor or admin: anyone's).

    Checks in order: 409 `session_closed` / `session_closing`, 422 `count_incomplete`,
    422 `count_mismatch`, 422 `note_required`. A count equal to the expected cash closes
    the session (200); a difference makes it `closing` and waits for approval
    `till.variance` (202), whose execution posts the variance to over/short and closes it.
    """

    async def run(ctx: Ctx, claim: Claim | None) -> Any:
        return await in_transaction(
            ctx, claim, lambda session: closing.close_public_body(ctx, session, session_id, body)
        )

    return await idempotent_answer(ctx, request, idempotency_key, body, run, status=200)


@routes.post("/vault/count", name="vault_count", response_model=VaultCountResult,
             responses={**errors(401, 403, 409), **pending()},
             dependencies=[LedgerReady])  # fmt: skip
async def count_vault(
    ctx: SupervisorCtx,
    request: Request,
    body: VaultCountRequest,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Count the vault against the ledger; a difference waits for approval `till.variance`.

    `counted` must name every currency the vault holds (422 `count_incomplete`).
    """

    async def run(ctx: Ctx, claim: Claim | None) -> Any:
        return await in_transaction(
            ctx, claim, lambda session: vault_count.vault_count_body(ctx, session, body)
        )

    return await idempotent_answer(ctx, request, idempotency_key, body, run, status=200)


@routes.get("/cash-position", name="cash_position", response_model=CashPosition,
            responses=errors(401, 403))  # fmt: skip
async def cash_position(ctx: SupervisorCtx) -> CashPosition:
    """Return the cash in the vault and every till, per currency.

    The till of the caller's own open session is blind: its `cash` and the currency's
    `total` are null.
    """
    assert ctx.actor is not None
    mine = await open_session_of(ctx.actor.id)
    return await position.cash_position(
        blind_till_id=int(mine["till_id"]) if mine is not None else None
    )


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
