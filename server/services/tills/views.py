"""What tills and sessions show to whom (blind balancing, API.md "Tills and teller sessions").

While a session is not closed, its own teller (whatever their role) sees neither what the
till should hold (`expected`, `variance`, the till's `cash`) nor the till's running balance;
`opening` is shown. Tellers never see a till's cash; supervisors and admins see everything
of other tellers' sessions.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from server.services.context import Ctx
from server.services.ledger.posting import dec
from shared.schemas.tills import SessionCount, SessionPublic, SessionStatus, TillPublic, TillStatus


def _money_map(raw: dict[str, Any] | None) -> dict[str, Decimal] | None:
    if raw is None:
        return None
    return {currency: dec(amount) for currency, amount in raw.items()}


def sees_cash(ctx: Ctx, session: dict[str, Any] | None) -> bool:
    """Tell whether the caller may see what a till holds while this session runs."""
    if not ctx.is_supervisor:
        return False
    if session is None or session.get("status") == "closed":
        return True
    return ctx.actor_id != session.get("teller_id")


def till_public(
    ctx: Ctx, till: dict[str, Any], cash: dict[str, Decimal], session: dict[str, Any] | None
) -> TillPublic:
    """Return a till as the caller may see it."""
    return TillPublic(
        id=int(till["_id"]), name=str(till["name"]), status=TillStatus(till["status"]),
        cash_limit=_money_map(till.get("cash_limit")), session_id=till.get("session_id"),
        cash=cash if sees_cash(ctx, session) else None,
    )  # fmt: skip


def session_public(
    ctx: Ctx, doc: dict[str, Any], till_cash: dict[str, Decimal] | None
) -> SessionPublic:
    """Return a session as the caller may see it; `till_cash` is the till's cash now."""
    closed = doc["status"] == "closed"
    blind = not closed and ctx.actor_id == doc["teller_id"]
    if closed:
        expected = _money_map(doc.get("expected_at_close"))
    elif doc["status"] == "closing":
        expected = _money_map(doc.get("expected_at_close")) or till_cash
    else:
        expected = till_cash
    variance = _money_map(doc.get("variance"))
    return SessionPublic(
        id=int(doc["_id"]), till_id=int(doc["till_id"]), teller_id=int(doc["teller_id"]),
        status=SessionStatus(doc["status"]), business_date=str(doc["business_date"]),
        opened_at=doc["opened_at"], closed_at=doc.get("closed_at"),
        opening=_money_map(doc.get("opening")) or {},
        expected=None if blind else expected,
        counted=_money_map(doc.get("counted")),
        denominations=doc.get("denominations"),
        variance=None if blind else variance,
        note=doc.get("note"), approval_id=doc.get("approval_id"),
        over_limit=bool(doc.get("over_limit", False)),
        counts=[_count(count, blind) for count in doc.get("counts", [])],
    )  # fmt: skip


def _count(count: dict[str, Any], blind: bool) -> SessionCount:
    # A rejected count's variance would tell its teller what the till should hold.
    return SessionCount(
        counted=_money_map(count.get("counted")) or {}, denominations=count.get("denominations"),
        variance=None if blind else _money_map(count.get("variance")), note=count.get("note"),
        approval_id=count.get("approval_id"), at=count["at"],
    )  # fmt: skip
