"""Customer money movements: cash deposits and withdrawals, and transfers, on the ledger.

Each is one transaction: read what the rules need, check them in the contract's order
("Rules across version 2"), then post one journal entry (server/services/ledger) with the
audit event and the Idempotency-Key's stored answer. A refusal aborts the transaction and
then records a `refused` event (and stores the refusal under the key).

Staff cash posts against the till of the actor's open session (debit the till for a
deposit, credit it for a withdrawal); owners' self-service cash against `suspense`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

from bson import Decimal128
from pymongo.asynchronous.client_session import AsyncClientSession

from server.config import Settings
from server.documents import Account, Transfer
from server.errors import DomainError, forbidden, not_found, refused
from server.observability import count_movement
from server.services import audit, calendar
from server.services.accounts import can_see_raw, check_not_own
from server.services.approvals.gate import ApprovalPending, Covered, gate
from server.services.audit import Action
from server.services.context import Ctx
from server.services.idempotency import Claim, is_stored_refusal
from server.services.ledger import codes, posting
from server.services.ledger.posting import LegSpec, Line, Posting
from server.services.ledger.rules import CustomerAccount
from server.services.tills import cash as till_cash
from shared.account_number import account_id_from_number
from shared.errors import ErrorCode
from shared.money import format_money, to_cents_str
from shared.schemas.approvals import ApprovalAction
from shared.schemas.ledger import JournalKind, Side
from shared.schemas.transactions import (
    TransactionPublic,
    TransactionType,
    TransferCreate,
    TransferPublic,
)


def approval_id_of(ctx: Ctx) -> int | None:
    """Return the id of the approval this request executes, if it does."""
    return int(ctx.approval["_id"]) if ctx.approval is not None else None


_ACTIONS = {
    TransactionType.DEPOSIT: Action.MONEY_DEPOSIT,
    TransactionType.WITHDRAWAL: Action.MONEY_WITHDRAWAL,
}


def _authorize_cash(ctx: Ctx, settings: Settings, account: CustomerAccount) -> None:
    """Check a cash movement's caller, in API.md's order of checks.

    403 `own_account` for staff on their own account, then 404 unless the caller may see
    it (the owner; an admin; a teller or supervisor, a customer's), then 403 when cash is
    for tellers only.
    """
    if ctx.actor is None:
        raise not_found("account not found")
    check_not_own(ctx, account.owner_id)
    if not can_see_raw(ctx, account.raw):
        raise not_found("account not found")
    if not ctx.is_staff and not settings.cash_self_service:
        raise forbidden("cash is handled by tellers at this bank")


async def cash_body(
    ctx: Ctx,
    settings: Settings,
    session: AsyncClientSession,
    *,
    account_id: int,
    kind: TransactionType,
    amount: Decimal,
    description: str | None,
    session_id: int | None = None,
) -> TransactionPublic | ApprovalPending:
    """Check and post one cash movement inside the caller's transaction (or ask approval)."""
    business_date = await calendar.posting_date(session)
    account = await CustomerAccount.read(account_id, business_date, session)
    _authorize_cash(ctx, settings, account)
    account.require_active()
    till: till_cash.TillSide | None = None
    current: dict[str, Any] | None = None
    if ctx.is_staff:
        till_cash.require_cash_amount(amount, account.currency)
        assert ctx.actor is not None
        if session_id is None and ctx.approval is not None:
            session_id = ctx.approval.get("session_id")  # the maker's session at request
        current = await till_cash.session_for_cash(ctx.actor.id, session, session_id=session_id)
        till = await till_cash.TillSide.read(current, account.currency, session)
    line = Line(type=kind, description=description)
    if kind is TransactionType.WITHDRAWAL:
        account.require_available(amount)
        account.require_within_daily_limit(amount)
        if till is not None:
            till.require_cash(amount, blind=True)  # the teller's own session: blind
    action = (
        ApprovalAction.DEPOSIT if kind is TransactionType.DEPOSIT else ApprovalAction.WITHDRAWAL
    )
    verb = "Deposit" if kind is TransactionType.DEPOSIT else "Withdraw"
    pending = await gate(ctx, session, Covered(
        action=action, amount=amount, currency=account.currency, account_id=account.id,
        summary=f"{verb} {format_money(amount, account.currency)} "
                f"{'into' if kind is TransactionType.DEPOSIT else 'from'} {account.number}"
                f" ({account.raw.get('owner_name', '')})",
        session_id=current["_id"] if current is not None else None,
        day_total=account.today(action.value), touches_users=frozenset({account.owner_id}),
    ))  # fmt: skip
    if pending is not None:
        return pending
    if kind is TransactionType.WITHDRAWAL:
        customer = account.leg(Side.DEBIT, amount, line,
                               counters={"out": amount, "withdrawal": amount})  # fmt: skip
        other = (till.leg(Side.CREDIT, amount) if till is not None
                 else LegSpec(codes.suspense(account.currency), Side.CREDIT, amount,
                              account.currency))  # fmt: skip
        legs = [customer, other]
        journal_kind = JournalKind.WITHDRAWAL
    else:
        customer = account.leg(Side.CREDIT, amount, line, counters={"deposit": amount})
        other = (till.leg(Side.DEBIT, amount) if till is not None
                 else LegSpec(codes.suspense(account.currency), Side.DEBIT, amount,
                              account.currency))  # fmt: skip
        legs = [other, customer]
        journal_kind = JournalKind.DEPOSIT
    posted = await posting.post(ctx, session, Posting(
        kind=journal_kind, legs=legs, business_date=business_date, performed_by=ctx.actor_id,
        session_id=current["_id"] if current is not None else None, description=description,
        approval_id=approval_id_of(ctx),
    ))  # fmt: skip
    over = till is not None and kind is TransactionType.DEPOSIT and till.over_limit_after(amount)
    if over and current is not None and not current.get("over_limit"):
        await till_cash.flag_over_limit(int(current["_id"]), session)
    entry = posted.transactions[0]
    await audit.record(
        ctx, action=_ACTIONS[kind], session=session, target_type="account",
        target_id=account_id,
        details={"transaction_id": entry.id, "amount": to_cents_str(amount),
                 "currency": account.currency, "journal_id": entry.journal_id,
                 "balance_after": to_cents_str(entry.balance_after),
                 "session_id": entry.session_id},
    )  # fmt: skip
    return entry


async def cash_movement(
    ctx: Ctx,
    settings: Settings,
    *,
    account_id: int,
    kind: TransactionType,
    amount: Decimal,
    description: str | None,
    claim: Claim | None = None,
) -> TransactionPublic | ApprovalPending:
    """Deposit or withdraw cash: one transaction with balances, legs, journal and event."""

    async def body(session: AsyncClientSession) -> TransactionPublic | ApprovalPending:
        entry = await cash_body(
            ctx, settings, session, account_id=account_id, kind=kind, amount=amount,
            description=description,
        )  # fmt: skip
        if claim is not None:
            await claim.complete(session, entry)
        return entry

    return await commit_or_refuse(
        ctx, body, action=_ACTIONS[kind], target_type="account", target_id=account_id,
        details={"amount": to_cents_str(amount)}, claim=claim,
    )  # fmt: skip


async def commit_or_refuse[T](
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


def _destination_id(data: TransferCreate) -> int | None:
    if data.to_account_id is not None:
        return data.to_account_id
    assert data.to_account_number is not None
    return account_id_from_number(data.to_account_number)


async def _read_destination(
    data: TransferCreate, business_date: str, session: AsyncClientSession
) -> CustomerAccount | None:
    account_id = _destination_id(data)
    if account_id is None:
        return None
    try:
        account = await CustomerAccount.read(account_id, business_date, session)
    except DomainError:
        return None
    if data.to_account_number is not None and account.number != data.to_account_number:
        return None
    return account


def check_parties(ctx: Ctx, source: dict[str, Any] | None,
                  destination: dict[str, Any] | None) -> bool:  # fmt: skip
    """Check who may transfer between two accounts (as PyMongo reads them), in API.md's order.

    403 `own_account` (staff, either side), 404 for a source the caller may not see, 403
    unless the caller owns the source (or is staff), 404 for a destination that does not
    exist or that a teller or supervisor may not see (another staff member's). Return whether
    the caller may learn why the destination cannot be paid (its owner, or staff who see
    it); anyone else learns only that no active account has this number.
    """
    check_not_own(ctx, *(end["owner_id"] for end in (source, destination) if end is not None))
    if source is None or not can_see_raw(ctx, source):
        raise not_found("account not found")
    if not ctx.is_staff and (ctx.actor is None or source["owner_id"] != ctx.actor.id):
        raise forbidden("only the owner of the source account may transfer from it")
    if destination is None or not may_pay_into_raw(ctx, destination):
        raise not_found(NO_SUCH_PAYEE)
    return (ctx.is_staff and can_see_raw(ctx, destination)) or (
        ctx.actor is not None and destination["owner_id"] == ctx.actor.id
    )


def may_pay_into_raw(ctx: Ctx, raw: dict[str, Any]) -> bool:
    """Tell whether the caller may name an account (as PyMongo reads it) as a payee."""
    return can_see_raw(ctx, raw) if ctx.serves_customers else True


async def transfer_body(
    ctx: Ctx, session: AsyncClientSession, data: TransferCreate
) -> TransferPublic | ApprovalPending:
    """Check and post one transfer inside the caller's transaction."""
    assert ctx.actor is not None
    business_date = await calendar.posting_date(session)
    try:
        source: CustomerAccount | None = await CustomerAccount.read(
            data.from_account_id, business_date, session
        )
    except DomainError:
        source = None
    destination = await _read_destination(data, business_date, session)
    knows_destination = check_parties(
        ctx, source.raw if source else None, destination.raw if destination else None
    )
    assert source is not None
    assert destination is not None
    if destination.id == source.id:
        raise refused(ErrorCode.SAME_ACCOUNT, "source and destination are the same account")
    source.require_active()
    if not knows_destination and (
        destination.status != "active" or destination.currency != source.currency
    ):
        raise not_found(NO_SUCH_PAYEE)  # frozen, closed, another currency: not the payer's business
    destination.require_active()
    if source.currency != destination.currency:
        raise refused(
            ErrorCode.CURRENCY_MISMATCH,
            f"the accounts hold different currencies ({source.currency} and "
            f"{destination.currency})",
            **{"from": source.currency, "to": destination.currency},
        )
    source.require_available(data.amount)
    source.require_within_daily_limit(data.amount)
    pending = await gate(ctx, session, Covered(
        action=ApprovalAction.TRANSFER, amount=data.amount, currency=source.currency,
        account_id=source.id, account_ids=frozenset({source.id, destination.id}),
        summary=f"Transfer {format_money(data.amount, source.currency)} from {source.number} "
                f"to {destination.number}",
        day_total=source.today("transfer"),
        touches_users=frozenset({source.owner_id, destination.owner_id}),
    ))  # fmt: skip
    if pending is not None:
        return pending
    transfer_id = await ctx.db.next_id("transfers", session=session)
    out = source.leg(
        Side.DEBIT, data.amount,
        Line(type=TransactionType.TRANSFER_OUT, description=data.description,
             transfer_id=transfer_id, counterparty_number=destination.number),
        counters={"out": data.amount, "transfer": data.amount},
    )  # fmt: skip
    into = destination.leg(
        Side.CREDIT, data.amount,
        Line(type=TransactionType.TRANSFER_IN, description=data.description,
             transfer_id=transfer_id, counterparty_number=source.number),
    )  # fmt: skip
    posted = await posting.post(ctx, session, Posting(
        kind=JournalKind.TRANSFER, legs=[out, into], business_date=business_date,
        performed_by=ctx.actor_id, description=data.description, transfer_id=transfer_id,
        approval_id=approval_id_of(ctx),
    ))  # fmt: skip
    leg_out = posted.transactions[0]
    record = {
        "_id": transfer_id, "from_account_id": source.id, "to_account_id": destination.id,
        "from_number": source.number, "to_number": destination.number,
        "amount": Decimal128(data.amount), "currency": source.currency,
        "description": data.description, "performed_by": ctx.actor_id,
        "created_at": leg_out.created_at, "business_date": business_date,
        "journal_id": leg_out.journal_id,
    }  # fmt: skip
    await Transfer.get_pymongo_collection().insert_one(record, session=session)
    await audit.record(
        ctx, action=Action.MONEY_TRANSFER, session=session, target_type="transfer",
        target_id=transfer_id,
        details={"amount": to_cents_str(data.amount), "from_account_id": source.id,
                 "to_account_id": destination.id, "currency": source.currency,
                 "journal_id": leg_out.journal_id},
    )  # fmt: skip
    return transfer_public(record, balance_after=leg_out.balance_after)


async def transfer(
    ctx: Ctx, data: TransferCreate, *, claim: Claim | None = None
) -> TransferPublic | ApprovalPending:
    """Move money between two accounts of one currency in a single transaction."""
    accounts = Account.get_pymongo_collection()
    source = await accounts.find_one({"_id": data.from_account_id})
    destination_id = _destination_id(data)
    destination = None
    if destination_id is not None:
        destination = await accounts.find_one({"_id": destination_id})
        if destination is not None and data.to_account_number not in (None, destination["number"]):
            destination = None
    check_parties(ctx, source, destination)  # 403/404 before anything is written
    details = {"amount": to_cents_str(data.amount), "from_account_id": data.from_account_id,
               "to_account_id": destination_id}  # fmt: skip

    async def body(session: AsyncClientSession) -> TransferPublic | ApprovalPending:
        public = await transfer_body(ctx, session, data)
        if claim is not None:
            await claim.complete(session, public)
        return public

    return await commit_or_refuse(
        ctx, body, action=Action.MONEY_TRANSFER, target_type="account",
        target_id=data.from_account_id, details=details, claim=claim,
    )  # fmt: skip


def transfer_public(record: dict[str, Any], *, balance_after: Decimal | None) -> TransferPublic:
    """Return the API view of a transfer (`balance_after` only for its source's side)."""
    return TransferPublic(
        id=record["_id"], from_account_id=record["from_account_id"],
        to_account_id=record["to_account_id"], from_number=record["from_number"],
        to_number=record["to_number"], amount=posting.dec(record["amount"]),
        description=record.get("description"), performed_by=record.get("performed_by"),
        created_at=record["created_at"], business_date=record.get("business_date", ""),
        balance_after=balance_after, journal_id=record.get("journal_id", 0),
    )  # fmt: skip


async def get_transfer(ctx: Ctx, transfer_id: int) -> TransferPublic:
    """Return a transfer to the owner of either side, admins, and tellers or supervisors
    unless a side is another staff member's account; 404 to anyone else."""
    assert ctx.actor is not None
    record = await Transfer.get_pymongo_collection().find_one({"_id": transfer_id})
    if record is None:
        raise not_found("transfer not found")
    if not ctx.is_admin:
        ends = [
            raw
            async for raw in Account.get_pymongo_collection().find(
                {"_id": {"$in": [record["from_account_id"], record["to_account_id"]]}},
                projection={"owner_id": 1, "owner_staff": 1},
            )
        ]
        owned = any(raw["owner_id"] == ctx.actor.id for raw in ends)
        staff_may = ctx.serves_customers and all(can_see_raw(ctx, raw) for raw in ends)
        if not (owned or staff_may):
            raise not_found("transfer not found")
    return transfer_public(record, balance_after=None)
