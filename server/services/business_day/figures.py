"""The ledger figures of a closed day: its trial balance and its movement totals.

Both are running sums over journal entries, so the close and `verify` compute them the same
way: the close adds the day's entries (read through the journal's `business_date` index) to
the previous closed day's trial balance, so its cost follows the day, not the bank's age;
`verify` adds every entry of the journal, day by day, from nothing, and compares.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from server.documents.ledger import JournalEntry
from server.services.ledger import codes
from server.services.ledger.posting import dec
from shared.money import to_cents_str
from shared.schemas.ledger import LedgerKind, Side, TrialBalanceCurrency, TrialBalanceLine

ZERO = Decimal("0.00")
CUSTOMERS = "customers:"
# What a day's pass over its entries needs of each (the journal's legs are small).
PROJECTION = {"kind": 1, "legs": 1, "lines": 1, "performed_by": 1, "session_id": 1,
              "business_date": 1}  # fmt: skip


def journal() -> Any:
    """Return the journal collection."""
    return JournalEntry.get_pymongo_collection()


async def entries(query: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
    """Yield the journal entries matching a `business_date` query (in no particular order:
    the figures are sums, and the report sorts its lists)."""
    cursor = journal().find(query, projection=PROJECTION)
    async for raw in cursor:
        yield raw


@dataclass
class TrialBalance:
    """Running trial balance: per currency debits and credits, and every account's balance."""

    debits: dict[str, Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    credits: dict[str, Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    # Internal accounts by code (balance in the kind's normal direction); customer accounts
    # as one line per currency, `customers:CUR` (credits − debits).
    balances: dict[str, Decimal] = field(default_factory=lambda: defaultdict(Decimal))

    def add(self, entry: dict[str, Any]) -> None:
        """Add one journal entry's legs."""
        for leg in entry["legs"]:
            amount, currency, code = dec(leg["amount"]), str(leg["currency"]), str(leg["account"])
            side = Side(leg["side"])
            (self.debits if side is Side.DEBIT else self.credits)[currency] += amount
            if codes.is_internal(code):
                self.balances[code] += codes.signed(codes.kind_of(code), side, amount)
            else:
                self.balances[CUSTOMERS + currency] += codes.signed(
                    LedgerKind.LIABILITY, side, amount
                )

    def as_json(self, counts: dict[str, int] | None = None) -> dict[str, Any]:
        """Return it as `/ledger/trial-balance` answers (customer lines first, then by code)."""
        lines: dict[str, list[TrialBalanceLine]] = defaultdict(list)
        for code in sorted(self.balances, key=lambda c: (not c.startswith(CUSTOMERS), c)):
            balance = self.balances[code]
            if code.startswith(CUSTOMERS):
                currency = code[len(CUSTOMERS) :]
                lines[currency].append(TrialBalanceLine(
                    account=code, kind=LedgerKind.LIABILITY, balance=balance,
                    count=(counts or {}).get(currency, 0),
                ))  # fmt: skip
            else:
                currency = codes.parse(code)[2]
                lines[currency].append(
                    TrialBalanceLine(account=code, kind=codes.kind_of(code), balance=balance)
                )
        return {
            currency: TrialBalanceCurrency(
                debits=self.debits[currency], credits=self.credits[currency],
                balanced=self.debits[currency] == self.credits[currency],
                accounts=lines[currency],
            ).model_dump(mode="json")
            for currency in sorted(lines)
        }  # fmt: skip

    @classmethod
    def from_json(cls, stored: dict[str, Any]) -> TrialBalance:
        """Rebuild the running figures from a stored report's trial balance."""
        figures = cls()
        for currency, totals in stored.items():
            figures.debits[currency] += Decimal(totals["debits"])
            figures.credits[currency] += Decimal(totals["credits"])
            for line in totals["accounts"]:
                figures.balances[str(line["account"])] += Decimal(line["balance"])
        return figures


def without_counts(trial_balance: dict[str, Any]) -> dict[str, Any]:
    """Return a trial balance without its account counts (not ledger figures: not verified)."""
    return {
        currency: {**totals, "accounts": [{k: v for k, v in line.items() if k != "count"}
                                          for line in totals["accounts"]]}
        for currency, totals in trial_balance.items()
    }  # fmt: skip


@dataclass
class Movements:
    """Per journal kind and currency: how many entries, and their debits (a transfer once)."""

    totals: dict[str, dict[str, list[Any]]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(lambda: [0, ZERO]))
    )

    def add(self, entry: dict[str, Any]) -> None:
        """Count one journal entry."""
        per_currency: dict[str, Decimal] = defaultdict(Decimal)
        for leg in entry["legs"]:
            if leg["side"] == Side.DEBIT.value:
                per_currency[str(leg["currency"])] += dec(leg["amount"])
        for currency, amount in per_currency.items():
            figures = self.totals[str(entry["kind"])][currency]
            figures[0] += 1
            figures[1] += amount

    def as_json(self) -> dict[str, Any]:
        """Return `{kind: {CUR: {"count", "sum"}}}`."""
        return {
            kind: {currency: {"count": int(count), "sum": to_cents_str(total)}
                   for currency, (count, total) in sorted(by_currency.items())}
            for kind, by_currency in sorted(self.totals.items())
        }  # fmt: skip
