"""Administration: the audit trail (read-only) and statistics from aggregation pipelines."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from server.documents import Account, AuditEvent, LedgerEntry, User
from server.services.views import ListParams
from shared.schemas.admin import AuditEventPublic, CountSum, DailyStats, DayStats, Stats
from shared.schemas.common import Page

_KINDS = {"deposit": "deposits", "withdrawal": "withdrawals", "transfer_out": "transfers"}


async def list_audit(
    params: ListParams,
    *,
    actor_id: int | None,
    action: str | None,
    target_type: str | None,
    target_id: int | None,
    since: datetime | None,
    until: datetime | None,
    names: bool = False,
) -> Page[AuditEventPublic]:
    """Page through audit events (newest first by default) with API.md's filters.

    With `names`, each event also names its actor and target (two reads by `_id` for the
    whole page, whatever its size).
    """
    query: dict[str, Any] = {}
    for field, value in (("actor_id", actor_id), ("action", action),
                         ("target_type", target_type), ("target_id", target_id)):  # fmt: skip
        if value is not None:
            query[field] = value
    window: dict[str, Any] = {}
    if since is not None:
        window["$gte"] = since
    if until is not None:
        window["$lt"] = until
    if window:
        query["at"] = window
    events = AuditEvent.get_pymongo_collection()
    total = await events.count_documents(query)
    cursor = events.find(query).sort(params.mongo_sort()).skip(params.skip).limit(params.limit)
    items = []
    async for raw in cursor:
        raw["id"] = raw.pop("_id")
        items.append(AuditEventPublic.model_validate(raw))
    if names:
        items = await _named(items)
    return Page[AuditEventPublic](items=items, total=total, skip=params.skip, limit=params.limit)


async def _named(events: list[AuditEventPublic]) -> list[AuditEventPublic]:
    """Add the actor's username and the target's name to each event of a page."""
    user_ids = {e.actor_id for e in events if e.actor_id is not None}
    user_ids |= {e.target_id for e in events if e.target_type == "user" and e.target_id}
    account_ids = {e.target_id for e in events if e.target_type == "account" and e.target_id}
    usernames = {
        raw["_id"]: raw["username"]
        async for raw in User.get_pymongo_collection().find(
            {"_id": {"$in": sorted(user_ids)}}, projection={"username": 1}
        )
    }
    accounts = {
        raw["_id"]: f"{raw['number']} ({raw['owner_name']})"
        async for raw in Account.get_pymongo_collection().find(
            {"_id": {"$in": sorted(account_ids)}}, projection={"number": 1, "owner_name": 1}
        )
    }
    targets = {"user": usernames, "account": accounts}

    def named(event: AuditEventPublic) -> AuditEventPublic:
        actor = usernames.get(event.actor_id) if event.actor_id is not None else None
        target = targets.get(event.target_type or "", {}).get(event.target_id or 0)
        return event.model_copy(update={"actor_name": actor, "target_name": target})

    return [named(event) for event in events]


def _day_start(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


async def _movements_by_day(start: datetime, end: datetime) -> dict[str, DayStats]:
    """Count and sum movements per UTC day, kind and currency, in the database."""
    pipeline: list[dict[str, Any]] = [
        {"$match": {"created_at": {"$gte": start, "$lt": end}, "type": {"$in": list(_KINDS)}}},
        {
            "$group": {
                "_id": {
                    "day": {"$dateToString": {"format": "%Y-%m-%d", "date": "$created_at"}},
                    "type": "$type",
                    "currency": "$currency",
                },
                "count": {"$sum": 1},
                "sum": {"$sum": "$amount"},
            }
        },
    ]
    days: dict[str, DayStats] = {}
    async for row in await LedgerEntry.get_pymongo_collection().aggregate(pipeline):
        key = row["_id"]
        day = days.setdefault(key["day"], DayStats(date=key["day"]))
        bucket = getattr(day, _KINDS[key["type"]])
        bucket[key["currency"]] = CountSum(count=row["count"], sum=row["sum"].to_decimal())
    return days


async def stats(now: datetime | None = None) -> Stats:
    """Return counts, balances per currency and today's movements."""
    now = now or datetime.now(UTC)
    users = await User.get_pymongo_collection().count_documents({"deleted_at": None})
    accounts = Account.get_pymongo_collection()
    count = await accounts.count_documents({"status": {"$ne": "closed"}})
    totals: dict[str, Decimal] = {}
    pipeline = [{"$group": {"_id": "$currency", "total": {"$sum": "$balance"}}}]
    async for row in await accounts.aggregate(pipeline):
        totals[row["_id"]] = row["total"].to_decimal()
    start = _day_start(now)
    today = (await _movements_by_day(start, start + timedelta(days=1))).get(
        start.date().isoformat(), DayStats(date=start.date().isoformat())
    )
    return Stats(users=users, accounts=count, total_balance=totals, today=today)


async def daily(days: int, now: datetime | None = None) -> DailyStats:
    """Return the last `days` UTC days (oldest first), every day present even when empty."""
    now = now or datetime.now(UTC)
    end = _day_start(now) + timedelta(days=1)
    start = end - timedelta(days=days)
    found = await _movements_by_day(start, end)
    out = []
    for n in range(days):
        date = (start + timedelta(days=n)).date().isoformat()
        out.append(found.get(date, DayStats(date=date)))
    return DailyStats(days=out)
