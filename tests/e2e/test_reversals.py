"""Reversals over HTTP (API.md "Reversals"): whole, once, mirrored, dated today, approved.

Every test builds its own accounts; the last one checks the ledger invariants over
everything the module did.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.e2e.test_history import pdf_text
from tests.ledger_checks import check_ledger, leg_of
from tests.support import Api, approve_as, dec, expect, open_till_session, stocked_till, user_id

MakeUser = Callable[..., tuple[dict[str, Any], Api]]
OpenAccount = Callable[..., dict[str, Any]]
REASON = {"reason_code": "teller_error"}


def reverse(api: Api, transaction_id: int, **body: Any) -> httpx.Response:
    """Ask to reverse a Transaction."""
    return api.post(f"/transactions/{transaction_id}/reverse", json={**REASON, **body})


def move(api: Api, account_id: int, kind: str, amount: str) -> dict[str, Any]:
    """Deposit or withdraw cash and return the Transaction."""
    path = f"/accounts/{account_id}/{'deposit' if kind == 'deposit' else 'withdraw'}"
    return dict(expect(api.post(path, json={"amount": amount}), 201))


def balance(api: Api, account_id: int) -> str:
    """Return an account's balance."""
    return str(expect(api.get(f"/accounts/{account_id}"), 200)["balance"])


def history(api: Api, account_id: int) -> list[dict[str, Any]]:
    """Return an account's Transactions, oldest first."""
    page = api.get(f"/accounts/{account_id}/transactions", params={"order": "asc", "limit": 200})
    return list(expect(page, 200)["items"])


def till_cash(mongo: Any, till_id: int, currency: str = "USD") -> Any:
    """Return a till's cash as the ledger holds it."""
    account = mongo.ledger_accounts.find_one({"_id": f"till:{till_id}:{currency}"})
    return dec(account["balance"]) if account else dec("0")


@pytest.fixture(scope="module")
def customer(make_user: MakeUser) -> tuple[dict[str, Any], Api]:
    """A customer of the branch."""
    return make_user("user")


@pytest.fixture
def account(customer: tuple[dict[str, Any], Api], open_account: OpenAccount) -> dict[str, Any]:
    """A fresh USD checking account of the customer."""
    return open_account(customer[0]["id"])


@pytest.fixture(scope="module")
def open_date(teller: Api) -> str:
    """The open business date."""
    return str(expect(teller.get("/business-day"), 200)["date"])


# ---------------------------------------------------------------- the direct case


def test_a_teller_reverses_their_own_cash_deposit_whole_and_at_once(
    teller: Api, admin: Api, account: dict[str, Any], mongo: Any, open_date: str
) -> None:
    session = expect(teller.get("/sessions/current"), 200)
    cash_before = till_cash(mongo, session["till_id"])
    deposit = move(teller, account["id"], "deposit", "125.50")
    assert till_cash(mongo, session["till_id"]) == cash_before + dec("125.50")

    reversal = expect(reverse(teller, deposit["id"], note="wrong account"), 201)

    assert reversal["type"] == "reversal"
    assert reversal["direction"] == "debit"
    assert reversal["amount"] == "125.50"
    assert reversal["balance_after"] == "0.00"
    assert reversal["reverses_id"] == deposit["id"]
    assert reversal["account_id"] == account["id"]
    assert reversal["business_date"] == open_date
    assert reversal["session_id"] == session["id"]
    assert reversal["forced"] is False
    assert balance(teller, account["id"]) == "0.00"
    assert till_cash(mongo, session["till_id"]) == cash_before
    lines = history(teller, account["id"])
    assert [(t["id"], t["type"], t["reversed_by"], t["reverses_id"]) for t in lines] == [
        (deposit["id"], "deposit", reversal["id"], None),
        (reversal["id"], "reversal", None, deposit["id"]),
    ]
    # The journal: the original gains reversed_by, the reversal mirrors every leg.
    original = expect(admin.get(f"/ledger/journal/{deposit['journal_id']}"), 200)
    mirror = expect(admin.get(f"/ledger/journal/{reversal['journal_id']}"), 200)
    assert original["reversed_by"] == mirror["id"]
    assert mirror["kind"] == "reversal"
    assert mirror["reverses_id"] == original["id"]
    assert mirror["business_date"] == open_date
    assert sorted((leg["account"], leg["side"], leg["amount"]) for leg in mirror["legs"]) == sorted(
        (leg["account"], "debit" if leg["side"] == "credit" else "credit", leg["amount"])
        for leg in original["legs"]
    )
    # Only reversed_by changed on the original's stored leg.
    stored = leg_of(mongo, deposit["id"])
    assert stored is not None
    assert stored["reversed_by"] == reversal["id"]
    assert stored["business_date"] == deposit["business_date"]
    assert dec(stored["amount"]) == dec("125.50")
    event = mongo.audit_events.find_one({"action": "money.reversal",
                                         "details.transaction_id": reversal["id"]})  # fmt: skip
    assert event is not None
    assert event["outcome"] == "ok"
    assert event["business_date"] == open_date
    assert event["details"]["reverses_id"] == deposit["id"]
    assert event["details"]["reason_code"] == "teller_error"
    assert event["details"]["note"] == "wrong account"


def test_a_movement_is_reversed_once_and_a_reversal_never(
    teller: Api, account: dict[str, Any], mongo: Any
) -> None:
    deposit = move(teller, account["id"], "deposit", "40.00")
    reversal = expect(reverse(teller, deposit["id"]), 201)
    again = expect(reverse(teller, deposit["id"]), 409, "already_reversed")
    assert again["context"]["reversed_by"] == reversal["id"]
    expect(reverse(teller, reversal["id"]), 422, "not_reversible")
    assert len(history(teller, account["id"])) == 2
    refused = mongo.audit_events.find_one({"action": "money.reversal", "outcome": "refused",
                                           "target_id": deposit["id"]})  # fmt: skip
    assert refused is not None
    assert refused["code"] == "already_reversed"


def test_reversing_a_withdrawal_gives_the_daily_limit_back(
    teller: Api, admin: Api, account: dict[str, Any]
) -> None:
    expect(admin.put(f"/accounts/{account['id']}/admin",
                     json={"daily_withdrawal_limit": "100.00"}), 200)  # fmt: skip
    move(teller, account["id"], "deposit", "500.00")
    withdrawal = move(teller, account["id"], "withdraw", "80.00")
    refused = teller.post(f"/accounts/{account['id']}/withdraw", json={"amount": "30.00"})
    assert expect(refused, 409, "limit_exceeded")["context"]["used"] == "80.00"
    reversal = expect(reverse(teller, withdrawal["id"]), 201)
    assert reversal["direction"] == "credit"
    assert reversal["balance_after"] == "500.00"
    move(teller, account["id"], "withdraw", "90.00")  # 80 given back: 90 fits in 100
    assert balance(teller, account["id"]) == "410.00"


def test_the_reversal_is_idempotent(teller: Api, account: dict[str, Any]) -> None:
    deposit = move(teller, account["id"], "deposit", "12.00")
    headers = {"Idempotency-Key": f"rev-{deposit['id']}"}
    path = f"/transactions/{deposit['id']}/reverse"
    first = teller.post(path, json=REASON, headers=headers)
    second = teller.post(path, json=REASON, headers=headers)
    assert first.status_code == second.status_code == 201
    assert second.headers.get("Idempotent-Replayed") == "true"
    assert first.json() == second.json()
    assert [t["type"] for t in history(teller, account["id"])] == ["deposit", "reversal"]


# ---------------------------------------------------------------- through approval


def test_another_tellers_cash_is_reversed_through_approval_on_the_makers_till(
    teller: Api,
    make_user: MakeUser,
    admin: Api,
    supervisor: Api,
    account: dict[str, Any],
    mongo: Any,
) -> None:
    other = make_user("teller")[1]
    mine = open_till_session(admin, other)
    deposit = move(teller, account["id"], "deposit", "60.00")
    cash_before = till_cash(mongo, mine["till_id"])

    asked = reverse(other, deposit["id"], reason_code="duplicate")
    body = expect(asked, 202)
    assert body["code"] == "approval_required"
    approval = body["approval"]
    assert asked.headers["Location"] == f"/approvals/{approval['id']}"
    assert approval["action"] == "reversal"
    assert approval["session_id"] == mine["id"]
    assert approval["account_id"] == account["id"]
    assert approval["amount"] == "60.00"
    assert balance(teller, account["id"]) == "60.00"  # nothing moved yet

    executed = approve_as(supervisor, asked)
    result = executed["result"]
    assert result["status"] == 201
    reversal = result["body"]
    assert reversal["type"] == "reversal"
    assert reversal["approval_id"] == approval["id"]
    assert reversal["performed_by"] == user_id(other)
    assert reversal["session_id"] == mine["id"]
    assert balance(teller, account["id"]) == "0.00"
    # The cash left the maker's till, not the till that took the deposit.
    assert till_cash(mongo, mine["till_id"]) == cash_before - dec("60.00")


def test_a_transfer_is_reversed_on_both_sides_keeping_its_transfer_id(
    supervisor: Api,
    admin: Api,
    teller: Api,
    customer: tuple[dict[str, Any], Api],
    open_account: OpenAccount,
    mongo: Any,
) -> None:
    source = open_account(customer[0]["id"], deposit="300.00")
    target = open_account(customer[0]["id"])
    transfer = expect(teller.post("/transfers", json={"from_account_id": source["id"],
                                                      "to_account_id": target["id"],
                                                      "amount": "75.00"}), 201)  # fmt: skip
    transfers_before = mongo.transfers.count_documents({})
    incoming = next(t for t in history(admin, target["id"]) if t["type"] == "transfer_in")

    asked = reverse(supervisor, incoming["id"], reason_code="customer_request")
    executed = approve_as(admin, asked)
    reversal = executed["result"]["body"]

    assert reversal["account_id"] == target["id"]
    assert reversal["direction"] == "debit"
    assert reversal["transfer_id"] == transfer["id"]
    assert reversal["counterparty_number"] == source["number"]
    assert balance(admin, source["id"]) == "300.00"
    assert balance(admin, target["id"]) == "0.00"
    assert mongo.transfers.count_documents({}) == transfers_before
    source_lines = history(admin, source["id"])
    assert source_lines[-1]["type"] == "reversal"
    assert source_lines[-1]["direction"] == "credit"
    assert source_lines[-1]["transfer_id"] == transfer["id"]
    assert source_lines[-1]["journal_id"] == reversal["journal_id"]
    assert source_lines[-2]["reversed_by"] == source_lines[-1]["id"]
    assert history(admin, target["id"])[-2]["reversed_by"] == reversal["id"]
    mirror = expect(admin.get(f"/ledger/journal/{reversal['journal_id']}"), 200)
    assert {(leg["account"], leg["side"]) for leg in mirror["legs"]} == {
        (source["number"], "credit"), (target["number"], "debit"),
    }  # fmt: skip


def test_a_disabled_reversal_policy_leaves_staff_only_their_own_cash(
    teller: Api, admin: Api, supervisor: Api, account: dict[str, Any]
) -> None:
    deposit = move(admin, account["id"], "deposit", "10.00")
    policy = next(p for p in expect(admin.get("/approval-policies"), 200)["items"]
                  if p["action"] == "reversal")  # fmt: skip
    answer = admin.put("/approval-policies/reversal",
                       json={"enabled": False, "version": policy["version"]})  # fmt: skip
    approve_as(supervisor, answer)
    try:
        expect(reverse(teller, deposit["id"]), 403, "forbidden")  # not the teller's own cash
        own = move(teller, account["id"], "deposit", "5.00")
        expect(reverse(teller, own["id"]), 201)
    finally:
        current = next(p for p in expect(admin.get("/approval-policies"), 200)["items"]
                       if p["action"] == "reversal")  # fmt: skip
        expect(admin.put("/approval-policies/reversal",
                         json={"enabled": True, "version": current["version"]}), 200)  # fmt: skip


# ---------------------------------------------------------------- refusals


def test_a_credit_the_account_cannot_give_back_needs_an_admins_force(
    teller: Api,
    supervisor: Api,
    admin: Api,
    customer: tuple[dict[str, Any], Api],
    account: dict[str, Any],
    open_account: OpenAccount,
    mongo: Any,
) -> None:
    deposit = move(teller, account["id"], "deposit", "100.00")
    elsewhere = open_account(customer[0]["id"])
    expect(customer[1].post("/transfers", json={"from_account_id": account["id"],
                                                "to_account_id": elsewhere["id"],
                                                "amount": "70.00"}), 201)  # fmt: skip
    refused = expect(reverse(teller, deposit["id"]), 409, "insufficient_funds")
    assert refused["context"] == {**refused["context"], "available": "30.00",
                                  "requested": "100.00", "currency": "USD"}  # fmt: skip
    expect(reverse(teller, deposit["id"], force=True), 403, "forbidden")
    expect(reverse(supervisor, deposit["id"], force=True), 403, "forbidden")
    assert balance(teller, account["id"]) == "30.00"

    forced = reverse(admin, deposit["id"], force=True)
    assert expect(forced, 202)["approval"]["action"] == "reversal"
    reversal = approve_as(supervisor, forced)["result"]["body"]
    assert reversal["forced"] is True
    assert reversal["balance_after"] == "-70.00"
    assert balance(teller, account["id"]) == "-70.00"
    stored = mongo.accounts.find_one({"_id": account["id"]})
    assert dec(stored["balance"]) < -dec(stored["overdraft_limit"])


def test_holds_are_ignored_by_the_check_and_a_referencing_hold_is_released(
    teller: Api, account: dict[str, Any], mongo: Any
) -> None:
    deposit = move(teller, account["id"], "deposit", "50.00")
    # A cheque-clearing hold naming the deposit, placed through the API.
    body = {"amount": "50.00", "reason_code": "cheque_clearing", "reference": str(deposit["id"])}
    placed = expect(teller.post(f"/accounts/{account['id']}/holds", json=body), 201)
    assert expect(teller.get(f"/accounts/{account['id']}"), 200)["available"] == "0.00"

    expect(reverse(teller, deposit["id"]), 201)  # the hold does not block the reversal

    hold = mongo.holds.find_one({"_id": placed["id"]})
    assert hold["status"] == "released"
    assert dec(mongo.accounts.find_one({"_id": account["id"]})["held"]) == dec("0.00")
    assert mongo.audit_events.find_one({"action": "hold.released", "details.hold_id": hold["_id"]})


def test_a_frozen_account_may_be_reversed_and_a_closed_one_not(
    teller: Api, admin: Api, account: dict[str, Any], mongo: Any
) -> None:
    deposit = move(teller, account["id"], "deposit", "20.00")
    withdrawal = move(teller, account["id"], "withdraw", "5.00")
    expect(admin.put(f"/accounts/{account['id']}/admin", json={"status": "frozen"}), 200)
    expect(reverse(teller, withdrawal["id"]), 201)
    assert balance(teller, account["id"]) == "20.00"
    # Close it: first bring it to zero while active.
    mongo.accounts.update_one({"_id": account["id"]}, {"$set": {"status": "active"}})
    move(teller, account["id"], "withdraw", "20.00")
    expect(admin.delete(f"/accounts/{account['id']}"), 204)
    refused = expect(reverse(teller, deposit["id"]), 409, "account_not_active")
    assert refused["context"] == {"account_id": account["id"], "status": "closed"}


def test_a_till_leg_needs_the_reversers_open_session_with_the_cash(
    supervisor: Api, admin: Api, make_user: MakeUser, teller: Api, account: dict[str, Any]
) -> None:
    deposit = move(teller, account["id"], "deposit", "100.00")
    expect(reverse(supervisor, deposit["id"]), 409, "no_open_session")  # no session at all
    poor = make_user("teller")[1]
    till = stocked_till(admin, "Nearly empty till", {"USD": "10.00"})
    expect(poor.post(f"/tills/{till['id']}/sessions", json={}), 201)
    refused = expect(reverse(poor, deposit["id"]), 409, "till_insufficient_cash")
    assert refused["context"] == {"currency": "USD", "requested": "100.00", "available": None}
    assert balance(teller, account["id"]) == "100.00"


def test_staff_never_reverse_their_own_accounts_and_see_no_other_staffs(
    teller: Api,
    supervisor: Api,
    admin: Api,
    make_user: MakeUser,
    open_account: OpenAccount,
) -> None:
    mine = open_account(user_id(teller))
    deposit = move(admin, mine["id"], "deposit", "15.00")
    expect(reverse(teller, deposit["id"]), 403, "own_account")
    expect(reverse(teller, deposit["id"], force=True), 403, "own_account")  # before 404 and 403
    # Another staff member's account: 404 to tellers and supervisors, visible to admins.
    expect(reverse(supervisor, deposit["id"]), 404, "not_found")
    staff = open_account(make_user("teller")[0]["id"])
    theirs = move(admin, staff["id"], "deposit", "9.00")  # tellers do not see it at all
    expect(reverse(teller, theirs["id"]), 404, "not_found")
    # The admin's own cash movement of their open session: reversed at once.
    expect(reverse(admin, theirs["id"]), 201)


def test_who_may_ask_and_what_is_asked(
    customer: tuple[dict[str, Any], Api], teller: Api, anon: Api, account: dict[str, Any]
) -> None:
    deposit = move(teller, account["id"], "deposit", "3.00")
    expect(anon.post(f"/transactions/{deposit['id']}/reverse", json=REASON), 401)
    expect(reverse(customer[1], deposit["id"]), 403, "forbidden")
    expect(reverse(teller, 10**9), 404, "not_found")
    for body in ({"reason_code": "oops"}, {}, {**REASON, "amount": "3.00"}, {**REASON, "note": ""},
                 {**REASON, "force": "maybe"}):  # fmt: skip
        answer = teller.post(f"/transactions/{deposit['id']}/reverse", json=body)
        expect(answer, 422, "validation_error")
    expect(teller.post("/transactions/abc/reverse", json=REASON), 422)
    assert balance(teller, account["id"]) == "3.00"


def test_statements_show_both_lines_and_link_them(teller: Api, account: dict[str, Any]) -> None:
    deposit = move(teller, account["id"], "deposit", "33.00")
    reversal = expect(reverse(teller, deposit["id"]), 201)
    answer = teller.get(f"/accounts/{account['id']}/statement", params={"format": "csv"})
    rows = list(csv.reader(io.StringIO(expect(answer, 200) or answer.text)))
    header = next(row for row in rows if row and row[0] == "id")
    assert header[-2:] == ["reverses", "reversed_by"]
    lines = {row[0]: row for row in rows[rows.index(header) + 1 :] if row and row[0].isdigit()}
    assert lines[str(deposit["id"])][-2:] == ["", str(reversal["id"])]
    assert lines[str(reversal["id"])][-2:] == [str(deposit["id"]), ""]
    assert lines[str(reversal["id"])][2] == "reversal"
    assert lines[str(reversal["id"])][5] == "-33.00"
    pdf = teller.get(f"/accounts/{account['id']}/statement", params={"format": "pdf"})
    text = pdf_text(pdf.content)
    assert f"33.00\n33.00\n{reversal['id']}" in text  # the deposit names its reversal
    assert f"-33.00\n0.00\n{deposit['id']}" in text  # the reversal names the deposit


def test_the_ledger_holds_after_the_module(mongo: Any) -> None:
    checked = check_ledger(mongo)
    assert checked["journal"] > 0
    reversals = list(mongo.journal.find({"kind": "reversal"}))
    assert reversals
    for entry in reversals:
        original = mongo.journal.find_one({"_id": entry["reverses_id"]})
        assert original["reversed_by"] == entry["_id"]
