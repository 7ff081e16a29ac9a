"""Beanie documents of the double-entry ledger.

- `LedgerAccount`: the bank's own accounts (`vault:USD`, `till:3:USD`, ...), one document
  each, with stored balance, debits, credits and leg count (`seq`). Customer accounts keep
  theirs on the `Account` document (same fields), so a movement updates one document per leg.
- `JournalEntry`: one document per movement, holding all its legs; read by `_id`.
- `LegPage`: the legs of one ledger account, `PAGE_SIZE` to a document (MongoDB's bucket
  pattern), `_id` = "<code>|<page number>". A page of history, a statement month or a
  session's till legs is read by `_id` from the account's leg count, never by scanning a
  collection that grows with the years (mongoeco's SQLite planner scans compound-index
  shapes; MongoDB serves `_id` lookups from its primary index alike).
- `TransactionRef`: where a customer Transaction lives (`_id` = its id): account, seq and
  journal, so `/transactions/{id}/reverse` finds its leg with one primary-key read.
- `DailyTotals`: per business date, the count and sum of each journal kind per currency,
  kept in the posting's transaction: `/stats`, `/stats/daily` and the day's report read a
  handful of documents instead of aggregating the ledger.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from beanie import DecimalAnnotation, Document
from pydantic import Field
from pymongo import ASCENDING, IndexModel

from shared.schemas.common import now_ms

PAGE_SIZE = 100


class LedgerAccount(Document):
    """One of the bank's own accounts in one currency."""

    id: str  # type: ignore[assignment]
    kind: str
    name: str
    currency: str
    balance: DecimalAnnotation = Decimal("0.00")  # in the kind's normal direction
    debits: DecimalAnnotation = Decimal("0.00")
    credits: DecimalAnnotation = Decimal("0.00")
    seq: int = 0
    till_id: int | None = None
    created_at: datetime = Field(default_factory=now_ms)

    class Settings:
        name = "ledger_accounts"
        indexes = [
            IndexModel([("kind", ASCENDING), ("_id", ASCENDING)]),
            IndexModel([("till_id", ASCENDING)]),
        ]


class JournalEntry(Document):
    """A movement: legs whose debits equal their credits in every currency."""

    id: int  # type: ignore[assignment]
    kind: str
    business_date: str
    created_at: datetime = Field(default_factory=now_ms)
    performed_by: int | None = None
    approval_id: int | None = None
    session_id: int | None = None
    legs: list[dict[str, Any]]
    reverses_id: int | None = None
    reversed_by: int | None = None
    description: str | None = None
    reference: str | None = None
    transfer_id: int | None = None
    # The customer Transactions this entry made: {"id", "account_id", "seq"}.
    lines: list[dict[str, Any]] = Field(default_factory=list)
    # The migration's key (the version 1 transaction or transfer it came from).
    source: str | None = None

    class Settings:
        name = "journal"
        indexes = [
            IndexModel([("business_date", ASCENDING)]),
            IndexModel([("source", ASCENDING)], unique=True, sparse=True),
        ]


class LegPage(Document):
    """Up to PAGE_SIZE consecutive legs of one ledger account."""

    id: str  # type: ignore[assignment]
    code: str
    page: int
    legs: list[dict[str, Any]] = Field(default_factory=list)

    class Settings:
        name = "ledger_pages"
        indexes = [IndexModel([("code", ASCENDING), ("page", ASCENDING)])]


class TransactionRef(Document):
    """Where a customer Transaction lives: its account, leg and journal entry."""

    id: int  # type: ignore[assignment]
    account_id: int
    code: str
    seq: int
    journal_id: int

    class Settings:
        name = "transaction_refs"


class DailyTotals(Document):
    """Counts and sums of one business date: `totals[kind][currency] = {count, sum}`."""

    id: str  # type: ignore[assignment]
    totals: dict[str, dict[str, dict[str, Any]]] = Field(default_factory=dict)

    class Settings:
        name = "daily_totals"
