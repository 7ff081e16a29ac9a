"""Idempotent answers: run a request under its Idempotency-Key and answer with its result."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from server.api.deps import UserCtx, get_limits
from server.services import idempotency

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


def created(result: BaseModel) -> tuple[int, dict[str, Any]]:
    """Answer a created object: 201 and its JSON."""
    return 201, result.model_dump(mode="json")


async def idempotent_answer(
    ctx: UserCtx,
    request: Request,
    key: str | None,
    body: BaseModel,
    run: idempotency.Run,
    render: idempotency.Render = created,
) -> JSONResponse:
    """Run a movement under its Idempotency-Key and answer with the (possibly stored) result.

    Every movement request counts against the caller's `MOVEMENT_RATE_PER_MINUTE`; over it,
    429 `rate_limited` with `Retry-After` answers before anything is read or written.
    """
    await get_limits(request).check_movement(ctx.actor_id)
    print_ = idempotency.fingerprint(request.method, request.url.path, body.model_dump(mode="json"))
    status, answer, replayed = await idempotency.run_idempotent(ctx, key, print_, run, render)
    headers = {idempotency.REPLAYED_HEADER: "true"} if replayed else None
    return JSONResponse(answer, status_code=status, headers=headers)
