"""The domain error services raise, and the one table that turns it into an HTTP answer.

Services know nothing of HTTP: they raise `DomainError(code, message, **facts)`. The code
decides the status (`shared.errors.STATUS`, one per code, as API.md gives it) and the facts
become the body's `context`. `answer` is the only place that renders an error as a status,
body and headers: the exception handlers and the Idempotency-Key store both call it, so a
replayed refusal is byte for byte the first one.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from fastapi.encoders import jsonable_encoder

from shared.errors import REQUIRED_FACTS, ErrorCode, status_of
from shared.money import to_cents_str


class DomainError(Exception):
    """A refusal or failure of a rule: a code, a sentence for people and machine facts.

    Money facts may be given as Decimal; they are carried as API.md money strings. A code
    that API.md lists in "Error facts" must be given at least those facts (a missing one is
    a programming error, caught by the tests of every raise site).
    """

    def __init__(self, code: ErrorCode, message: str | list[dict[str, Any]], **facts: Any):
        missing = REQUIRED_FACTS.get(code, frozenset()) - facts.keys()
        if missing:
            raise TypeError(f"{code.value} needs the facts {sorted(missing)}")
        super().__init__(message if isinstance(message, str) else code.value)
        self.code = code
        self.message = message
        self.context: dict[str, Any] = {key: _fact(value) for key, value in facts.items()}

    @property
    def status(self) -> int:
        """Return the HTTP status of this error's code (API.md's table)."""
        return status_of(self.code)

    def __repr__(self) -> str:
        return f"DomainError({self.code.value!r}, {self.message!r})"


def _fact(value: Any) -> Any:
    if isinstance(value, Decimal):
        return to_cents_str(value)
    if isinstance(value, dict):
        return {str(key): _fact(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_fact(item) for item in value]
    return value


def answer(error: DomainError) -> tuple[int, dict[str, Any], dict[str, str]]:
    """Return the status, JSON body and headers an error answers with."""
    body: dict[str, Any] = {"detail": error.message, "code": error.code.value}
    if error.context:
        body["context"] = error.context
    headers: dict[str, str] = {}
    if error.code in (ErrorCode.NOT_AUTHENTICATED, ErrorCode.INVALID_TOKEN,
                      ErrorCode.INVALID_CREDENTIALS):  # fmt: skip
        headers["WWW-Authenticate"] = "Bearer"
    retry_after = error.context.get("retry_after")
    if isinstance(retry_after, int):
        headers["Retry-After"] = str(retry_after)
    return error.status, body, headers


# -- the common refusals ---------------------------------------------------------------


def not_found(what: str = "not found") -> DomainError:
    """Return the refusal that never reveals whether the object exists."""
    return DomainError(ErrorCode.NOT_FOUND, what)


def forbidden(detail: str = "you may not do this") -> DomainError:
    """Return the refusal for a visible object or route the caller may not use."""
    return DomainError(ErrorCode.FORBIDDEN, detail)


def refused(code: ErrorCode, detail: str, **facts: Any) -> DomainError:
    """Return a refusal by a rule of the bank, with its facts."""
    return DomainError(code, detail, **facts)


def invalid_field(location: str, field: str, message: str, value: Any = None) -> DomainError:
    """Return a `validation_error` in FastAPI's list shape, for a rule a schema cannot hold."""
    item = {"type": "value_error", "loc": [location, field], "msg": message,
            "input": safe_input(value)}  # fmt: skip
    return DomainError(ErrorCode.VALIDATION_ERROR, [item])


# An echoed input is cut past this many characters (as JSON): a `missing` error echoes the
# whole body, once per missing field, so a 54 KB body of junk got a 200 KB answer.
MAX_INPUT_ECHO = 256


def safe_input(value: Any) -> Any:
    """Return a JSON-safe, bounded copy of a request value to echo in a validation error."""
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
