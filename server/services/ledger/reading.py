"""Reading the ledger: its accounts, an account's legs, a journal entry, the trial balance."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from enum import StrEnum
from typing import Any

from server.documents import Account
from server.documents.ledger import JournalEntry, LedgerAccount
from server.errors import not_found
from server.services.ledger import codes, store
from server.services.ledger.posting import dec
from server.services.views import ListParams
from shared.schemas.common import Page, SortOrder
from shared.schemas.ledger import (
    JournalKind,
    JournalLeg,
    JournalPublic,
    LedgerAccountPublic,
    LedgerKind,
    LegPublic,
    Side,
    TrialBalance,
    TrialBalanceCurrency,
    TrialBalanceLine,
)

ZERO = Decimal("0.00")


class LegSort(StrEnum):
    """Legs are in their account's order (`id` is the leg's position)."""

    ID = "id"


def _internal_public(raw: dict[str, Any]) -> LedgerAccountPublic:
    return LedgerAccountPublic(
        code=raw["_id"], kind=LedgerKind(raw["kind"]), name=raw["name"],
        currency=raw["currency"], balance=dec(raw["balance"]), debits=dec(raw.get("debits")),
        credits=dec(raw.get("credits")),
    )  # fmt: skip


def _customer_public(raw: dict[str, Any]) -> LedgerAccountPublic:
    return LedgerAccountPublic(
        code=raw["number"], kind=LedgerKind.LIABILITY,
        name=f"{raw.get('owner_name', '')} ({raw['account_type']})", currency=raw["currency"],
        balance=dec(raw["balance"]), debits=dec(raw.get("debits")),
        credits=dec(raw.get("credits")),
    )  # fmt: skip


async def list_accounts(
    params: ListParams, *, kind: LedgerKind | None
) -> Page[LedgerAccountPublic]:
    """Page through the ledger's accounts: customer accounts (by number), then the bank's own."""
    direction = 1 if params.order is SortOrder.ASC else -1
    customers = Account.get_pymongo_collection()
    internal = LedgerAccount.get_pymongo_collection()
    internal_query: dict[str, Any] = {} if kind is None else {"kind": kind.value}
    n_customers = await customers.count_documents({}) if kind in (None, LedgerKind.LIABILITY) else 0
    n_internal = (
        0 if kind is LedgerKind.LIABILITY else await internal.count_documents(internal_query)
    )
    total = n_customers + n_internal
    items: list[LedgerAccountPublic] = []
    # Customers' numbers (digits) sort before the bank's codes (letters): one ordered list.
    parts = [("customers", n_customers), ("internal", n_internal)]
    if direction == -1:
        parts.reverse()
    skip, left = params.skip, params.limit
    for part, size in parts:
        if left <= 0:
            break
        if skip >= size:
            skip -= size
            continue
        if part == "customers":
            cursor = customers.find({}).sort("number", direction).skip(skip).limit(left)
            items += [_customer_public(raw) async for raw in cursor]
        else:
            cursor = internal.find(internal_query).sort("_id", direction).skip(skip).limit(left)
            items += [_internal_public(raw) async for raw in cursor]
        left = params.limit - len(items)
        skip = 0
    return Page[LedgerAccountPublic](items=items, total=total, skip=params.skip, limit=params.limit)


async def _leg_count(code: str) -> int:
    if codes.is_internal(code):
        raw = await LedgerAccount.get_pymongo_collection().find_one({"_id": code})
        if raw is None:
            raise not_found("no ledger account has this code")
        return int(raw.get("seq", 0))
    raw = await Account.get_pymongo_collection().find_one({"number": code})
    if raw is None:
        raise not_found("no ledger account has this code")
    return int(raw.get("entry_seq", 0))


def leg_public(leg: dict[str, Any]) -> LegPublic:
    """Return the API view of one leg."""
    return LegPublic(
        journal_id=int(leg["journal_id"]), side=Side(leg["side"]), amount=dec(leg["amount"]),
        balance_after=dec(leg["balance_after"]), business_date=leg["business_date"],
        created_at=leg["created_at"], description=leg.get("description"),
        transaction_id=leg.get("transaction_id"),
    )  # fmt: skip


async def entries(code: str, params: ListParams) -> Page[LegPublic]:
    """Page through one ledger account's legs (oldest first by default), read by position."""
    count = await _leg_count(code)
    if params.order is SortOrder.ASC:
        first = params.skip + 1
        rows = await store.read(code, first, min(count, first + params.limit - 1))
    else:
        top = count - params.skip
        rows = list(reversed(await store.read(code, max(1, top - params.limit + 1), top)))
    return Page[LegPublic](
        items=[leg_public(leg) for leg in rows], total=count, skip=params.skip,
        limit=params.limit,
    )  # fmt: skip


def journal_public(raw: dict[str, Any]) -> JournalPublic:
    """Return the API view of a journal entry."""
    return JournalPublic(
        id=int(raw["_id"]), kind=JournalKind(raw["kind"]), business_date=raw["business_date"],
        created_at=raw["created_at"], performed_by=raw.get("performed_by"),
        approval_id=raw.get("approval_id"), session_id=raw.get("session_id"),
        legs=[JournalLeg(account=leg["account"], side=Side(leg["side"]),
                         amount=dec(leg["amount"]), currency=leg["currency"])
              for leg in raw["legs"]],
        reverses_id=raw.get("reverses_id"), reversed_by=raw.get("reversed_by"),
        description=raw.get("description"), reference=raw.get("reference"),
    )  # fmt: skip


async def journal(journal_id: int) -> JournalPublic:
    """Return one journal entry."""
    raw = await JournalEntry.get_pymongo_collection().find_one({"_id": journal_id})
    if raw is None:
        raise not_found("journal entry not found")
    return journal_public(raw)


def _assemble(
    internal: list[tuple[str, LedgerKind, Decimal, Decimal, str]],
    customers: dict[str, tuple[Decimal, Decimal, int]],
) -> TrialBalance:
    """Build the trial balance from (code, kind, debits, credits, currency) and customer sums."""
    debits: dict[str, Decimal] = defaultdict(Decimal)
    credits: dict[str, Decimal] = defaultdict(Decimal)
    lines: dict[str, list[TrialBalanceLine]] = defaultdict(list)
    for currency, (dr, cr, count) in sorted(customers.items()):
        debits[currency] += dr
        credits[currency] += cr
        lines[currency].append(TrialBalanceLine(
            account=f"customers:{currency}", kind=LedgerKind.LIABILITY, balance=cr - dr,
            count=count,
        ))  # fmt: skip
    for code, kind, dr, cr, currency in sorted(internal):
        debits[currency] += dr
        credits[currency] += cr
        balance = dr - cr if codes.debit_normal(kind) else cr - dr
        lines[currency].append(TrialBalanceLine(account=code, kind=kind, balance=balance))
    return {
        currency: TrialBalanceCurrency(
            debits=debits[currency],
            credits=credits[currency],
            balanced=debits[currency] == credits[currency],
            accounts=lines[currency],
        )
        for currency in sorted(lines)
    }


async def current_trial_balance() -> TrialBalance:
    """Return the trial balance now, from the stored totals of every account."""
    internal = [
        (raw["_id"], LedgerKind(raw["kind"]), dec(raw.get("debits")), dec(raw.get("credits")),
         raw["currency"])
        async for raw in LedgerAccount.get_pymongo_collection().find({})
    ]  # fmt: skip
    customers: dict[str, tuple[Decimal, Decimal, int]] = {}
    pipeline = [{"$group": {"_id": "$currency", "debits": {"$sum": "$debits"},
                            "credits": {"$sum": "$credits"}, "count": {"$sum": 1}}}]  # fmt: skip
    async for row in await Account.get_pymongo_collection().aggregate(pipeline):
        customers[row["_id"]] = (dec(row["debits"]), dec(row["credits"]), int(row["count"]))
    return _assemble(internal, customers)


async def trial_balance_from_journal(up_to: str) -> TrialBalance:
    """Recompute the trial balance as of the end of a business date from the journal's legs."""
    sums: dict[str, list[Decimal]] = defaultdict(lambda: [ZERO, ZERO])
    currencies: dict[str, str] = {}
    cursor = JournalEntry.get_pymongo_collection().find(
        {"business_date": {"$lte": up_to}}, projection={"legs": 1}
    )
    async for raw in cursor:
        for leg in raw["legs"]:
            pair = sums[leg["account"]]
            pair[0 if leg["side"] == Side.DEBIT.value else 1] += dec(leg["amount"])
            currencies[leg["account"]] = leg["currency"]
    internal = []
    customers: dict[str, tuple[Decimal, Decimal, int]] = {}
    counts: dict[str, int] = defaultdict(int)
    async for raw in Account.get_pymongo_collection().find({}, projection={"currency": 1}):
        counts[raw["currency"]] += 1
    for code, (dr, cr) in sums.items():
        currency = currencies[code]
        if codes.is_internal(code):
            internal.append((code, codes.kind_of(code), dr, cr, currency))
        else:
            old = customers.get(currency, (ZERO, ZERO, counts[currency]))
            customers[currency] = (old[0] + dr, old[1] + cr, counts[currency])
    return _assemble(internal, customers)
