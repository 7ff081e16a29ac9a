"""Posting: one journal entry, balanced per currency, written inside the caller's transaction.

Every movement of money goes through `post`: a route, an approval's execution, the
end-of-day close and the migration alike, so every invariant holds whoever asks.
The caller has read the accounts and checked the rules in the contract's order; `post`
applies each leg as a conditional update whose filter (`LegSpec.guard`) repeats what the
caller relied on, so a concurrent change makes the update miss and the whole transaction
start over (`RetryTransaction`) instead of breaking a rule.

Per leg: the account's stored balance, debits, credits and leg count change together
(customer accounts on their `Account` document, the bank's own on `LedgerAccount`), the
leg is appended to its account's pages, and a customer leg gets its Transaction id and a
`TransactionRef`. Then the day's totals and the journal entry itself are written.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from bson import Decimal128
from pymongo import ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession

from server.db import RetryTransaction
from server.documents import Account
from server.documents.ledger import DailyTotals, JournalEntry, LedgerAccount, TransactionRef
from server.services.context import Ctx
from server.services.ledger import codes, store
from shared.schemas.common import now_ms
from shared.schemas.ledger import JournalKind, LedgerKind, Side
from shared.schemas.transactions import Direction, TransactionPublic, TransactionType


def dec(value: Any) -> Decimal:
    """Return a stored money value as Decimal."""
    if isinstance(value, Decimal128):
        return value.to_decimal()
    return Decimal(value if value is not None else 0)


@dataclass(frozen=True)
class Line:
    """The customer Transaction a customer leg makes (what history and statements show)."""

    type: TransactionType
    description: str | None = None
    transfer_id: int | None = None
    counterparty_number: str | None = None
    reverses_id: int | None = None
    forced: bool = False
    id: int | None = None  # the migration keeps version 1 ids


@dataclass
class LegSpec:
    """One leg to post: which account, which side, how much; and what it guards."""

    code: str
    side: Side
    amount: Decimal
    currency: str
    account_id: int | None = None  # a customer account (its number is `code`)
    line: Line | None = None
    guard: dict[str, Any] = field(default_factory=dict)
    account_sets: dict[str, Any] = field(default_factory=dict)
    account_incs: dict[str, Any] = field(default_factory=dict)
    till_id: int | None = None
    till_name: str | None = None
    upsert: bool = True  # an internal account may be created by this leg


@dataclass
class Posting:
    """A journal entry to post."""

    kind: JournalKind
    legs: list[LegSpec]
    business_date: str
    performed_by: int | None
    session_id: int | None = None
    approval_id: int | None = None
    reverses_id: int | None = None
    description: str | None = None
    reference: str | None = None
    transfer_id: int | None = None
    source: str | None = None
    at: datetime | None = None
    count_in_totals: bool = True
    totals_kind: str | None = None  # counted under another kind (the migration's originals)


@dataclass
class Posted:
    """What a posting wrote."""

    journal: dict[str, Any]
    transactions: list[TransactionPublic]
    balances: dict[str, Decimal]  # code -> balance after, in the kind's normal direction
    seqs: dict[str, int]  # code -> the leg's seq


class Unbalanced(ValueError):
    """A posting whose debits and credits differ in some currency (a programming error)."""


def check_balanced(legs: list[LegSpec]) -> dict[str, Decimal]:
    """Return the debit total per currency; raise Unbalanced when any currency differs."""
    debits: dict[str, Decimal] = defaultdict(Decimal)
    credits: dict[str, Decimal] = defaultdict(Decimal)
    for leg in legs:
        if leg.amount <= 0:
            raise Unbalanced(f"a leg of {leg.amount} on {leg.code}")
        (debits if leg.side is Side.DEBIT else credits)[leg.currency] += leg.amount
    for currency in set(debits) | set(credits):
        if debits[currency] != credits[currency]:
            raise Unbalanced(
                f"{currency}: debits {debits[currency]} != credits {credits[currency]}"
            )
    return dict(debits)


async def _apply_customer(
    session: AsyncClientSession, leg: LegSpec, now: datetime
) -> dict[str, Any]:
    delta = codes.signed(LedgerKind.LIABILITY, leg.side, leg.amount)
    side_total = "debits" if leg.side is Side.DEBIT else "credits"
    incs: dict[str, Any] = {
        "balance": Decimal128(delta),
        side_total: Decimal128(leg.amount),
        "entry_seq": 1,
    }
    incs.update({key: Decimal128(value) for key, value in leg.account_incs.items()})
    updated = await Account.get_pymongo_collection().find_one_and_update(
        {"_id": leg.account_id, **leg.guard},
        {"$inc": incs, "$set": {"updated_at": now, **leg.account_sets}},
        return_document=ReturnDocument.AFTER,
        session=session,
    )
    if updated is None:
        raise RetryTransaction(f"account {leg.account_id} changed during the posting")
    return dict(updated)


async def _apply_internal(
    session: AsyncClientSession, leg: LegSpec, now: datetime
) -> dict[str, Any]:
    kind = codes.kind_of(leg.code)
    side_total = "debits" if leg.side is Side.DEBIT else "credits"
    update: dict[str, Any] = {
        "$inc": {
            "balance": Decimal128(codes.signed(kind, leg.side, leg.amount)),
            side_total: Decimal128(leg.amount),
            "seq": 1,
        },
    }
    if leg.upsert:
        update["$setOnInsert"] = {
            "kind": kind.value,
            "name": codes.name_of(leg.code, leg.till_name),
            "currency": leg.currency,
            "till_id": leg.till_id,
            "created_at": now,
        }
    updated = await LedgerAccount.get_pymongo_collection().find_one_and_update(
        {"_id": leg.code, **leg.guard},
        update,
        upsert=leg.upsert,
        return_document=ReturnDocument.AFTER,
        session=session,
    )
    if updated is None:
        raise RetryTransaction(f"ledger account {leg.code} changed during the posting")
    return dict(updated)


def _direction(side: Side) -> Direction:
    # A customer account is a liability: a credit raises its balance.
    return Direction.CREDIT if side is Side.CREDIT else Direction.DEBIT


async def post(ctx: Ctx, session: AsyncClientSession, posting: Posting) -> Posted:
    """Write one journal entry and everything that belongs to it, in the caller's transaction."""
    totals = check_balanced(posting.legs)
    now = posting.at or now_ms()
    journal_id = await ctx.db.next_id("journal", session=session)
    balances: dict[str, Decimal] = {}
    seqs: dict[str, int] = {}
    transactions: list[TransactionPublic] = []
    lines: list[dict[str, Any]] = []
    pending_legs: list[tuple[str, dict[str, Any]]] = []
    for leg in posting.legs:
        record: dict[str, Any] = {
            "journal_id": journal_id,
            "kind": posting.kind.value,
            "side": leg.side.value,
            "amount": Decimal128(leg.amount),
            "currency": leg.currency,
            "business_date": posting.business_date,
            "created_at": now,
            "description": posting.description,
            "session_id": posting.session_id,
            "transaction_id": None,
        }
        if leg.account_id is not None:
            updated = await _apply_customer(session, leg, now)
            seq = int(updated["entry_seq"])
            balance = dec(updated["balance"])
            line = leg.line or Line(type=TransactionType.DEPOSIT)
            txn_id = line.id or await ctx.db.next_id("transactions", session=session)
            record.update({
                "seq": seq, "balance_after": Decimal128(balance), "transaction_id": txn_id,
                "type": line.type.value, "direction": _direction(leg.side).value,
                "description": line.description, "transfer_id": line.transfer_id,
                "counterparty_number": line.counterparty_number,
                "performed_by": posting.performed_by, "approval_id": posting.approval_id,
                "reverses_id": line.reverses_id, "reversed_by": None, "forced": line.forced,
                "account_id": leg.account_id,
            })  # fmt: skip
            await TransactionRef.get_pymongo_collection().insert_one(
                {"_id": txn_id, "account_id": leg.account_id, "code": leg.code, "seq": seq,
                 "journal_id": journal_id},
                session=session,
            )  # fmt: skip
            lines.append({"id": txn_id, "account_id": leg.account_id, "seq": seq})
            transactions.append(transaction_public(record))
        else:
            updated = await _apply_internal(session, leg, now)
            seq = int(updated["seq"])
            balance = dec(updated["balance"])
            record.update({"seq": seq, "balance_after": Decimal128(balance)})
        balances[leg.code] = balance
        seqs[leg.code] = seq
        pending_legs.append((leg.code, record))
    first_txn = lines[0]["id"] if lines else None
    for code, record in pending_legs:
        if record["transaction_id"] is None:
            record["transaction_id"] = first_txn
        await store.append(session, code, record)
    if posting.count_in_totals:
        incs: dict[str, Any] = {}
        counted_as = posting.totals_kind or posting.kind.value
        for currency, amount in totals.items():
            incs[f"totals.{counted_as}.{currency}.count"] = 1
            incs[f"totals.{counted_as}.{currency}.sum"] = Decimal128(amount)
        await DailyTotals.get_pymongo_collection().update_one(
            {"_id": posting.business_date}, {"$inc": incs}, upsert=True, session=session
        )
    journal = {
        "_id": journal_id,
        "kind": posting.kind.value,
        "business_date": posting.business_date,
        "created_at": now,
        "performed_by": posting.performed_by,
        "approval_id": posting.approval_id,
        "session_id": posting.session_id,
        "legs": [
            {"account": leg.code, "side": leg.side.value, "amount": Decimal128(leg.amount),
             "currency": leg.currency}
            for leg in posting.legs
        ],
        "reverses_id": posting.reverses_id,
        "reversed_by": None,
        "description": posting.description,
        "reference": posting.reference,
        "transfer_id": posting.transfer_id,
        "lines": lines,
    }  # fmt: skip
    if posting.source is not None:
        journal["source"] = posting.source
    await JournalEntry.get_pymongo_collection().insert_one(journal, session=session)
    return Posted(journal=journal, transactions=transactions, balances=balances, seqs=seqs)


def transaction_public(leg: dict[str, Any]) -> TransactionPublic:
    """Return the API view of a customer leg."""
    return TransactionPublic(
        id=int(leg["transaction_id"]),
        account_id=int(leg["account_id"]),
        type=TransactionType(leg["type"]),
        direction=Direction(leg["direction"]),
        amount=dec(leg["amount"]),
        balance_after=dec(leg["balance_after"]),
        description=leg.get("description"),
        transfer_id=leg.get("transfer_id"),
        counterparty_number=leg.get("counterparty_number"),
        performed_by=leg.get("performed_by"),
        created_at=leg["created_at"],
        business_date=leg["business_date"],
        journal_id=int(leg["journal_id"]),
        session_id=leg.get("session_id"),
        approval_id=leg.get("approval_id"),
        reversed_by=leg.get("reversed_by"),
        reverses_id=leg.get("reverses_id"),
        forced=bool(leg.get("forced", False)),
    )
