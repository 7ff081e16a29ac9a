"""Tills and teller sessions: creating tills, opening a session, and closing a balanced one.

A till has at most one session not closed, and a teller at most one: both are enforced in
the opening transaction by a conditional update of the till (`session_id: null`) and a
check of the teller's sessions inside the same transaction.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from bson import Decimal128
from pymongo import ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.errors import DuplicateKeyError

from server.db import RetryTransaction
from server.documents.branch import OpenSession, TellerSession, Till
from server.documents.ledger import LedgerAccount
from server.errors import forbidden, not_found, refused
from server.services import audit, calendar
from server.services.audit import Action
from server.services.context import Ctx
from server.services.ledger.posting import dec
from server.services.tills.cash import open_session_of
from shared.errors import ErrorCode
from shared.schemas.common import now_ms

ZERO = Decimal("0.00")


def tills() -> Any:
    """Return the tills collection."""
    return Till.get_pymongo_collection()


def sessions() -> Any:
    """Return the teller sessions collection."""
    return TellerSession.get_pymongo_collection()


async def till_cash(till_id: int, session: AsyncClientSession | None = None) -> dict[str, Decimal]:
    """Return a till's cash per currency (currencies it never held are left out)."""
    cash: dict[str, Decimal] = {}
    cursor = LedgerAccount.get_pymongo_collection().find({"till_id": till_id}, session=session)
    async for account in cursor:
        cash[account["currency"]] = dec(account["balance"])
    return cash


async def till_seqs(till_id: int, session: AsyncClientSession | None = None) -> dict[str, int]:
    """Return each of a till's ledger accounts' leg count, by currency."""
    seqs: dict[str, int] = {}
    cursor = LedgerAccount.get_pymongo_collection().find({"till_id": till_id}, session=session)
    async for account in cursor:
        seqs[account["currency"]] = int(account.get("seq", 0))
    return seqs


async def create_till(
    ctx: Ctx, *, name: str, cash_limit: dict[str, Decimal] | None
) -> dict[str, Any]:
    """Create a till (supervisors and admins)."""

    async def body(session: AsyncClientSession) -> dict[str, Any]:
        till_id = await ctx.db.next_id("tills", session=session)
        doc = {"_id": till_id, "name": name, "status": "active", "session_id": None,
               "cash_limit": cash_limit, "created_at": now_ms()}  # fmt: skip
        stored = {**doc, "cash_limit": {k: Decimal128(v) for k, v in (cash_limit or {}).items()}
                  if cash_limit is not None else None}  # fmt: skip
        await tills().insert_one(stored, session=session)
        await audit.record(
            ctx, action=Action.TILL_CREATED, session=session, target_type="till",
            target_id=till_id, details={"name": name},
        )  # fmt: skip
        return stored

    result: dict[str, Any] = await ctx.db.transaction(body)
    return result


async def open_session_body(
    ctx: Ctx, session: AsyncClientSession, *, till_id: int, teller_id: int
) -> dict[str, Any]:
    """Open a session of `teller_id` on a till inside the caller's transaction."""
    till = await tills().find_one({"_id": till_id}, session=session)
    if till is None:
        raise not_found("till not found")
    if till.get("status") != "active":
        raise refused(ErrorCode.TILL_IN_USE, "the till is retired", till_id=till_id)
    if till.get("session_id") is not None:
        raise refused(ErrorCode.TILL_IN_USE, "the till has a session that is not closed",
                      till_id=till_id, session_id=till["session_id"])  # fmt: skip
    mine = await open_session_of(teller_id, session)
    if mine is not None:
        raise refused(ErrorCode.SESSION_OPEN, "you have a session open on another till",
                      session_id=mine["_id"], till_id=mine["till_id"])  # fmt: skip
    session_id = await ctx.db.next_id("teller_sessions", session=session)
    taken = await tills().find_one_and_update(
        {"_id": till_id, "session_id": None},
        {"$set": {"session_id": session_id}},
        return_document=ReturnDocument.AFTER,
        session=session,
    )
    if taken is None:
        raise RetryTransaction("the till was taken meanwhile")
    opening = await till_cash(till_id, session)
    doc = {
        "_id": session_id, "till_id": till_id, "teller_id": teller_id, "status": "open",
        "business_date": await calendar.posting_date(session), "opened_at": now_ms(),
        "closed_at": None, "opening": {k: Decimal128(v) for k, v in opening.items()},
        "counted": None, "denominations": None, "variance": None, "note": None,
        "approval_id": None, "over_limit": False, "counts": [],
        "start_seq": await till_seqs(till_id, session), "end_seq": None,
    }  # fmt: skip
    try:
        await OpenSession.get_pymongo_collection().insert_one(
            {"_id": teller_id, "session_id": session_id, "till_id": till_id}, session=session
        )
    except DuplicateKeyError as exc:  # the teller opened one elsewhere at the same moment
        raise RetryTransaction("the teller opened a session meanwhile") from exc
    await sessions().insert_one(doc, session=session)
    await audit.record(
        ctx, action=Action.SESSION_OPENED, session=session, target_type="session",
        target_id=session_id, details={"till_id": till_id, "teller_id": teller_id},
    )  # fmt: skip
    return doc


async def open_session(ctx: Ctx, *, till_id: int) -> dict[str, Any]:
    """Open the caller's session on a till."""
    assert ctx.actor is not None
    teller_id = ctx.actor.id
    result: dict[str, Any] = await ctx.db.transaction(
        lambda session: open_session_body(ctx, session, till_id=till_id, teller_id=teller_id)
    )
    return result


async def close_balanced_body(
    ctx: Ctx,
    session: AsyncClientSession,
    *,
    session_id: int,
    counted: dict[str, Decimal],
    note: str | None = None,
    denominations: dict[str, dict[str, int]] | None = None,
) -> dict[str, Any]:
    """Close a session whose count equals what the till holds, inside the caller's transaction."""
    current = await sessions().find_one({"_id": session_id}, session=session)
    if current is None:
        raise not_found("session not found")
    if ctx.actor is None or (current["teller_id"] != ctx.actor.id and not ctx.is_supervisor):
        raise forbidden("only the session's teller or a supervisor may close it")
    if current["status"] == "closed":
        raise refused(ErrorCode.SESSION_CLOSED, "the session is closed", session_id=session_id)
    if current["status"] == "closing":
        raise refused(ErrorCode.SESSION_CLOSING, "the session's count waits for approval",
                      session_id=session_id)  # fmt: skip
    expected = await till_cash(int(current["till_id"]), session)
    now = now_ms()
    sets = {
        "status": "closed", "closed_at": now,
        "counted": {k: Decimal128(v) for k, v in counted.items()},
        "expected_at_close": {k: Decimal128(v) for k, v in expected.items()},
        "variance": {k: Decimal128(ZERO) for k in set(expected) | set(counted)},
        "denominations": denominations, "note": note,
        "end_seq": await till_seqs(int(current["till_id"]), session),
    }  # fmt: skip
    closed = await sessions().find_one_and_update(
        {"_id": session_id, "status": "open"}, {"$set": sets},
        return_document=ReturnDocument.AFTER, session=session,
    )  # fmt: skip
    if closed is None:
        raise RetryTransaction("the session changed meanwhile")
    await tills().update_one(
        {"_id": current["till_id"], "session_id": session_id},
        {"$set": {"session_id": None}},
        session=session,
    )
    await OpenSession.get_pymongo_collection().delete_one(
        {"_id": current["teller_id"], "session_id": session_id}, session=session
    )
    await audit.record(
        ctx, action=Action.SESSION_CLOSED, session=session, target_type="session",
        target_id=session_id, details={"till_id": current["till_id"]},
    )  # fmt: skip
    return dict(closed)
