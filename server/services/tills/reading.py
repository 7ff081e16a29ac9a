"""Reading sessions: the session list and a session's journal (the till's legs in it).

A session stores the till's leg count per currency at opening (`start_seq`) and at closing
(`end_seq`); its journal is the till's legs between the two, read by position through the
ledger's leg pages (never by scanning). While the session is not closed its own teller
gets every `till_balance_after` as null (blind balancing).
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

from server.documents.ledger import LedgerAccount
from server.errors import not_found
from server.services.context import Ctx
from server.services.ledger import codes, store
from server.services.ledger.posting import dec
from server.services.tills.sessions import sessions, tills
from server.services.tills.views import session_public, till_public
from server.services.views import ListParams
from shared.schemas.common import Page, SortOrder
from shared.schemas.tills import SessionLine, SessionPublic, SessionStatus, TillPublic


async def _cash_of_tills(till_ids: list[int]) -> dict[int, dict[str, Decimal]]:
    cash: dict[int, dict[str, Decimal]] = defaultdict(dict)
    if till_ids:
        cursor = LedgerAccount.get_pymongo_collection().find({"till_id": {"$in": till_ids}})
        async for account in cursor:
            cash[int(account["till_id"])][account["currency"]] = dec(account["balance"])
    return cash


async def list_tills(ctx: Ctx, params: ListParams) -> Page[TillPublic]:
    """List the tills with their cash (one read) and their running sessions."""
    total = await tills().count_documents({})
    cursor = tills().find({}).sort(params.mongo_sort()).skip(params.skip).limit(params.limit)
    docs = [dict(till) async for till in cursor]
    cash = await _cash_of_tills([int(till["_id"]) for till in docs])
    # One read by `_id` per running session: a branch runs a few (an `$in` scans on mongoeco).
    current: dict[int, dict[str, Any]] = {}
    for till in docs:
        if till.get("session_id") is not None:
            found = await sessions().find_one({"_id": till["session_id"]})
            if found is not None:
                current[int(found["_id"])] = dict(found)
    items = [
        till_public(ctx, till, cash.get(int(till["_id"]), {}),
                    current.get(int(till["session_id"])) if till.get("session_id") else None)
        for till in docs
    ]  # fmt: skip
    return Page[TillPublic](items=items, total=total, skip=params.skip, limit=params.limit)


async def list_sessions(
    ctx: Ctx,
    params: ListParams,
    *,
    status: SessionStatus | None = None,
    teller_id: int | None = None,
    till_id: int | None = None,
    business_date: str | None = None,
) -> Page[SessionPublic]:
    """List sessions, newest first by default: all for supervisors, a teller's own for them."""
    query: dict[str, Any] = {}
    if not ctx.is_supervisor:
        if teller_id is not None and teller_id != ctx.actor_id:
            return Page[SessionPublic](items=[], total=0, skip=params.skip, limit=params.limit)
        teller_id = ctx.actor_id
    for field, value in (("status", status.value if status else None), ("teller_id", teller_id),
                         ("till_id", till_id), ("business_date", business_date)):  # fmt: skip
        if value is not None:
            query[field] = value
    total = await sessions().count_documents(query)
    cursor = sessions().find(query).sort(params.mongo_sort()).skip(params.skip)
    docs = [dict(doc) async for doc in cursor.limit(params.limit)]
    running = sorted({int(d["till_id"]) for d in docs if d["status"] != "closed"})
    cash = await _cash_of_tills(running)
    items = [session_public(ctx, doc, cash.get(int(doc["till_id"]), {})) for doc in docs]
    return Page[SessionPublic](items=items, total=total, skip=params.skip, limit=params.limit)


async def readable_session(ctx: Ctx, session_id: int) -> dict[str, Any]:
    """Return a session to its teller, a supervisor or an admin; 404 to anyone else."""
    doc = await sessions().find_one({"_id": session_id})
    if doc is None or not (ctx.is_supervisor or doc["teller_id"] == ctx.actor_id):
        raise not_found("session not found")
    return dict(doc)


async def _ranges(doc: dict[str, Any]) -> dict[str, tuple[int, int]]:
    """Return, per currency, the first and last position of the till's legs in the session."""
    start: dict[str, int] = doc.get("start_seq") or {}
    end: dict[str, int] | None = doc.get("end_seq")
    if end is None:  # not closed: up to the till's legs now
        end = {}
        cursor = LedgerAccount.get_pymongo_collection().find({"till_id": int(doc["till_id"])})
        async for account in cursor:
            end[account["currency"]] = int(account.get("seq", 0))
    return {c: (start.get(c, 0) + 1, last) for c, last in end.items() if last > start.get(c, 0)}


def _line(leg: dict[str, Any], currency: str, blind: bool) -> SessionLine:
    return SessionLine(
        journal_id=int(leg["journal_id"]), kind=str(leg.get("kind", "")), side=leg["side"],
        amount=dec(leg["amount"]), currency=currency,
        till_balance_after=None if blind else dec(leg["balance_after"]),
        business_date=leg["business_date"], created_at=leg["created_at"],
        description=leg.get("description"), transaction_id=leg.get("transaction_id"),
    )  # fmt: skip


async def session_journal(ctx: Ctx, session_id: int, params: ListParams) -> Page[SessionLine]:
    """Page through the till's legs in a session, oldest first by default, read by position."""
    doc = await readable_session(ctx, session_id)
    blind = doc["status"] != "closed" and doc["teller_id"] == ctx.actor_id
    ranges = await _ranges(doc)
    total = sum(last - first + 1 for first, last in ranges.values())
    # A page of the merged currencies needs at most skip + limit legs of each.
    wanted = params.skip + params.limit
    ascending = params.order is SortOrder.ASC
    rows: list[tuple[int, str, dict[str, Any]]] = []
    for currency, (first, last) in ranges.items():
        if ascending:
            low, high = first, min(last, first + wanted - 1)
        else:
            low, high = max(first, last - wanted + 1), last
        code = codes.till(int(doc["till_id"]), currency)
        legs = await store.read(code, low, high)
        rows += [(int(leg["journal_id"]), currency, leg) for leg in legs]
    rows.sort(key=lambda row: (row[0], row[1]), reverse=not ascending)
    page = rows[params.skip : params.skip + params.limit]
    items = [_line(leg, currency, blind) for _journal, currency, leg in page]
    return Page[SessionLine](items=items, total=total, skip=params.skip, limit=params.limit)
