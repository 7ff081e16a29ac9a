"""Tills, the vault, teller sessions and cash counts."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, Field, StrictInt

from shared.money import Amount, Money, MoneyLimit
from shared.schemas.common import RequestModel, Timestamp

CurrencyCode = Annotated[str, Field(min_length=3, max_length=3, pattern="^[A-Z]{3}$")]
Reference = Annotated[str, Field(min_length=1, max_length=140)]
Note = Annotated[str, Field(min_length=1, max_length=500)]
TillName = Annotated[str, Field(min_length=1, max_length=60)]
CashMap = dict[CurrencyCode, MoneyLimit]
"""An amount per currency in a request (0.00 or more)."""
Denominations = dict[CurrencyCode, dict[Annotated[str, Field(max_length=16)], StrictInt]]
"""Pieces counted per currency: a money string ("50.00") mapped to how many (0 or more)."""


class TillStatus(StrEnum):
    """Whether a till is in use."""

    ACTIVE = "active"
    RETIRED = "retired"


class SessionStatus(StrEnum):
    """Lifecycle of a teller session."""

    OPEN = "open"
    CLOSING = "closing"
    CLOSED = "closed"


class TillCreate(RequestModel):
    """A new till."""

    name: TillName
    cash_limit: CashMap | None = None


class TillUpdate(RequestModel):
    """Changes to a till."""

    name: TillName | None = None
    cash_limit: CashMap | None = None
    status: TillStatus | None = None


class TillPublic(BaseModel):
    """A till; `cash` is null for tellers (blind balancing)."""

    id: int
    name: str
    status: TillStatus
    cash_limit: dict[str, Money] | None
    session_id: int | None
    cash: dict[str, Money] | None


class TillSort(StrEnum):
    """Fields the till list may be sorted by."""

    ID = "id"
    NAME = "name"


class SessionOpen(RequestModel):
    """Opening a session, optionally with the teller's count of the till.

    A count must name every currency the till holds; one that differs from the till's cash
    waits for approval `till.variance`, whose execution posts the difference to over/short.
    """

    counted: CashMap | None = None


class SessionClose(RequestModel):
    """Closing a session with the teller's count (and optional denominations).

    Checked in order: `counted` names every currency whose expected cash is not zero (422
    `count_incomplete`); each currency's denominations add up to its count (422
    `count_mismatch`); a difference carries a `note` (422 `note_required`).
    """

    counted: CashMap
    denominations: Denominations | None = None
    note: Note | None = None


class SessionCount(BaseModel):
    """A count of a session that a supervisor rejected."""

    counted: dict[str, Money]
    denominations: dict[str, dict[str, int]] | None
    variance: dict[str, Money] | None
    note: str | None
    approval_id: int | None
    at: Timestamp


class SessionPublic(BaseModel):
    """A teller session; `expected`, `variance` are null for its own teller until closed."""

    id: int
    till_id: int
    teller_id: int
    status: SessionStatus
    business_date: str
    opened_at: Timestamp
    closed_at: Timestamp | None
    opening: dict[str, Money]
    expected: dict[str, Money] | None
    counted: dict[str, Money] | None
    denominations: dict[str, dict[str, int]] | None
    variance: dict[str, Money] | None
    note: str | None
    approval_id: int | None
    over_limit: bool
    counts: list[SessionCount] = Field(default_factory=list)


class SessionSort(StrEnum):
    """Fields the session list may be sorted by."""

    ID = "id"
    OPENED_AT = "opened_at"


class SessionLineSort(StrEnum):
    """A session's journal is in the till's order (`id` is the leg's position)."""

    ID = "id"


class SessionLine(BaseModel):
    """One leg of the till in a session, with the till's balance after it."""

    journal_id: int
    kind: str
    side: Literal["debit", "credit"]
    amount: Money
    currency: str
    till_balance_after: Money | None
    business_date: str
    created_at: Timestamp
    description: str | None
    transaction_id: int | None


class TillCashMove(RequestModel):
    """Cash between the vault and a till."""

    direction: Literal["to_till", "to_vault"]
    currency: CurrencyCode
    amount: Amount
    reference: Reference | None = None


class VaultCash(RequestModel):
    """Cash delivered by or returned to the cash centre."""

    direction: Literal["in", "out"]
    currency: CurrencyCode
    amount: Amount
    reference: Reference


class VaultCountRequest(RequestModel):
    """A count of the vault."""

    counted: CashMap
    note: Note | None = None


class VaultCountResult(BaseModel):
    """A vault count: what was counted, what the ledger expected, the difference."""

    counted: dict[str, Money]
    expected: dict[str, Money]
    variance: dict[str, Money]


class CashPositionTill(BaseModel):
    """One till's cash in a currency; null for the caller's own session's till (blind)."""

    till_id: int
    name: str
    cash: Money | None
    session_id: int | None
    teller_id: int | None


class CashPositionCurrency(BaseModel):
    """The bank's cash in one currency: the vault and every till."""

    vault: Money
    tills: list[CashPositionTill]
    total: Money | None  # null when one of the tills is blind to the caller


type CashPosition = dict[str, CashPositionCurrency]
