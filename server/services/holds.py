"""Holds: money set aside on an account without moving it (API.md "Holds").

Placing and releasing a hold change the account document in the same transaction
(`held`, the sum of its active holds, and `hold_expires_at`, the first expiry), with an
update guarded like a movement's leg, so a debit that read the account before the change
misses its conditional update and starts over: no debit ever takes `available` below zero.
A hold may exceed what is available (a lien): `available` goes negative and blocks debits.
Expiry is in server/services/hold_expiry.py.

Checks run in the contract's order: 403 `own_account`, 404 visibility, 403 rights (tellers
place only cheque_clearing, dispute and other holds, and release only their own), 409 state,
then the approval gate (`legal` and `fraud` holds are released only through `hold.release`).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from bson import Decimal128
from pymongo import ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession

from server.db import RetryTransaction
from server.documents import Account, User
from server.documents.ledger import TransactionRef
from server.errors import DomainError, forbidden, invalid_field, not_found, refused
from server.services import audit, calendar, hold_expiry
from server.services.approvals.gate import ApprovalPending, Covered, gate
from server.services.audit import Action
from server.services.context import Ctx
from server.services.hold_expiry import holds, sweep_expired
from server.services.ledger.posting import dec
from server.services.ledger.rules import CustomerAccount
from server.services.views import ListParams
from shared.errors import ErrorCode
from shared.money import format_money, to_cents_str
from shared.schemas.approvals import ApprovalAction
from shared.schemas.common import AccountStatus, Page, Role, now_ms
from shared.schemas.holds import (
    RESTRICTED_HOLD_REASONS,
    TELLER_HOLD_REASONS,
    HoldCreate,
    HoldPublic,
    HoldReason,
    HoldRelease,
    HoldStatus,
)

__all__ = ["list_holds", "place_body", "release_body", "release_for_reversal", "sweep_expired"]
RESTRICTED = sorted(reason.value for reason in RESTRICTED_HOLD_REASONS)


def hold_public(doc: dict[str, Any], *, at: datetime | None = None) -> HoldPublic:
    """Return the API view of a hold; an active one past its expiry reads as expired."""
    status = HoldStatus(doc["status"])
    expires_at = doc.get("expires_at")
    if status is HoldStatus.ACTIVE and expires_at is not None and expires_at <= (at or now_ms()):
        status = HoldStatus.EXPIRED
    return HoldPublic(
        id=doc["_id"], account_id=doc["account_id"], amount=dec(doc["amount"]),
        reason_code=HoldReason(doc["reason_code"]), reference=doc.get("reference"),
        status=status, created_by=doc.get("created_by"), created_at=doc["created_at"],
        expires_at=expires_at, released_by=doc.get("released_by"),
        released_at=doc.get("released_at"),
    )  # fmt: skip


# -- who may see and touch an account's holds -------------------------------------------


def check_not_own(ctx: Ctx, owner_id: int) -> None:
    """Refuse (403 own_account) a staff member's hold or release on their own account."""
    if ctx.actor is not None and ctx.is_staff and ctx.actor.id == owner_id:
        raise DomainError(ErrorCode.OWN_ACCOUNT,
                          "staff may not place or release holds on their own accounts")  # fmt: skip


async def _owner_is_staff(raw: dict[str, Any], session: AsyncClientSession | None) -> bool:
    if "owner_staff" in raw:
        return bool(raw["owner_staff"])
    owner = await User.get_pymongo_collection().find_one(
        {"_id": raw["owner_id"]}, projection={"role": 1}, session=session
    )
    return owner is not None and owner.get("role") != Role.USER.value


async def require_visible(
    ctx: Ctx, raw: dict[str, Any], session: AsyncClientSession | None = None
) -> None:
    """404 unless the owner, an admin, or a teller or supervisor on a customer's account."""
    if ctx.actor is None:
        raise not_found("account not found")
    if raw["owner_id"] == ctx.actor.id or ctx.is_admin:
        return
    if ctx.is_staff and not await _owner_is_staff(raw, session):
        return
    raise not_found("account not found")


# -- placing ---------------------------------------------------------------------------


async def place_body(
    ctx: Ctx, session: AsyncClientSession, account_id: int, data: HoldCreate
) -> HoldPublic:
    """Check and place a hold inside the caller's transaction."""
    assert ctx.actor is not None
    now = now_ms()
    if data.expires_at is not None and data.expires_at <= now:
        raise invalid_field("body", "expires_at", "expires_at must be in the future",
                            data.expires_at.isoformat())  # fmt: skip
    account = await CustomerAccount.read(account_id, await calendar.posting_date(session),
                                         session, ctx=ctx)  # fmt: skip
    check_not_own(ctx, account.owner_id)
    await require_visible(ctx, account.raw, session)
    if not ctx.is_staff:
        raise forbidden("holds are placed by staff")
    if not ctx.is_supervisor and data.reason_code not in TELLER_HOLD_REASONS:
        raise forbidden(f"a {data.reason_code.value} hold is placed by a supervisor or admin")
    if account.status == AccountStatus.CLOSED.value:
        raise refused(ErrorCode.ACCOUNT_NOT_ACTIVE, "the account is closed",
                      account_id=account.id, status=account.status)  # fmt: skip
    hold_id = await ctx.db.next_id("holds", session=session)
    expires_at = _ms(data.expires_at) if data.expires_at is not None else None
    doc = {
        "_id": hold_id, "account_id": account.id, "amount": Decimal128(data.amount),
        "currency": account.currency, "reason_code": data.reason_code.value,
        "reference": data.reference, "status": HoldStatus.ACTIVE.value,
        "created_by": ctx.actor.id, "created_at": now, "expires_at": expires_at,
        "released_by": None, "released_at": None, "expired_at": None, "note": None,
        "approval_id": None,
    }  # fmt: skip
    await holds().insert_one(doc, session=session)
    first = account.raw.get("hold_expires_at")
    if expires_at is not None and (first is None or expires_at < first):
        first = expires_at
    await _update_account(session, account, data.amount, first, now)
    await audit.record(
        ctx, action=Action.HOLD_PLACED, session=session, target_type="account",
        target_id=account.id,
        details={"hold_id": hold_id, "amount": to_cents_str(data.amount),
                 "currency": account.currency, "reason_code": data.reason_code.value,
                 "reference": data.reference,
                 "held_after": to_cents_str(account.held + data.amount),
                 # Negative: a lien (the hold exceeds what was available).
                 "available_after": to_cents_str(account.available - data.amount)},
    )  # fmt: skip
    return hold_public(doc, at=now)


def _ms(moment: datetime) -> datetime:
    # Stored as MongoDB keeps it, so the answer and every later read agree.
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


async def _update_account(
    session: AsyncClientSession,
    account: CustomerAccount,
    change: Decimal,
    first_expiry: datetime | None,
    now: datetime,
) -> None:
    """Move `held` by `change` if the account is as read; a concurrent change starts over."""
    updated = await Account.get_pymongo_collection().find_one_and_update(
        {"_id": account.id, **account.guard()},
        {"$inc": {"held": Decimal128(change)},
         "$set": {"hold_expires_at": first_expiry, "updated_at": now}},
        return_document=ReturnDocument.AFTER,
        session=session,
    )  # fmt: skip
    if updated is None:
        raise RetryTransaction(f"account {account.id} changed while a hold changed")


# -- listing ---------------------------------------------------------------------------


async def list_holds(
    ctx: Ctx, account_id: int, params: ListParams, *, status: HoldStatus | None
) -> Page[HoldPublic]:
    """List an account's holds, oldest first; its owner does not see legal or fraud holds."""
    assert ctx.actor is not None
    raw = await Account.get_pymongo_collection().find_one({"_id": account_id})
    if raw is None:
        raise not_found("account not found")
    await require_visible(ctx, dict(raw))
    await hold_expiry.ensure_current(ctx, dict(raw))
    query: dict[str, Any] = {"account_id": account_id}
    if status is not None:
        query["status"] = status.value
    if raw["owner_id"] == ctx.actor.id:
        # Never tip an owner off: legal and fraud holds show only in `held`.
        query["reason_code"] = {"$nin": RESTRICTED}
    total = await holds().count_documents(query)
    cursor = holds().find(query).sort(params.mongo_sort()).skip(params.skip).limit(params.limit)
    now = now_ms()
    items = [hold_public(doc, at=now) async for doc in cursor]
    return Page[HoldPublic](items=items, total=total, skip=params.skip, limit=params.limit)


# -- releasing -------------------------------------------------------------------------


def not_active(doc: dict[str, Any], at: datetime) -> DomainError:
    """Return the refusal of a release of a hold that no longer counts (409)."""
    status = hold_public(doc, at=at).status.value
    return refused(ErrorCode.HOLD_NOT_ACTIVE, f"the hold is {status}", hold_id=doc["_id"],
                   status=status)  # fmt: skip


async def release_body(
    ctx: Ctx, session: AsyncClientSession, hold_id: int, data: HoldRelease
) -> HoldPublic | ApprovalPending:
    """Check and release a hold inside the caller's transaction (or ask for approval)."""
    assert ctx.actor is not None
    now = now_ms()
    doc = await holds().find_one({"_id": hold_id}, session=session)
    if doc is None:
        raise not_found("hold not found")
    account = await CustomerAccount.read(int(doc["account_id"]),
                                         await calendar.posting_date(session), session,
                                         ctx=ctx)  # fmt: skip
    check_not_own(ctx, account.owner_id)
    await require_visible(ctx, account.raw, session)
    if not ctx.is_staff:
        raise forbidden("holds are released by staff")
    restricted = doc["reason_code"] in RESTRICTED
    if ctx.role is Role.TELLER and (restricted or doc.get("created_by") != ctx.actor.id):
        raise forbidden("a teller releases only the holds they placed")
    doc = await holds().find_one({"_id": hold_id}, session=session)  # as the read left it
    assert doc is not None
    if hold_public(doc, at=now).status is not HoldStatus.ACTIVE:
        raise not_active(doc, now)
    amount = dec(doc["amount"])
    if restricted:
        pending = await gate(ctx, session, Covered(
            action=ApprovalAction.HOLD_RELEASE, only_through_approval=True, amount=amount,
            currency=account.currency, account_id=account.id,
            summary=f"Release the {doc['reason_code']} hold {hold_id} of "
                    f"{format_money(amount, account.currency)} on {account.number}",
            touches_users=frozenset({account.owner_id}),
        ))  # fmt: skip
        if pending is not None:
            return pending
    approval_id = int(ctx.approval["_id"]) if ctx.approval is not None else None
    released = await _release(ctx, session, account, doc, note=data.note, now=now,
                              approval_id=approval_id)  # fmt: skip
    return hold_public(released, at=now)


async def _release(
    ctx: Ctx,
    session: AsyncClientSession,
    account: CustomerAccount,
    doc: dict[str, Any],
    *,
    note: str | None,
    now: datetime,
    approval_id: int | None = None,
    reason: str | None = None,
) -> dict[str, Any]:
    """Mark an active hold released and take it off the account's `held`."""
    released = await holds().find_one_and_update(
        {"_id": doc["_id"], "status": HoldStatus.ACTIVE.value},
        {"$set": {"status": HoldStatus.RELEASED.value, "released_by": ctx.actor_id,
                  "released_at": now, "note": note, "approval_id": approval_id}},
        return_document=ReturnDocument.AFTER,
        session=session,
    )  # fmt: skip
    if released is None:
        raise RetryTransaction(f"hold {doc['_id']} changed while it was released")
    others = [
        dict(hold) async for hold in holds().find(
            {"account_id": account.id, "status": HoldStatus.ACTIVE.value}, session=session
        )
    ]  # fmt: skip
    amount = dec(doc["amount"])
    await _update_account(session, account, -amount, hold_expiry.first_expiry(others), now)
    details: dict[str, Any] = {
        "hold_id": doc["_id"],
        "amount": to_cents_str(amount),
        "currency": account.currency,
        "reason_code": doc["reason_code"],
        "note": note,
        "held_after": to_cents_str(account.held - amount),
    }
    if approval_id is not None:
        details["approval_id"] = approval_id
    if reason is not None:
        details["reason"] = reason
    await audit.record(
        ctx, action=Action.HOLD_RELEASED, session=session, target_type="account",
        target_id=account.id, details=details,
    )  # fmt: skip
    return dict(released)


async def release_for_reversal(
    ctx: Ctx, session: AsyncClientSession, transaction_id: int
) -> list[int]:
    """Release the active holds whose `reference` is a reversed Transaction's id.

    Call it in the reversal's transaction AFTER posting the reversal: it changes the
    account's `held`, so a leg built from an earlier read of the account would miss its
    guard. Returns the ids of the holds it released.
    """
    ref = await TransactionRef.get_pymongo_collection().find_one({"_id": transaction_id},
                                                                  session=session)  # fmt: skip
    if ref is None:
        return []
    query = {"account_id": int(ref["account_id"]), "status": HoldStatus.ACTIVE.value,
             "reference": str(transaction_id)}  # fmt: skip
    if await holds().find_one(query, projection={"_id": 1}, session=session) is None:
        return []
    released: list[int] = []
    now = now_ms()
    business_date = await calendar.posting_date(session)
    for doc in [dict(hold) async for hold in holds().find(query, session=session)]:
        # Read the account afresh each time: the reversal and each release move it on.
        account = await CustomerAccount.read(int(ref["account_id"]), business_date, session,
                                             ctx=ctx)  # fmt: skip
        current = await holds().find_one({"_id": doc["_id"]}, session=session)
        if current is None or hold_public(current, at=now).status is not HoldStatus.ACTIVE:
            continue
        approval_id = int(ctx.approval["_id"]) if ctx.approval is not None else None
        await _release(ctx, session, account, current, note=None, now=now,
                       approval_id=approval_id, reason="reversal")  # fmt: skip
        released.append(int(doc["_id"]))
    return released
