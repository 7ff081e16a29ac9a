"""Hold routes: place, list and release holds on an account."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Path, Request
from fastapi.responses import JSONResponse

from server.api.deps import LedgerReady, StaffCtx, UserCtx, list_params
from server.api.idempotent import (
    IdempotencyKey,
    RefusedEvent,
    idempotent_answer,
    in_transaction_or_refuse,
)
from server.api.routes import errors, pending, router
from server.services import holds
from server.services.audit import Action
from server.services.context import Ctx
from server.services.idempotency import Claim
from server.services.views import ListParams
from shared.money import to_cents_str
from shared.schemas.common import Page
from shared.schemas.holds import HoldCreate, HoldPublic, HoldRelease, HoldSort, HoldStatus

routes = router(tags=["holds"])
AccountId = Annotated[int, Path(ge=1, le=2**62)]
HoldId = Annotated[int, Path(ge=1, le=2**62)]
HoldList = Annotated[ListParams, Depends(list_params(HoldSort))]


@routes.post(
    "/accounts/{account_id}/holds", name="place", status_code=201, response_model=HoldPublic,
    responses=errors(401, 403, 404, 409, 429), dependencies=[LedgerReady],
)  # fmt: skip
async def place_hold(
    ctx: StaffCtx,
    request: Request,
    account_id: AccountId,
    body: HoldCreate,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Hold money on an account without moving it (tellers: cheque clearing, dispute, other).

    A hold may exceed the available balance (a lien); `available` then goes negative.
    """
    event = RefusedEvent(Action.HOLD_PLACED, "account", account_id,
                         {"amount": to_cents_str(body.amount),
                          "reason_code": body.reason_code.value})  # fmt: skip

    async def run(ctx: Ctx, claim: Claim | None) -> Any:
        return await in_transaction_or_refuse(
            ctx, claim, lambda session: holds.place_body(ctx, session, account_id, body),
            event=event,
        )  # fmt: skip

    return await idempotent_answer(ctx, request, idempotency_key, body, run)


@routes.get(
    "/accounts/{account_id}/holds", name="list", response_model=Page[HoldPublic],
    responses=errors(401, 404),
)  # fmt: skip
async def list_holds(
    ctx: UserCtx, account_id: AccountId, params: HoldList, status: HoldStatus | None = None
) -> Page[HoldPublic]:
    """List an account's holds, oldest first (its owner does not see legal or fraud holds)."""
    return await holds.list_holds(ctx, account_id, params, status=status)


@routes.post(
    "/holds/{hold_id}/release", name="release", status_code=200, response_model=HoldPublic,
    responses={**errors(401, 403, 404, 409, 429), **pending()}, dependencies=[LedgerReady],
)  # fmt: skip
async def release_hold(
    ctx: StaffCtx,
    request: Request,
    hold_id: HoldId,
    body: HoldRelease,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Release a hold (a teller only their own; legal and fraud holds through approval)."""
    event = RefusedEvent(Action.HOLD_RELEASED, "hold", hold_id, {"hold_id": hold_id})

    async def run(ctx: Ctx, claim: Claim | None) -> Any:
        return await in_transaction_or_refuse(
            ctx, claim, lambda session: holds.release_body(ctx, session, hold_id, body),
            event=event,
        )  # fmt: skip

    return await idempotent_answer(ctx, request, idempotency_key, body, run, status=200)
