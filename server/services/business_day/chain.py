"""Closed days: the list, a stored report, and `verify` over the whole chain.

`verify` re-hashes every stored report, checks that each names its predecessor's hash, and
recomputes each closed day's trial balance and movement totals from the journal, day by
day in one pass: an edited report shows as `hash`, a broken link as `chain`, an edited or
inserted entry of a closed day as `figures` on that day.
"""

from __future__ import annotations

from typing import Any

from server.documents.branch import ClosedDayDoc
from server.errors import not_found
from server.services import calendar
from server.services.business_day.figures import Movements, TrialBalance, entries, without_counts
from server.services.business_day.report import hash_of
from server.services.views import ListParams
from shared.schemas.business_day import BusinessDayPublic, ClosedDay, DayStatus, VerifyResult
from shared.schemas.common import Page, SortOrder


def _closed() -> Any:
    return ClosedDayDoc.get_pymongo_collection()


async def current() -> BusinessDayPublic:
    """Return the open business date, its status and today's date in BANK_TIMEZONE."""
    day = await calendar.current()
    return BusinessDayPublic(
        date=str(day["date"]), status=DayStatus(day.get("status", "open")),
        opened_at=day["opened_at"],
        calendar_date=calendar.calendar_date(str(day.get("timezone") or "UTC")),
    )  # fmt: skip


async def list_days(params: ListParams) -> Page[ClosedDay]:
    """Page through the closed days (newest first by default)."""
    direction = 1 if params.order is SortOrder.ASC else -1
    total = await _closed().count_documents({})
    cursor = _closed().find({}, projection={"report": 0}).sort("_id", direction)
    items = [
        ClosedDay(date=str(doc["_id"]), closed_at=doc["closed_at"],
                  closed_by=int(doc["closed_by"]), hash=str(doc["hash"]))
        async for doc in cursor.skip(params.skip).limit(params.limit)
    ]  # fmt: skip
    return Page[ClosedDay](items=items, total=total, skip=params.skip, limit=params.limit)


async def stored_report(date: str) -> dict[str, Any]:
    """Return a closed day's report exactly as stored, or 404."""
    doc = await _closed().find_one({"_id": date})
    if doc is None:
        raise not_found("that business day is not closed")
    stored: dict[str, Any] = doc["report"]
    return stored


def _bad(days: int, date: str, reason: str) -> VerifyResult:
    return VerifyResult(days=days, valid=False, first_bad_date=date, reason=reason)


async def verify() -> VerifyResult:
    """Check every closed day's hash, the chain's links and the figures against the journal."""
    days = [doc async for doc in _closed().find({}).sort("_id", 1)]
    running = TrialBalance()
    previous_hash: str | None = None
    previous_date: str | None = None
    for doc in days:
        date = str(doc["_id"])
        stored = doc.get("report") or {}
        rehashed = hash_of(stored)
        if stored.get("date") != date or {stored.get("hash"), doc.get("hash")} != {rehashed}:
            return _bad(len(days), date, "hash")
        if stored.get("previous_hash") != previous_hash:
            return _bad(len(days), date, "chain")
        # The first day holds every entry up to it; each later one those after its predecessor
        # (an entry dated between two closed days belongs to the later one's figures).
        window: dict[str, Any] = {"$lte": date}
        if previous_date is not None:
            window["$gt"] = previous_date
        movements = Movements()
        async for entry in entries({"business_date": window}):
            running.add(entry)
            if previous_date is not None or entry["business_date"] == date:
                movements.add(entry)
        recomputed = without_counts(running.as_json())
        expected = without_counts(stored.get("trial_balance") or {})
        if recomputed != expected or movements.as_json() != stored.get("movements"):
            return _bad(len(days), date, "figures")
        previous_hash, previous_date = str(stored["hash"]), date
    return VerifyResult(days=len(days), valid=True, first_bad_date=None, reason=None)
