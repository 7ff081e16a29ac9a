"""`collection_scans`: which hot-path queries would scan a whole collection.

Two checks over the same list of query shapes, taken from the server's code:

1. **MongoDB's rule, against the indexes the database really has** (`listIndexes` after
   Beanie's `init_beanie` created them): a query is index-backed when an index starts with
   equality fields of its filter (or with its range field), or, for a query with no usable
   filter field, when the index's leading keys give the sort. This is how mongod's planner
   picks IXSCAN over COLLSCAN; `collection_scans` counts the queries no index serves. A sort
   the chosen index does not give is reported as an in-memory sort.
2. **The embedded database's own `explain`.** mongoeco answers `explain`, but with its SQLite
   plan, not MongoDB's `queryPlanner`/`winningPlan` stages, so it cannot say what mongod
   would do. Its plan shows what the embedded engine does: it searches its single-field
   indexes (username, account number), but plans numeric `_id` lookups as a Python scan
   ("Numeric identity comparisons require BSON equality"; its find-one-by-`_id` path does
   not scan) and never uses compound indexes. Those are reported as `embedded_scans`, for
   information.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pymongo.database import Database


@dataclass(frozen=True)
class HotQuery:
    """One query shape on a hot path."""

    name: str
    collection: str
    filter: dict[str, Any]
    sort: tuple[tuple[str, int], ...] = ()


def hot_queries(*, user_id: int, username: str, account_id: int, sid: str) -> list[HotQuery]:
    """Return the hot-path query shapes, with real values from the benchmark database."""
    since = datetime(2026, 1, 1, tzinfo=UTC)
    by_id = (("_id", 1),)
    return [
        HotQuery("login: user by username", "users", {"username": username}),
        HotQuery("auth: login session by id", "login_sessions", {"_id": sid}),
        HotQuery("auth: user by id", "users", {"_id": user_id}),
        HotQuery("account by id", "accounts", {"_id": account_id}),
        HotQuery("accounts page (staff)", "accounts", {}, by_id),
        HotQuery("accounts page of an owner", "accounts", {"owner_id": user_id}, by_id),
        HotQuery("accounts page by status", "accounts", {"status": "active"}, by_id),
        # The desktop's accounts table sorts by its number, owner and balance columns.
        HotQuery("accounts page by number", "accounts", {}, (("number", 1), ("_id", 1))),
        HotQuery("accounts page by owner", "accounts", {}, (("owner_id", 1), ("_id", 1))),
        HotQuery("accounts page by balance", "accounts", {}, (("balance", -1), ("_id", -1))),
        HotQuery(
            "accounts page by opening date", "accounts", {}, (("created_at", -1), ("_id", -1))
        ),
        HotQuery("customers page (teller)", "users", {"deleted_at": None, "role": "user"}, by_id),
        HotQuery("history page", "transactions", {"account_id": account_id}, (("seq", -1),)),
        HotQuery(
            "history page since a day",
            "transactions",
            {"account_id": account_id, "created_at": {"$gte": since}},
            (("seq", -1),),
        ),
        HotQuery(
            "history page by date",
            "transactions",
            {"account_id": account_id},
            (("created_at", -1), ("seq", -1)),
        ),
        HotQuery(
            "movement: conditional account update",
            "accounts",
            {"_id": account_id, "status": "active", "entry_seq": 1},
        ),
        HotQuery("movement: id counter", "counters", {"_id": "transactions"}),
        HotQuery("movement: idempotency record", "idempotency_keys", {"_id": f"{user_id}:x"}),
        HotQuery("transfer: both accounts", "accounts", {"_id": {"$in": [account_id, 1]}}),
        HotQuery(
            "statement: last entry before",
            "transactions",
            {"account_id": account_id, "created_at": {"$lt": since}},
            (("seq", -1),),
        ),
        *holds_queries(account_id=account_id, at=since),
        *search_queries(username=username),
    ]


def holds_queries(*, account_id: int, at: datetime) -> list[HotQuery]:
    """Return the query shapes of holds (server/services/holds.py, hold_expiry.py)."""
    by_id = (("_id", 1),)
    return [
        HotQuery("holds page of an account", "holds", {"account_id": account_id}, by_id),
        HotQuery(
            "holds page of an account by status",
            "holds",
            {"account_id": account_id, "status": "active"},
            by_id,
        ),
        HotQuery(
            "holds: does any still count (closing, deleting)",
            "holds",
            {"account_id": {"$in": [account_id]}, "status": "active"},
        ),
        HotQuery(
            "holds: the day's sweep", "holds", {"status": "active", "expires_at": {"$lte": at}}
        ),
        HotQuery(
            "holds: a reversed transaction's holds",
            "holds",
            {"account_id": account_id, "status": "active", "reference": "1"},
        ),
    ]


def search_queries(*, username: str) -> list[HotQuery]:
    """Return the customer search's query shapes (server/services/customer_search.py).

    The search is one `$or` of these branches (plus `deleted_at` and `role`, which do not
    select); mongod plans each branch of an `$or` on its own, so each is listed here.
    """
    by_id = (("_id", 1),)
    exact = ["doc:p123456", "acct:0000000195", "phone:4155550100", f"user:{username}"]
    return [
        HotQuery("customer search: exact keys", "users", {"search_keys": {"$in": exact}}, by_id),
        HotQuery(
            "customer search: a name word's prefix",
            "users",
            {"search_keys": {"$regex": "^name:smi"}},
            by_id,
        ),
        HotQuery(
            "customers: a document on file (its normalised key)",
            "identity_documents",
            {"_id": "passport|p123456|GB"},
        ),
    ]


# An anchored `$regex` ("^name:smi") is a range of index keys on mongod, like `$gte`/`$lt`.
_RANGE_OPS = frozenset({"$gt", "$gte", "$lt", "$lte", "$regex"})


def _split(filter_: dict[str, Any]) -> tuple[set[str], set[str]]:
    equality: set[str] = set()
    ranges: set[str] = set()
    for field, condition in filter_.items():
        if field.startswith("$"):
            continue  # $or and friends: not on these hot paths
        if isinstance(condition, dict) and any(op in _RANGE_OPS for op in condition):
            ranges.add(field)
        else:  # a value, or $in: equality-like bounds
            equality.add(field)
    return equality, ranges


def _gives_sort(keys: list[tuple[str, int]], start: int, sort: tuple[tuple[str, int], ...]) -> bool:
    """Tell whether index keys from `start` give the sort, forwards or backwards."""
    if not sort:
        return True
    wanted = list(sort)
    tail = keys[start : start + len(wanted)]
    if [f for f, _ in tail] != [f for f, _ in wanted]:
        return False
    same = all(d == w for (_, d), (_, w) in zip(tail, wanted, strict=True))
    flipped = all(d == -w for (_, d), (_, w) in zip(tail, wanted, strict=True))
    return same or flipped


def mongodb_plan(
    query: HotQuery, indexes: list[tuple[str, list[tuple[str, int]]]]
) -> tuple[str | None, bool]:
    """Return (index a mongod would use or None for COLLSCAN, whether it sorts in memory)."""
    equality, ranges = _split(query.filter)
    if isinstance(query.filter.get("_id"), (int, str)):
        return "_id_", False  # mongod's IDHACK: an _id equality reads one index entry
    best: tuple[int, str, bool] | None = None
    for name, keys in indexes:
        prefix = 0
        while prefix < len(keys) and keys[prefix][0] in equality:
            prefix += 1
        if prefix:
            score, in_memory = 2 + prefix, not _gives_sort(keys, prefix, query.sort)
        elif keys[0][0] in ranges:
            score, in_memory = 1, not _gives_sort(keys, 0, query.sort)
        elif query.sort and _gives_sort(keys, 0, query.sort):
            score, in_memory = 1, False
        else:
            continue
        if best is None or score > best[0] or (score == best[0] and best[2] and not in_memory):
            best = (score, name, in_memory)
    if best is None:
        return None, bool(query.sort)
    return best[1], best[2]


def embedded_plan(db: Database[Any], query: HotQuery) -> str:
    """Return "index" or "scan" from the embedded database's own explain."""
    command: dict[str, Any] = {"find": query.collection, "filter": query.filter}
    if query.sort:
        command["sort"] = dict(query.sort)
    explained = db.command("explain", command)
    if explained.get("strategy") == "python":
        return "scan"
    details = explained.get("details", {}).get("engine_details") or []
    searched = " ".join(str(step) for step in details)
    # A search bounded by (db_name, coll_name) only reads every row of the collection.
    if "storage_key=?" in searched or "scalar_index_entries" in searched:
        return "index"
    if "multikey_entries" in searched:
        return "index"
    return "scan"


def check(db: Database[Any], queries: list[HotQuery]) -> dict[str, Any]:
    """Run both checks; return the counts and one row per query."""
    rows = []
    for query in queries:
        indexes = [
            (str(spec["name"]), [(str(f), int(d)) for f, d in spec["key"].items()])
            for spec in db[query.collection].list_indexes()
        ]
        index, in_memory = mongodb_plan(query, indexes)
        rows.append({
            "query": query.name,
            "collection": query.collection,
            "mongodb": f"IXSCAN {index}" if index else "COLLSCAN",
            "in_memory_sort": in_memory,
            "embedded": embedded_plan(db, query),
        })  # fmt: skip
    return {
        "collection_scans": sum(row["mongodb"] == "COLLSCAN" for row in rows),
        "in_memory_sorts": sum(bool(row["in_memory_sort"]) for row in rows),
        "embedded_scans": sum(row["embedded"] == "scan" for row in rows),
        "queries": rows,
    }
