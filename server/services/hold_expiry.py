"""Holds as an account document carries them: the sum held, the first expiry, and expiring.

An account document keeps `held` (the sum of its active holds) and `hold_expires_at` (when
the first of them expires; None when none does), so a movement reads both with the account
and guards on `held`. A hold past its `expires_at` stops counting at once: every reader of
an account (a movement's `CustomerAccount.read`, `visible_account`, pages of accounts) calls
`expire_due` first when `hold_expires_at <= now`, which marks the due holds `expired`, takes
them off `held` and writes `hold.expired`, in the reader's transaction; `sweep_expired`
does the same for every account at the day's close. The account update is conditional on
the `held` and `hold_expires_at` it read, so two readers expire a hold once.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from bson import Decimal128
from pymongo import ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession

from server.db import Database, RetryTransaction, in_transaction
from server.documents import Account
from server.documents.branch import Hold
from server.services import audit
from server.services.audit import Action
from server.services.context import Ctx
from shared.money import to_cents_str
from shared.schemas.common import now_ms
from shared.schemas.holds import HoldStatus

ZERO = Decimal("0.00")


def holds() -> Any:
    """Return the holds collection."""
    return Hold.get_pymongo_collection()


def _dec(value: Any) -> Decimal:
    if isinstance(value, Decimal128):
        return value.to_decimal()
    return Decimal(value if value is not None else 0)


def is_due(raw_account: dict[str, Any], at: datetime) -> bool:
    """Tell whether an account (as stored) has a hold whose expiry has come."""
    first = raw_account.get("hold_expires_at")
    return first is not None and first <= at


def first_expiry(active: list[dict[str, Any]]) -> datetime | None:
    """Return when the first of some active holds expires (None when none does)."""
    moments = [hold["expires_at"] for hold in active if hold.get("expires_at") is not None]
    return min(moments) if moments else None


def unexpired(at: datetime) -> dict[str, Any]:
    """Return the filter of holds that still count at `at` (active, not past expiry)."""
    return {"status": HoldStatus.ACTIVE.value,
            "$or": [{"expires_at": None}, {"expires_at": {"$gt": at}}]}  # fmt: skip


async def any_active(
    session: AsyncClientSession | None, account_ids: list[int], *, at: datetime | None = None
) -> bool:
    """Tell whether any of these accounts has a hold that counts now (409 holds_active)."""
    if not account_ids:
        return False
    query = {"account_id": {"$in": sorted(account_ids)}, **unexpired(at or now_ms())}
    return await holds().find_one(query, projection={"_id": 1}, session=session) is not None


def _system(ctx: Ctx | None, session: AsyncClientSession) -> Ctx:
    # Time expires a hold, not the caller: the event has no actor, but keeps the request id.
    if ctx is not None:
        return replace(ctx, actor=None)
    name = Account.get_pymongo_collection().database.name
    return Ctx(db=Database(client=session.client, name=name))


async def expire_due(
    ctx: Ctx | None,
    session: AsyncClientSession,
    raw_account: dict[str, Any],
    *,
    at: datetime | None = None,
) -> dict[str, Any] | None:
    """Expire an account's due holds in `session`; return the updated account, or None.

    None means nothing was due and the account is as read.
    """
    updated, _count = await _expire(ctx, session, raw_account, at or now_ms())
    return updated


async def _expire(
    ctx: Ctx | None, session: AsyncClientSession, raw_account: dict[str, Any], at: datetime
) -> tuple[dict[str, Any] | None, int]:
    if not is_due(raw_account, at):
        return None, 0
    account_id = int(raw_account["_id"])
    active = [
        dict(hold) async for hold in holds().find(
            {"account_id": account_id, "status": HoldStatus.ACTIVE.value}, session=session
        )
    ]  # fmt: skip
    due = [hold for hold in active if hold.get("expires_at") is not None
           and hold["expires_at"] <= at]  # fmt: skip
    due_ids = {hold["_id"] for hold in due}
    staying = [hold for hold in active if hold["_id"] not in due_ids]
    for hold in due:
        result = await holds().update_one(
            {"_id": hold["_id"], "status": HoldStatus.ACTIVE.value},
            {"$set": {"status": HoldStatus.EXPIRED.value, "expired_at": at}},
            session=session,
        )
        if result.modified_count != 1:
            raise RetryTransaction(f"hold {hold['_id']} changed while it expired")
    released = sum((_dec(hold["amount"]) for hold in due), ZERO)
    updated = await Account.get_pymongo_collection().find_one_and_update(
        {"_id": account_id, "held": raw_account.get("held"),
         "hold_expires_at": raw_account.get("hold_expires_at")},
        {"$inc": {"held": Decimal128(-released)},
         "$set": {"hold_expires_at": first_expiry(staying)}},
        return_document=ReturnDocument.AFTER,
        session=session,
    )  # fmt: skip
    if updated is None:
        raise RetryTransaction(f"account {account_id} changed while its holds expired")
    system = _system(ctx, session)
    for hold in due:
        await audit.record(
            system, action=Action.HOLD_EXPIRED, session=session, target_type="account",
            target_id=account_id,
            details={"hold_id": hold["_id"], "amount": to_cents_str(_dec(hold["amount"])),
                     "currency": raw_account.get("currency"),
                     "reason_code": hold["reason_code"]},
        )  # fmt: skip
    return dict(updated), len(due)


async def ensure_current(ctx: Ctx, raw_account: dict[str, Any]) -> dict[str, Any]:
    """Return an account read outside a transaction, its due holds expired first.

    Inside a transaction (where a second one cannot open) the account is returned as read;
    a reader there uses `expire_due` with its session.
    """
    if not is_due(raw_account, now_ms()) or in_transaction():
        return raw_account
    account_id = int(raw_account["_id"])

    async def body(session: AsyncClientSession) -> dict[str, Any] | None:
        fresh = await Account.get_pymongo_collection().find_one({"_id": account_id},
                                                                session=session)  # fmt: skip
        if fresh is None:
            return None
        return await expire_due(ctx, session, dict(fresh)) or dict(fresh)

    return await ctx.db.transaction(body) or raw_account


async def sweep_expired(ctx: Ctx, session: AsyncClientSession, *, at: datetime) -> int:
    """Expire every hold due at `at`, in the caller's transaction; return how many expired.

    The end-of-day close calls it, so no hold outlives its day's report unexpired.
    """
    account_ids = sorted({
        int(hold["account_id"]) async for hold in holds().find(
            {"status": HoldStatus.ACTIVE.value, "expires_at": {"$lte": at}},
            projection={"account_id": 1}, session=session,
        )
    })  # fmt: skip
    expired = 0
    for account_id in account_ids:
        raw = await Account.get_pymongo_collection().find_one({"_id": account_id}, session=session)
        if raw is not None:
            expired += (await _expire(ctx, session, dict(raw), at))[1]
    return expired
