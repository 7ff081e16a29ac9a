"""The end-of-day close: seal day D's report so that no entry dated D commits after it.

1. A transaction checks the request (409 `day_closed` → `day_not_open` → `sessions_open`)
   and sets the day `closing` with its `next_date` (max(D + 1, the calendar date)): from
   then on every posting is dated the next date (server/services/calendar.py). A claim
   token in the same update makes two closes at once close the day once: the second waits
   for the first and then answers `day_closed`; a close whose process died is taken over
   once its claim has lapsed.
2. A grace period past the longest transaction lets every transaction that read the old
   date commit or abort. None is needed on the embedded database, which runs one
   transaction at a time (`Database.serialises_transactions`); on MongoDB it is the
   server's transaction lifetime (`DAY_CLOSE_GRACE_SECONDS` overrides).
3. The figures are taken outside any transaction (report.py): they no longer change.
4. One transaction expires the day's pending approvals, sweeps expired holds, counts the
   day's approvals, stores the hashed report, opens the next date and writes
   `business_day.closed`.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pymongo import ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.errors import PyMongoError

from server.db import Database, RetryTransaction
from server.documents.branch import BusinessDay, ClosedDayDoc, OpenSession, TellerSession
from server.errors import DomainError, refused
from server.services import audit, calendar, holds_seam
from server.services.approvals import decisions
from server.services.audit import Action
from server.services.business_day import report
from server.services.context import Ctx
from server.services.idempotency import Claim, is_stored_refusal
from shared.errors import ErrorCode
from shared.schemas.common import now_ms

log = logging.getLogger("bank.business_day")

# A close that has not sealed its day this long after its claim is taken to have died.
CLAIM_LAPSE = timedelta(seconds=120)
WAIT_POLL_SECONDS = 0.2
# MongoDB's default transactionLifetimeLimitSeconds: no transaction outlives it.
DEFAULT_TRANSACTION_LIFETIME = 60.0
_RUNNING: set[asyncio.Task[Any]] = set()


def _days() -> Any:
    return BusinessDay.get_pymongo_collection()


@dataclass(frozen=True)
class Started:
    """This close's hold on the day: its token, when it began and the next date."""

    token: str
    since: datetime
    next_date: str


async def transaction_lifetime(database: Database) -> float:
    """Return how long a transaction may live on this MongoDB (its server parameter)."""
    try:
        answer = await database.client.admin.command(
            {"getParameter": 1, "transactionLifetimeLimitSeconds": 1}
        )
        return float(answer.get("transactionLifetimeLimitSeconds", DEFAULT_TRANSACTION_LIFETIME))
    except (PyMongoError, TypeError, ValueError):
        return DEFAULT_TRANSACTION_LIFETIME


async def grace_seconds(ctx: Ctx) -> float:
    """Return how long the close waits after postings moved to the next date."""
    configured = getattr(ctx.settings, "day_close_grace_seconds", None)
    if configured is not None:
        return float(configured)
    if ctx.db.serialises_transactions:
        return 0.0  # one transaction at a time: none that read the old date is still open
    return await transaction_lifetime(ctx.db)


def _day_closed(date: str, open_date: str) -> DomainError:
    return refused(ErrorCode.DAY_CLOSED, f"the business day {date} is closed already",
                   date=date, open_date=open_date)  # fmt: skip


async def _sessions_not_closed(session: AsyncClientSession, date: str) -> list[int]:
    """Return the sessions not closed that opened on or before `date` (by `_id` reads)."""
    markers = OpenSession.get_pymongo_collection().find({}, projection={"session_id": 1},
                                                        session=session)  # fmt: skip
    found = []
    async for marker in markers:
        doc = await TellerSession.get_pymongo_collection().find_one(
            {"_id": marker["session_id"]}, projection={"business_date": 1, "status": 1},
            session=session,
        )  # fmt: skip
        # One opened while the day closes belongs to the next date, not to this close.
        if doc is not None and doc.get("status") != "closed" and doc["business_date"] <= date:
            found.append(int(doc["_id"]))
    return sorted(found)


async def _begin(ctx: Ctx, session: AsyncClientSession, date: str) -> Started | None:
    """Check the close and set the day `closing`; None while another close of it runs."""
    assert ctx.actor is not None
    day = await calendar.current(session)
    open_date = str(day["date"])
    if date < open_date or await ClosedDayDoc.get_pymongo_collection().find_one(
        {"_id": date}, projection={"_id": 1}, session=session
    ):
        raise _day_closed(date, open_date)
    if date > open_date:
        raise refused(ErrorCode.DAY_NOT_OPEN, f"{date} is not open: the open date is {open_date}",
                      date=date, open_date=open_date)  # fmt: skip
    now = now_ms()
    held = day.get("closing") or {}
    if day.get("status") == "closing" and held.get("since") and held["since"] > now - CLAIM_LAPSE:
        return None
    unclosed = await _sessions_not_closed(session, date)
    if unclosed:
        raise refused(ErrorCode.SESSIONS_OPEN,
                      "every teller session must be closed before the day is closed",
                      session_ids=unclosed)  # fmt: skip
    next_date = str(day.get("next_date") or calendar.next_date(date, str(day["timezone"])))
    token = secrets.token_hex(12)
    taken = await _days().find_one_and_update(
        {"_id": calendar.CURRENT, "date": date, "status": day.get("status", "open"),
         "closing.token": held.get("token")},
        {"$set": {"status": "closing", "next_date": next_date,
                  "closing": {"token": token, "since": now, "by": ctx.actor.id}}},
        return_document=ReturnDocument.AFTER, session=session,
    )  # fmt: skip
    if taken is None:
        raise RetryTransaction("the business day changed meanwhile")
    return Started(token=token, since=now, next_date=next_date)


async def _seal(
    ctx: Ctx,
    session: AsyncClientSession,
    date: str,
    started: Started,
    figures: report.Figures,
    claim: Claim | None,
) -> dict[str, Any] | None:
    """Store the day's report and open the next date; None if another close took over."""
    assert ctx.actor is not None
    day = await calendar.current(session)
    token = (day.get("closing") or {}).get("token")
    if day.get("date") != date or day.get("status") != "closing" or token != started.token:
        return None
    closed_at = now_ms()
    expired = await decisions.end_pending(
        ctx, session, {"business_date": {"$lte": date}}, status="expired", reason="day_closed",
        at=closed_at,
    )  # fmt: skip
    swept = await holds_seam.sweep_expired(ctx, session, at=closed_at)
    approvals = await report.approval_counts(date, session)
    sealed = report.assemble(date, figures, closed_at=closed_at, closed_by=ctx.actor.id,
                             approvals=approvals)  # fmt: skip
    await ClosedDayDoc.get_pymongo_collection().insert_one(
        {"_id": date, "closed_at": closed_at, "closed_by": ctx.actor.id, "hash": sealed["hash"],
         "previous_hash": sealed["previous_hash"], "report": sealed},
        session=session,
    )  # fmt: skip
    await _days().update_one(
        {"_id": calendar.CURRENT, "closing.token": started.token},
        {"$set": {"date": started.next_date, "status": "open", "opened_at": closed_at},
         "$unset": {"next_date": "", "closing": ""}},
        session=session,
    )  # fmt: skip
    await audit.record(
        ctx, action=Action.DAY_CLOSED, session=session, target_type="business_day",
        business_date=date,
        details={"date": date, "hash": sealed["hash"], "next_date": started.next_date,
                 "entries": figures.entries, "approvals_expired": expired, "holds_expired": swept},
    )  # fmt: skip
    if claim is not None:
        try:
            await claim.complete(session, sealed)
        except DomainError:
            # The request was cut (REQUEST_TIMEOUT_SECONDS) and its key given back while the
            # close went on: the day is sealed all the same, and a retry answers day_closed.
            log.info("the close of %s finished after its request ended", date)
    return sealed


async def _record_refusal(ctx: Ctx, date: str, error: DomainError, claim: Claim | None) -> None:
    """Write the refused close's event (and store the refusal under its key)."""

    async def body(session: AsyncClientSession) -> None:
        await audit.record(
            ctx, action=Action.DAY_CLOSED, session=session, target_type="business_day",
            outcome="refused", code=error.code.value, details={"date": date},
        )  # fmt: skip
        if claim is not None:
            await claim.refuse(session, error)

    await ctx.db.transaction(body)


async def _seal_day(
    ctx: Ctx, date: str, started: Started, claim: Claim | None, waited_since: float
) -> dict[str, Any] | None:
    """Wait out the grace period, take the figures and seal; None if another close took over."""
    grace = await grace_seconds(ctx)
    if grace:
        await asyncio.sleep(grace)
    taken = time.monotonic()
    figures = await report.compute(date, closing_since=started.since)
    sealed: dict[str, Any] | None = await ctx.db.transaction(
        lambda session: _seal(ctx, session, date, started, figures, claim)
    )
    if sealed is not None:
        log.info(
            "closed business day %s: %d entries, figures in %.2f s, waited %.2f s",
            date, figures.entries, time.monotonic() - taken, taken - waited_since,
        )  # fmt: skip
    return sealed


async def _run(ctx: Ctx, date: str, claim: Claim | None) -> dict[str, Any]:
    waited_since = time.monotonic()
    while True:
        try:
            started = await ctx.db.transaction(lambda session: _begin(ctx, session, date))
        except DomainError as refusal:
            if is_stored_refusal(refusal):
                await _record_refusal(ctx, date, refusal, claim)
            raise
        if started is None:  # another close of this date is under way: its outcome decides
            await asyncio.sleep(WAIT_POLL_SECONDS)
            continue
        sealed = await _seal_day(ctx, date, started, claim, waited_since)
        if sealed is not None:
            return sealed
        # Another close took this one's lapsed claim over and sealed the day: day_closed.


async def close(ctx: Ctx, *, date: str, claim: Claim | None = None) -> dict[str, Any]:
    """Close business day `date` and return its sealed report.

    The close runs as its own task: a request cut short (its timeout, a dropped connection)
    does not stop it half-way, so the day is never left `closing` by a client.
    """
    task = asyncio.create_task(_run(ctx, date, claim), name=f"close-{date}")
    _RUNNING.add(task)
    task.add_done_callback(_finished)
    return await asyncio.shield(task)


def _finished(task: asyncio.Task[Any]) -> None:
    _RUNNING.discard(task)
    if not task.cancelled():
        task.exception()  # retrieved: a refusal nobody waited for is not an "unhandled" error
