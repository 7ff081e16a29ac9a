"""Idempotent answers: run a request under its Idempotency-Key and answer with its result.

Every POST, PUT and PATCH of version 2 and every covered request goes through
`idempotent_answer`: the Idempotency-Key's replay and claim rules (version 1), the request
frozen on the context so a covered action can store it in its approval, and one rendering
of the result: the route's success status, or 202 with `Location` when the request now
waits for approval (API.md "Approvals").
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Annotated, Any

from fastapi import Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from server.api.deps import get_limits
from server.config import get_settings
from server.errors import DomainError
from server.services import audit, idempotency
from server.services.approvals.gate import SECRETS, ApprovalPending
from server.services.context import Ctx, Frozen

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        description="1-255 visible ASCII characters; a retry with the same key and request "
        "gets the first answer back instead of doing it again",
        # Documented only: the service answers a bad key 422 `invalid_idempotency_key`.
        json_schema_extra={"minLength": 1, "maxLength": 255},
    ),
]

type Run = Callable[[Ctx, idempotency.Claim | None], Awaitable[Any]]


def renderer(status: int) -> idempotency.Render:
    """Return how a route answers its service's result: `status`, or 202 while it waits."""

    def render(result: Any) -> tuple[int, dict[str, Any]]:
        if isinstance(result, ApprovalPending):
            body = {"approval": result.approval.model_dump(mode="json"),
                    "code": "approval_required"}  # fmt: skip
            return 202, body
        if isinstance(result, BaseModel):
            return status, result.model_dump(mode="json")
        return status, dict(result or {})

    return render


created = renderer(201)


def _headers(status: int, body: dict[str, Any], replayed: bool) -> dict[str, str]:
    headers = {idempotency.REPLAYED_HEADER: "true"} if replayed else {}
    if status == 202 and isinstance(body.get("approval"), dict):
        headers["Location"] = f"/approvals/{body['approval']['id']}"
    return headers


def _keyed_secrets(ctx: Ctx, data: dict[str, Any]) -> dict[str, Any]:
    """Return the body to fingerprint, with each password replaced by its HMAC.

    The fingerprint is stored with the key for a day: a plain hash of a body holding a
    password would let anyone who reads the database test guesses at it offline.
    """
    secrets = [name for name in SECRETS if data.get(name) is not None]
    if not secrets:
        return data
    key = get_settings().signing_key() if ctx.settings is None else ctx.settings.signing_key()
    keyed = dict(data)
    for name in secrets:
        keyed[name] = hmac.new(key.encode(), str(data[name]).encode(), hashlib.sha256).hexdigest()
    return keyed


async def idempotent_answer(
    ctx: Ctx,
    request: Request,
    key: str | None,
    body: BaseModel | None,
    run: Run,
    *,
    status: int = 201,
    money: bool = True,
    partial: bool = False,
) -> JSONResponse:
    """Run a request under its Idempotency-Key and answer with the (possibly stored) result.

    Every money request counts against the caller's `MOVEMENT_RATE_PER_MINUTE`; over it,
    429 `rate_limited` with `Retry-After` answers before anything is read or written.
    `partial`: the body is a patch whose omitted fields mean "leave as is" (unlike an
    explicit null), so the frozen request keeps only the fields sent.
    """
    if money:
        await get_limits(request).check_movement(ctx.actor_id)
    data = body.model_dump(mode="json", exclude_unset=partial) if body is not None else {}
    path = request.url.path.rstrip("/") or "/"
    print_ = idempotency.fingerprint(request.method, path, _keyed_secrets(ctx, data))
    frozen = Frozen(method=request.method, path=path, body=data, fingerprint=print_)

    async def claimed(claim: idempotency.Claim | None) -> Any:
        request_frozen = frozen
        if claim is not None:
            request_frozen = replace(frozen, idempotency_record=claim.record_id)
        return await run(replace(ctx, request=request_frozen), claim)

    answer_status, answer, replayed = await idempotency.run_idempotent(
        ctx, key, print_, claimed, renderer(status)
    )
    return JSONResponse(
        answer, status_code=answer_status, headers=_headers(answer_status, answer, replayed)
    )


async def _complete(
    claim: idempotency.Claim | None, body: Callable[[Any], Awaitable[Any]], session: Any
) -> Any:
    result = await body(session)
    if claim is not None:
        await claim.complete(session, result)
    return result


async def in_transaction(
    ctx: Ctx, claim: idempotency.Claim | None, body: Callable[[Any], Awaitable[Any]]
) -> Any:
    """Run a service body in one transaction, storing its answer under the claimed key.

    A 409 is the key's answer for good: it is stored, or a retry would wait on the claim.
    """
    return await in_transaction_or_refuse(ctx, claim, body)


@dataclass(frozen=True)
class RefusedEvent:
    """The audit event a refused request writes (API.md: a refused movement's event)."""

    action: str
    target_type: str
    target_id: int
    details: dict[str, Any]


async def in_transaction_or_refuse(
    ctx: Ctx,
    claim: idempotency.Claim | None,
    body: Callable[[Any], Awaitable[Any]],
    *,
    event: RefusedEvent | None = None,
) -> Any:
    """Run a service body as `in_transaction`; a 409 refusal is then recorded in its own.

    The refusal is stored as the Idempotency-Key's answer (a retry gets it back instead of
    waiting for the claim to lapse) and, given an `event`, audited with outcome `refused`.
    """
    try:
        return await ctx.db.transaction(lambda session: _complete(claim, body, session))
    except DomainError as error:
        refusal = error
        if idempotency.is_stored_refusal(refusal) and (claim is not None or event is not None):

            async def record(session: Any) -> None:
                if event is not None:
                    await audit.record(
                        ctx, action=event.action, session=session, target_type=event.target_type,
                        target_id=event.target_id, outcome="refused", code=refusal.code.value,
                        details=event.details,
                    )  # fmt: skip
                if claim is not None:
                    await claim.refuse(session, refusal)

            await ctx.db.transaction(record)
        raise
