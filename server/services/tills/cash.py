"""The till side of a cash movement: whose session, which till, how much cash it holds.

A deposit or withdrawal by staff posts against the till of the actor's open teller session
(API.md "Cash needs a till"); an approval's execution posts against the session the maker
had when asking. The till's cash is the balance of its ledger account `till:ID:CUR`.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from bson import Decimal128
from pymongo.asynchronous.client_session import AsyncClientSession

from server.documents.branch import OpenSession, TellerSession, Till
from server.documents.ledger import LedgerAccount
from server.errors import refused
from server.services.ledger import codes
from server.services.ledger.posting import LegSpec, dec
from shared.errors import ErrorCode
from shared.schemas.ledger import Side

ZERO = Decimal("0.00")
# The smallest cash unit per currency (API.md "Cash needs a till"); others 0.01.
CASH_UNITS = {
    "CHF": Decimal("0.05"), "CAD": Decimal("0.05"), "AUD": Decimal("0.05"),
    "NZD": Decimal("0.10"), "HKD": Decimal("0.10"), "DKK": Decimal("0.50"),
    "SEK": Decimal("1.00"), "NOK": Decimal("1.00"), "CZK": Decimal("1.00"),
}  # fmt: skip


def cash_unit(currency: str) -> Decimal:
    """Return the smallest amount of a currency a till pays out or takes in."""
    return CASH_UNITS.get(currency, Decimal("0.01"))


def require_cash_amount(amount: Decimal, currency: str) -> None:
    """Refuse an amount that is not a multiple of the currency's cash unit (422)."""
    unit = cash_unit(currency)
    if amount % unit != 0:
        raise refused(
            ErrorCode.NOT_CASH_AMOUNT,
            f"{amount} {currency} cannot be paid in cash: use a multiple of {unit}",
            amount=amount, currency=currency, unit=unit,
        )  # fmt: skip


async def open_session_of(
    teller_id: int, session: AsyncClientSession | None = None
) -> dict[str, Any] | None:
    """Return a teller's session that is not closed, if any (two reads by `_id`)."""
    marker = await OpenSession.get_pymongo_collection().find_one({"_id": teller_id},
                                                                 session=session)  # fmt: skip
    if marker is None:
        return None
    found = await TellerSession.get_pymongo_collection().find_one(
        {"_id": marker["session_id"]}, session=session
    )
    return dict(found) if found is not None else None


async def session_for_cash(
    teller_id: int, session: AsyncClientSession, *, session_id: int | None = None
) -> dict[str, Any]:
    """Return the open session a cash movement posts against, or refuse.

    `session_id` (an approval's recorded session) wins over the actor's current one.
    """
    if session_id is not None:
        found = await TellerSession.get_pymongo_collection().find_one(
            {"_id": session_id}, session=session
        )
        current = dict(found) if found is not None else None
    else:
        current = await open_session_of(teller_id, session)
    if current is not None and current["status"] == "closing":
        raise refused(ErrorCode.SESSION_CLOSING, "the till session is being closed",
                      session_id=current["_id"])  # fmt: skip
    if current is not None and current["status"] == "closed":
        raise refused(ErrorCode.SESSION_CLOSED, "the till session is closed",
                      session_id=current["_id"])  # fmt: skip
    if current is None:
        raise refused(ErrorCode.NO_OPEN_SESSION,
                      "open a till session first: staff cash goes through a till")  # fmt: skip
    return current


@dataclass
class TillSide:
    """A till in one currency, as this transaction read it."""

    till: dict[str, Any]
    session: dict[str, Any]
    currency: str
    account: dict[str, Any] | None  # its ledger account, None before its first cash

    @classmethod
    async def read(
        cls, current: dict[str, Any], currency: str, session: AsyncClientSession
    ) -> TillSide:
        """Read the till of a session and its cash in a currency."""
        till = await Till.get_pymongo_collection().find_one(
            {"_id": current["till_id"]}, session=session
        )
        assert till is not None, current
        code = codes.till(int(till["_id"]), currency)
        account = await LedgerAccount.get_pymongo_collection().find_one(
            {"_id": code}, session=session
        )
        return cls(dict(till), current, currency, dict(account) if account else None)

    @property
    def code(self) -> str:
        """Return the till's ledger code in this currency."""
        return codes.till(int(self.till["_id"]), self.currency)

    @property
    def cash(self) -> Decimal:
        """Return the cash the till holds in this currency."""
        return dec(self.account["balance"]) if self.account else ZERO

    def require_cash(self, amount: Decimal, *, blind: bool) -> None:
        """Refuse paying out more than the till holds (409 till_insufficient_cash)."""
        if amount > self.cash:
            raise refused(
                ErrorCode.TILL_INSUFFICIENT_CASH,
                f"the till does not hold {amount} {self.currency}",
                currency=self.currency, requested=amount,
                available=None if blind else self.cash,
            )  # fmt: skip

    def over_limit_after(self, amount: Decimal) -> bool:
        """Tell whether taking in `amount` takes the till above its cash limit."""
        limits = self.till.get("cash_limit") or {}
        limit = limits.get(self.currency)
        return limit is not None and self.cash + amount > dec(limit)

    def leg(self, side: Side, amount: Decimal) -> LegSpec:
        """Return the till's leg; a credit (cash out) is guarded by the cash it held."""
        guard: dict[str, Any] = {}
        upsert = True
        if side is Side.CREDIT:
            guard = {"balance": {"$gte": Decimal128(amount)}}
            upsert = False
        return LegSpec(
            code=self.code, side=side, amount=amount, currency=self.currency,
            guard=guard, upsert=upsert, till_id=int(self.till["_id"]),
            till_name=str(self.till.get("name") or ""),
        )  # fmt: skip


async def flag_over_limit(session_id: int, session: AsyncClientSession) -> None:
    """Mark a session whose till went above its cash limit."""
    await TellerSession.get_pymongo_collection().update_one(
        {"_id": session_id}, {"$set": {"over_limit": True}}, session=session
    )
