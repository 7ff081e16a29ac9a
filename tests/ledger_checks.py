"""Read the ledger straight from the database, and check its invariants (DESIGN.md "Money").

Tests use these after any workload or fault: per currency the sum over every account of
(debits - credits) is zero; every stored balance, debit and credit total equals its legs;
every account's legs are numbered 1..n with a running `balance_after`; every journal entry
balances and its legs are on its accounts' pages; every customer Transaction has one ref;
no till holds negative cash; no customer balance is below -overdraft_limit.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import datetime
from decimal import Decimal
from typing import Any

from bson import Decimal128

ZERO = Decimal("0.00")
ASSET_LIKE = ("asset", "expense")


def dec(value: Any) -> Decimal:
    """Return a stored money value as Decimal."""
    if isinstance(value, Decimal128):
        return value.to_decimal()
    return Decimal(value if value is not None else 0)


def _row(leg: dict[str, Any]) -> dict[str, Any]:
    # A customer leg is a Transaction: `_id` is its id, as version 1 stored it.
    if leg.get("account_id") is not None:
        return {**leg, "_id": leg["transaction_id"]}
    return leg


def decode(text: str) -> dict[str, Any]:
    """Return a leg as a page stores it (compact JSON) with Decimal money and aware times."""
    leg: dict[str, Any] = json.loads(text)
    for key in ("amount", "balance_after"):
        if leg.get(key) is not None:
            leg[key] = Decimal(leg[key])
    if isinstance(leg.get("created_at"), str):
        leg["created_at"] = datetime.fromisoformat(leg["created_at"].replace("Z", "+00:00"))
    return leg


def legs_of(mongo: Any, code: str) -> list[dict[str, Any]]:
    """Return every leg of one ledger account (a customer's number or a bank code), in order."""
    pages = mongo.ledger_pages.find({"code": code}).sort("page", 1)
    return [_row(decode(leg)) for page in pages for leg in page.get("legs", [])]


def customer_legs(mongo: Any, account_id: int) -> list[dict[str, Any]]:
    """Return a customer account's legs (its history as stored), oldest first."""
    account = mongo.accounts.find_one({"_id": account_id})
    return legs_of(mongo, account["number"]) if account else []


def leg_of(mongo: Any, transaction_id: int) -> dict[str, Any] | None:
    """Return the stored leg of one customer Transaction."""
    ref = mongo.transaction_refs.find_one({"_id": transaction_id})
    if ref is None:
        return None
    for leg in legs_of(mongo, ref["code"]):
        if leg["seq"] == ref["seq"]:
            return leg
    return None


def all_customer_legs(mongo: Any) -> list[dict[str, Any]]:
    """Return the legs of every customer account."""
    legs = [decode(leg) for page in mongo.ledger_pages.find({}) for leg in page.get("legs", [])]
    return [_row(leg) for leg in legs if leg.get("account_id") is not None]


def customer_legs_where(mongo: Any, **fields: Any) -> list[dict[str, Any]]:
    """Return the customer legs whose fields equal the given values (a list means "in")."""

    def matches(leg: dict[str, Any]) -> bool:
        return all(leg.get(key) in value if isinstance(value, list) else leg.get(key) == value
                   for key, value in fields.items())  # fmt: skip

    return [leg for leg in all_customer_legs(mongo) if matches(leg)]


def check_ledger(mongo: Any) -> dict[str, int]:
    """Assert every ledger invariant over the whole database; return what was checked."""
    sums: dict[str, Decimal] = defaultdict(Decimal)
    journal_legs: dict[str, list[tuple[int, str, Decimal]]] = defaultdict(list)
    entries = 0
    for entry in mongo.journal.find({}):
        entries += 1
        per_currency: dict[str, Decimal] = defaultdict(Decimal)
        for leg in entry["legs"]:
            amount = dec(leg["amount"])
            assert amount > 0, entry
            signed = amount if leg["side"] == "debit" else -amount
            per_currency[leg["currency"]] += signed
            sums[leg["currency"]] += signed
            journal_legs[leg["account"]].append((entry["_id"], leg["side"], amount))
        assert all(total == 0 for total in per_currency.values()), ("unbalanced", entry)
    assert all(total == 0 for total in sums.values()), ("debits != credits", dict(sums))

    accounts = 0
    for account in mongo.accounts.find({}):
        accounts += 1
        legs = legs_of(mongo, account["number"])
        _check_legs(legs, account["number"], credit_normal=True)
        debits = sum((dec(leg["amount"]) for leg in legs if leg["side"] == "debit"), ZERO)
        credits = sum((dec(leg["amount"]) for leg in legs if leg["side"] == "credit"), ZERO)
        assert dec(account["balance"]) == credits - debits, account
        assert dec(account.get("debits")) == debits, account
        assert dec(account.get("credits")) == credits, account
        assert int(account.get("entry_seq", 0)) == len(legs), account
        assert dec(account["balance"]) >= -dec(account["overdraft_limit"]) or any(
            leg.get("forced") for leg in legs
        ), ("below the overdraft limit", account)
        _check_against_journal(legs, journal_legs[account["number"]], account["number"])
        for leg in legs:
            ref = mongo.transaction_refs.find_one({"_id": leg["transaction_id"]})
            assert ref is not None, leg
            assert (ref["code"], ref["seq"]) == (account["number"], leg["seq"]), (ref, leg)

    internal = 0
    for ledger_account in mongo.ledger_accounts.find({}):
        internal += 1
        code = ledger_account["_id"]
        legs = legs_of(mongo, code)
        debit_normal = ledger_account["kind"] in ASSET_LIKE
        _check_legs(legs, code, credit_normal=not debit_normal)
        debits = sum((dec(leg["amount"]) for leg in legs if leg["side"] == "debit"), ZERO)
        credits = sum((dec(leg["amount"]) for leg in legs if leg["side"] == "credit"), ZERO)
        balance = debits - credits if debit_normal else credits - debits
        assert dec(ledger_account["balance"]) == balance, ledger_account
        assert dec(ledger_account.get("debits")) == debits, ledger_account
        assert dec(ledger_account.get("credits")) == credits, ledger_account
        assert int(ledger_account["seq"]) == len(legs), ledger_account
        if code.startswith(("till:", "vault:")):
            assert balance >= 0, ("negative cash", ledger_account)
        _check_against_journal(legs, journal_legs[code], code)
    return {"journal": entries, "accounts": accounts, "internal": internal}


def _check_legs(legs: list[dict[str, Any]], code: str, *, credit_normal: bool) -> None:
    running = ZERO
    for n, leg in enumerate(legs, start=1):
        assert leg["seq"] == n, (code, n, leg)
        amount = dec(leg["amount"])
        grows = (leg["side"] == "credit") == credit_normal
        running += amount if grows else -amount
        assert dec(leg["balance_after"]) == running, (code, leg, running)


def _check_against_journal(
    legs: list[dict[str, Any]], journal: list[tuple[int, str, Decimal]], code: str
) -> None:
    from_pages = sorted((int(leg["journal_id"]), leg["side"], dec(leg["amount"])) for leg in legs)
    assert from_pages == sorted(journal), (code, "pages and journal differ")
