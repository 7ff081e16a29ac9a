"""The business date: stored once, in BANK_TIMEZONE, and moved on only by the day's close.

`posting_date` is what every posting is dated: the open date, or, while the day is
`closing`, the next date (so no entry dated D commits after D's report is computed).
"""

from __future__ import annotations

import contextlib
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.errors import DuplicateKeyError

from server.documents.branch import BusinessDay
from shared.schemas.common import now_ms

CURRENT = "current"


class TimezoneChanged(RuntimeError):
    """The bank was started with one BANK_TIMEZONE and is now started with another."""


def _days() -> Any:
    return BusinessDay.get_pymongo_collection()


def calendar_date(timezone: str, moment: datetime | None = None) -> str:
    """Return the calendar date of a moment (now by default) in a timezone."""
    return (moment or now_ms()).astimezone(ZoneInfo(timezone)).date().isoformat()


def next_date(current: str, timezone: str) -> str:
    """Return the date after `current`, or today when the calendar is further on."""
    following = (date.fromisoformat(current) + timedelta(days=1)).isoformat()
    return max(following, calendar_date(timezone))


async def ensure(timezone: str) -> dict[str, Any]:
    """Store the first business date on the first start (an atomic upsert); check the zone."""
    now = now_ms()
    with contextlib.suppress(DuplicateKeyError):  # another process stored it first
        await _days().update_one(
            {"_id": CURRENT},
            {"$setOnInsert": {"date": calendar_date(timezone, now), "status": "open",
                              "opened_at": now, "timezone": timezone, "first_journal_id": 1}},
            upsert=True,
        )  # fmt: skip
    stored = await _days().find_one({"_id": CURRENT})
    assert stored is not None
    if stored.get("timezone") != timezone:
        raise TimezoneChanged(
            f"BANK_TIMEZONE is {timezone!r} but this bank's business days are kept in "
            f"{stored.get('timezone')!r}; start it with BANK_TIMEZONE={stored.get('timezone')}"
        )
    return dict(stored)


async def current(session: AsyncClientSession | None = None) -> dict[str, Any]:
    """Return the business day record."""
    stored = await _days().find_one({"_id": CURRENT}, session=session)
    if stored is None:  # a database the lifespan did not prepare (tools, tests)
        return {"_id": CURRENT, "date": calendar_date("UTC"), "status": "open",
                "opened_at": now_ms(), "timezone": "UTC", "first_journal_id": 1}  # fmt: skip
    return dict(stored)


def posting_date_of(day: dict[str, Any]) -> str:
    """Return the date a posting made now is dated with."""
    if day.get("status") == "closing" and day.get("next_date"):
        return str(day["next_date"])
    return str(day["date"])


async def posting_date(session: AsyncClientSession | None = None) -> str:
    """Return the date a posting in this transaction is dated with."""
    return posting_date_of(await current(session))
