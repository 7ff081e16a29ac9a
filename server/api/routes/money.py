"""Money routes: deposits, withdrawals, transfers, history and statements."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Path, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse

from server.api.deps import LedgerReady, LimitsDep, SettingsDep, UserCtx, list_params
from server.api.idempotent import IdempotencyKey, idempotent_answer
from server.api.routes import errors, pending, router
from server.services import history, idempotency, movements
from server.services.context import Ctx
from server.services.views import ListParams
from shared.schemas.common import Page, SortOrder, TimestampFilter
from shared.schemas.transactions import (
    MovementRequest,
    StatementFormat,
    TransactionPublic,
    TransactionSort,
    TransactionType,
    TransferCreate,
    TransferPublic,
)

routes = router(tags=["money"])
# Money moves only once the ledger is complete (the migration answers 503 until then).
MONEY = [LedgerReady]
AccountId = Annotated[int, Path(ge=1, le=2**62)]
MOVEMENT_ERRORS = {**errors(401, 403, 404, 409, 429), **pending()}


def _cash_route(kind: TransactionType) -> Any:
    async def move(
        ctx: UserCtx,
        settings: SettingsDep,
        request: Request,
        account_id: AccountId,
        body: MovementRequest,
        idempotency_key: IdempotencyKey = None,
    ) -> JSONResponse:
        async def run(ctx: Ctx, claim: idempotency.Claim | None) -> Any:
            return await movements.cash_movement(
                ctx, settings, account_id=account_id, kind=kind, amount=body.amount,
                description=body.description, claim=claim,
            )  # fmt: skip

        return await idempotent_answer(ctx, request, idempotency_key, body, run)

    return move


routes.add_api_route(
    "/accounts/{account_id}/deposit", _cash_route(TransactionType.DEPOSIT), methods=["POST"],
    status_code=201, response_model=TransactionPublic, name="deposit", dependencies=MONEY,
    responses=MOVEMENT_ERRORS, summary="Deposit", description="Pay cash into an account.",
)  # fmt: skip
routes.add_api_route(
    "/accounts/{account_id}/withdraw", _cash_route(TransactionType.WITHDRAWAL), methods=["POST"],
    status_code=201, response_model=TransactionPublic, name="withdraw", dependencies=MONEY,
    responses=MOVEMENT_ERRORS, summary="Withdraw", description="Pay cash out of an account.",
)  # fmt: skip


@routes.post(
    "/transfers", name="transfer", status_code=201, response_model=TransferPublic,
    dependencies=MONEY,
    responses=MOVEMENT_ERRORS,
)  # fmt: skip
async def create_transfer(
    ctx: UserCtx, request: Request, body: TransferCreate, idempotency_key: IdempotencyKey = None
) -> JSONResponse:
    """Move money to another account (by id or number) of the same currency."""

    async def run(ctx: Ctx, claim: idempotency.Claim | None) -> Any:
        return await movements.transfer(ctx, body, claim=claim)

    return await idempotent_answer(ctx, request, idempotency_key, body, run)


@routes.get(
    "/transfers/{transfer_id}", name="get_transfer", response_model=TransferPublic,
    responses=errors(401, 404),
)  # fmt: skip
async def get_transfer(
    ctx: UserCtx, transfer_id: Annotated[int, Path(ge=1, le=2**62)]
) -> TransferPublic:
    """Return a transfer to staff or to the owner of either account."""
    return await movements.get_transfer(ctx, transfer_id)


TransactionList = Annotated[
    ListParams, Depends(list_params(TransactionSort, default_order=SortOrder.DESC))
]


@routes.get(
    "/accounts/{account_id}/transactions", name="history", response_model=Page[TransactionPublic],
    responses=errors(401, 404),
)  # fmt: skip
async def list_transactions(
    ctx: UserCtx,
    account_id: AccountId,
    params: TransactionList,
    since: Annotated[TimestampFilter | None, Query(description="inclusive, with offset")] = None,
    until: Annotated[TimestampFilter | None, Query(description="exclusive, with offset")] = None,
    type: Annotated[TransactionType | None, Query()] = None,
) -> Page[TransactionPublic]:
    """Page through an account's ledger, newest first by default."""
    return await history.list_transactions(
        ctx, account_id, params, since=since, until=until, kind=type
    )


@routes.get(
    "/accounts/{account_id}/statement", name="statement",

    response_class=StreamingResponse,
    responses={
        **errors(401, 404, 429),
        200: {"description": "The statement file",
              "content": {"text/csv": {}, "application/pdf": {}}},
    },
)  # fmt: skip
async def statement(
    ctx: UserCtx,
    settings: SettingsDep,
    limits: LimitsDep,
    account_id: AccountId,
    since: Annotated[TimestampFilter | None, Query(description="inclusive, with offset")] = None,
    until: Annotated[TimestampFilter | None, Query(description="exclusive, with offset")] = None,
    format: Annotated[StatementFormat, Query()] = StatementFormat.CSV,
) -> StreamingResponse:
    """Download a statement: holder, number, period, opening balance, lines, closing balance.

    429 `rate_limited` past STATEMENT_RATE_PER_MINUTE statements of one user; 422
    `statement_too_large` for a period longer than STATEMENT_MAX_DAYS days (from `since`, or
    the account's opening) or holding more than STATEMENT_MAX_ROWS lines.
    """
    await limits.check_statement(ctx.actor_id)
    head = await history.statement_head(
        ctx, account_id, since, until,
        max_rows=settings.statement_max_rows, max_days=settings.statement_max_days,
    )  # fmt: skip
    stamp = head.until.strftime("%Y%m%d")
    name = f"statement-{head.account.number}-{stamp}.{format.value}"
    disposition = {"Content-Disposition": f'attachment; filename="{name}"'}
    if format is StatementFormat.PDF:
        return StreamingResponse(
            history.pdf_bytes(head), media_type="application/pdf", headers=disposition
        )
    return StreamingResponse(
        history.csv_lines(head), media_type="text/csv; charset=utf-8", headers=disposition
    )
