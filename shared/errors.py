"""Error codes of API.md and the error body every failure answers with."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel


class ErrorCode(StrEnum):
    """Machine-readable error codes (API.md "Error codes")."""

    NOT_AUTHENTICATED = "not_authenticated"
    INVALID_TOKEN = "invalid_token"
    INVALID_CREDENTIALS = "invalid_credentials"
    FORBIDDEN = "forbidden"
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
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
    PAYLOAD_TOO_LARGE = "payload_too_large"
    VALIDATION_ERROR = "validation_error"
    SAME_ACCOUNT = "same_account"
    UNSUPPORTED_CURRENCY = "unsupported_currency"
    IDEMPOTENCY_KEY_REUSED = "idempotency_key_reused"
    INVALID_IDEMPOTENCY_KEY = "invalid_idempotency_key"
    RATE_LIMITED = "rate_limited"
    SERVICE_UNAVAILABLE = "service_unavailable"
    INTERNAL_ERROR = "internal_error"


class ErrorBody(BaseModel):
    """The body of every error answer: a sentence for people and a code for programs."""

    detail: str | list[dict[str, Any]]
    code: ErrorCode
