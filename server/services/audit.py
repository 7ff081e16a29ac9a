"""The audit writer: one immutable event per action, in the action's own transaction."""

from __future__ import annotations

from typing import Any

from pymongo.asynchronous.client_session import AsyncClientSession

from server.documents import AuditEvent
from server.services.context import Ctx
from shared.schemas.common import now_ms


class Action:
    """Audit action names of API.md."""

    LOGIN_SUCCEEDED = "login.succeeded"
    LOGIN_FAILED = "login.failed"
    LOGOUT = "logout"
    USER_CREATED = "user.created"
    USER_UPDATED = "user.updated"
    USER_ROLE_CHANGED = "user.role_changed"
    USER_DEACTIVATED = "user.deactivated"
    USER_DELETED = "user.deleted"
    USER_UNLOCKED = "user.unlocked"
    ACCOUNT_OPENED = "account.opened"
    ACCOUNT_UPDATED = "account.updated"
    ACCOUNT_FROZEN = "account.frozen"
    ACCOUNT_UNFROZEN = "account.unfrozen"
    ACCOUNT_CLOSED = "account.closed"
    MONEY_DEPOSIT = "money.deposit"
    MONEY_WITHDRAWAL = "money.withdrawal"
    MONEY_TRANSFER = "money.transfer"


async def record(
    ctx: Ctx,
    *,
    action: str,
    session: AsyncClientSession | None,
    target_type: str | None = None,
    target_id: int | None = None,
    outcome: str = "ok",
    code: str | None = None,
    details: dict[str, Any] | None = None,
    actor_id: int | None = None,
) -> int:
    """Write one audit event; pass the action's session so both commit or neither does."""
    event_id = await ctx.db.next_id("audit_events", session=session)
    event = {
        "_id": event_id,
        "at": now_ms(),
        "actor_id": actor_id if actor_id is not None else ctx.actor_id,
        "action": action,
        "outcome": outcome,
        "code": code,
        "target_type": target_type,
        "target_id": target_id,
        "ip": ctx.ip,
        "request_id": ctx.request_id,
        "details": details or {},
    }
    await AuditEvent.get_pymongo_collection().insert_one(event, session=session)
    return event_id
