"""The rules of a customer account's legs, checked on the account as the transaction reads it.

`CustomerAccount` is one read of an account inside a movement's transaction. Its methods
raise the contract's refusals in the contract's order and build the guarded legs: the
guard repeats status, leg count, holds and settings version, so a concurrent change makes
the conditional update miss and the transaction start over instead of breaking a rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from bson import Decimal128
from pymongo.asynchronous.client_session import AsyncClientSession

from server.documents import Account
from server.errors import not_found, refused
from server.services import hold_expiry
from server.services.context import Ctx
from server.services.ledger.posting import LegSpec, Line, dec
from shared.errors import ErrorCode
from shared.schemas.common import AccountStatus
from shared.schemas.ledger import Side

ZERO = Decimal("0.00")
# Per-day counters kept on the account document, by what they count.
DAY_FIELDS = {"out": "day_out", "deposit": "day_deposit", "withdrawal": "day_withdrawal",
              "transfer": "day_transfer"}  # fmt: skip


@dataclass
class CustomerAccount:
    """A customer account as read in the current transaction, dated `business_date`."""

    raw: dict[str, Any]
    business_date: str

    @classmethod
    async def read(
        cls,
        account_id: int,
        business_date: str,
        session: AsyncClientSession,
        *,
        ctx: Ctx | None = None,
    ) -> CustomerAccount:
        """Read an account in the transaction (its due holds expired first), or answer 404.

        `ctx` gives the `hold.expired` events the request's id; they have no actor either way.
        """
        raw = await Account.get_pymongo_collection().find_one({"_id": account_id}, session=session)
        if raw is None:
            raise not_found("account not found")
        current = await hold_expiry.expire_due(ctx, session, dict(raw))
        return cls(current if current is not None else dict(raw), business_date)

    @property
    def id(self) -> int:
        """Return the account id."""
        return int(self.raw["_id"])

    @property
    def number(self) -> str:
        """Return the account number (its ledger code)."""
        return str(self.raw["number"])

    @property
    def currency(self) -> str:
        """Return the account's currency."""
        return str(self.raw["currency"])

    @property
    def status(self) -> str:
        """Return the account's status."""
        return str(self.raw["status"])

    @property
    def owner_id(self) -> int:
        """Return the owner's user id."""
        return int(self.raw["owner_id"])

    @property
    def balance(self) -> Decimal:
        """Return the stored balance."""
        return dec(self.raw.get("balance"))

    @property
    def overdraft(self) -> Decimal:
        """Return the overdraft limit."""
        return dec(self.raw.get("overdraft_limit"))

    @property
    def held(self) -> Decimal:
        """Return the sum of active holds (due ones were expired by `read`)."""
        return dec(self.raw.get("held"))

    @property
    def available(self) -> Decimal:
        """Return balance + overdraft - held."""
        return self.balance + self.overdraft - self.held

    def today(self, counter: str) -> Decimal:
        """Return a per-day counter of the business date (zero on a new date)."""
        if self.raw.get("day") != self.business_date:
            return ZERO
        return dec(self.raw.get(DAY_FIELDS[counter]))

    # -- the contract's refusals, in its order ------------------------------------------

    def require_active(self, *, allow_frozen: bool = False) -> None:
        """Refuse a movement on a frozen or closed account (409 account_not_active)."""
        allowed = {AccountStatus.ACTIVE.value}
        if allow_frozen:
            allowed.add(AccountStatus.FROZEN.value)
        if self.status not in allowed:
            raise refused(
                ErrorCode.ACCOUNT_NOT_ACTIVE, f"the account is {self.status}",
                account_id=self.id, status=self.status,
            )  # fmt: skip

    def require_available(self, amount: Decimal, *, ignore_holds: bool = False) -> None:
        """Refuse a debit beyond the available balance (409 insufficient_funds)."""
        available = self.balance + self.overdraft - (ZERO if ignore_holds else self.held)
        if amount > available:
            held = "" if ignore_holds or not self.held else f", {self.held} held"
            raise refused(
                ErrorCode.INSUFFICIENT_FUNDS,
                f"insufficient funds: {available} {self.currency} available{held}",
                available=available, requested=amount, currency=self.currency,
                balance=self.balance, overdraft_limit=self.overdraft, held=self.held,
            )  # fmt: skip

    def require_within_daily_limit(self, amount: Decimal) -> None:
        """Refuse money out beyond the daily withdrawal limit (409 limit_exceeded)."""
        limit = self.raw.get("daily_withdrawal_limit")
        if limit is None:
            return
        used = self.today("out")
        if used + amount > dec(limit):
            raise refused(
                ErrorCode.LIMIT_EXCEEDED,
                f"the daily withdrawal limit of {dec(limit)} {self.currency} would be "
                f"exceeded ({used} already out on {self.business_date})",
                limit=dec(limit), used=used, requested=amount, currency=self.currency,
            )  # fmt: skip

    # -- legs ------------------------------------------------------------------------------

    def guard(self) -> dict[str, Any]:
        """Return the filter that holds while nothing changed the account since this read."""
        return {
            "entry_seq": self.raw.get("entry_seq", 0),
            "status": self.status,
            "version": self.raw.get("version", 1),
            "held": Decimal128(self.held) if "held" in self.raw else None,
        }

    def leg(
        self,
        side: Side,
        amount: Decimal,
        line: Line,
        *,
        counters: dict[str, Decimal] | None = None,
    ) -> LegSpec:
        """Return this account's leg, moving the given per-day counters by their amounts."""
        sets: dict[str, Any] = {}
        incs: dict[str, Decimal] = {}
        counters = counters or {}
        if counters:
            if self.raw.get("day") != self.business_date:
                sets["day"] = self.business_date
                for name, field in DAY_FIELDS.items():
                    sets[field] = Decimal128(max(ZERO, counters.get(name, ZERO)))
            else:
                incs = {DAY_FIELDS[name]: value for name, value in counters.items()}
        return LegSpec(
            code=self.number, side=side, amount=amount, currency=self.currency,
            account_id=self.id, line=line, guard=self.guard(), account_sets=sets,
            account_incs=incs,
        )  # fmt: skip
