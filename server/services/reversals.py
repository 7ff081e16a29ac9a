"""Reversals: a customer movement undone whole and once by its mirror journal entry.

`POST /transactions/{id}/reverse` names one customer Transaction; its whole journal entry is
mirrored (every leg on the same account and the other side), except a till leg, which posts
on the till of the reverser's open session. Checks follow API.md "Rules across version 2":
404 → 403 `own_account` → 404 another staff member's account → 403 `force` for non-admins
→ 422 `not_reversible` → 409 `already_reversed` → 409 `account_not_active` (a closed
account; a frozen one may be reversed) → 409 session state and `no_open_session` → 409
`insufficient_funds` (balance − amount ≥ −overdraft_limit, holds ignored, unless an admin
forces it) → 409 `till_insufficient_cash` → 202 (approval `reversal`), except a teller's own
cash movement of their open session and of the same business date, reversed directly.

The reversal is dated the current business date; the original keeps its date and gains
`reversed_by` on its journal entry (the reversal's journal id) and on each of its customer
legs (the reversal Transaction on the same account): the only change an entry ever gets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pymongo import ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession

from server.db import RetryTransaction
from server.documents import User
from server.documents.ledger import JournalEntry, TransactionRef
from server.errors import forbidden, not_found, refused
from server.services import audit, calendar, holds_seam
from server.services.approvals.gate import ApprovalPending, Covered, gate
from server.services.audit import Action
from server.services.context import Ctx
from server.services.idempotency import Claim
from server.services.ledger import posting, store
from server.services.ledger.posting import LegSpec, Line, Posting, dec
from server.services.ledger.rules import CustomerAccount
from server.services.movements import approval_id_of, commit_or_refuse
from server.services.tills import cash as till_cash
from shared.errors import ErrorCode
from shared.money import format_money, to_cents_str
from shared.schemas.approvals import ApprovalAction
from shared.schemas.common import Role
from shared.schemas.ledger import JournalKind, Side
from shared.schemas.transactions import ReversalRequest, TransactionPublic, TransactionType

# Customer movements; reversals, over/short postings and vault or till cash moves are not.
REVERSIBLE = frozenset({JournalKind.DEPOSIT.value, JournalKind.WITHDRAWAL.value,
                        JournalKind.TRANSFER.value, JournalKind.MIGRATION.value})  # fmt: skip
CASH_KINDS = frozenset({JournalKind.DEPOSIT.value, JournalKind.WITHDRAWAL.value})
# The per-day counters a reversed movement of the open date gives back, by its line type.
GIVEN_BACK = {
    TransactionType.DEPOSIT.value: ("deposit",),
    TransactionType.WITHDRAWAL.value: ("out", "withdrawal"),
    TransactionType.TRANSFER_OUT.value: ("out", "transfer"),
}


def _mirror(side: str) -> Side:
    return Side.CREDIT if side == Side.DEBIT.value else Side.DEBIT


@dataclass
class Original:
    """The movement a reversal undoes, as this transaction read it."""

    transaction_id: int
    account_id: int  # the account of the Transaction named in the path
    journal: dict[str, Any]
    accounts: dict[str, CustomerAccount]  # every customer account of the entry, by number
    legs: dict[str, dict[str, Any]]  # their stored legs (Transactions), by number

    @property
    def account(self) -> CustomerAccount:
        """Return the account of the Transaction named in the path."""
        return next(a for a in self.accounts.values() if a.id == self.account_id)

    @property
    def leg(self) -> dict[str, Any]:
        """Return the stored leg of the Transaction named in the path."""
        return self.legs[self.account.number]

    @property
    def owners(self) -> frozenset[int]:
        """Return the owners of every customer account the entry touches."""
        return frozenset(account.owner_id for account in self.accounts.values())


async def read_original(
    session: AsyncClientSession, transaction_id: int, business_date: str
) -> Original:
    """Read a Transaction, its journal entry and every customer account of it, or 404."""
    ref = await TransactionRef.get_pymongo_collection().find_one(
        {"_id": transaction_id}, session=session
    )
    if ref is None:
        raise not_found("transaction not found")
    journal = await JournalEntry.get_pymongo_collection().find_one(
        {"_id": ref["journal_id"]}, session=session
    )
    if journal is None:  # a ref is written with its journal entry: never apart
        raise not_found("transaction not found")
    accounts: dict[str, CustomerAccount] = {}
    legs: dict[str, dict[str, Any]] = {}
    for line in journal.get("lines", []):
        account = await CustomerAccount.read(int(line["account_id"]), business_date, session)
        leg = await store.read_one(account.number, int(line["seq"]), session=session)
        if leg is None:
            raise not_found("transaction not found")
        accounts[account.number] = account
        legs[account.number] = leg
    return Original(transaction_id, int(ref["account_id"]), dict(journal), accounts, legs)


async def _check_visible(ctx: Ctx, session: AsyncClientSession, original: Original) -> None:
    """403 for the caller's own account; 404 for another staff member's, to non-admins."""
    assert ctx.actor is not None
    if ctx.actor.id in original.owners:
        raise refused(ErrorCode.OWN_ACCOUNT, "staff may not reverse a movement of their own")
    if ctx.is_admin:
        return
    others = sorted(original.owners - {ctx.actor.id})
    staff = await User.get_pymongo_collection().count_documents(
        {"_id": {"$in": others}, "role": {"$ne": Role.USER.value}}, session=session
    )
    if staff:
        raise not_found("transaction not found")


def _check_state(original: Original) -> None:
    """422 `not_reversible`, 409 `already_reversed`, 409 `account_not_active` (closed)."""
    journal = original.journal
    if journal["kind"] not in REVERSIBLE or original.leg.get("type") == "reversal":
        raise refused(
            ErrorCode.NOT_REVERSIBLE,
            f"a {journal['kind'].replace('_', ' ')} entry is not reversible: post the opposite "
            "movement with a reference naming it",
            transaction_id=original.transaction_id, kind=journal["kind"],
        )  # fmt: skip
    if journal.get("reversed_by") is not None:
        raise refused(
            ErrorCode.ALREADY_REVERSED, "this movement has been reversed already",
            transaction_id=original.transaction_id,
            reversed_by=original.leg.get("reversed_by"),
        )  # fmt: skip
    for account in original.accounts.values():
        account.require_active(allow_frozen=True)


def _is_direct(ctx: Ctx, original: Original, current: dict[str, Any] | None, today: str) -> bool:
    """Tell whether staff may reverse this without approval: their own cash, session and day."""
    journal = original.journal
    return (
        journal["kind"] in CASH_KINDS
        and current is not None
        and journal.get("session_id") == current["_id"]
        and journal.get("performed_by") == ctx.actor_id
        and journal.get("business_date") == today
    )


def _description(original: Original, data: ReversalRequest) -> str:
    text = f"Reversal of transaction {original.transaction_id} ({data.reason_code.value})"
    return f"{text}: {data.note}" if data.note else text


async def reversal_body(
    ctx: Ctx, session: AsyncClientSession, transaction_id: int, data: ReversalRequest
) -> TransactionPublic | ApprovalPending:
    """Check and post the reversal of a movement in the caller's transaction (or ask approval)."""
    if ctx.actor is None or not ctx.is_staff:
        raise forbidden("only staff reverse movements")
    today = await calendar.posting_date(session)
    original = await read_original(session, transaction_id, today)
    await _check_visible(ctx, session, original)
    if data.force and not ctx.is_admin:
        raise forbidden("only an admin may force a reversal below the overdraft limit")
    _check_state(original)
    journal = original.journal
    till: till_cash.TillSide | None = None
    current: dict[str, Any] | None = None
    till_legs = [leg for leg in journal["legs"] if leg["account"].startswith("till:")]
    if till_legs:
        session_id = ctx.approval.get("session_id") if ctx.approval is not None else None
        current = await till_cash.session_for_cash(ctx.actor.id, session, session_id=session_id)
        till = await till_cash.TillSide.read(current, till_legs[0]["currency"], session)
    elif journal["kind"] in CASH_KINDS:
        current = await till_cash.open_session_of(ctx.actor.id, session)
    for leg in journal["legs"]:
        account = original.accounts.get(leg["account"])
        if account is not None and leg["side"] == Side.CREDIT.value and not data.force:
            account.require_available(dec(leg["amount"]), ignore_holds=True)
    for leg in till_legs:
        if leg["side"] == Side.DEBIT.value and till is not None:  # the till pays cash back
            till.require_cash(dec(leg["amount"]), blind=True)
    amount = dec(original.leg["amount"])
    account = original.account
    if data.force or not _is_direct(ctx, original, current, today):
        pending = await gate(ctx, session, Covered(
            action=ApprovalAction.REVERSAL, only_through_approval=True, amount=amount,
            currency=account.currency, account_id=account.id,
            account_ids=frozenset(a.id for a in original.accounts.values()),
            session_id=int(current["_id"]) if till is not None and current else None,
            touches_users=original.owners,
            summary=f"Reverse {str(original.leg.get('type', '')).replace('_', ' ')} "
                    f"{transaction_id} of {format_money(amount, account.currency)} on "
                    f"{account.number}{' (forced)' if data.force else ''}",
        ))  # fmt: skip
        if pending is not None:
            return pending
    return await _post(ctx, session, original, data, till=till, current=current, today=today)


async def _post(
    ctx: Ctx,
    session: AsyncClientSession,
    original: Original,
    data: ReversalRequest,
    *,
    till: till_cash.TillSide | None,
    current: dict[str, Any] | None,
    today: str,
) -> TransactionPublic:
    journal = original.journal
    description = _description(original, data)
    same_day = journal.get("business_date") == today and journal["kind"] != "migration"
    legs: list[LegSpec] = []
    named = original.account.number
    # The named Transaction's mirror first: the reversal's first line is its answer.
    for leg in sorted(journal["legs"], key=lambda leg: leg["account"] != named):
        side, amount = _mirror(leg["side"]), dec(leg["amount"])
        account = original.accounts.get(leg["account"])
        if account is not None:
            stored = original.legs[account.number]
            give_back = GIVEN_BACK.get(str(stored.get("type")), ()) if same_day else ()
            line = Line(
                type=TransactionType.REVERSAL, description=description,
                transfer_id=stored.get("transfer_id"),
                counterparty_number=stored.get("counterparty_number"),
                reverses_id=int(stored["transaction_id"]), forced=data.force,
            )  # fmt: skip
            legs.append(account.leg(side, amount, line,
                                    counters={name: -amount for name in give_back}))  # fmt: skip
        elif leg["account"].startswith("till:"):
            assert till is not None
            legs.append(till.leg(side, amount))
        else:
            legs.append(LegSpec(leg["account"], side, amount, leg["currency"]))
    posted = await posting.post(ctx, session, Posting(
        kind=JournalKind.REVERSAL, legs=legs, business_date=today, performed_by=ctx.actor_id,
        session_id=int(current["_id"]) if till is not None and current else None,
        approval_id=approval_id_of(ctx), reverses_id=int(journal["_id"]),
        description=description, reference=f"transaction {original.transaction_id}",
        transfer_id=journal.get("transfer_id"),
    ))  # fmt: skip
    marked = await JournalEntry.get_pymongo_collection().find_one_and_update(
        {"_id": journal["_id"], "reversed_by": None},
        {"$set": {"reversed_by": posted.journal["_id"]}},
        return_document=ReturnDocument.AFTER, session=session,
    )  # fmt: skip
    if marked is None:
        raise RetryTransaction("the movement was reversed meanwhile")
    by_account = {entry.account_id: entry for entry in posted.transactions}
    for number, account in original.accounts.items():
        reversal = by_account[account.id]
        await store.mark_reversed(session, number, int(original.legs[number]["seq"]), reversal.id)
    if till is not None and current is not None:
        till_leg = next(leg for leg in legs if leg.code == till.code)
        cash_in = till_leg.side is Side.DEBIT  # a reversed withdrawal brings cash back
        if cash_in and not current.get("over_limit") and till.over_limit_after(till_leg.amount):
            await till_cash.flag_over_limit(int(current["_id"]), session)
    reversed_ids = [int(leg["transaction_id"]) for leg in original.legs.values()]
    await release_holds_of_reversed(ctx, session, reversed_ids)
    entry = by_account[original.account_id]
    await audit.record(
        ctx, action=Action.MONEY_REVERSAL, session=session, target_type="account",
        target_id=original.account_id, business_date=today,
        details={"transaction_id": entry.id, "reverses_id": original.transaction_id,
                 "journal_id": entry.journal_id, "reverses_journal_id": int(journal["_id"]),
                 "amount": to_cents_str(entry.amount), "currency": original.account.currency,
                 "reason_code": data.reason_code.value, "note": data.note,
                 "forced": data.force, "session_id": entry.session_id,
                 "balance_after": to_cents_str(entry.balance_after)},
    )  # fmt: skip
    return entry


async def release_holds_of_reversed(
    ctx: Ctx, session: AsyncClientSession, transaction_ids: list[int]
) -> int:
    """Release, in the reversal's transaction, the active holds naming a reversed Transaction.

    The hook into holds (server/services/holds_seam.py): after the posting, as the
    reversal's legs guard on the accounts' `held`.
    """
    return await holds_seam.release_for_reversal(ctx, session, transaction_ids)


async def reverse(
    ctx: Ctx, transaction_id: int, data: ReversalRequest, *, claim: Claim | None = None
) -> TransactionPublic | ApprovalPending:
    """Reverse a movement in one transaction; a refusal (409) is audited and stored."""

    async def body(session: AsyncClientSession) -> TransactionPublic | ApprovalPending:
        result = await reversal_body(ctx, session, transaction_id, data)
        if claim is not None:
            await claim.complete(session, result)
        return result

    return await commit_or_refuse(
        ctx, body, action=Action.MONEY_REVERSAL, target_type="transaction",
        target_id=transaction_id,
        details={"reason_code": data.reason_code.value, "force": data.force}, claim=claim,
    )  # fmt: skip


__all__ = ["REVERSIBLE", "release_holds_of_reversed", "reversal_body", "reverse"]
