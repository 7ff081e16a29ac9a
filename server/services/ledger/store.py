"""Where legs live: pages of PAGE_SIZE consecutive legs per ledger account (bucket pattern).

A leg's place follows from its account's leg count: leg `seq` (1, 2, ...) is entry
`(seq - 1) % PAGE_SIZE` of page `(seq - 1) // PAGE_SIZE`. Appending pushes onto one page
document; reading a range of legs reads the pages it spans by `_id`. Nothing here scans.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from pymongo.asynchronous.client_session import AsyncClientSession

from server.documents.ledger import PAGE_SIZE, LegPage


def _pages() -> Any:
    return LegPage.get_pymongo_collection()


def page_number(seq: int) -> int:
    """Return the page that holds leg `seq` (1-based)."""
    return (seq - 1) // PAGE_SIZE


def page_id(code: str, page: int) -> str:
    """Return the `_id` of one page of an account's legs."""
    return f"{code}|{page:08d}"


async def append(session: AsyncClientSession, code: str, leg: dict[str, Any]) -> None:
    """Append a leg (its `seq` already set) to its account's page, in the caller's transaction."""
    page = page_number(int(leg["seq"]))
    await _pages().update_one(
        {"_id": page_id(code, page)},
        {"$push": {"legs": leg}, "$setOnInsert": {"code": code, "page": page}},
        upsert=True,
        session=session,
    )


async def mark_reversed(session: AsyncClientSession, code: str, seq: int, reversal_id: int) -> None:
    """Set `reversed_by` on one leg: the only change a leg ever gets."""
    index = (seq - 1) % PAGE_SIZE
    await _pages().update_one(
        {"_id": page_id(code, page_number(seq))},
        {"$set": {f"legs.{index}.reversed_by": reversal_id}},
        session=session,
    )


async def read(
    code: str, first: int, last: int, *, session: AsyncClientSession | None = None
) -> list[dict[str, Any]]:
    """Return the legs `first..last` (inclusive, 1-based) of an account, oldest first."""
    if last < first or last < 1:
        return []
    first = max(first, 1)
    ids = [page_id(code, page) for page in range(page_number(first), page_number(last) + 1)]
    found: dict[str, list[dict[str, Any]]] = {}
    for start in range(0, len(ids), 50):
        chunk = ids[start : start + 50]
        async for doc in _pages().find({"_id": {"$in": chunk}}, session=session):
            found[doc["_id"]] = doc.get("legs", [])
    legs: list[dict[str, Any]] = []
    for pid in ids:
        legs.extend(leg for leg in found.get(pid, []) if first <= int(leg["seq"]) <= last)
    return legs


async def iterate(
    code: str, first: int, last: int, *, pages_per_read: int = 10
) -> AsyncIterator[dict[str, Any]]:
    """Yield the legs `first..last` oldest first, a few pages at a time (constant memory)."""
    if last < first:
        return
    step = pages_per_read * PAGE_SIZE
    for start in range(max(first, 1), last + 1, step):
        for leg in await read(code, start, min(last, start + step - 1)):
            yield leg


async def read_one(
    code: str, seq: int, *, session: AsyncClientSession | None = None
) -> dict[str, Any] | None:
    """Return one leg of an account, or None."""
    legs = await read(code, seq, seq, session=session)
    return legs[0] if legs else None
