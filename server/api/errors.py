"""Exception handlers: every failure answers API.md's error shape and never leaks internals."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pymongo.errors import ConnectionFailure, PyMongoError, ServerSelectionTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException

from server.errors import DomainError, answer, safe_input
from shared.errors import ErrorCode

log = logging.getLogger("bank.errors")

_STATUS_CODES = {
    401: ErrorCode.NOT_AUTHENTICATED,
    403: ErrorCode.FORBIDDEN,
    404: ErrorCode.NOT_FOUND,
    405: ErrorCode.METHOD_NOT_ALLOWED,
    413: ErrorCode.PAYLOAD_TOO_LARGE,
    429: ErrorCode.RATE_LIMITED,
    503: ErrorCode.SERVICE_UNAVAILABLE,
}
_STATUS_TEXT = {
    404: "not found",
    405: "method not allowed",
}

# A 60 KB body of unknown keys made 5,500 errors, a 650 KB answer: past this many, one
# closing item counts the rest (found by tests/security/test_resource_limits.py).
MAX_VALIDATION_ERRORS = 20


def validation_detail(errors: list[Any]) -> list[dict[str, Any]]:
    """Return FastAPI's validation list with JSON-safe, bounded inputs."""
    cleaned: list[dict[str, Any]] = []
    if len(errors) > MAX_VALIDATION_ERRORS:
        more = len(errors) - MAX_VALIDATION_ERRORS
        cleaned = validation_detail(errors[:MAX_VALIDATION_ERRORS])
        cleaned.append({"type": "too_many_errors", "loc": [], "input": None,
                        "msg": f"{more} more errors are not shown"})  # fmt: skip
        return cleaned
    for error in errors:
        item = {key: value for key, value in dict(error).items() if key not in ("url", "ctx")}
        if "input" in item:
            item["input"] = safe_input(item["input"])
        ctx = error.get("ctx") if isinstance(error, dict) else None
        if ctx:
            item["ctx"] = {key: str(value) for key, value in ctx.items()}
        cleaned.append(item)
    return cleaned


def error_response(error: DomainError) -> JSONResponse:
    """Return the HTTP answer of a domain error."""
    status, body, headers = answer(error)
    return JSONResponse(body, status_code=status, headers=headers or None)


def install_error_handlers(app: FastAPI) -> None:
    """Make every error answer `{"detail", "code", "context"?}` and never leak internals."""

    @app.exception_handler(DomainError)
    async def _domain_error(_request: Request, exc: DomainError) -> JSONResponse:
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        body = {"detail": validation_detail(list(exc.errors())), "code": "validation_error"}
        return JSONResponse(body, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _STATUS_CODES.get(exc.status_code, ErrorCode.VALIDATION_ERROR)
        if exc.status_code >= 500:
            code = ErrorCode.SERVICE_UNAVAILABLE
        detail = exc.detail if isinstance(exc.detail, str) else "request failed"
        detail = _STATUS_TEXT.get(exc.status_code, detail)
        if exc.status_code == 400:
            # FastAPI's answer to a body it cannot parse (a multipart body without its
            # boundary, found by schemathesis on /login); the contract has no 400: 422.
            item = {"type": "body_unparsable", "loc": ["body"], "msg": detail, "input": None}
            body = {"detail": [item], "code": ErrorCode.VALIDATION_ERROR.value}
            return JSONResponse(body, status_code=422)
        return JSONResponse(
            {"detail": detail, "code": code.value},
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(ServerSelectionTimeoutError)
    @app.exception_handler(ConnectionFailure)
    async def _db_down(_request: Request, exc: PyMongoError) -> JSONResponse:
        log.warning("database unavailable: %s", type(exc).__name__)
        return JSONResponse(
            {"detail": "the database does not answer; try again shortly",
             "code": ErrorCode.SERVICE_UNAVAILABLE.value},
            status_code=503,
            headers={"Retry-After": "5"},
        )  # fmt: skip

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        from server.db import RetryTransaction, is_unlabelled_conflict

        if isinstance(exc, RetryTransaction) or is_unlabelled_conflict(exc):
            # Contention outlasted the retry window: nothing was written; the client may retry.
            log.warning("gave up after write conflicts on %s %s", request.method, request.url.path)
            return JSONResponse(
                {"detail": "the bank is busy; nothing was changed, try again",
                 "code": ErrorCode.SERVICE_UNAVAILABLE.value},
                status_code=503,
                headers={"Retry-After": "1"},
            )  # fmt: skip
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse(
            {"detail": "internal error; it has been logged", "code": "internal_error"},
            status_code=500,
        )
