"""Tamper evidence of closed days, and the close racing postings.

The hashes are recomputed here from API.md's definition (tests/day_support.contract_hash),
never with the server's code. Each tampering is undone after `verify` named it, and
`verify` must then find the chain valid again: it names the tampering, not the bank.
"""

from __future__ import annotations

import copy
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
from bson import Decimal128

from tests.day_support import close_all_sessions, close_day, contract_hash, open_date
from tests.ledger_checks import check_ledger
from tests.support import Api, dec, expect

MakeUser = Callable[..., tuple[dict[str, Any], Api]]
OpenAccount = Callable[..., dict[str, Any]]


@pytest.fixture(scope="module")
def customer(make_user: MakeUser) -> tuple[dict[str, Any], Api]:
    """A customer who moves their own money (self-service cash is on in development)."""
    return make_user("user")


@pytest.fixture(scope="module")
def accounts(
    customer: tuple[dict[str, Any], Api], open_account: OpenAccount
) -> list[dict[str, Any]]:
    """Three accounts of the customer, funded by self-service deposits."""
    opened = [open_account(customer[0]["id"]) for _ in range(3)]
    for account in opened:
        expect(customer[1].post(f"/accounts/{account['id']}/deposit",
                                json={"amount": "1000.00"}), 201)  # fmt: skip
    return opened


@pytest.fixture(scope="module")
def closed_days(
    supervisor: Api,
    admin: Api,
    customer: tuple[dict[str, Any], Api],
    accounts: list[dict[str, Any]],
    mongo: Any,
) -> list[dict[str, Any]]:
    """Three closed days, each with deposits, a transfer and a reversal."""
    reports = []
    for day in range(3):
        first, second = accounts[0]["id"], accounts[1]["id"]
        tx = expect(customer[1].post(f"/accounts/{first}/deposit",
                                     json={"amount": f"{10 + day}.25"}), 201)  # fmt: skip
        expect(customer[1].post("/transfers", json={"from_account_id": first,
                                                    "to_account_id": second,
                                                    "amount": "7.00"}), 201)  # fmt: skip
        reversal = admin.post(f"/transactions/{tx['id']}/reverse",
                              json={"reason_code": "customer_request"})  # fmt: skip
        approval = expect(reversal, 202)["approval"]
        expect(supervisor.post(f"/approvals/{approval['id']}/approve", json={}), 200)
        reports.append(close_day(supervisor, mongo))
    return reports


def verify(api: Api) -> dict[str, Any]:
    """Return `GET /business-days/verify`."""
    return dict(expect(api.get("/business-days/verify"), 200))


def test_every_hash_is_the_contracts_and_the_days_form_a_chain(
    supervisor: Api, closed_days: list[dict[str, Any]]
) -> None:
    listed = expect(supervisor.get("/business-days", params={"order": "asc"}), 200)["items"]
    assert [day["date"] for day in listed] == [report["date"] for report in closed_days]
    previous = None
    for day in listed:
        stored = expect(supervisor.get(f"/business-days/{day['date']}/report"), 200)
        assert stored["hash"] == contract_hash(stored) == day["hash"]
        assert stored["previous_hash"] == previous
        previous = stored["hash"]
    assert verify(supervisor) == {"days": 3, "valid": True, "first_bad_date": None,
                                  "reason": None}  # fmt: skip


def test_an_edited_report_is_named_by_its_hash(
    supervisor: Api, closed_days: list[dict[str, Any]], mongo: Any
) -> None:
    date = closed_days[1]["date"]
    stored = mongo.business_days.find_one({"_id": date})
    edited = copy.deepcopy(stored["report"])
    edited["movements"]["transfer"]["USD"]["sum"] = "700.00"
    mongo.business_days.update_one({"_id": date}, {"$set": {"report": edited}})
    try:
        assert verify(supervisor) == {"days": 3, "valid": False, "first_bad_date": date,
                                      "reason": "hash"}  # fmt: skip
    finally:
        mongo.business_days.update_one({"_id": date}, {"$set": {"report": stored["report"]}})
    assert verify(supervisor)["valid"] is True


def test_a_report_rehashed_after_an_edit_breaks_the_chain_at_the_next_day(
    supervisor: Api, closed_days: list[dict[str, Any]], mongo: Any
) -> None:
    date = closed_days[0]["date"]
    stored = mongo.business_days.find_one({"_id": date})
    edited = copy.deepcopy(stored["report"])
    edited["closed_by"] = edited["closed_by"] + 1000  # not a ledger figure: only the hash shows
    edited["hash"] = contract_hash(edited)
    tampered = {"$set": {"report": edited, "hash": edited["hash"]}}
    mongo.business_days.update_one({"_id": date}, tampered)
    try:
        assert verify(supervisor) == {"days": 3, "valid": False,
                                      "first_bad_date": closed_days[1]["date"],
                                      "reason": "chain"}  # fmt: skip
    finally:
        mongo.business_days.update_one(
            {"_id": date}, {"$set": {"report": stored["report"], "hash": stored["hash"]}}
        )
    assert verify(supervisor)["valid"] is True


def test_an_edited_ledger_entry_of_a_closed_day_is_named_by_its_figures(
    supervisor: Api, closed_days: list[dict[str, Any]], mongo: Any
) -> None:
    date = closed_days[1]["date"]
    entry = mongo.journal.find_one({"business_date": date, "kind": "transfer"})
    legs = copy.deepcopy(entry["legs"])
    legs[1]["amount"] = Decimal128("70.00")
    mongo.journal.update_one({"_id": entry["_id"]}, {"$set": {"legs": legs}})
    try:
        assert verify(supervisor) == {"days": 3, "valid": False, "first_bad_date": date,
                                      "reason": "figures"}  # fmt: skip
    finally:
        mongo.journal.update_one({"_id": entry["_id"]}, {"$set": {"legs": entry["legs"]}})
    assert verify(supervisor)["valid"] is True


def test_an_entry_inserted_into_a_closed_day_is_named_by_its_figures(
    supervisor: Api, closed_days: list[dict[str, Any]], accounts: list[dict[str, Any]], mongo: Any
) -> None:
    date = closed_days[2]["date"]
    forged = {
        "_id": 10**9, "kind": "deposit", "business_date": date, "performed_by": None,
        "approval_id": None, "session_id": None, "reverses_id": None, "reversed_by": None,
        "legs": [{"account": "suspense:USD", "side": "debit", "amount": Decimal128("5.00"),
                  "currency": "USD"},
                 {"account": accounts[2]["number"], "side": "credit",
                  "amount": Decimal128("5.00"), "currency": "USD"}],
        "lines": [],
    }  # fmt: skip
    mongo.journal.insert_one(forged)
    try:
        assert verify(supervisor) == {"days": 3, "valid": False, "first_bad_date": date,
                                      "reason": "figures"}  # fmt: skip
    finally:
        mongo.journal.delete_one({"_id": forged["_id"]})
    assert verify(supervisor)["valid"] is True


def test_the_close_covers_exactly_the_entries_dated_its_day_while_postings_race_it(
    supervisor: Api,
    customer: tuple[dict[str, Any], Api],
    accounts: list[dict[str, Any]],
    closed_days: list[dict[str, Any]],
    mongo: Any,
) -> None:
    close_all_sessions(supervisor, mongo)
    day = open_date(supervisor)
    told: list[dict[str, Any]] = []
    failures: list[str] = []
    stop = threading.Event()

    def poster(number: int) -> None:
        api = Api(customer[1].base_url, customer[1].token)
        try:
            n = 0
            while not stop.is_set():
                n += 1
                account = accounts[(number + n) % len(accounts)]["id"]
                answer: httpx.Response
                if n % 2:
                    answer = api.post(f"/accounts/{account}/deposit", json={"amount": "1.00"})
                else:
                    other = accounts[(number + n + 1) % len(accounts)]["id"]
                    answer = api.post("/transfers", json={"from_account_id": account,
                                                          "to_account_id": other,
                                                          "amount": "0.50"})  # fmt: skip
                if answer.status_code != 201:
                    failures.append(answer.text)
                    continue
                told.append(answer.json())
        finally:
            api.close()

    threads = [threading.Thread(target=poster, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    time.sleep(1.5)
    report = expect(supervisor.post("/business-day/close", json={"date": day}), 200)
    time.sleep(1.5)
    stop.set()
    for thread in threads:
        thread.join(60)

    assert not failures, failures[:3]
    dates = Counter(answer["business_date"] for answer in told)
    following = open_date(supervisor)
    assert dates[day] > 0, dates  # postings before the close, and after it
    assert dates[following] > 0, dates
    assert set(dates) == {day, following}, dates
    # Exactly the entries dated the day are in its figures: every client's answer dated it,
    # and nothing dated it committed after the report was taken.
    dated = list(mongo.journal.find({"business_date": day}))
    kinds = Counter(entry["kind"] for entry in dated)
    assert {kind: figures["USD"]["count"] for kind, figures in report["movements"].items()} == (
        dict(kinds)
    )
    told_ids = {answer["journal_id"] for answer in told if answer["business_date"] == day}
    assert told_ids <= {entry["_id"] for entry in dated}
    later = [answer for answer in told if answer["business_date"] != day]
    assert all(answer["journal_id"] not in {e["_id"] for e in dated} for answer in later)
    closed_at = datetime.fromisoformat(report["closed_at"])
    assert max(entry["created_at"] for entry in dated) <= closed_at
    customers = report["trial_balance"]["USD"]["accounts"][0]
    assert customers["account"] == "customers:USD"
    total = sum(
        (dec(leg["amount"]) if leg["side"] == "credit" else -dec(leg["amount"]))
        for entry in mongo.journal.find({"business_date": {"$lte": day}})
        for leg in entry["legs"] if leg["account"].isdigit()
    )  # fmt: skip
    assert Decimal(customers["balance"]) == total
    assert verify(supervisor)["valid"] is True
    check_ledger(mongo)
