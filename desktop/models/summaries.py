"""How a person's accounts read in one cell: how many are open, the balance per currency."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from desktop.text import account_status, money, tr
from shared.schemas.common import AccountStatus
from shared.schemas.users import AccountSummary


def account_totals(accounts: Sequence[AccountSummary]) -> tuple[int, dict[str, Decimal]]:
    """Return how many accounts are not closed, and the balance per currency of them all."""
    open_count = sum(1 for a in accounts if a.status is not AccountStatus.CLOSED)
    totals: dict[str, Decimal] = {}
    for account in accounts:
        totals[account.currency] = totals.get(account.currency, Decimal(0)) + account.balance
    return open_count, dict(sorted(totals.items()))


def balances_text(accounts: Sequence[AccountSummary]) -> str:
    """Return the balances per currency: "10.50 EUR · 1,250.00 USD"."""
    _count, totals = account_totals(accounts)
    return " · ".join(money(total, currency) for currency, total in totals.items())


def accounts_tooltip(accounts: Sequence[AccountSummary]) -> str:
    """Return one line per account: number, balance, status."""
    lines = [
        f"{a.number} · {money(a.balance, a.currency)} · {account_status(a.status)}"
        for a in accounts
    ]
    return "\n".join(lines) if lines else tr("No accounts")


def any_negative(accounts: Sequence[AccountSummary]) -> bool:
    """Tell whether any account is overdrawn."""
    return any(a.balance < 0 for a in accounts)
