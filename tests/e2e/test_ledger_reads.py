"""The ledger's read routes over HTTP: its accounts, an account's legs, a journal entry.

API.md "The bank's ledger": `/ledger/accounts` (shape, `kind` filter, each balance in its
kind's normal direction), `/ledger/accounts/{code}/entries` (legs oldest first, paged, with a
running `balance_after`), `/ledger/journal/{id}` (a deposit's and a transfer's legs, which
balance per currency); supervisors and admins only.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from tests.ledger_checks import check_ledger
from tests.support import Api, dec, expect, user_id

ACCOUNT_FIELDS = {"code", "kind", "name", "currency", "balance", "debits", "credits"}
LEG_FIELDS = {"journal_id", "side", "amount", "balance_after", "business_date", "created_at",
              "description", "transaction_id"}  # fmt: skip
JOURNAL_FIELDS = {"id", "kind", "business_date", "created_at", "performed_by", "approval_id",
                  "session_id", "legs", "reverses_id", "reversed_by"}  # fmt: skip
DEBIT_NORMAL = ("asset", "expense")


def all_ledger_accounts(api: Api, **params: Any) -> list[dict[str, Any]]:
    """Return every ledger account, page by page."""
    items: list[dict[str, Any]] = []
    while True:
        query = {**params, "skip": len(items), "limit": 200}
        page = expect(api.get("/ledger/accounts", params=query), 200)
        items += page["items"]
        if len(items) >= page["total"]:
            return items


def legs_balance(legs: list[dict[str, Any]]) -> dict[str, Decimal]:
    """Return debits minus credits per currency of a journal entry's legs."""
    sums: dict[str, Decimal] = defaultdict(Decimal)
    for leg in legs:
        sums[leg["currency"]] += dec(leg["amount"]) * (1 if leg["side"] == "debit" else -1)
    return dict(sums)


@pytest.fixture(scope="module")
def customer(
    make_user: Callable[..., tuple[dict[str, Any], Api]],
    open_account: Callable[..., dict[str, Any]],
) -> dict[str, Any]:
    """A customer with two USD accounts: one with history (cash and transfers), one for it."""
    user, _ = make_user("user")
    main = open_account(user["id"])
    other = open_account(user["id"])
    return {"user": user, "main": main, "other": other}


@pytest.fixture(scope="module")
def history(admin: Api, customer: dict[str, Any]) -> list[dict[str, Any]]:
    """Post deposit 100.00, deposit 50.00, withdrawal 30.00, transfer out 20.00 on `main`."""
    main, other = customer["main"]["id"], customer["other"]["id"]
    return [
        expect(admin.post(f"/accounts/{main}/deposit", json={"amount": "100.00"}), 201),
        expect(admin.post(f"/accounts/{main}/deposit", json={"amount": "50.00",
                                                            "description": "second"}), 201),
        expect(admin.post(f"/accounts/{main}/withdraw", json={"amount": "30.00"}), 201),
        expect(admin.post("/transfers", json={"from_account_id": main, "to_account_id": other,
                                              "amount": "20.00", "description": "move"}), 201),
    ]  # fmt: skip


def test_ledger_accounts_have_the_contract_shape_and_each_balance_its_normal_direction(
    supervisor: Api, admin: Api, customer: dict[str, Any], history: list[dict[str, Any]], mongo: Any
) -> None:
    page = expect(supervisor.get("/ledger/accounts"), 200)
    assert set(page) == {"items", "total", "skip", "limit"}
    accounts = all_ledger_accounts(supervisor)
    assert len(accounts) == page["total"]
    assert len({a["code"] for a in accounts}) == len(accounts)
    for account in accounts:
        assert set(account) == ACCOUNT_FIELDS, account
        debits, credits = dec(account["debits"]), dec(account["credits"])
        normal = debits - credits if account["kind"] in DEBIT_NORMAL else credits - debits
        assert dec(account["balance"]) == normal, account
    by_code = {a["code"]: a for a in accounts}
    # A customer account: a liability under its number, credit-normal (150 - 30 - 20).
    main = by_code[customer["main"]["number"]]
    assert (main["kind"], main["currency"], main["balance"]) == ("liability", "USD", "100.00")
    assert (main["credits"], main["debits"]) == ("150.00", "50.00")
    # The vault and the admin's till are assets holding cash: debit-normal, positive.
    session = expect(admin.get("/sessions/current"), 200)
    till = by_code[f"till:{session['till_id']}:USD"]
    vault = by_code["vault:USD"]
    for cash in (till, vault):
        assert cash["kind"] == "asset"
        assert dec(cash["balance"]) > 0
        assert dec(cash["debits"]) > dec(cash["credits"])
    # Cash the cash centre delivered: head office is an asset credited for it (negative).
    head_office = by_code["head_office:USD"]
    assert head_office["kind"] == "asset"
    assert dec(head_office["balance"]) < 0
    # Customer accounts come first (digits sort before the bank's codes).
    kinds = [a["kind"] == "liability" for a in accounts]
    assert kinds == sorted(kinds, reverse=True)
    check_ledger(mongo)


def test_the_kind_filter_lists_one_kind_and_liability_means_customer_accounts(
    supervisor: Api, history: list[dict[str, Any]], mongo: Any
) -> None:
    everything = all_ledger_accounts(supervisor)
    customers = all_ledger_accounts(supervisor, kind="liability")
    assert {a["kind"] for a in customers} == {"liability"}
    assert {a["code"] for a in customers} == {a["number"] for a in mongo.accounts.find({})}
    assets = all_ledger_accounts(supervisor, kind="asset")
    assert {a["kind"] for a in assets} == {"asset"}
    assert {"vault:USD", "vault:EUR", "head_office:USD"} <= {a["code"] for a in assets}
    assert not any(a["code"].isdigit() for a in assets)
    per_kind = sum(len(all_ledger_accounts(supervisor, kind=kind))
                   for kind in ("asset", "liability", "equity", "expense"))  # fmt: skip
    assert per_kind == len(everything)
    expect(supervisor.get("/ledger/accounts", params={"kind": "bogus"}), 422, "validation_error")
    # Paging over the filter: limit 1 pages one account at a time, in the same order.
    one_by_one = [
        expect(supervisor.get("/ledger/accounts",
                              params={"kind": "asset", "limit": 1, "skip": n}), 200)["items"][0]
        for n in range(len(assets))
    ]  # fmt: skip
    assert one_by_one == assets


def test_account_entries_are_paged_oldest_first_with_a_running_balance_after(
    supervisor: Api, customer: dict[str, Any], history: list[dict[str, Any]]
) -> None:
    number = customer["main"]["number"]
    page = expect(supervisor.get(f"/ledger/accounts/{number}/entries"), 200)
    assert page["total"] == 4
    legs = page["items"]
    for leg in legs:
        assert set(leg) == LEG_FIELDS, leg
    assert [leg["side"] for leg in legs] == ["credit", "credit", "debit", "debit"]
    assert [leg["amount"] for leg in legs] == ["100.00", "50.00", "30.00", "20.00"]
    assert [leg["balance_after"] for leg in legs] == ["100.00", "150.00", "120.00", "100.00"]
    # Each leg is the account's Transaction and names its journal entry.
    transactions = {t["id"]: t for t in expect(supervisor.get(
        f"/accounts/{customer['main']['id']}/transactions"), 200)["items"]}  # fmt: skip
    for leg in legs:
        transaction = transactions[leg["transaction_id"]]
        assert (leg["journal_id"], leg["amount"], leg["balance_after"]) == (
            transaction["journal_id"],
            transaction["amount"],
            transaction["balance_after"],
        )
        assert (leg["created_at"], leg["business_date"], leg["description"]) == (
            transaction["created_at"],
            transaction["business_date"],
            transaction["description"],
        )
    assert [leg["transaction_id"] for leg in legs[:3]] == [t["id"] for t in history[:3]]
    assert legs[1]["description"] == "second"
    # Pages: skip and limit cut the same sequence; desc reads it newest first.
    second = expect(supervisor.get(f"/ledger/accounts/{number}/entries",
                                   params={"skip": 2, "limit": 2}), 200)  # fmt: skip
    assert (second["total"], second["skip"], second["limit"]) == (4, 2, 2)
    assert second["items"] == legs[2:]
    newest = expect(supervisor.get(f"/ledger/accounts/{number}/entries",
                                   params={"order": "desc", "limit": 3}), 200)  # fmt: skip
    assert newest["items"] == list(reversed(legs))[:3]
    beyond = expect(supervisor.get(f"/ledger/accounts/{number}/entries",
                                   params={"skip": 10}), 200)  # fmt: skip
    assert (beyond["items"], beyond["total"]) == ([], 4)
    # The other side of the transfer: one credit of 20.00.
    other = expect(supervisor.get(f"/ledger/accounts/{customer['other']['number']}/entries"), 200)
    assert [(leg["side"], leg["balance_after"]) for leg in other["items"]] == [("credit", "20.00")]
    expect(supervisor.get("/ledger/accounts/nowhere:USD/entries"), 404, "not_found")
    expect(supervisor.get("/ledger/accounts/0000000000/entries"), 404, "not_found")


def test_a_tills_entries_run_debit_normal_with_the_cash_it_took_and_gave(
    supervisor: Api, admin: Api, history: list[dict[str, Any]]
) -> None:
    session = expect(admin.get("/sessions/current"), 200)
    code = f"till:{session['till_id']}:USD"
    page = expect(supervisor.get(f"/ledger/accounts/{code}/entries", params={"limit": 200}), 200)
    running = Decimal("0.00")
    for leg in page["items"]:
        running += dec(leg["amount"]) if leg["side"] == "debit" else -dec(leg["amount"])
        assert dec(leg["balance_after"]) == running, leg
    # The deposits were debits of the till, the withdrawal a credit, by the same journal ids.
    till_legs = {leg["journal_id"]: leg for leg in page["items"]}
    for movement, side in zip(history[:3], ("debit", "debit", "credit"), strict=True):
        leg = till_legs[movement["journal_id"]]
        assert (leg["side"], leg["amount"]) == (side, movement["amount"])
    till = expect(supervisor.get(f"/tills/{session['till_id']}"), 200)
    assert till["cash"]["USD"] == str(running)


def test_a_deposits_journal_entry_debits_the_till_and_credits_the_customer(
    supervisor: Api, admin: Api, customer: dict[str, Any], history: list[dict[str, Any]]
) -> None:
    deposit = history[0]
    session = expect(admin.get("/sessions/current"), 200)
    entry = expect(supervisor.get(f"/ledger/journal/{deposit['journal_id']}"), 200)
    assert set(entry) >= JOURNAL_FIELDS
    assert entry["id"] == deposit["journal_id"]
    assert entry["kind"] == "deposit"
    assert (entry["created_at"], entry["business_date"]) == (
        deposit["created_at"], deposit["business_date"])  # fmt: skip
    assert entry["performed_by"] == user_id(admin)
    assert entry["session_id"] == session["id"] == deposit["session_id"]
    assert (entry["approval_id"], entry["reverses_id"], entry["reversed_by"]) == (None,) * 3
    assert sorted(entry["legs"], key=lambda leg: leg["side"]) == [
        {"account": customer["main"]["number"], "side": "credit", "amount": "100.00",
         "currency": "USD"},
        {"account": f"till:{session['till_id']}:USD", "side": "debit", "amount": "100.00",
         "currency": "USD"},
    ]  # fmt: skip
    assert legs_balance(entry["legs"]) == {"USD": 0}
    withdrawal = expect(supervisor.get(f"/ledger/journal/{history[2]['journal_id']}"), 200)
    assert withdrawal["kind"] == "withdrawal"
    assert {(leg["account"], leg["side"]) for leg in withdrawal["legs"]} == {
        (customer["main"]["number"], "debit"),
        (f"till:{session['till_id']}:USD", "credit"),
    }
    assert legs_balance(withdrawal["legs"]) == {"USD": 0}


def test_a_transfers_journal_entry_debits_the_source_and_credits_the_destination(
    supervisor: Api, admin: Api, customer: dict[str, Any], history: list[dict[str, Any]],
    mongo: Any,
) -> None:  # fmt: skip
    transfer = history[3]
    out = next(t for t in expect(admin.get(f"/accounts/{customer['main']['id']}/transactions"),
                                 200)["items"] if t["transfer_id"] == transfer["id"])  # fmt: skip
    entry = expect(supervisor.get(f"/ledger/journal/{out['journal_id']}"), 200)
    assert entry["kind"] == "transfer"
    assert entry["session_id"] is None  # no cash: no till session
    assert sorted(entry["legs"], key=lambda leg: leg["side"]) == [
        {"account": customer["other"]["number"], "side": "credit", "amount": "20.00",
         "currency": "USD"},
        {"account": customer["main"]["number"], "side": "debit", "amount": "20.00",
         "currency": "USD"},
    ]  # fmt: skip
    assert legs_balance(entry["legs"]) == {"USD": 0}
    came_in = expect(admin.get(f"/accounts/{customer['other']['id']}/transactions"), 200)
    assert [t["journal_id"] for t in came_in["items"]] == [entry["id"]]
    expect(supervisor.get("/ledger/journal/999999999"), 404, "not_found")
    check_ledger(mongo)


def test_tellers_and_customers_may_not_read_the_ledger(
    teller: Api, make_user: Callable[..., tuple[dict[str, Any], Api]],
    history: list[dict[str, Any]], customer: dict[str, Any],
) -> None:  # fmt: skip
    _, someone = make_user("user")
    journal_id = history[0]["journal_id"]
    for api in (teller, someone):
        for path in ("/ledger/accounts", f"/ledger/accounts/{customer['main']['number']}/entries",
                     f"/ledger/journal/{journal_id}", "/ledger/trial-balance"):  # fmt: skip
            expect(api.get(path), 403, "forbidden")
