"""Customer identification routes: profile, identity documents, verification, one search."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Body, Depends, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict

from server.api.deps import StaffCtx, UserCtx, list_params
from server.api.idempotent import IdempotencyKey, idempotent_answer, in_transaction_or_refuse
from server.api.routes import errors, router
from server.services import customer_search, customers
from server.services.context import Ctx
from server.services.idempotency import Claim
from server.services.views import ListParams
from shared.schemas.common import Page
from shared.schemas.customers import CustomerSort, DocumentCreate, DocumentPublic, ProfileUpdate
from shared.schemas.search import CustomerMatch
from shared.schemas.users import UserPublic

routes = router(tags=["customers"])
UserId = Annotated[int, Path(ge=1, le=2**62)]
DocumentId = Annotated[int, Path(ge=1, le=2**62)]
SearchList = Annotated[ListParams, Depends(list_params(CustomerSort))]


class Empty(BaseModel):
    """A body with no fields (`{}`)."""

    model_config = ConfigDict(extra="forbid")


@routes.put(
    "/users/{user_id}/profile", name="update_profile", response_model=UserPublic,
    responses=errors(401, 403, 404, 409),
)  # fmt: skip
async def update_profile(
    ctx: UserCtx,
    request: Request,
    user_id: UserId,
    body: ProfileUpdate,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Set a customer's date of birth, phone or address (the customer: phone and address)."""

    async def run(ctx: Ctx, claim: Claim | None) -> Any:
        return await in_transaction_or_refuse(
            ctx, claim, lambda session: customers.update_profile_body(ctx, session, user_id, body)
        )

    return await idempotent_answer(ctx, request, idempotency_key, body, run, status=200,
                                   money=False)  # fmt: skip


@routes.post(
    "/users/{user_id}/documents", name="add_document", status_code=201,
    response_model=DocumentPublic, responses=errors(401, 403, 404, 409),
)  # fmt: skip
async def add_document(
    ctx: StaffCtx,
    request: Request,
    user_id: UserId,
    body: DocumentCreate,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """File a customer's identity document; 409 document_in_use if a customer holds it."""

    async def run(ctx: Ctx, claim: Claim | None) -> Any:
        return await in_transaction_or_refuse(
            ctx, claim, lambda session: customers.add_document_body(ctx, session, user_id, body)
        )

    return await idempotent_answer(ctx, request, idempotency_key, body, run, money=False)


@routes.post(
    "/users/{user_id}/documents/{document_id}/verify", name="verify_document",
    response_model=UserPublic, responses=errors(401, 403, 404, 409),
)  # fmt: skip
async def verify_document(
    ctx: StaffCtx,
    request: Request,
    user_id: UserId,
    document_id: DocumentId,
    body: Annotated[Empty | None, Body()] = None,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Record that the caller checked a customer's document (never on their own user)."""

    async def run(ctx: Ctx, claim: Claim | None) -> Any:
        return await in_transaction_or_refuse(
            ctx, claim,
            lambda session: customers.verify_document_body(ctx, session, user_id, document_id),
        )  # fmt: skip

    return await idempotent_answer(ctx, request, idempotency_key, body, run, status=200,
                                   money=False)  # fmt: skip


@routes.get(
    "/customers/search", name="search", response_model=Page[CustomerMatch],
    responses=errors(401, 403),
)  # fmt: skip
async def search(
    ctx: StaffCtx,
    params: SearchList,
    q: Annotated[
        str,
        Query(
            min_length=1,
            max_length=100,
            description="a name (any accents or case), document, account "
            "or phone number, email, username or YYYY-MM-DD",
        ),
    ],
) -> Page[CustomerMatch]:
    """Find customers by name, document, account, phone, email, username or date of birth."""
    return await customer_search.search(ctx, q, params)
