"""Money movement: every deposit and withdrawal is one transaction, whole or not at all.

A movement reads the account inside its transaction, checks the rules, then applies a
conditional update whose filter repeats them (status active, the ledger position it read,
and `balance >= amount - overdraft` for a debit), writes the ledger entry and the audit
event, and commits. A refusal aborts the transaction and then records a `refused` event.
Transfers (the next step) reuse `_post_entry` for both legs inside one transaction.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from bson import Decimal128
from pymongo import ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession

from server.config import Settings
from server.db import RetryTransaction
from server.documents import Account, LedgerEntry, Transfer, to_mongo
from server.errors import DomainError, forbidden, not_found, refused
from server.observability import count_movement
from server.services import audit
from server.services.accounts import (
    can_see_account,
    can_see_raw,
    check_not_own,
    may_pay_into,
)
from server.services.audit import Action
from server.services.context import Ctx
from server.services.idempotency import Claim, is_stored_refusal
from server.services.views import entry_public
from shared.account_number import account_id_from_number
from shared.errors import ErrorCode
from shared.money import to_cents_str
from shared.schemas.common import AccountStatus, now_ms
from shared.schemas.transactions import (
    TransactionPublic,
    TransactionType,
    TransferCreate,
    TransferPublic,
)

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


async def _post_entry(
    ctx: Ctx,
    request: EntryRequest,
    session: AsyncClientSession,
    *,
    at: datetime | None = None,
    authorize: Callable[[dict[str, Any]], None] | None = None,
) -> LedgerEntry:
    """Apply one leg inside the caller's transaction; raise a DomainError to refuse it.

    `authorize` checks the caller against the account as read here (it raises to refuse).
    """
    accounts = Account.get_pymongo_collection()
    raw = await accounts.find_one({"_id": request.account_id}, session=session)
    if raw is None:
        raise not_found("account not found")
    if authorize is not None:
        authorize(raw)
    if raw["status"] != AccountStatus.ACTIVE.value:
        raise refused(ErrorCode.ACCOUNT_NOT_ACTIVE, f"the account is {raw['status']}",
                      account_id=request.account_id, status=raw["status"])  # fmt: skip
    now = at or now_ms()
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
            raise refused(
                ErrorCode.INSUFFICIENT_FUNDS,
                f"insufficient funds: balance {to_cents_str(balance)} {raw['currency']}"
                + (f", overdraft limit {to_cents_str(overdraft)}" if overdraft else ""),
                available=balance + overdraft, requested=request.amount,
                currency=raw["currency"], balance=balance, overdraft_limit=overdraft,
            )  # fmt: skip
        query["balance"] = {"$gte": Decimal128(request.amount - overdraft)}
        day = utc_day(now)
        spent = _dec(raw.get("out_total", Decimal128("0"))) if raw.get("out_day") == day else 0
        limit = raw.get("daily_withdrawal_limit")
        if limit is not None and spent + request.amount > _dec(limit):
            raise refused(
                ErrorCode.LIMIT_EXCEEDED,
                f"the daily withdrawal limit of {to_cents_str(_dec(limit))} {raw['currency']} "
                f"would be exceeded ({to_cents_str(Decimal(spent))} already out today)",
                limit=_dec(limit), used=Decimal(spent), requested=request.amount,
                currency=raw["currency"],
            )  # fmt: skip
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


def _cash_authorizer(ctx: Ctx, settings: Settings) -> Callable[[dict[str, Any]], None]:
    """Check a cash movement's caller, in API.md's order of checks.

    403 `own_account` for staff on their own account, then 404 unless the caller may see
    it (the owner; an admin; a teller or supervisor, a customer's), then 403 when cash is
    for tellers only.
    """

    def authorize(raw: dict[str, Any]) -> None:
        if ctx.actor is None:
            raise not_found("account not found")
        check_not_own(ctx, raw.get("owner_id"))
        if not can_see_raw(ctx, raw):
            raise not_found("account not found")
        if not ctx.is_staff and not settings.cash_self_service:
            raise forbidden("cash is handled by tellers at this bank")

    return authorize


async def cash_movement(
    ctx: Ctx,
    settings: Settings,
    *,
    account_id: int,
    kind: TransactionType,
    amount: Decimal,
    description: str | None,
    claim: Claim | None = None,
) -> TransactionPublic:
    """Deposit or withdraw cash: one transaction with the balance, the entry and the event.

    Who may move cash is checked on the account as the transaction reads it (a read before
    the transaction would cost one more database round trip per movement).
    """
    authorize = _cash_authorizer(ctx, settings)
    request = EntryRequest(account_id=account_id, type=kind, amount=amount, description=description)
    action = _ACTIONS[kind]

    async def body(session: AsyncClientSession) -> TransactionPublic:
        entry = await _post_entry(ctx, request, session, authorize=authorize)
        await audit.record(
            ctx, action=action, session=session, target_type="account", target_id=account_id,
            details={"transaction_id": entry.id, "amount": to_cents_str(amount),
                     "currency": entry.currency,
                     "balance_after": to_cents_str(entry.balance_after)},
        )  # fmt: skip
        public = entry_public(entry)
        if claim is not None:
            await claim.complete(session, public)
        return public

    return await _commit_or_refuse(
        ctx, body, action=action, target_type="account", target_id=account_id,
        details={"amount": to_cents_str(amount)}, claim=claim,
    )  # fmt: skip


async def _commit_or_refuse[T](
    ctx: Ctx,
    body: Callable[[AsyncClientSession], Awaitable[T]],
    *,
    action: str,
    target_type: str,
    target_id: int,
    details: dict[str, Any],
    claim: Claim | None,
) -> T:
    """Run a movement's transaction; if a rule refuses it (409), record the refusal.

    Both outcomes are counted in `bank_money_movements_total` (type, outcome, code).
    """
    try:
        result = await ctx.db.transaction(body)
    except DomainError as refusal:
        if is_stored_refusal(refusal):
            count_movement(action, "refused", refusal.code.value)
            await record_refusal(
                ctx, action=action, target_type=target_type, target_id=target_id,
                error=refusal, details=details, claim=claim,
            )  # fmt: skip
        raise
    count_movement(action, "ok")
    return result


async def record_refusal(
    ctx: Ctx,
    *,
    action: str,
    target_type: str,
    target_id: int,
    error: DomainError,
    details: dict[str, Any],
    claim: Claim | None = None,
) -> None:
    """Write the `refused` event of a movement that was turned down (and store its answer)."""

    async def body(session: AsyncClientSession) -> None:
        await audit.record(
            ctx, action=action, session=session, target_type=target_type, target_id=target_id,
            outcome="refused", code=error.code.value, details=details,
        )  # fmt: skip
        if claim is not None:
            await claim.refuse(session, error)

    await ctx.db.transaction(body)


NO_SUCH_PAYEE = "no active account has this number"


async def _destination(data: TransferCreate) -> Account | None:
    if data.to_account_id is not None:
        return await Account.get(data.to_account_id)
    assert data.to_account_number is not None
    account_id = account_id_from_number(data.to_account_number)
    account = await Account.get(account_id) if account_id is not None else None
    if account is not None and account.number != data.to_account_number:
        return None
    return account


def _knows(ctx: Ctx, account: Account) -> bool:
    """Tell whether a refusal may say why an account cannot be paid (its owner, or staff
    who see it); anyone else learns only that no active account has this number."""
    return (ctx.is_staff and can_see_account(ctx, account)) or (
        ctx.actor is not None and account.owner_id == ctx.actor.id
    )


async def transfer(ctx: Ctx, data: TransferCreate, *, claim: Claim | None = None) -> TransferPublic:
    """Move money between two accounts of one currency in a single transaction.

    Checks in API.md's order: 403 `own_account` (staff, either side), 404 for a source the
    caller may not see, 403 unless the caller owns the source (or is staff), 404 for a
    destination that does not exist or that a teller or supervisor may not see (another
    staff member's); then, in the transaction, the accounts' state, where a destination the
    caller does not own (or see, as staff) answers the same 404 whatever the reason.
    """
    source = await Account.get(data.from_account_id)
    destination = await _destination(data)
    check_not_own(ctx, *(end.owner_id for end in (source, destination) if end is not None))
    if source is None or not can_see_account(ctx, source):
        raise not_found("account not found")
    if not ctx.is_staff and (ctx.actor is None or source.owner_id != ctx.actor.id):
        raise forbidden("only the owner of the source account may transfer from it")
    if destination is None or not may_pay_into(ctx, destination):
        raise not_found(NO_SUCH_PAYEE)
    knows_destination = _knows(ctx, destination)
    if destination.id == source.id:
        raise refused(ErrorCode.SAME_ACCOUNT, "source and destination are the same account")
    details = {"amount": to_cents_str(data.amount), "from_account_id": source.id,
               "to_account_id": destination.id}  # fmt: skip

    async def body(session: AsyncClientSession) -> TransferPublic:
        accounts = Account.get_pymongo_collection()
        ends = {raw["_id"]: raw async for raw in accounts.find(
            {"_id": {"$in": [source.id, destination.id]}}, session=session)}  # fmt: skip
        for end in (source.id, destination.id):
            if ends[end]["status"] != AccountStatus.ACTIVE.value:
                side = "source" if end == source.id else "destination"
                if side == "destination" and not knows_destination:
                    raise not_found(NO_SUCH_PAYEE)  # frozen, closed: not the payer's business
                raise refused(ErrorCode.ACCOUNT_NOT_ACTIVE,
                              f"the {side} account is {ends[end]['status']}",
                              account_id=end, status=ends[end]["status"])  # fmt: skip
        if ends[source.id]["currency"] != ends[destination.id]["currency"]:
            if not knows_destination:
                raise not_found(NO_SUCH_PAYEE)
            raise refused(
                ErrorCode.CURRENCY_MISMATCH,
                f"the accounts hold different currencies ({ends[source.id]['currency']} "
                f"and {ends[destination.id]['currency']})",
                **{"from": ends[source.id]["currency"], "to": ends[destination.id]["currency"]},
            )
        transfer_id = await ctx.db.next_id("transfers", session=session)
        moment = now_ms()  # both legs and the record carry one timestamp
        out = await _post_entry(ctx, EntryRequest(
            account_id=source.id, type=TransactionType.TRANSFER_OUT, amount=data.amount,
            description=data.description, transfer_id=transfer_id,
            counterparty_number=destination.number), session, at=moment)  # fmt: skip
        await _post_entry(ctx, EntryRequest(
            account_id=destination.id, type=TransactionType.TRANSFER_IN, amount=data.amount,
            description=data.description, transfer_id=transfer_id,
            counterparty_number=source.number), session, at=moment)  # fmt: skip
        record = Transfer(
            id=transfer_id, from_account_id=source.id, to_account_id=destination.id,
            from_number=source.number, to_number=destination.number, amount=data.amount,
            currency=out.currency, description=data.description, performed_by=ctx.actor_id,
            created_at=out.created_at,
        )  # fmt: skip
        await Transfer.get_pymongo_collection().insert_one(to_mongo(record), session=session)
        await audit.record(
            ctx, action=Action.MONEY_TRANSFER, session=session, target_type="transfer",
            target_id=transfer_id, details={**details, "currency": out.currency},
        )  # fmt: skip
        public = transfer_public(record).model_copy(update={"balance_after": out.balance_after})
        if claim is not None:
            await claim.complete(session, public)
        return public

    return await _commit_or_refuse(
        ctx, body, action=Action.MONEY_TRANSFER, target_type="account", target_id=source.id,
        details=details, claim=claim,
    )  # fmt: skip


def transfer_public(record: Transfer) -> TransferPublic:
    """Return the API view of a transfer."""
    return TransferPublic(
        id=record.id, from_account_id=record.from_account_id, to_account_id=record.to_account_id,
        from_number=record.from_number, to_number=record.to_number, amount=record.amount,
        description=record.description, performed_by=record.performed_by,
        created_at=record.created_at,
    )  # fmt: skip


async def get_transfer(ctx: Ctx, transfer_id: int) -> TransferPublic:
    """Return a transfer to the owner of either side, admins, and tellers or supervisors
    unless a side is another staff member's account; 404 to anyone else."""
    assert ctx.actor is not None
    record = await Transfer.get(transfer_id)
    if record is None:
        raise not_found("transfer not found")
    if not ctx.is_admin:
        ends = [
            raw
            async for raw in Account.get_pymongo_collection().find(
                {"_id": {"$in": [record.from_account_id, record.to_account_id]}},
                projection={"owner_id": 1, "owner_staff": 1},
            )
        ]
        owned = any(raw["owner_id"] == ctx.actor.id for raw in ends)
        staff_may = ctx.serves_customers and all(can_see_raw(ctx, raw) for raw in ends)
        if not (owned or staff_may):
            raise not_found("transfer not found")
    return transfer_public(record)
