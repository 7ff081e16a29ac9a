"""Administration: the audit trail (read-only) and statistics from aggregation pipelines."""

from __future__ import annotations

from datetime import date as date_type
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from server.documents import Account, AuditEvent, Counter, User
from server.documents.ledger import DailyTotals
from server.services import calendar
from server.services.ledger.posting import dec
from server.services.views import ListParams
from shared.schemas.admin import AuditEventPublic, CountSum, DailyStats, DayStats, Stats
from shared.schemas.common import Page, SortOrder

_KINDS = {"deposit": "deposits", "withdrawal": "withdrawals", "transfer": "transfers"}


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
    approval_id: int | None = None,
) -> Page[AuditEventPublic]:
    """Page through audit events (newest first by default) with API.md's filters.

    With `names`, each event also names its actor and target (two reads by `_id` for the
    whole page, whatever its size).
    """
    query: dict[str, Any] = {}
    if approval_id is not None:
        # The approval.* events and those of the request it executed (server/services/audit).
        query["details.approval_id"] = approval_id
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
    if not query and params.sort == "id":
        total, rows = await _audit_by_position(params)
    else:
        # The `count` command, not count_documents: mongoeco runs count_documents as an
        # aggregation whose materialization budget 250,000 events exceed (a 500 measured
        # by bench/scale.py). A filtered page still reads the filter's matches there
        # (bench/scale.py measures it); on MongoDB the audit indexes serve both.
        counted = await events.database.command("count", events.name, query=query)
        total = int(counted["n"])
        cursor = events.find(query).sort(params.mongo_sort()).skip(params.skip)
        rows = [raw async for raw in cursor.limit(params.limit)]
    items = []
    for raw in rows:
        raw["id"] = raw.pop("_id")
        items.append(AuditEventPublic.model_validate(raw))
    if names:
        items = await _named(items)
    return Page[AuditEventPublic](items=items, total=total, skip=params.skip, limit=params.limit)


async def _audit_by_position(params: ListParams) -> tuple[int, list[dict[str, Any]]]:
    """Return the count and one page of the whole trail, by id, read by primary key.

    Event ids come from one counter, taken in each event's own transaction, so the trail is
    ids 1..N and a page is a run of ids: read one by one by `_id`, the one shape the
    embedded database serves in constant time however long the trail (a sorted find reads
    every event there: 2.1 s at 250,000). An id that is missing (its writer failed after
    taking it) is stepped over, so a page still holds `limit` events when the trail has them.
    """
    events = AuditEvent.get_pymongo_collection()
    counter = await Counter.get_pymongo_collection().find_one({"_id": "audit_events"})
    last = int(counter["seq"]) if counter is not None else 0
    total = int((await events.database.command("count", events.name))["n"])
    newest_first = params.order is SortOrder.DESC
    step = -1 if newest_first else 1
    event_id = last - params.skip if newest_first else 1 + params.skip
    rows: list[dict[str, Any]] = []
    while len(rows) < params.limit and 1 <= event_id <= last:
        found = await events.find_one({"_id": event_id})
        if found is not None:
            rows.append(dict(found))
        event_id += step
    return total, rows


async def usernames_of(user_ids: set[int]) -> dict[int, str]:
    """Return the username of each of these users (one read; unknown ids are left out)."""
    return {
        raw["_id"]: raw["username"]
        async for raw in User.get_pymongo_collection().find(
            {"_id": {"$in": sorted(user_ids)}}, projection={"username": 1}
        )
    }


async def _named(events: list[AuditEventPublic]) -> list[AuditEventPublic]:
    """Add the actor's username and the target's name to each event of a page."""
    user_ids = {e.actor_id for e in events if e.actor_id is not None}
    user_ids |= {e.target_id for e in events if e.target_type == "user" and e.target_id}
    account_ids = {e.target_id for e in events if e.target_type == "account" and e.target_id}
    usernames = await usernames_of(user_ids)
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


async def movements_on(dates: list[str]) -> dict[str, DayStats]:
    """Return the movements of some business dates from their stored daily totals."""
    days: dict[str, DayStats] = {}
    cursor = DailyTotals.get_pymongo_collection().find({"_id": {"$in": dates}})
    async for doc in cursor:
        day = days.setdefault(doc["_id"], DayStats(date=doc["_id"]))
        for kind, field in _KINDS.items():
            bucket = getattr(day, field)
            for currency, figures in (doc.get("totals", {}).get(kind) or {}).items():
                bucket[currency] = CountSum(count=int(figures.get("count", 0)),
                                            sum=dec(figures.get("sum")))  # fmt: skip
    return days


async def stats() -> Stats:
    """Return counts, balances per currency and the open business date's movements."""
    users = await User.get_pymongo_collection().count_documents({"deleted_at": None})
    accounts = Account.get_pymongo_collection()
    count = await accounts.count_documents({"status": {"$ne": "closed"}})
    totals: dict[str, Decimal] = {}
    pipeline = [{"$group": {"_id": "$currency", "total": {"$sum": "$balance"}}}]
    async for row in await accounts.aggregate(pipeline):
        totals[row["_id"]] = row["total"].to_decimal()
    date = await calendar.posting_date()
    today = (await movements_on([date])).get(date, DayStats(date=date))
    return Stats(users=users, accounts=count, total_balance=totals, today=today)


async def daily(days: int) -> DailyStats:
    """Return the last `days` business dates up to the open one (oldest first), every one."""
    end = date_type.fromisoformat(await calendar.posting_date())
    dates = [(end - timedelta(days=n)).isoformat() for n in range(days - 1, -1, -1)]
    found = await movements_on(dates)
    return DailyStats(days=[found.get(day, DayStats(date=day)) for day in dates])
