"""Reversals: a movement undone by its mirror entry, never edited."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path, Request
from fastapi.responses import JSONResponse

from server.api.deps import LedgerReady, StaffCtx
from server.api.idempotent import IdempotencyKey, idempotent_answer
from server.api.routes import errors, pending, router
from server.services import idempotency, reversals
from server.services.context import Ctx
from shared.schemas.transactions import ReversalRequest, TransactionPublic

routes = router(tags=["reversals"])


@routes.post(
    "/transactions/{transaction_id}/reverse", name="reverse", status_code=201,
    response_model=TransactionPublic, dependencies=[LedgerReady],
    responses={**errors(401, 403, 404, 409, 429), **pending()},
    description="Directly: a teller's own cash movement of their open session and business "
    "date; anything else through approval `reversal` (202). Answers the reversal Transaction "
    "on the account of Transaction `{transaction_id}`; its `journal_id` names the whole "
    "reversal. 422 `not_reversible` for a reversal; 409 `already_reversed`, "
    "`account_not_active` (closed), `no_open_session`, `insufficient_funds` (an admin may "
    "send `force: true`, always through approval), `till_insufficient_cash`.",
)  # fmt: skip
async def reverse(
    ctx: StaffCtx,
    request: Request,
    transaction_id: Annotated[int, Path(ge=1, le=2**62)],
    body: ReversalRequest,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Reverse a customer movement whole, by its mirror journal entry."""

    async def run(ctx: Ctx, claim: idempotency.Claim | None) -> Any:
        return await reversals.reverse(ctx, transaction_id, body, claim=claim)

    return await idempotent_answer(ctx, request, idempotency_key, body, run)
