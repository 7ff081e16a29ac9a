"""Accounts: opening, reading, settings, closing and payee lookup."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from bson import Decimal128
from pymongo import ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession

from server.documents import Account, User, to_mongo
from server.errors import DomainError, forbidden, invalid_field, not_found, refused
from server.services import audit, customers, hold_expiry, search_keys
from server.services.approvals.gate import ApprovalPending, Covered, gate_one_of
from server.services.audit import Action
from server.services.context import Ctx
from server.services.idempotency import Claim
from server.services.views import ListParams, account_public, from_raw
from shared.account_number import account_id_from_number, account_number
from shared.errors import ErrorCode
from shared.money import SUPPORTED_CURRENCIES, format_money, to_cents_str
from shared.schemas.accounts import (
    AccountAdminUpdate,
    AccountCreate,
    AccountPublic,
    AccountUpdate,
    Payee,
)
from shared.schemas.approvals import ApprovalAction
from shared.schemas.common import AccountStatus, Page, Role, now_ms

ACCOUNT_SORT_FIELDS = ("id", "number", "balance", "owner_id", "created_at")


def _accounts() -> Any:
    return Account.get_pymongo_collection()


def can_see(ctx: Ctx, *, owner_id: int, owner_staff: bool) -> bool:
    """The owner and admins see an account; tellers and supervisors those of customers."""
    if ctx.actor is None:
        return False
    if owner_id == ctx.actor.id or ctx.is_admin:
        return True
    return ctx.serves_customers and not owner_staff


def can_see_account(ctx: Ctx, account: Account) -> bool:
    """Tell whether the caller may see an account (another staff member's is hidden)."""
    return can_see(ctx, owner_id=account.owner_id, owner_staff=account.owner_staff)


def can_see_raw(ctx: Ctx, raw: dict[str, Any]) -> bool:
    """Tell whether the caller may see an account as PyMongo reads it."""
    return can_see(ctx, owner_id=raw["owner_id"], owner_staff=bool(raw.get("owner_staff")))


def check_not_own(ctx: Ctx, *owner_ids: int | None) -> None:
    """Refuse (403 `own_account`) a staff member's money request on an account they own."""
    if ctx.actor is not None and ctx.is_staff and ctx.actor.id in owner_ids:
        raise DomainError(
            ErrorCode.OWN_ACCOUNT, "staff may not move money on their own accounts; ask a colleague"
        )


async def visible_account(ctx: Ctx, account_id: int) -> Account:
    """Return an account the caller may see (its due holds expired first), or answer 404."""
    account = await Account.get(account_id)
    if account is None or not can_see_account(ctx, account):
        raise not_found("account not found")
    if hold_expiry.is_due({"hold_expires_at": account.hold_expires_at}, now_ms()):
        account = from_raw(Account, await hold_expiry.ensure_current(ctx, to_mongo(account)))
    return account


def _hide_other_staff(ctx: Ctx, query: dict[str, Any]) -> dict[str, Any]:
    """Leave other staff members' accounts out of a teller's or supervisor's query."""
    if not ctx.serves_customers or ctx.actor is None:
        return query
    visible = {"$or": [{"owner_staff": {"$ne": True}}, {"owner_id": ctx.actor.id}]}
    return {"$and": [query, visible]} if query else visible


async def set_owner_staff(
    owner_id: int, owner_staff: bool, *, session: AsyncClientSession | None
) -> None:
    """Record on a user's accounts whether they belong to staff (in the role change's txn)."""
    await _accounts().update_many(
        {"owner_id": owner_id, "owner_staff": {"$ne": owner_staff}},
        {"$set": {"owner_staff": owner_staff}},
        session=session,
    )


async def backfill_owner_staff() -> int:
    """Give `owner_staff` to accounts stored before it existed; return how many changed."""
    missing = {"owner_staff": {"$exists": False}}
    if await _accounts().find_one(missing, projection={"_id": 1}) is None:
        return 0
    staff = [
        raw["_id"]
        async for raw in User.get_pymongo_collection().find(
            {"role": {"$ne": Role.USER.value}}, projection={"_id": 1}
        )
    ]
    changed = 0
    if staff:
        result = await _accounts().update_many(
            {**missing, "owner_id": {"$in": staff}}, {"$set": {"owner_staff": True}}
        )
        changed += int(result.modified_count)
    result = await _accounts().update_many(missing, {"$set": {"owner_staff": False}})
    return changed + int(result.modified_count)


async def open_account(ctx: Ctx, data: AccountCreate) -> AccountPublic:
    """Open an account for the caller (customers) or for `owner_id` (staff)."""
    assert ctx.actor is not None
    if data.currency not in SUPPORTED_CURRENCIES:
        raise refused(
            ErrorCode.UNSUPPORTED_CURRENCY,
            f"currency {data.currency!r} is not supported; use one of "
            + ", ".join(SUPPORTED_CURRENCIES),
            currency=data.currency,
            supported=list(SUPPORTED_CURRENCIES),
        )
    if ctx.is_staff:
        if data.owner_id is None:
            raise invalid_field(
                "body", "owner_id", "owner_id is required when staff open an account"
            )
        owner = await User.get(data.owner_id)
        # Tellers and supervisors cannot see other staff: those ids answer as missing ones.
        hidden = (
            owner is not None
            and ctx.serves_customers
            and owner.role is not Role.USER
            and owner.id != ctx.actor.id
        )
        if owner is None or owner.deleted_at is not None or hidden:
            raise not_found("owner not found")
        if ctx.serves_customers and owner.role is not Role.USER:
            raise forbidden("tellers and supervisors open accounts for customers only")
    else:
        if data.owner_id is not None and data.owner_id != ctx.actor.id:
            raise forbidden("customers open accounts for themselves only")
        owner = ctx.actor

    async def body(session: AsyncClientSession) -> Account:
        await customers.require_kyc(ctx, owner, session)
        account_id = await ctx.db.next_id("accounts", session=session)
        now = now_ms()
        account = Account(
            id=account_id, number=account_number(account_id), owner_id=owner.id,
            owner_name=owner.full_name, owner_staff=owner.role.is_staff,
            account_type=data.account_type,
            currency=data.currency, nickname=data.nickname, created_at=now, updated_at=now,
        )  # fmt: skip
        await _accounts().insert_one(to_mongo(account), session=session)
        await customers.add_search_key(owner.id, search_keys.account_key(account.number),
                                     session)  # fmt: skip
        await audit.record(
            ctx, action=Action.ACCOUNT_OPENED, session=session, target_type="account",
            target_id=account_id,
            details={"owner_id": owner.id, "number": account.number,
                     "currency": data.currency, "account_type": data.account_type.value},
        )  # fmt: skip
        return account

    return account_public(await ctx.db.transaction(body))


def _contains(text: str) -> dict[str, Any]:
    return {"$regex": re.escape(text), "$options": "i"}


async def list_accounts(
    ctx: Ctx,
    params: ListParams,
    *,
    owner_id: int | None,
    status: AccountStatus | None,
    q: str | None,
) -> Page[AccountPublic]:
    """List accounts; customers only ever see their own, tellers not other staff members'."""
    assert ctx.actor is not None
    query: dict[str, Any] = {}
    if not ctx.is_staff:
        if owner_id is not None and owner_id != ctx.actor.id:
            return Page(items=[], total=0, skip=params.skip, limit=params.limit)
        query["owner_id"] = ctx.actor.id
    elif owner_id is not None:
        query["owner_id"] = owner_id
    if status is not None:
        query["status"] = status.value
    if q:
        query["$or"] = [{"number": _contains(q)}, {"nickname": _contains(q)},
                        {"owner_name": _contains(q)}]  # fmt: skip
    return await page_of_accounts(_hide_other_staff(ctx, query), params, ctx)


async def page_of_accounts(
    query: dict[str, Any], params: ListParams, ctx: Ctx | None = None
) -> Page[AccountPublic]:
    """Return one page of the accounts matching a query (with `ctx`, due holds expired)."""
    total = await _accounts().count_documents(query)
    cursor = _accounts().find(query).sort(params.mongo_sort()).skip(params.skip)
    raws = [dict(raw) async for raw in cursor.limit(params.limit)]
    if ctx is not None:
        raws = [await hold_expiry.ensure_current(ctx, raw) for raw in raws]
    items = [account_public(from_raw(Account, raw)) for raw in raws]
    return Page[AccountPublic](items=items, total=total, skip=params.skip, limit=params.limit)


async def update_nickname(ctx: Ctx, account_id: int, data: AccountUpdate) -> AccountPublic:
    """Let an owner rename their account."""
    assert ctx.actor is not None
    account = await visible_account(ctx, account_id)
    if account.owner_id != ctx.actor.id:
        raise forbidden("only the owner may rename an account")

    async def body(session: AsyncClientSession) -> dict[str, Any]:
        raw = await _accounts().find_one_and_update(
            {"_id": account_id, "status": {"$ne": AccountStatus.CLOSED.value}},
            {"$set": {"nickname": data.nickname, "updated_at": now_ms()}, "$inc": {"version": 1}},
            return_document=ReturnDocument.AFTER,
            session=session,
        )
        if raw is None:
            raise refused(ErrorCode.ACCOUNT_NOT_ACTIVE, "the account is closed",
                          account_id=account_id, status=AccountStatus.CLOSED.value)  # fmt: skip
        await audit.record(
            ctx, action=Action.ACCOUNT_UPDATED, session=session, target_type="account",
            target_id=account_id, details={"fields": ["nickname"]},
        )  # fmt: skip
        return dict(raw)

    return account_public(from_raw(Account, await ctx.db.transaction(body)))


def _money_setting(value: Decimal | None) -> Decimal128 | None:
    return None if value is None else Decimal128(value)


def _raises(new: Any, old: Decimal | None) -> bool:
    """Tell whether a new limit (stored form; None = no limit) is above the old one."""
    if old is None:
        return False
    return new is None or new.to_decimal() > old


def covered_settings(current: Account, sets: dict[str, Any]) -> list[Covered]:
    """Return the approvals (API.md "Approvals") the settings change `sets` may need."""
    name = f"{current.number} ({current.owner_name})"
    facts: dict[str, Any] = {"account_id": current.id, "currency": current.currency,
                             "touches_users": frozenset({current.owner_id})}  # fmt: skip
    candidates = []
    if sets.get("status") == AccountStatus.ACTIVE.value:
        candidates.append(Covered(action=ApprovalAction.ACCOUNT_UNFREEZE,
                                  summary=f"Unfreeze account {name}", **facts))  # fmt: skip
    raised = [field for field, old in (("overdraft_limit", current.overdraft_limit),
                                       ("daily_withdrawal_limit", current.daily_withdrawal_limit))
              if field in sets and _raises(sets[field], old)]  # fmt: skip
    if raised:
        words = ", ".join(
            f"{field} to "
            + ("no limit" if sets[field] is None
               else format_money(sets[field].to_decimal(), current.currency))
            for field in raised
        )  # fmt: skip
        candidates.append(Covered(action=ApprovalAction.ACCOUNT_LIMITS,
                                  summary=f"Raise {words} on account {name}", **facts))  # fmt: skip
    return candidates


async def admin_update(
    ctx: Ctx,
    account_id: int,
    data: AccountAdminUpdate,
    *,
    session: AsyncClientSession | None = None,
    claim: Claim | None = None,
) -> AccountPublic | ApprovalPending:
    """Change an account's status, type or limits, guarded by its `version`.

    Unfreezing and raising a limit wait for approval (`account.unfreeze`, `account.limits`);
    with `session` the change runs inside that transaction (an approval executing it).
    """
    if data.status is AccountStatus.CLOSED:
        raise invalid_field(
            "body", "status", "close an account with DELETE /accounts/{id}", "closed"
        )
    if session is None:
        await visible_account(ctx, account_id)
    given = data.model_fields_set - {"version"}

    async def body(session: AsyncClientSession) -> dict[str, Any] | ApprovalPending:
        raw = await _accounts().find_one({"_id": account_id}, session=session)
        if raw is None:
            raise not_found("account not found")
        current = from_raw(Account, raw)
        if current.status is AccountStatus.CLOSED:
            raise refused(ErrorCode.ACCOUNT_NOT_ACTIVE, "the account is closed",
                          account_id=account_id, status=current.status.value)  # fmt: skip
        if data.version is not None and data.version != current.version:
            raise refused(
                ErrorCode.VERSION_CONFLICT,
                f"the account changed (version {current.version}); reload and try again",
                current_version=current.version,
            )
        sets: dict[str, Any] = {}
        if "status" in given and data.status is not None and data.status != current.status:
            sets["status"] = data.status.value
        if data.account_type is not None and data.account_type != current.account_type:
            sets["account_type"] = data.account_type.value
        if data.overdraft_limit is not None and data.overdraft_limit != current.overdraft_limit:
            if current.balance < -data.overdraft_limit:
                # The ledger invariant: no balance below -overdraft_limit, ever.
                raise refused(
                    ErrorCode.INSUFFICIENT_FUNDS,
                    f"the balance {to_cents_str(current.balance)} is below the new overdraft "
                    f"limit; bring it to at least -{to_cents_str(data.overdraft_limit)} first",
                    available=current.balance + data.overdraft_limit,
                    requested=Decimal("0.00"),
                    currency=current.currency,
                    overdraft_limit=data.overdraft_limit,
                )
            sets["overdraft_limit"] = _money_setting(data.overdraft_limit)
        limit = data.daily_withdrawal_limit
        if "daily_withdrawal_limit" in given and limit != current.daily_withdrawal_limit:
            sets["daily_withdrawal_limit"] = _money_setting(limit)
        if not sets:
            return dict(raw)
        pending = await gate_one_of(ctx, session, covered_settings(current, sets))
        if pending is not None:
            return pending
        sets["updated_at"] = now_ms()
        updated = await _accounts().find_one_and_update(
            {"_id": account_id, "version": current.version},
            {"$set": sets, "$inc": {"version": 1}},
            return_document=ReturnDocument.AFTER,
            session=session,
        )
        if updated is None:
            latest = await _accounts().find_one({"_id": account_id}, session=session)
            raise refused(
                ErrorCode.VERSION_CONFLICT, "the account changed; reload and try again",
                current_version=int(latest["version"]) if latest else current.version,
            )  # fmt: skip
        fields = sorted(name for name in sets if name != "updated_at")
        if "status" in sets:
            action = (
                Action.ACCOUNT_FROZEN
                if sets["status"] == AccountStatus.FROZEN.value
                else Action.ACCOUNT_UNFROZEN
            )
            await audit.record(
                ctx, action=action, session=session, target_type="account", target_id=account_id,
            )  # fmt: skip
        if set(fields) - {"status"}:
            await audit.record(
                ctx, action=Action.ACCOUNT_UPDATED, session=session, target_type="account",
                target_id=account_id, details={"fields": [f for f in fields if f != "status"]},
            )  # fmt: skip
        return dict(updated)

    async def answer(session: AsyncClientSession) -> AccountPublic | ApprovalPending:
        result = await body(session)
        public = result if isinstance(result, ApprovalPending) else (
            account_public(from_raw(Account, result)))  # fmt: skip
        if claim is not None:
            await claim.complete(session, public)
        return public

    return await answer(session) if session is not None else await ctx.db.transaction(answer)


async def close_account(ctx: Ctx, account_id: int) -> None:
    """Close an account with a zero balance."""
    await visible_account(ctx, account_id)

    async def body(session: AsyncClientSession) -> None:
        raw = await _accounts().find_one({"_id": account_id}, session=session)
        if raw is None:
            raise not_found("account not found")
        if raw["status"] == AccountStatus.CLOSED.value:
            raise refused(ErrorCode.ACCOUNT_NOT_ACTIVE, "the account is already closed",
                          account_id=account_id, status=raw["status"])  # fmt: skip
        if raw["balance"].to_decimal() != 0:
            raise refused(
                ErrorCode.BALANCE_NOT_ZERO, "the balance must be 0.00 before the account closes",
                balance=raw["balance"].to_decimal(), currency=raw["currency"],
            )  # fmt: skip
        if await hold_expiry.any_active(session, [account_id]):
            raise refused(ErrorCode.HOLDS_ACTIVE, "release the account's holds before it closes",
                          account_id=account_id)  # fmt: skip
        await _accounts().update_one(
            {"_id": account_id},
            {"$set": {"status": AccountStatus.CLOSED.value, "updated_at": now_ms()},
             "$inc": {"version": 1}},
            session=session,
        )  # fmt: skip
        await audit.record(
            ctx, action=Action.ACCOUNT_CLOSED, session=session, target_type="account",
            target_id=account_id,
        )  # fmt: skip

    await ctx.db.transaction(body)


def mask_name(full_name: str) -> str:
    """Mask a holder's name for payees: "Alice Smith" becomes "A. Smith"."""
    words = full_name.split()
    if not words:
        return "?"
    if len(words) == 1:
        return f"{words[0][0]}."
    return f"{words[0][0]}. {words[-1]}"


def may_pay_into(ctx: Ctx, account: Account) -> bool:
    """Tell whether the caller may name an account as a payee (tellers: not other staff's)."""
    if ctx.serves_customers:
        return can_see_account(ctx, account)
    return True


async def payee(ctx: Ctx, number: str) -> Payee:
    """Describe an active account by number for someone about to pay it."""
    account_id = account_id_from_number(number)
    account = await Account.get(account_id) if account_id is not None else None
    if (
        account is None
        or account.number != number
        or account.status is not AccountStatus.ACTIVE
        or not may_pay_into(ctx, account)
    ):
        raise not_found("no active account has this number")
    return Payee(
        number=account.number,
        holder=mask_name(account.owner_name),
        currency=account.currency,
        account_type=account.account_type,
    )
