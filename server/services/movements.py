"""Money movement: every deposit and withdrawal is one transaction, whole or not at all.

A movement reads the account inside its transaction, checks the rules, then applies a
conditional update whose filter repeats them (status active, the ledger position it read,
and `balance >= amount - overdraft` for a debit), writes the ledger entry and the audit
event, and commits. A refusal aborts the transaction and then records a `refused` event.
Transfers (the next step) reuse `_post_entry` for both legs inside one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from bson import Decimal128
from pymongo import ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession

from server.config import Settings
from server.db import RetryTransaction
from server.documents import Account, LedgerEntry, to_mongo
from server.errors import ApiError, conflict, forbidden
from server.services import audit
from server.services.accounts import visible_account
from server.services.audit import Action
from server.services.context import Ctx
from server.services.views import entry_public, from_raw
from shared.errors import ErrorCode
from shared.money import to_cents_str
from shared.schemas.common import AccountStatus, now_ms
from shared.schemas.transactions import TransactionPublic, TransactionType

_ACTIONS = {
    TransactionType.DEPOSIT: Action.MONEY_DEPOSIT,
    TransactionType.WITHDRAWAL: Action.MONEY_WITHDRAWAL,
    TransactionType.TRANSFER_IN: Action.MONEY_TRANSFER,
    TransactionType.TRANSFER_OUT: Action.MONEY_TRANSFER,
}
_DEBITS = frozenset({TransactionType.WITHDRAWAL, TransactionType.TRANSFER_OUT})


def utc_day(moment: datetime) -> str:
    """Return the UTC calendar day of a moment, as the daily limit counts it."""
    return moment.astimezone(UTC).date().isoformat()


@dataclass(frozen=True)
class EntryRequest:
    """One leg of a movement: which account, which way, how much."""

    account_id: int
    type: TransactionType
    amount: Decimal
    description: str | None = None
    transfer_id: int | None = None
    counterparty_number: str | None = None


def _dec(value: Any) -> Decimal:
    return value.to_decimal() if isinstance(value, Decimal128) else Decimal(value)


async def _post_entry(ctx: Ctx, request: EntryRequest, session: AsyncClientSession) -> LedgerEntry:
    """Apply one leg inside the caller's transaction; raise a 409 ApiError to refuse it."""
    accounts = Account.get_pymongo_collection()
    raw = await accounts.find_one({"_id": request.account_id}, session=session)
    if raw is None:
        raise ApiError(404, ErrorCode.NOT_FOUND, "account not found")
    if raw["status"] != AccountStatus.ACTIVE.value:
        raise conflict(ErrorCode.ACCOUNT_NOT_ACTIVE, f"the account is {raw['status']}")
    now = now_ms()
    balance = _dec(raw["balance"])
    debit = request.type in _DEBITS
    delta = -request.amount if debit else request.amount
    query: dict[str, Any] = {
        "_id": request.account_id,
        "status": AccountStatus.ACTIVE.value,
        "entry_seq": raw.get("entry_seq", 0),
    }
    sets: dict[str, Any] = {"updated_at": now}
    if debit:
        overdraft = _dec(raw.get("overdraft_limit", Decimal128("0")))
        if balance - request.amount < -overdraft:
            raise conflict(
                ErrorCode.INSUFFICIENT_FUNDS,
                f"insufficient funds: balance {to_cents_str(balance)} {raw['currency']}"
                + (f", overdraft limit {to_cents_str(overdraft)}" if overdraft else ""),
            )
        query["balance"] = {"$gte": Decimal128(request.amount - overdraft)}
        day = utc_day(now)
        spent = _dec(raw.get("out_total", Decimal128("0"))) if raw.get("out_day") == day else 0
        limit = raw.get("daily_withdrawal_limit")
        if limit is not None and spent + request.amount > _dec(limit):
            raise conflict(
                ErrorCode.LIMIT_EXCEEDED,
                f"the daily withdrawal limit of {to_cents_str(_dec(limit))} {raw['currency']} "
                f"would be exceeded ({to_cents_str(Decimal(spent))} already out today)",
            )
        sets["out_day"] = day
        sets["out_total"] = Decimal128((Decimal(spent) + request.amount).quantize(Decimal("0.01")))
    updated = await accounts.find_one_and_update(
        query,
        {"$inc": {"balance": Decimal128(delta), "entry_seq": 1}, "$set": sets},
        return_document=ReturnDocument.AFTER,
        session=session,
    )
    if updated is None:
        # Someone moved money on this account between our read and write: start over.
        raise RetryTransaction("account changed during the movement")
    entry = LedgerEntry(
        id=await ctx.db.next_id("transactions", session=session),
        account_id=request.account_id,
        seq=int(updated["entry_seq"]),
        type=request.type,
        amount=request.amount,
        balance_after=_dec(updated["balance"]),
        currency=raw["currency"],
        description=request.description,
        transfer_id=request.transfer_id,
        counterparty_number=request.counterparty_number,
        performed_by=ctx.actor_id,
        created_at=now,
    )
    await LedgerEntry.get_pymongo_collection().insert_one(to_mongo(entry), session=session)
    return entry


def _may_handle_cash(ctx: Ctx, settings: Settings, account: Account) -> bool:
    if ctx.is_staff:
        return True
    return ctx.actor is not None and account.owner_id == ctx.actor.id and settings.cash_self_service


async def cash_movement(
    ctx: Ctx,
    settings: Settings,
    *,
    account_id: int,
    kind: TransactionType,
    amount: Decimal,
    description: str | None,
) -> TransactionPublic:
    """Deposit or withdraw cash: one transaction with the balance, the entry and the event."""
    account = await visible_account(ctx, account_id)
    if not _may_handle_cash(ctx, settings, account):
        raise forbidden("cash is handled by tellers at this bank")
    request = EntryRequest(account_id=account_id, type=kind, amount=amount, description=description)
    action = _ACTIONS[kind]

    async def body(session: AsyncClientSession) -> LedgerEntry:
        entry = await _post_entry(ctx, request, session)
        await audit.record(
            ctx, action=action, session=session, target_type="account", target_id=account_id,
            details={"transaction_id": entry.id, "amount": to_cents_str(amount),
                     "currency": entry.currency,
                     "balance_after": to_cents_str(entry.balance_after)},
        )  # fmt: skip
        return entry

    try:
        entry = await ctx.db.transaction(body)
    except ApiError as refusal:
        if refusal.status == 409:
            await record_refusal(ctx, action=action, account_id=account_id, error=refusal,
                                 details={"amount": to_cents_str(amount)})  # fmt: skip
        raise
    return entry_public(entry)


async def record_refusal(
    ctx: Ctx, *, action: str, account_id: int, error: ApiError, details: dict[str, Any]
) -> None:
    """Write the `refused` event of a movement that was turned down."""
    await ctx.db.transaction(
        lambda s: audit.record(
            ctx, action=action, session=s, target_type="account", target_id=account_id,
            outcome="refused", code=error.code.value, details=details,
        )
    )  # fmt: skip


__all__ = ["EntryRequest", "cash_movement", "from_raw", "record_refusal", "utc_day"]
