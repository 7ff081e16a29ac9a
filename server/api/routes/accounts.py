"""Account, payee and cash-movement routes."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Header, Path, Query, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel

from server.api.deps import AdminCtx, SettingsDep, UserCtx, get_limits, list_params
from server.api.routes import errors, router
from server.services import accounts, history, idempotency, movements
from server.services.views import ListParams, account_public
from shared.schemas.accounts import (
    AccountAdminUpdate,
    AccountCreate,
    AccountPublic,
    AccountSort,
    AccountUpdate,
    Payee,
)
from shared.schemas.common import AccountStatus, Page, SortOrder, TimestampFilter
from shared.schemas.transactions import (
    MovementRequest,
    StatementFormat,
    TransactionPublic,
    TransactionSort,
    TransactionType,
    TransferCreate,
    TransferPublic,
)

routes = router(tags=["accounts"])
AccountList = Annotated[ListParams, Depends(list_params(AccountSort))]
AccountId = Annotated[int, Path(ge=1, le=2**62)]


@routes.post(
    "/accounts", status_code=201, response_model=AccountPublic, responses=errors(401, 403, 404)
)
async def open_account(ctx: UserCtx, body: AccountCreate) -> AccountPublic:
    """Open an account (customers for themselves, staff for `owner_id`)."""
    return await accounts.open_account(ctx, body)


@routes.get("/accounts", response_model=Page[AccountPublic], responses=errors(401))
async def list_accounts(
    ctx: UserCtx,
    params: AccountList,
    owner_id: Annotated[int | None, Query(ge=1, le=2**62)] = None,
    status: AccountStatus | None = None,
    q: Annotated[str | None, Query(max_length=100)] = None,
) -> Page[AccountPublic]:
    """List accounts the caller may see."""
    return await accounts.list_accounts(ctx, params, owner_id=owner_id, status=status, q=q)


@routes.get("/accounts/{account_id}", response_model=AccountPublic, responses=errors(401, 404))
async def get_account(ctx: UserCtx, account_id: AccountId) -> AccountPublic:
    """Return an account the caller may see."""
    return account_public(await accounts.visible_account(ctx, account_id))


@routes.patch(
    "/accounts/{account_id}", response_model=AccountPublic, responses=errors(401, 403, 404, 409)
)
async def rename_account(ctx: UserCtx, account_id: AccountId, body: AccountUpdate) -> AccountPublic:
    """Let the owner set the account's nickname."""
    return await accounts.update_nickname(ctx, account_id, body)


@routes.put(
    "/accounts/{account_id}/admin",
    response_model=AccountPublic,
    responses=errors(401, 403, 404, 409),
)
async def admin_update(
    ctx: AdminCtx, account_id: AccountId, body: AccountAdminUpdate
) -> AccountPublic:
    """Change status (active/frozen), type or limits; a stale `version` answers 409."""
    return await accounts.admin_update(ctx, account_id, body)


@routes.delete(
    "/accounts/{account_id}",
    status_code=204,
    response_class=Response,
    responses=errors(401, 403, 404, 409),
)
async def close_account(ctx: AdminCtx, account_id: AccountId) -> Response:
    """Close an account whose balance is zero."""
    await accounts.close_account(ctx, account_id)
    return Response(status_code=204)


@routes.get("/payees/{number}", response_model=Payee, tags=["payees"], responses=errors(401, 404))
async def payee(
    _ctx: UserCtx,
    # No length limit here: any string that is not an active account's number answers 404.
    number: Annotated[str, Path(description="10-digit account number", examples=["0000000195"])],
) -> Payee:
    """Show the masked holder and currency of an active account number."""
    return await accounts.payee(number)


IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        description="1-255 visible ASCII characters; a retry with the same key and request "
        "gets the first answer back instead of moving money again",
        # Documented only: the service answers a bad key 422 `invalid_idempotency_key`.
        json_schema_extra={"minLength": 1, "maxLength": 255},
    ),
]
MOVEMENT_ERRORS = errors(401, 403, 404, 409, 429)


async def idempotent_answer(
    ctx: UserCtx, request: Request, key: str | None, body: BaseModel, run: idempotency.Run
) -> JSONResponse:
    """Run a movement under its Idempotency-Key and answer with the (possibly stored) result.

    Every movement request counts against the caller's `MOVEMENT_RATE_PER_MINUTE`; over it,
    429 `rate_limited` with `Retry-After` answers before anything is read or written.
    """
    await get_limits(request).check_movement(ctx.actor_id)
    print_ = idempotency.fingerprint(request.method, request.url.path, body.model_dump(mode="json"))
    status, answer, replayed = await idempotency.run_idempotent(ctx, key, print_, run)
    headers = {idempotency.REPLAYED_HEADER: "true"} if replayed else None
    return JSONResponse(answer, status_code=status, headers=headers)


def _cash_route(kind: TransactionType) -> Any:
    async def move(
        ctx: UserCtx,
        settings: SettingsDep,
        request: Request,
        account_id: AccountId,
        body: MovementRequest,
        idempotency_key: IdempotencyKey = None,
    ) -> JSONResponse:
        async def run(claim: idempotency.Claim | None) -> tuple[int, dict[str, Any]]:
            entry = await movements.cash_movement(
                ctx, settings, account_id=account_id, kind=kind, amount=body.amount,
                description=body.description, claim=claim,
            )  # fmt: skip
            return 201, entry.model_dump(mode="json")

        return await idempotent_answer(ctx, request, idempotency_key, body, run)

    return move


routes.add_api_route(
    "/accounts/{account_id}/deposit", _cash_route(TransactionType.DEPOSIT), methods=["POST"],
    status_code=201, response_model=TransactionPublic, tags=["money"],
    responses=MOVEMENT_ERRORS, summary="Deposit", description="Pay cash into an account.",
)  # fmt: skip
routes.add_api_route(
    "/accounts/{account_id}/withdraw", _cash_route(TransactionType.WITHDRAWAL), methods=["POST"],
    status_code=201, response_model=TransactionPublic, tags=["money"],
    responses=MOVEMENT_ERRORS, summary="Withdraw", description="Pay cash out of an account.",
)  # fmt: skip


@routes.post(
    "/transfers", status_code=201, response_model=TransferPublic, tags=["money"],
    responses=MOVEMENT_ERRORS,
)  # fmt: skip
async def create_transfer(
    ctx: UserCtx, request: Request, body: TransferCreate, idempotency_key: IdempotencyKey = None
) -> JSONResponse:
    """Move money to another account (by id or number) of the same currency."""

    async def run(claim: idempotency.Claim | None) -> tuple[int, dict[str, Any]]:
        result = await movements.transfer(ctx, body, claim=claim)
        return 201, result.model_dump(mode="json")

    return await idempotent_answer(ctx, request, idempotency_key, body, run)


@routes.get(
    "/transfers/{transfer_id}", response_model=TransferPublic, tags=["money"],
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
    "/accounts/{account_id}/transactions", response_model=Page[TransactionPublic],
    tags=["money"], responses=errors(401, 404),
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
    "/accounts/{account_id}/statement",
    tags=["money"],
    response_class=StreamingResponse,
    responses={
        **errors(401, 404),
        200: {"description": "The statement file",
              "content": {"text/csv": {}, "application/pdf": {}}},
    },
)  # fmt: skip
async def statement(
    ctx: UserCtx,
    account_id: AccountId,
    since: Annotated[TimestampFilter | None, Query(description="inclusive, with offset")] = None,
    until: Annotated[TimestampFilter | None, Query(description="exclusive, with offset")] = None,
    format: Annotated[StatementFormat, Query()] = StatementFormat.CSV,
) -> StreamingResponse:
    """Download a statement: holder, number, period, opening balance, lines, closing balance."""
    head = await history.statement_head(ctx, account_id, since, until)
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
