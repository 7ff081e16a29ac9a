"""Helpers of the business-day tests: close every session, close the day, hash a report.

`contract_hash` is API.md's definition written out again here, on purpose: the tests check
the server's hashes against it, never against the server's own code.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from tests.support import Api, expect


def contract_hash(report: dict[str, Any]) -> str:
    """Return SHA-256 (hex) of the report without `hash`, as API.md "Business day" defines it."""
    body = {key: value for key, value in report.items() if key != "hash"}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def close_all_sessions(manager: Api, mongo: Any) -> list[int]:
    """Close every session that is not closed with counted = expected (as a supervisor)."""
    closed = []
    for doc in mongo.teller_sessions.find({"status": {"$ne": "closed"}}).sort("_id", 1):
        session = expect(manager.get(f"/sessions/{doc['_id']}"), 200)
        counted = {currency: amount for currency, amount in (session["expected"] or {}).items()}
        expect(manager.post(f"/sessions/{doc['_id']}/close", json={"counted": counted}), 200)
        closed.append(int(doc["_id"]))
    return closed


def open_date(api: Api) -> str:
    """Return the open business date."""
    return str(expect(api.get("/business-day"), 200)["date"])


def close_day(manager: Api, mongo: Any, date: str | None = None) -> dict[str, Any]:
    """Close every session, then the open business day; return its report."""
    close_all_sessions(manager, mongo)
    date = date or open_date(manager)
    return dict(expect(manager.post("/business-day/close", json={"date": date}), 200))
