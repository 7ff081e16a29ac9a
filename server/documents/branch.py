"""Beanie documents of branch operations: tills, sessions, approvals, the business day, holds.

Each is a small collection (a branch has a few tills, a few sessions and approvals a day),
read by `_id` or by one indexed field on every hot path.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from beanie import DecimalAnnotation, Document
from pydantic import Field
from pymongo import ASCENDING, DESCENDING, IndexModel

from shared.schemas.common import now_ms


class Till(Document):
    """A cash drawer; its cash is the balance of its ledger accounts `till:ID:CUR`."""

    id: int  # type: ignore[assignment]
    name: str
    status: str = "active"
    cash_limit: dict[str, DecimalAnnotation] | None = None
    session_id: int | None = None  # the session not closed, if any
    created_at: datetime = Field(default_factory=now_ms)

    class Settings:
        name = "tills"


class TellerSession(Document):
    """A teller's session on a till, from opening to the close of its count."""

    id: int  # type: ignore[assignment]
    till_id: int
    teller_id: int
    status: str = "open"
    business_date: str
    opened_at: datetime = Field(default_factory=now_ms)
    closed_at: datetime | None = None
    opening: dict[str, DecimalAnnotation] = Field(default_factory=dict)
    counted: dict[str, DecimalAnnotation] | None = None
    denominations: dict[str, dict[str, int]] | None = None
    variance: dict[str, DecimalAnnotation] | None = None
    expected_at_close: dict[str, DecimalAnnotation] | None = None
    note: str | None = None
    approval_id: int | None = None
    over_limit: bool = False
    counts: list[dict[str, Any]] = Field(default_factory=list)
    closing_at: datetime | None = None
    # The teller's count at opening, when it differed from the till (posted to over/short).
    opening_count: dict[str, DecimalAnnotation] | None = None
    opening_variance: dict[str, DecimalAnnotation] | None = None
    opening_approval_id: int | None = None
    # The till's ledger position per currency when the session opened (its legs come after)
    # and when it closed: the session's journal is read by position between the two.
    start_seq: dict[str, int] = Field(default_factory=dict)
    end_seq: dict[str, int] | None = None

    class Settings:
        name = "teller_sessions"
        indexes = [
            IndexModel([("teller_id", ASCENDING), ("status", ASCENDING)]),
            IndexModel([("status", ASCENDING)]),
            IndexModel([("business_date", ASCENDING)]),
            IndexModel([("till_id", ASCENDING)]),
        ]


class VaultCount(Document):
    """A count of the vault: what was counted, what the ledger expected, the difference.

    `status`: `balanced` (no difference), `pending` (waiting for `till.variance`), `posted`
    (the difference went to over/short), or how its approval ended (`rejected`, ...).
    """

    id: int  # type: ignore[assignment]
    business_date: str
    counted: dict[str, DecimalAnnotation]
    expected: dict[str, DecimalAnnotation]
    variance: dict[str, DecimalAnnotation]
    note: str | None = None
    at: datetime = Field(default_factory=now_ms)
    by: int
    approval_id: int | None = None
    journal_id: int | None = None
    status: str

    class Settings:
        name = "vault_counts"
        indexes = [
            IndexModel([("business_date", ASCENDING), ("_id", DESCENDING)]),
            IndexModel([("approval_id", ASCENDING)]),
        ]


class OpenSession(Document):
    """A teller's session that is not closed: `_id` is the teller's user id.

    Read by `_id` on every staff cash movement (a lookup by teller in `teller_sessions` would
    scan on the embedded database), and its unique `_id` keeps a teller to one session.
    """

    id: int  # type: ignore[assignment]
    session_id: int
    till_id: int

    class Settings:
        name = "open_sessions"


class ApprovalPolicyDoc(Document):
    """An approval policy; `_id` is the action."""

    id: str  # type: ignore[assignment]
    enabled: bool = True
    threshold: dict[str, DecimalAnnotation] | None = None
    approvals_required: int = 1
    version: int = 1

    class Settings:
        name = "approval_policies"


class ApprovalDoc(Document):
    """A covered request waiting for, or decided by, its checkers."""

    id: int  # type: ignore[assignment]
    action: str
    status: str = "pending"
    maker_id: int
    request: dict[str, Any]
    fingerprint: str
    idempotency_record: str | None = None
    summary: str
    amount: DecimalAnnotation | None = None
    currency: str | None = None
    account_id: int | None = None
    session_id: int | None = None
    # Users whose own user or own account the request touches: never its checkers.
    touches_users: list[int] = Field(default_factory=list)
    checker_id: int | None = None  # till.receive: the only eligible checker
    approvals: list[dict[str, Any]] = Field(default_factory=list)
    required: int = 1
    decided_by: int | None = None
    reason: str | None = None
    result: dict[str, Any] | None = None
    business_date: str
    created_at: datetime = Field(default_factory=now_ms)
    expires_at: datetime | None = None
    decided_at: datetime | None = None

    class Settings:
        name = "approvals"
        indexes = [
            IndexModel([("status", ASCENDING), ("_id", DESCENDING)]),
            IndexModel([("maker_id", ASCENDING), ("status", ASCENDING)]),
            IndexModel([("business_date", ASCENDING), ("status", ASCENDING)]),
            IndexModel([("session_id", ASCENDING), ("status", ASCENDING)]),
        ]


class BusinessDay(Document):
    """The bank's one business day record (`_id` "current") and its timezone."""

    id: str  # type: ignore[assignment]
    date: str
    status: str = "open"
    opened_at: datetime = Field(default_factory=now_ms)
    timezone: str = "UTC"
    # The journal's last id when the day opened: the day's entries come after it.
    first_journal_id: int = 1

    class Settings:
        name = "business_day"


class ClosedDayDoc(Document):
    """A closed business day: its stored, hashed report (`_id` is the date)."""

    id: str  # type: ignore[assignment]
    closed_at: datetime
    closed_by: int
    hash: str
    previous_hash: str | None = None
    report: dict[str, Any]

    class Settings:
        name = "business_days"


class Hold(Document):
    """Money held on an account without moving it."""

    id: int  # type: ignore[assignment]
    account_id: int
    amount: DecimalAnnotation
    reason_code: str
    reference: str | None = None
    status: str = "active"
    created_by: int | None = None
    created_at: datetime = Field(default_factory=now_ms)
    expires_at: datetime | None = None
    released_by: int | None = None
    released_at: datetime | None = None
    expired_at: datetime | None = None
    note: str | None = None
    approval_id: int | None = None

    class Settings:
        name = "holds"
        # An account's page (oldest first, by status or not), the sweep of due holds, and
        # a reversal's hold by the reversed Transaction's id.
        indexes = [
            IndexModel([("account_id", ASCENDING), ("_id", ASCENDING)]),
            IndexModel([("account_id", ASCENDING), ("status", ASCENDING), ("_id", ASCENDING)]),
            IndexModel([("status", ASCENDING), ("expires_at", ASCENDING)]),
            IndexModel([("reference", ASCENDING)]),
        ]


ZERO = Decimal("0.00")
