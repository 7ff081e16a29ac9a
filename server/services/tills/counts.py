"""Counting cash: the rules of a count, and posting a difference to over/short.

A count (of a till at opening or closing, or of the vault) names an amount per currency.
It must name every currency whose expected cash is not zero (422 `count_incomplete`); a
currency counted but not expected is an overage. Denominations, when given, are money
strings mapped to integers of 0 or more that add up to the count (422 `count_mismatch`).
A difference (variance = counted - expected) is posted in one `over_short` journal entry:
a shortage debits `over_short:CUR` and credits the till or vault, an overage the reverse.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from bson import Decimal128
from pymongo.asynchronous.client_session import AsyncClientSession

from server.errors import refused
from server.services import calendar
from server.services.context import Ctx
from server.services.ledger import codes, posting
from server.services.ledger.posting import LegSpec, Posted, Posting
from server.services.tills.cash import require_cash_amount
from server.services.tills.vault import require_currency
from shared.errors import ErrorCode
from shared.money import format_money
from shared.schemas.ledger import JournalKind, Side

ZERO = Decimal("0.00")
DENOMINATION = re.compile(r"^\d{1,10}(\.\d{1,2})?$")


def check_count_amounts(counted: Mapping[str, Decimal]) -> None:
    """Refuse a count in a currency the bank does not keep, or that cash cannot make (422)."""
    for currency, amount in counted.items():
        require_currency(currency)
        require_cash_amount(amount, currency)


def require_complete(counted: Mapping[str, Decimal], expected: Mapping[str, Decimal]) -> None:
    """Refuse a count that leaves out a currency whose expected cash is not zero (422)."""
    missing = sorted(c for c, amount in expected.items() if amount != 0 and c not in counted)
    if missing:
        raise refused(ErrorCode.COUNT_INCOMPLETE,
                      "the count must name every currency the cash is expected in: "
                      + ", ".join(missing), missing=missing)  # fmt: skip


def require_denominations(
    denominations: Mapping[str, Mapping[str, int]] | None, counted: Mapping[str, Decimal]
) -> None:
    """Refuse denominations that are not money strings to counts >= 0 adding up to `counted`."""
    for currency, pieces in (denominations or {}).items():
        total = ZERO
        for face, count in pieces.items():
            if not DENOMINATION.match(face) or Decimal(face) <= 0 or count < 0:
                raise refused(ErrorCode.COUNT_MISMATCH,
                              f"{currency}: {count} x {face!r} is not a count of a denomination",
                              currency=currency, denomination=face)  # fmt: skip
            total += Decimal(face) * count
        if currency not in counted or total != counted[currency]:
            raise refused(
                ErrorCode.COUNT_MISMATCH,
                f"{currency}: the denominations add up to {total:.2f}, not to the count",
                currency=currency, denominations_total=total,
                counted=counted.get(currency),
            )  # fmt: skip


def differences(
    counted: Mapping[str, Decimal], expected: Mapping[str, Decimal]
) -> dict[str, Decimal]:
    """Return counted - expected in every currency either names (zeros included)."""
    return {
        currency: counted.get(currency, ZERO) - expected.get(currency, ZERO)
        for currency in sorted(set(counted) | set(expected))
    }


def differs(variance: Mapping[str, Decimal]) -> bool:
    """Tell whether a count differs from what was expected in any currency."""
    return any(amount != 0 for amount in variance.values())


def describe(variance: Mapping[str, Decimal]) -> str:
    """Word a variance for people: "USD short 5.00, EUR over 2.00"."""
    parts = [
        f"{currency} {'short' if amount < 0 else 'over'} {format_money(abs(amount))}"
        for currency, amount in variance.items()
        if amount != 0
    ]
    return ", ".join(parts) or "no difference"


def stored(amounts: Mapping[str, Decimal] | None) -> dict[str, Decimal128] | None:
    """Return a money map as the database keeps it."""
    if amounts is None:
        return None
    return {currency: Decimal128(amount) for currency, amount in amounts.items()}


def loaded(raw: Mapping[str, Any] | None) -> dict[str, Decimal]:
    """Return a stored money map as Decimals."""
    return {currency: posting.dec(amount) for currency, amount in (raw or {}).items()}


def require_cover(
    variance: Mapping[str, Decimal], cash: Mapping[str, Decimal], *, vault: bool, blind: bool
) -> None:
    """Refuse a shortage larger than the cash now held (a stale count at execution)."""
    for currency, amount in variance.items():
        held = cash.get(currency, ZERO)
        if amount < 0 and -amount > held:
            if vault:
                raise refused(ErrorCode.INSUFFICIENT_FUNDS,
                              "the vault no longer holds the shortage to write off",
                              available=held, requested=-amount,
                              currency=currency)  # fmt: skip
            raise refused(ErrorCode.TILL_INSUFFICIENT_CASH,
                          "the till no longer holds the shortage to write off",
                          currency=currency, requested=-amount,
                          available=None if blind else held)  # fmt: skip


async def post_variance(
    ctx: Ctx,
    session: AsyncClientSession,
    variance: Mapping[str, Decimal],
    *,
    till: Mapping[str, Any] | None,
    session_id: int | None,
    description: str,
) -> Posted | None:
    """Post a count's differences to over/short against a till (or the vault when None)."""
    legs: list[LegSpec] = []
    for currency, amount in variance.items():
        if amount == 0:
            continue
        extra: dict[str, Any] = {}
        if till is not None:
            cash = codes.till(int(till["_id"]), currency)
            extra = {"till_id": int(till["_id"]), "till_name": str(till.get("name") or "")}
        else:
            cash = codes.vault(currency)
        expense = codes.over_short(currency)
        if amount < 0:
            short = -amount
            legs += [
                LegSpec(expense, Side.DEBIT, short, currency),
                LegSpec(cash, Side.CREDIT, short, currency, upsert=False,
                        guard={"balance": {"$gte": Decimal128(short)}}, **extra),
            ]  # fmt: skip
        else:
            legs += [
                LegSpec(cash, Side.DEBIT, amount, currency, **extra),
                LegSpec(expense, Side.CREDIT, amount, currency),
            ]
    if not legs:
        return None
    return await posting.post(ctx, session, Posting(
        kind=JournalKind.OVER_SHORT, legs=legs,
        business_date=await calendar.posting_date(session), performed_by=ctx.actor_id,
        session_id=session_id, description=description,
        approval_id=int(ctx.approval["_id"]) if ctx.approval is not None else None,
    ))  # fmt: skip
