"""The audit writer: one immutable event per action, in the action's own transaction."""

from __future__ import annotations

from typing import Any

from pymongo.asynchronous.client_session import AsyncClientSession

from server.documents import AuditEvent
from server.services import calendar
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
    MONEY_REVERSAL = "money.reversal"
    TILL_CREATED = "till.created"
    TILL_UPDATED = "till.updated"
    SESSION_OPENED = "session.opened"
    SESSION_CLOSING = "session.closing"
    SESSION_CLOSED = "session.closed"
    CASH_TO_TILL = "cash.to_till"
    CASH_TO_VAULT = "cash.to_vault"
    VAULT_CASH_IN = "vault.cash_in"
    VAULT_CASH_OUT = "vault.cash_out"
    VAULT_COUNTED = "vault.counted"
    APPROVAL_REQUESTED = "approval.requested"
    APPROVAL_APPROVED = "approval.approved"
    APPROVAL_REJECTED = "approval.rejected"
    APPROVAL_CANCELLED = "approval.cancelled"
    APPROVAL_EXPIRED = "approval.expired"
    APPROVAL_EXECUTED = "approval.executed"
    APPROVAL_FAILED = "approval.failed"
    POLICY_UPDATED = "policy.updated"
    DAY_CLOSED = "business_day.closed"
    HOLD_PLACED = "hold.placed"
    HOLD_RELEASED = "hold.released"
    HOLD_EXPIRED = "hold.expired"
    CUSTOMER_PROFILE_UPDATED = "customer.profile_updated"
    CUSTOMER_DOCUMENT_ADDED = "customer.document_added"
    CUSTOMER_DOCUMENT_VERIFIED = "customer.document_verified"
    LEDGER_MIGRATED = "ledger.migrated"


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
    business_date: str | None = None,
) -> int:
    """Write one audit event; pass the action's session so both commit or neither does.

    While an approval executes its request, every event of that request names the approval
    in `details.approval_id`, so `GET /audit?approval_id=` finds all of them. The event is
    dated with the posting date the action's transaction sees (one read of the business-day
    record), unless the caller passes the `business_date` it already read.
    """
    details = dict(details or {})
    if ctx.approval is not None:
        details.setdefault("approval_id", int(ctx.approval["_id"]))
    if business_date is None:
        business_date = await calendar.posting_date(session)
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
        "details": details,
        "business_date": business_date,
    }
    await AuditEvent.get_pymongo_collection().insert_one(event, session=session)
    return event_id
