"""Closing a teller session with the teller's count (API.md "Tills and teller sessions").

Checks in the contract's order: `session_closed` / `session_closing` (409), then the count:
`count_incomplete`, `count_mismatch`, `note_required` (422). A count equal to the till's
cash in every currency closes the session at once. A count that differs makes the session
`closing`: counted, denominations and variance = counted - expected are fixed, the till
accepts no more cash (409 `session_closing`), and the close waits for approval
`till.variance`. Its execution posts exactly that variance to over/short and closes the
session; a rejection (or cancellation, or expiry) returns it to `open` and moves the count
into `counts`. Closing cancels the session's pending cash approvals (`session_closed`).
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from pymongo import ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession

from server.db import RetryTransaction
from server.documents.branch import OpenSession
from server.errors import not_found, refused
from server.services import audit
from server.services.approvals import decisions
from server.services.approvals.gate import ApprovalPending, Covered, executing, gate
from server.services.audit import Action
from server.services.context import Ctx
from server.services.tills import counts
from server.services.tills.sessions import sessions, till_cash, till_seqs, tills
from server.services.tills.vault import require_currency
from server.services.tills.views import session_public
from shared.errors import ErrorCode
from shared.schemas.approvals import ApprovalAction
from shared.schemas.common import now_ms
from shared.schemas.tills import SessionClose, SessionPublic

CLOSE_PATH = re.compile(r"^/sessions/(\d+)/close$")


async def _readable(ctx: Ctx, session: AsyncClientSession, session_id: int) -> dict[str, Any]:
    current = await sessions().find_one({"_id": session_id}, session=session)
    # A teller sees only their own sessions: someone else's does not exist for them.
    if current is None or not (ctx.is_supervisor or current["teller_id"] == ctx.actor_id):
        raise not_found("session not found")
    return dict(current)


def _executes(ctx: Ctx, current: dict[str, Any]) -> bool:
    """Tell whether this is the execution of the approval the session's count waits for."""
    return (
        executing(ctx, ApprovalAction.TILL_VARIANCE)
        and ctx.approval is not None
        and current["status"] == "closing"
        and current.get("approval_id") == ctx.approval["_id"]
    )


async def close_body(
    ctx: Ctx,
    session: AsyncClientSession,
    *,
    session_id: int,
    counted: dict[str, Decimal],
    note: str | None = None,
    denominations: dict[str, dict[str, int]] | None = None,
) -> dict[str, Any] | ApprovalPending:
    """Close a session with a count, inside the caller's transaction (or ask for approval)."""
    for currency in counted:
        require_currency(currency)
    current = await _readable(ctx, session, session_id)
    if _executes(ctx, current):
        return await _finish(
            ctx, session, current, counted=counts.loaded(current["counted"]),
            expected=counts.loaded(current["expected_at_close"]),
            variance=counts.loaded(current["variance"]),
            denominations=current.get("denominations"), note=current.get("note"),
        )  # fmt: skip
    if current["status"] == "closed":
        raise refused(ErrorCode.SESSION_CLOSED, "the session is closed", session_id=session_id)
    if current["status"] == "closing":
        raise refused(ErrorCode.SESSION_CLOSING, "the session's count waits for approval",
                      session_id=session_id)  # fmt: skip
    counts.check_count_amounts(counted)
    expected = await till_cash(int(current["till_id"]), session)
    counts.require_complete(counted, expected)
    counts.require_denominations(denominations, counted)
    variance = counts.differences(counted, expected)
    if counts.differs(variance) and not note:
        raise refused(ErrorCode.NOTE_REQUIRED, "a count that differs needs a note",
                      session_id=session_id)  # fmt: skip
    if not counts.differs(variance):
        return await _finish(ctx, session, current, counted=counted, expected=expected,
                             variance=variance, denominations=denominations,
                             note=note)  # fmt: skip
    till = await tills().find_one({"_id": current["till_id"]}, session=session)
    name = (till or {}).get("name") or f"till {current['till_id']}"
    pending = await gate(ctx, session, Covered(
        action=ApprovalAction.TILL_VARIANCE, session_id=session_id,
        touches_users=frozenset({int(current["teller_id"])}),
        # Blind: the maker may be the session's teller, so the summary names no amount.
        summary=f"Close session {session_id} on {name} with a count that differs from the "
                f"expected cash ({', '.join(c for c, v in variance.items() if v != 0)})",
    ))  # fmt: skip
    if pending is None:  # till.variance is turned off: the difference posts at once
        return await _finish(ctx, session, current, counted=counted, expected=expected,
                             variance=variance, denominations=denominations,
                             note=note)  # fmt: skip
    marked = await sessions().find_one_and_update(
        {"_id": session_id, "status": "open"},
        {"$set": {"status": "closing", "closing_at": now_ms(),
                  "counted": counts.stored(counted), "denominations": denominations,
                  "variance": counts.stored(variance), "note": note,
                  "expected_at_close": counts.stored(expected),
                  "approval_id": pending.approval.id}},
        return_document=ReturnDocument.AFTER, session=session,
    )  # fmt: skip
    if marked is None:
        raise RetryTransaction("the session changed meanwhile")
    await decisions.cancel_for_session(ctx, session, session_id)
    await audit.record(
        ctx, action=Action.SESSION_CLOSING, session=session, target_type="session",
        target_id=session_id,
        details={"till_id": current["till_id"], "approval_id": pending.approval.id},
    )  # fmt: skip
    return pending


async def close_public_body(
    ctx: Ctx, session: AsyncClientSession, session_id: int, data: SessionClose
) -> SessionPublic | ApprovalPending:
    """Close a session with a count, as its route answers (or ask for approval)."""
    closed = await close_body(
        ctx, session, session_id=session_id, counted=data.counted, note=data.note,
        denominations=data.denominations,
    )  # fmt: skip
    if isinstance(closed, ApprovalPending):
        return closed
    return session_public(ctx, closed, None)


async def _finish(
    ctx: Ctx,
    session: AsyncClientSession,
    current: dict[str, Any],
    *,
    counted: dict[str, Decimal],
    expected: dict[str, Decimal],
    variance: dict[str, Decimal],
    denominations: dict[str, dict[str, int]] | None,
    note: str | None,
) -> dict[str, Any]:
    """Post the count's difference (if any) and close the session."""
    session_id = int(current["_id"])
    till_id = int(current["till_id"])
    journal_id = None
    if counts.differs(variance):
        counts.require_cover(variance, await till_cash(till_id, session), vault=False,
                             blind=current["teller_id"] == ctx.actor_id)  # fmt: skip
        till = await tills().find_one({"_id": till_id}, session=session)
        posted = await counts.post_variance(
            ctx, session, variance, till=till, session_id=session_id,
            description=f"Closing count of session {session_id}: {counts.describe(variance)}",
        )  # fmt: skip
        journal_id = posted.journal["_id"] if posted is not None else None
    approval_id = int(ctx.approval["_id"]) if _executes(ctx, current) and ctx.approval else None
    sets = {
        "status": "closed", "closed_at": now_ms(), "counted": counts.stored(counted),
        "expected_at_close": counts.stored(expected), "variance": counts.stored(variance),
        "denominations": denominations, "note": note, "approval_id": approval_id,
        "variance_journal_id": journal_id, "end_seq": await till_seqs(till_id, session),
    }  # fmt: skip
    closed = await sessions().find_one_and_update(
        {"_id": session_id, "status": current["status"]}, {"$set": sets},
        return_document=ReturnDocument.AFTER, session=session,
    )  # fmt: skip
    if closed is None:
        raise RetryTransaction("the session changed meanwhile")
    await tills().update_one(
        {"_id": till_id, "session_id": session_id}, {"$set": {"session_id": None}},
        session=session,
    )  # fmt: skip
    await OpenSession.get_pymongo_collection().delete_one(
        {"_id": current["teller_id"], "session_id": session_id}, session=session
    )
    await decisions.cancel_for_session(ctx, session, session_id)
    await audit.record(
        ctx, action=Action.SESSION_CLOSED, session=session, target_type="session",
        target_id=session_id,
        details={"till_id": till_id, "approval_id": approval_id, "journal_id": journal_id,
                 "variance": {c: format(v, "f") for c, v in variance.items() if v != 0}},
    )  # fmt: skip
    return dict(closed)


async def reopen(ctx: Ctx, session: AsyncClientSession, approval: dict[str, Any]) -> None:
    """Return a `closing` session to `open` when its count's approval ends without executing."""
    found = CLOSE_PATH.match(str(approval["request"]["path"]))
    if found is None:
        return
    current = await sessions().find_one(
        {"_id": int(found.group(1)), "status": "closing", "approval_id": approval["_id"]},
        session=session,
    )
    if current is None:
        return
    count = {
        "counted": current.get("counted"), "denominations": current.get("denominations"),
        "variance": current.get("variance"), "note": current.get("note"),
        "approval_id": approval["_id"], "at": now_ms(), "status": approval["status"],
    }  # fmt: skip
    reopened = await sessions().update_one(
        {"_id": current["_id"], "status": "closing", "approval_id": approval["_id"]},
        {"$set": {"status": "open", "closing_at": None, "counted": None, "denominations": None,
                  "variance": None, "note": None, "expected_at_close": None,
                  "approval_id": None},
         "$push": {"counts": count}},
        session=session,
    )  # fmt: skip
    if reopened.modified_count != 1:
        raise RetryTransaction("the session changed meanwhile")
