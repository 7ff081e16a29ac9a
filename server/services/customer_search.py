"""One search box for the counter: a customer by name, document, account, phone, email, ...

The search text becomes exact keys (a document, account or phone number, an email, a
username, a date of birth) and name-word prefixes (server/services/search_keys.py); one
query on the multikey `search_keys` index finds the users (equality, or an anchored prefix
per word, all of which must match), and one more query their accounts. Tellers and
supervisors find customers only; admins find anyone.
"""

from __future__ import annotations

from typing import Any

from server.documents import Account, User
from server.errors import invalid_field
from server.services import customers, hold_expiry, search_keys
from server.services.context import Ctx
from server.services.views import ListParams, account_public, from_raw, user_public
from shared.schemas.common import Page, Role
from shared.schemas.customers import MatchKind
from shared.schemas.search import CustomerMatch

# A user found by several keys is reported by the most specific one.
_EXACT_KINDS = (
    (search_keys.DOCUMENT, MatchKind.DOCUMENT),
    (search_keys.ACCOUNT, MatchKind.ACCOUNT),
    (search_keys.PHONE, MatchKind.PHONE),
    (search_keys.BIRTH, MatchKind.DATE_OF_BIRTH),
    (search_keys.EMAIL, MatchKind.EMAIL),
    (search_keys.USERNAME, MatchKind.USERNAME),
)


def search_filter(q: str) -> dict[str, Any] | None:
    """Return the `search_keys` condition a search text means (None: it can match nothing)."""
    clauses: list[dict[str, Any]] = []
    exact = search_keys.exact_keys(q)
    if exact:
        clauses.append({"search_keys": {"$in": exact}})
    prefixes = [{"search_keys": {"$regex": pattern}} for pattern in search_keys.name_prefixes(q)]
    if len(prefixes) == 1:
        clauses.append(prefixes[0])
    elif prefixes:
        clauses.append({"$and": prefixes})
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"$or": clauses}


def matched_by(keys: list[str], q: str) -> MatchKind:
    """Return what a found user's keys matched the search text by."""
    found = set(keys) & set(search_keys.exact_keys(q))
    for prefix, kind in _EXACT_KINDS:
        if any(key.startswith(prefix) for key in found):
            return kind
    return MatchKind.NAME


def _visible(ctx: Ctx) -> dict[str, Any]:
    query: dict[str, Any] = {"deleted_at": None}
    if not ctx.is_admin:
        query["role"] = Role.USER.value  # other staff stay hidden from tellers and supervisors
    return query


async def search(ctx: Ctx, q: str, params: ListParams) -> Page[CustomerMatch]:
    """Return one page of the users a search text finds, each with their accounts."""
    if not q.strip():
        raise invalid_field("query", "q", "type a name, number, phone, email or date", q)
    condition = search_filter(q)
    if condition is None:
        return Page[CustomerMatch](items=[], total=0, skip=params.skip, limit=params.limit)
    query = {**_visible(ctx), **condition}
    users = User.get_pymongo_collection()
    total = await users.count_documents(query)
    cursor = users.find(query).sort(params.mongo_sort()).skip(params.skip).limit(params.limit)
    found = [dict(raw) async for raw in cursor]
    by_owner: dict[int, list[dict[str, Any]]] = {int(raw["_id"]): [] for raw in found}
    if by_owner:
        cursor = Account.get_pymongo_collection().find({"owner_id": {"$in": sorted(by_owner)}})
        for account in [dict(raw) async for raw in cursor.sort([("owner_id", 1), ("_id", 1)])]:
            current = await hold_expiry.ensure_current(ctx, account)
            by_owner[int(account["owner_id"])].append(current)
    today = await customers.open_date()
    items = [
        CustomerMatch(
            user=user_public(from_raw(User, raw), business_date=today),
            accounts=[account_public(from_raw(Account, a)) for a in by_owner[int(raw["_id"])]],
            matched=matched_by(list(raw.get("search_keys") or []), q),
        )
        for raw in found
    ]
    return Page[CustomerMatch](items=items, total=total, skip=params.skip, limit=params.limit)
