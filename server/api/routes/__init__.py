"""Routers, one module per resource."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from server.api.deps import DecimalJSONRoute
from shared.errors import ErrorBody

_DESCRIPTIONS = {
    401: "Not signed in, or the token is invalid",
    403: "The caller may not do this",
    404: "Not found, or not visible to the caller",
    409: "Refused by a rule of the bank (see `code`)",
    413: "Body too large",
    422: "Invalid request (see `code`)",
    429: "Too many requests",
    503: "The database does not answer",
}


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """Declare the error answers of a route in the OpenAPI schema.

    Every route may answer 413: the size cap answers any request (GET too) whose body is over
    MAX_BODY_BYTES before routing.
    """
    return {
        status: {"model": ErrorBody, "description": _DESCRIPTIONS[status]}
        for status in (*statuses, 413, 422, 503)
    }


def pending() -> dict[int | str, dict[str, Any]]:
    """Declare a covered route's 202: the request waits for approval (`Location` names it)."""
    from shared.schemas.approvals import ApprovalRequired

    return {
        202: {
            "model": ApprovalRequired,
            "description": "Waits for a second person's approval (see Location)",
            "headers": {"Location": {"schema": {"type": "string"},
                                     "description": "/approvals/{id}"}},
        }
    }  # fmt: skip


# For routes that declare no other error: the size cap still answers 413 before routing.
TOO_LARGE: dict[int | str, dict[str, Any]] = {
    413: {"model": ErrorBody, "description": _DESCRIPTIONS[413]}
}


def router(**kwargs: Any) -> APIRouter:
    """Return a router whose JSON bodies are parsed with Decimal numbers."""
    return APIRouter(route_class=DecimalJSONRoute, **kwargs)
