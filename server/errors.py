"""API errors and the handlers that turn every failure into API.md's error shape."""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pymongo.errors import ConnectionFailure, PyMongoError, ServerSelectionTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException

from shared.errors import ErrorCode

log = logging.getLogger("bank.errors")


class ApiError(Exception):
    """An answer other than success, with its status, code and a sentence for people."""

    def __init__(
        self,
        status: int,
        code: ErrorCode,
        detail: str | list[dict[str, Any]],
        *,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(str(detail))
        self.status = status
        self.code = code
        self.detail = detail
        self.headers = headers

    def body(self) -> dict[str, Any]:
        """Return the JSON body of this error."""
        return {"detail": self.detail, "code": self.code.value}


def not_found(what: str = "not found") -> ApiError:
    """Return a 404 that never reveals whether the object exists."""
    return ApiError(404, ErrorCode.NOT_FOUND, what)


def forbidden(detail: str = "you may not do this") -> ApiError:
    """Return a 403 for a visible object or route the caller may not use."""
    return ApiError(403, ErrorCode.FORBIDDEN, detail)


def conflict(code: ErrorCode, detail: str) -> ApiError:
    """Return a 409 with its code."""
    return ApiError(409, code, detail)


def unprocessable(code: ErrorCode, detail: str) -> ApiError:
    """Return a 422 with a specific code (not `validation_error`: see `invalid_field`)."""
    return ApiError(422, code, detail)


def invalid_field(location: str, field: str, message: str, value: Any = None) -> ApiError:
    """Return a 422 `validation_error` in FastAPI's list shape, for a rule a schema cannot hold."""
    item = {"type": "value_error", "loc": [location, field], "msg": message,
            "input": _safe_input(value)}  # fmt: skip
    return ApiError(422, ErrorCode.VALIDATION_ERROR, [item])


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


# An echoed input is cut past this many characters (as JSON): a `missing` error echoes the
# whole body, once per missing field, so a 54 KB body of junk got a 200 KB answer.
MAX_INPUT_ECHO = 256


def _safe_input(value: Any) -> Any:
    try:
        safe = jsonable_encoder(value)
        text = safe if isinstance(safe, str) else json.dumps(safe)
    except Exception:
        try:
            safe = text = repr(value)
        except RecursionError:  # deeply nested JSON the parser still accepted
            return "<nested too deeply to show>"
    if len(text) > MAX_INPUT_ECHO:
        return text[:MAX_INPUT_ECHO] + "..."
    return safe


# A 60 KB body of unknown keys made 5,500 errors, a 650 KB answer: past this many, one
# closing item counts the rest (found by tests/security/test_resource_limits.py).
MAX_VALIDATION_ERRORS = 20


def _validation_detail(errors: list[Any]) -> list[dict[str, Any]]:
    cleaned: list[dict[str, Any]] = []
    if len(errors) > MAX_VALIDATION_ERRORS:
        more = len(errors) - MAX_VALIDATION_ERRORS
        cleaned = _validation_detail(errors[:MAX_VALIDATION_ERRORS])
        cleaned.append({"type": "too_many_errors", "loc": [], "input": None,
                        "msg": f"{more} more errors are not shown"})  # fmt: skip
        return cleaned
    for error in errors:
        item = {key: value for key, value in dict(error).items() if key not in ("url", "ctx")}
        if "input" in item:
            item["input"] = _safe_input(item["input"])
        ctx = error.get("ctx") if isinstance(error, dict) else None
        if ctx:
            item["ctx"] = {key: str(value) for key, value in ctx.items()}
        cleaned.append(item)
    return cleaned


def install_error_handlers(app: FastAPI) -> None:
    """Make every error answer `{"detail", "code"}` and never leak internals."""

    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        body = {"detail": _validation_detail(list(exc.errors())), "code": "validation_error"}
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
