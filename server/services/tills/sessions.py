"""Tills and opening teller sessions: creating and changing tills, opening a session.

A till has at most one session not closed, and a teller at most one: both are enforced in
the opening transaction by a conditional update of the till (`session_id: null`) and a
check of the teller's sessions inside the same transaction. A teller may open with a count
of the till; one that differs from the till's cash waits for approval `till.variance`,
whose execution posts the difference to over/short and then opens the session, so that
`opening` is what the teller counted. Closing is in `closing.py`.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pymongo import ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.errors import DuplicateKeyError

from server.db import RetryTransaction
from server.documents.branch import ApprovalDoc, OpenSession, TellerSession, Till
from server.documents.ledger import LedgerAccount
from server.errors import invalid_field, not_found, refused
from server.services import audit, calendar
from server.services.approvals.gate import ApprovalPending, Covered, executing, gate
from server.services.audit import Action
from server.services.context import Ctx
from server.services.ledger.posting import dec
from server.services.tills import counts
from server.services.tills.cash import open_session_of
from server.services.tills.vault import require_currency
from server.services.tills.views import session_public, till_public
from shared.errors import ErrorCode
from shared.schemas.approvals import ApprovalAction
from shared.schemas.common import now_ms
from shared.schemas.tills import SessionOpen, SessionPublic, TillPublic, TillStatus, TillUpdate

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


async def till_view(
    ctx: Ctx, till: dict[str, Any], session: AsyncClientSession | None = None
) -> TillPublic:
    """Return a till as the caller may see it (read in the caller's transaction, if any)."""
    current = None
    if till.get("session_id") is not None:
        current = await sessions().find_one({"_id": till["session_id"]}, session=session)
    return till_public(ctx, till, await till_cash(int(till["_id"]), session), current)


def _check_limits(cash_limit: dict[str, Decimal] | None) -> None:
    for currency in cash_limit or {}:
        require_currency(currency)


async def create_till(
    ctx: Ctx, *, name: str, cash_limit: dict[str, Decimal] | None
) -> dict[str, Any]:
    """Create a till (supervisors and admins)."""
    _check_limits(cash_limit)

    async def body(session: AsyncClientSession) -> dict[str, Any]:
        till_id = await ctx.db.next_id("tills", session=session)
        stored = {"_id": till_id, "name": name, "status": "active", "session_id": None,
                  "cash_limit": counts.stored(cash_limit), "created_at": now_ms()}  # fmt: skip
        await tills().insert_one(stored, session=session)
        await audit.record(
            ctx, action=Action.TILL_CREATED, session=session, target_type="till",
            target_id=till_id, details={"name": name},
        )  # fmt: skip
        return stored

    result: dict[str, Any] = await ctx.db.transaction(body)
    return result


async def update_till_body(
    ctx: Ctx, session: AsyncClientSession, till_id: int, data: TillUpdate
) -> dict[str, Any]:
    """Rename a till, change its cash limits, retire or reactivate it.

    Retiring a till that holds cash answers 409 `balance_not_zero`, one with a session not
    closed 409 `till_in_use` (in that order, as API.md lists them).
    """
    given = data.model_fields_set
    for field in ("name", "status"):
        if field in given and getattr(data, field) is None:
            raise invalid_field("body", field, f"{field} cannot be null")
    if "cash_limit" in given:
        _check_limits(data.cash_limit)
    till = await tills().find_one({"_id": till_id}, session=session)
    if till is None:
        raise not_found("till not found")
    sets: dict[str, Any] = {}
    if "name" in given and data.name != till["name"]:
        sets["name"] = data.name
    if "cash_limit" in given:
        sets["cash_limit"] = counts.stored(data.cash_limit)
    if data.status is not None and data.status.value != till["status"]:
        if data.status is TillStatus.RETIRED:
            held = sorted(c for c, v in (await till_cash(till_id, session)).items() if v != 0)
            if held:
                raise refused(ErrorCode.BALANCE_NOT_ZERO,
                              "the till still holds cash: move it to the vault first",
                              till_id=till_id, currencies=held)  # fmt: skip
            if till.get("session_id") is not None:
                raise refused(ErrorCode.TILL_IN_USE, "the till has a session that is not closed",
                              till_id=till_id, session_id=till["session_id"])  # fmt: skip
        sets["status"] = data.status.value
    if not sets:
        return dict(till)
    # Conditional on the session this transaction saw, so a session opened meanwhile wins.
    updated = await tills().find_one_and_update(
        {"_id": till_id, "session_id": till.get("session_id")}, {"$set": sets},
        return_document=ReturnDocument.AFTER, session=session,
    )  # fmt: skip
    if updated is None:
        raise RetryTransaction("the till changed meanwhile")
    changes = {key: (value if key != "cash_limit" else
                     {c: format(dec(v), "f") for c, v in (value or {}).items()}
                     if value is not None else None)
               for key, value in sets.items()}  # fmt: skip
    await audit.record(
        ctx, action=Action.TILL_UPDATED, session=session, target_type="till",
        target_id=till_id, details={"changes": changes},
    )  # fmt: skip
    return dict(updated)


def _opening_variance(ctx: Ctx) -> dict[str, Decimal] | None:
    """Return the difference an executing `till.variance` approval of an opening froze."""
    if not executing(ctx, ApprovalAction.TILL_VARIANCE) or ctx.approval is None:
        return None
    return counts.loaded((ctx.approval.get("count") or {}).get("variance"))


async def open_session_body(
    ctx: Ctx,
    session: AsyncClientSession,
    *,
    till_id: int,
    teller_id: int,
    counted: dict[str, Decimal] | None = None,
) -> dict[str, Any] | ApprovalPending:
    """Open a session of `teller_id` on a till inside the caller's transaction."""
    if counted is not None:
        counts.check_count_amounts(counted)
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
    cash = await till_cash(till_id, session)
    variance = _opening_variance(ctx)
    if variance is None and counted is not None:
        counts.require_complete(counted, cash)
        variance = counts.differences(counted, cash)
    if variance is not None and counts.differs(variance):
        # The teller's own session-to-be: blind, so the summary names no amount.
        counts.require_cover(variance, cash, vault=False, blind=True)
        name = till.get("name") or f"till {till_id}"
        pending = await gate(ctx, session, Covered(
            action=ApprovalAction.TILL_VARIANCE, touches_users=frozenset({teller_id}),
            summary=f"Open a session on {name} with a count that differs from its cash "
                    f"({', '.join(c for c, v in variance.items() if v != 0)})",
        ))  # fmt: skip
        if pending is not None:
            # The difference at the time of the count is what its execution posts.
            await ApprovalDoc.get_pymongo_collection().update_one(
                {"_id": pending.approval.id},
                {"$set": {"count": {"till_id": till_id, "counted": counts.stored(counted),
                                    "expected": counts.stored(cash),
                                    "variance": counts.stored(variance)}}},
                session=session,
            )  # fmt: skip
            return pending
    session_id = await ctx.db.next_id("teller_sessions", session=session)
    taken = await tills().find_one_and_update(
        {"_id": till_id, "session_id": None},
        {"$set": {"session_id": session_id}},
        return_document=ReturnDocument.AFTER,
        session=session,
    )
    if taken is None:
        raise RetryTransaction("the till was taken meanwhile")
    opening_variance = None
    if variance is not None and counts.differs(variance):
        await counts.post_variance(
            ctx, session, variance, till=till, session_id=session_id,
            description=f"Opening count of session {session_id}: {counts.describe(variance)}",
        )  # fmt: skip
        opening_variance = variance
    opening = await till_cash(till_id, session)
    approval_id = int(ctx.approval["_id"]) if ctx.approval is not None else None
    doc = {
        "_id": session_id, "till_id": till_id, "teller_id": teller_id, "status": "open",
        "business_date": await calendar.posting_date(session), "opened_at": now_ms(),
        "closed_at": None, "opening": counts.stored(opening),
        "counted": None, "denominations": None, "variance": None, "note": None,
        "approval_id": None, "over_limit": False, "counts": [],
        "opening_count": counts.stored(counted),
        "opening_variance": counts.stored(opening_variance),
        "opening_approval_id": approval_id if opening_variance else None,
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
        target_id=session_id,
        details={"till_id": till_id, "teller_id": teller_id,
                 "variance": {c: format(v, "f") for c, v in (opening_variance or {}).items()}},
    )  # fmt: skip
    return doc


async def open_public_body(
    ctx: Ctx, session: AsyncClientSession, till_id: int, data: SessionOpen
) -> SessionPublic | ApprovalPending:
    """Open the caller's session on a till, as its route answers (or ask for approval)."""
    assert ctx.actor is not None
    opened = await open_session_body(
        ctx, session, till_id=till_id, teller_id=ctx.actor.id, counted=data.counted
    )
    if isinstance(opened, ApprovalPending):
        return opened
    return session_public(ctx, opened, await till_cash(till_id, session))


async def open_session(ctx: Ctx, *, till_id: int) -> dict[str, Any]:
    """Open the caller's session on a till without a count (the demo seed's opening)."""
    assert ctx.actor is not None
    teller_id = ctx.actor.id

    async def body(session: AsyncClientSession) -> dict[str, Any]:
        opened = await open_session_body(ctx, session, till_id=till_id, teller_id=teller_id)
        assert isinstance(opened, dict)  # no count: never waits for approval
        return opened

    result: dict[str, Any] = await ctx.db.transaction(body)
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
    """Close a session whose count equals what the till holds (the demo seed's close)."""
    from server.services.tills import closing  # closing builds on this module

    closed = await closing.close_body(
        ctx, session, session_id=session_id, counted=counted, note=note,
        denominations=denominations,
    )  # fmt: skip
    assert isinstance(closed, dict), "a balanced count never waits for approval"
    return closed
