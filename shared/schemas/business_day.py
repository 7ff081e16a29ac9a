"""The business day, its close and the sealed end-of-day report."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from shared.schemas.common import RequestModel, Timestamp

BusinessDate = Annotated[str, Field(pattern=r"^\d{4}-\d{2}-\d{2}$", examples=["2026-12-01"])]


class DayStatus(StrEnum):
    """Whether postings of the open date are still taken."""

    OPEN = "open"
    CLOSING = "closing"


class BusinessDayPublic(BaseModel):
    """The open business date, and today's date in BANK_TIMEZONE."""

    date: str
    status: DayStatus
    opened_at: Timestamp
    calendar_date: str


class CloseRequest(RequestModel):
    """The open date the caller means to close."""

    date: BusinessDate


class ClosedDay(BaseModel):
    """A closed business day in the chain."""

    date: str
    closed_at: Timestamp
    closed_by: int
    hash: str


class ReportFormat(StrEnum):
    """File formats of a day's report."""

    JSON = "json"
    PDF = "pdf"
    CSV = "csv"


class VerifyResult(BaseModel):
    """Whether every closed day's report, its chain and its figures still hold."""

    days: int
    valid: bool
    first_bad_date: str | None
    reason: Literal["hash", "chain", "figures"] | None


# The report is stored and hashed as plain JSON (API.md "Business day"); its schema is
# documented, not enforced on the way out, so what is served is exactly what was hashed.
type DayReport = dict[str, Any]
