"""Where legs live: pages of PAGE_SIZE consecutive legs per ledger account (bucket pattern).

A leg's place follows from its account's leg count: leg `seq` (1, 2, ...) is entry
`(seq - 1) % PAGE_SIZE` of page `(seq - 1) // PAGE_SIZE`, and a page's `_id` is
"<code>|<page number>". Appending pushes onto one page; reading a range of legs reads the
pages it spans one by one by `_id`. Nothing here scans a collection, on MongoDB or on the
embedded database (where a `find_one` by `_id` is the one shape that does not grow with the
collection: measured, `$in` and range filters on `_id` and single-field index equality all
scan there).

Each leg is stored as one compact JSON string (amounts as decimal strings, times as ISO 8601
UTC with milliseconds). The journal is the typed system of record; pages are the ledger's
read model for history, statements, account legs and session journals. A string leg keeps
a page write constant in the page's length on the embedded database (measured: pushing a
leg as a sub-document onto a page of 99 cost 18x the push onto an empty page; as a string,
the same), and costs nothing on MongoDB.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from bson import Decimal128
from pymongo.asynchronous.client_session import AsyncClientSession

from server.documents.ledger import PAGE_SIZE, LegPage
from shared.money import to_cents_str
from shared.schemas.common import iso_utc_ms

_MONEY_FIELDS = ("amount", "balance_after")
_TIME_FIELDS = ("created_at",)


def _pages() -> Any:
    return LegPage.get_pymongo_collection()


def page_number(seq: int) -> int:
    """Return the page that holds leg `seq` (1-based)."""
    return (seq - 1) // PAGE_SIZE


def page_id(code: str, page: int) -> str:
    """Return the `_id` of one page of an account's legs."""
    return f"{code}|{page:08d}"


def encode(leg: dict[str, Any]) -> str:
    """Return a leg as the compact JSON string a page keeps."""
    flat: dict[str, Any] = {}
    for key, value in leg.items():
        if isinstance(value, Decimal128):
            value = value.to_decimal()
        if isinstance(value, Decimal):
            value = to_cents_str(value)
        elif isinstance(value, datetime):
            value = iso_utc_ms(value)
        flat[key] = value
    return json.dumps(flat, separators=(",", ":"), ensure_ascii=False)


def decode(text: str) -> dict[str, Any]:
    """Return a stored leg with its money as Decimal and its times as aware datetimes."""
    leg: dict[str, Any] = json.loads(text)
    for key in _MONEY_FIELDS:
        if leg.get(key) is not None:
            leg[key] = Decimal(leg[key])
    for key in _TIME_FIELDS:
        if isinstance(leg.get(key), str):
            leg[key] = datetime.fromisoformat(leg[key].replace("Z", "+00:00")).astimezone(UTC)
    return leg


async def append(session: AsyncClientSession, code: str, leg: dict[str, Any]) -> None:
    """Append a leg (its `seq` already set) to its account's page, in the caller's transaction."""
    page = page_number(int(leg["seq"]))
    await _pages().update_one(
        {"_id": page_id(code, page)},
        {"$push": {"legs": encode(leg)}, "$setOnInsert": {"code": code, "page": page}},
        upsert=True,
        session=session,
    )


async def _page(
    code: str, page: int, session: AsyncClientSession | None = None
) -> list[dict[str, Any]]:
    doc = await _pages().find_one({"_id": page_id(code, page)}, session=session)
    return [decode(text) for text in doc.get("legs", [])] if doc is not None else []


async def mark_reversed(session: AsyncClientSession, code: str, seq: int, reversal_id: int) -> None:
    """Set `reversed_by` on one leg: the only change a leg ever gets."""
    page = page_number(seq)
    index = (seq - 1) % PAGE_SIZE
    legs = await _page(code, page, session)
    leg = legs[index]
    assert int(leg["seq"]) == seq, (code, seq, leg)
    leg["reversed_by"] = reversal_id
    await _pages().update_one(
        {"_id": page_id(code, page)}, {"$set": {f"legs.{index}": encode(leg)}}, session=session
    )


async def read(
    code: str, first: int, last: int, *, session: AsyncClientSession | None = None
) -> list[dict[str, Any]]:
    """Return the legs `first..last` (inclusive, 1-based) of an account, oldest first."""
    if last < first or last < 1:
        return []
    first = max(first, 1)
    legs: list[dict[str, Any]] = []
    for page in range(page_number(first), page_number(last) + 1):
        legs.extend(
            leg for leg in await _page(code, page, session) if first <= int(leg["seq"]) <= last
        )
    return legs


async def iterate(code: str, first: int, last: int) -> AsyncIterator[dict[str, Any]]:
    """Yield the legs `first..last` oldest first, one page at a time (constant memory)."""
    if last < first:
        return
    for page in range(page_number(max(first, 1)), page_number(last) + 1):
        for leg in await _page(code, page):
            if first <= int(leg["seq"]) <= last:
                yield leg


async def read_one(
    code: str, seq: int, *, session: AsyncClientSession | None = None
) -> dict[str, Any] | None:
    """Return one leg of an account, or None."""
    legs = await read(code, seq, seq, session=session)
    return legs[0] if legs else None
