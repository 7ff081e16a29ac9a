"""Codes, kinds and names of the ledger's accounts (API.md "The bank's ledger").

Customer accounts have their account number as their code and kind `liability`; the bank's
own accounts are named by what they hold and the currency: `vault:USD`, `till:3:USD`,
`head_office:USD`, `over_short:USD`, `capital:USD`, `suspense:USD`.
"""

from __future__ import annotations

from decimal import Decimal

from shared.schemas.ledger import LedgerKind, Side

_INTERNAL = {
    "vault": (LedgerKind.ASSET, "Vault cash"),
    "till": (LedgerKind.ASSET, "Till cash"),
    "head_office": (LedgerKind.ASSET, "Head office clearing"),
    "over_short": (LedgerKind.EXPENSE, "Cash over and short"),
    "capital": (LedgerKind.EQUITY, "Capital (balances before the ledger)"),
    "suspense": (LedgerKind.ASSET, "Self-service cash suspense"),
}


def vault(currency: str) -> str:
    """Return the vault's code in a currency."""
    return f"vault:{currency}"


def till(till_id: int, currency: str) -> str:
    """Return a till's code in a currency."""
    return f"till:{till_id}:{currency}"


def head_office(currency: str) -> str:
    """Return the head-office clearing account's code."""
    return f"head_office:{currency}"


def over_short(currency: str) -> str:
    """Return the over/short account's code."""
    return f"over_short:{currency}"


def capital(currency: str) -> str:
    """Return the capital account's code (the migration's contra account)."""
    return f"capital:{currency}"


def suspense(currency: str) -> str:
    """Return the suspense account's code (owners' self-service cash)."""
    return f"suspense:{currency}"


def is_internal(code: str) -> bool:
    """Tell whether a code names one of the bank's own accounts."""
    return code.split(":", 1)[0] in _INTERNAL and ":" in code


def parse(code: str) -> tuple[str, int | None, str]:
    """Return (prefix, till id or None, currency) of an internal code; ValueError otherwise."""
    parts = code.split(":")
    if parts[0] not in _INTERNAL:
        raise ValueError(code)
    if parts[0] == "till":
        if len(parts) != 3 or not parts[1].isdigit():
            raise ValueError(code)
        return "till", int(parts[1]), parts[2]
    if len(parts) != 2:
        raise ValueError(code)
    return parts[0], None, parts[1]


def kind_of(code: str) -> LedgerKind:
    """Return the kind of a code: a customer account number is a liability."""
    if not is_internal(code):
        return LedgerKind.LIABILITY
    return _INTERNAL[code.split(":", 1)[0]][0]


def name_of(code: str, till_name: str | None = None) -> str:
    """Return a readable name of an internal account."""
    prefix, till_id, currency = parse(code)
    base = _INTERNAL[prefix][1]
    if prefix == "till":
        base = f"{till_name or f'Till {till_id}'} cash"
    return f"{base} ({currency})"


def debit_normal(kind: LedgerKind) -> bool:
    """Tell whether an account of this kind grows with debits (assets and expenses)."""
    return kind in (LedgerKind.ASSET, LedgerKind.EXPENSE)


def signed(kind: LedgerKind, side: Side, amount: Decimal) -> Decimal:
    """Return how a leg changes a balance kept in the kind's normal direction."""
    grows = (side is Side.DEBIT) == debit_normal(kind)
    return amount if grows else -amount
