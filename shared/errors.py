"""Error codes of API.md, the one status each answers with, and the facts each carries.

The contract gives every code exactly one HTTP status (`STATUS`) and, for the refusals a
client words for people, the machine-readable facts its body's `context` carries at least
(`REQUIRED_FACTS`). Clients show their own sentence from `code` and `context`; `detail`
is for logs and for codes a client does not know.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from pydantic import BaseModel


class ErrorCode(StrEnum):
    """Machine-readable error codes (API.md "Error codes" and version 2's new codes)."""

    # 401
    NOT_AUTHENTICATED = "not_authenticated"
    INVALID_TOKEN = "invalid_token"
    INVALID_CREDENTIALS = "invalid_credentials"
    # 403
    FORBIDDEN = "forbidden"
    OWN_ACCOUNT = "own_account"
    # 404, 405
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    # 409
    USERNAME_TAKEN = "username_taken"
    INSUFFICIENT_FUNDS = "insufficient_funds"
    LIMIT_EXCEEDED = "limit_exceeded"
    ACCOUNT_NOT_ACTIVE = "account_not_active"
    CURRENCY_MISMATCH = "currency_mismatch"
    BALANCE_NOT_ZERO = "balance_not_zero"
    USER_HAS_OPEN_ACCOUNTS = "user_has_open_accounts"
    VERSION_CONFLICT = "version_conflict"
    IDEMPOTENCY_KEY_IN_USE = "idempotency_key_in_use"
    LAST_ADMIN = "last_admin"
    NO_OPEN_SESSION = "no_open_session"
    TILL_IN_USE = "till_in_use"
    SESSION_OPEN = "session_open"
    SESSION_CLOSING = "session_closing"
    TILL_INSUFFICIENT_CASH = "till_insufficient_cash"
    SESSION_CLOSED = "session_closed"
    SESSIONS_OPEN = "sessions_open"
    ALREADY_REVERSED = "already_reversed"
    HOLDS_ACTIVE = "holds_active"
    HOLD_NOT_ACTIVE = "hold_not_active"
    APPROVAL_NOT_PENDING = "approval_not_pending"
    APPROVAL_PENDING = "approval_pending"
    NO_CHECKER = "no_checker"
    DOCUMENT_IN_USE = "document_in_use"
    KYC_NOT_VERIFIED = "kyc_not_verified"
    DAY_CLOSED = "day_closed"
    DAY_NOT_OPEN = "day_not_open"
    # 413
    PAYLOAD_TOO_LARGE = "payload_too_large"
    # 422
    VALIDATION_ERROR = "validation_error"
    SAME_ACCOUNT = "same_account"
    UNSUPPORTED_CURRENCY = "unsupported_currency"
    IDEMPOTENCY_KEY_REUSED = "idempotency_key_reused"
    INVALID_IDEMPOTENCY_KEY = "invalid_idempotency_key"
    NOT_REVERSIBLE = "not_reversible"
    COUNT_MISMATCH = "count_mismatch"
    COUNT_INCOMPLETE = "count_incomplete"
    NOTE_REQUIRED = "note_required"
    SELF_APPROVAL = "self_approval"
    NOT_CASH_AMOUNT = "not_cash_amount"
    STATEMENT_TOO_LARGE = "statement_too_large"
    # 429
    RATE_LIMITED = "rate_limited"
    # 500, 503
    INTERNAL_ERROR = "internal_error"
    SERVICE_UNAVAILABLE = "service_unavailable"
    # 202: not an error; the body of a request that waits for a second person.
    APPROVAL_REQUIRED = "approval_required"


_BY_STATUS: dict[int, tuple[ErrorCode, ...]] = {
    202: (ErrorCode.APPROVAL_REQUIRED,),
    401: (ErrorCode.NOT_AUTHENTICATED, ErrorCode.INVALID_TOKEN, ErrorCode.INVALID_CREDENTIALS),
    403: (ErrorCode.FORBIDDEN, ErrorCode.OWN_ACCOUNT),
    404: (ErrorCode.NOT_FOUND,),
    405: (ErrorCode.METHOD_NOT_ALLOWED,),
    409: (
        ErrorCode.USERNAME_TAKEN, ErrorCode.INSUFFICIENT_FUNDS, ErrorCode.LIMIT_EXCEEDED,
        ErrorCode.ACCOUNT_NOT_ACTIVE, ErrorCode.CURRENCY_MISMATCH, ErrorCode.BALANCE_NOT_ZERO,
        ErrorCode.USER_HAS_OPEN_ACCOUNTS, ErrorCode.VERSION_CONFLICT,
        ErrorCode.IDEMPOTENCY_KEY_IN_USE, ErrorCode.LAST_ADMIN, ErrorCode.NO_OPEN_SESSION,
        ErrorCode.TILL_IN_USE, ErrorCode.SESSION_OPEN, ErrorCode.SESSION_CLOSING,
        ErrorCode.TILL_INSUFFICIENT_CASH, ErrorCode.SESSION_CLOSED, ErrorCode.SESSIONS_OPEN,
        ErrorCode.ALREADY_REVERSED, ErrorCode.HOLDS_ACTIVE, ErrorCode.HOLD_NOT_ACTIVE,
        ErrorCode.APPROVAL_NOT_PENDING, ErrorCode.APPROVAL_PENDING, ErrorCode.NO_CHECKER,
        ErrorCode.DOCUMENT_IN_USE, ErrorCode.KYC_NOT_VERIFIED, ErrorCode.DAY_CLOSED,
        ErrorCode.DAY_NOT_OPEN,
    ),
    413: (ErrorCode.PAYLOAD_TOO_LARGE,),
    422: (
        ErrorCode.VALIDATION_ERROR, ErrorCode.SAME_ACCOUNT, ErrorCode.UNSUPPORTED_CURRENCY,
        ErrorCode.IDEMPOTENCY_KEY_REUSED, ErrorCode.INVALID_IDEMPOTENCY_KEY,
        ErrorCode.NOT_REVERSIBLE, ErrorCode.COUNT_MISMATCH, ErrorCode.COUNT_INCOMPLETE,
        ErrorCode.NOTE_REQUIRED, ErrorCode.SELF_APPROVAL, ErrorCode.NOT_CASH_AMOUNT,
        ErrorCode.STATEMENT_TOO_LARGE,
    ),
    429: (ErrorCode.RATE_LIMITED,),
    500: (ErrorCode.INTERNAL_ERROR,),
    503: (ErrorCode.SERVICE_UNAVAILABLE,),
}  # fmt: skip

STATUS: Mapping[ErrorCode, int] = {
    code: status for status, codes in _BY_STATUS.items() for code in codes
}
"""The one HTTP status of each code (API.md gives exactly one)."""

REQUIRED_FACTS: Mapping[ErrorCode, frozenset[str]] = {
    ErrorCode.INSUFFICIENT_FUNDS: frozenset({"available", "requested", "currency"}),
    ErrorCode.LIMIT_EXCEEDED: frozenset({"limit", "used", "requested", "currency"}),
    ErrorCode.TILL_INSUFFICIENT_CASH: frozenset({"currency", "requested", "available"}),
    ErrorCode.ACCOUNT_NOT_ACTIVE: frozenset({"account_id", "status"}),
    ErrorCode.CURRENCY_MISMATCH: frozenset({"from", "to"}),
    ErrorCode.VERSION_CONFLICT: frozenset({"current_version"}),
    ErrorCode.SESSIONS_OPEN: frozenset({"session_ids"}),
    ErrorCode.RATE_LIMITED: frozenset({"retry_after"}),
    ErrorCode.APPROVAL_PENDING: frozenset({"approval_id"}),
    ErrorCode.DAY_CLOSED: frozenset({"date", "open_date"}),
    ErrorCode.DAY_NOT_OPEN: frozenset({"date", "open_date"}),
    ErrorCode.STATEMENT_TOO_LARGE: frozenset({"max_rows", "max_days", "rows", "days"}),
}
"""The facts (keys of `context`) each listed code carries at least (API.md "Error facts")."""


def status_of(code: ErrorCode | str) -> int:
    """Return the HTTP status a code answers with (500 for a code the contract lacks)."""
    try:
        return STATUS[ErrorCode(code)]
    except ValueError:
        return 500


class ErrorBody(BaseModel):
    """The body of every error answer: a sentence for people, a code and facts for programs."""

    detail: str | list[dict[str, Any]]
    code: ErrorCode
    context: dict[str, Any] | None = None
