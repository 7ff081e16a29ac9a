"""The business day over HTTP (API.md "Business day"): the open date, the close and its report.

Tests run in order on one bank: each close moves the business date on by a day, so later
tests see the dates the earlier ones made.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from server.db import EmbeddedDatabase
from tests.day_support import close_all_sessions, close_day, contract_hash, open_date
from tests.ledger_checks import check_ledger
from tests.support import (
    Api,
    ServerProcess,
    approve_as,
    dec,
    expect,
    open_till_session,
    user_id,
)

MakeUser = Callable[..., tuple[dict[str, Any], Api]]
OpenAccount = Callable[..., dict[str, Any]]
REPORT_KEYS = {
    "date", "closed_at", "closed_by", "trial_balance", "cash_position", "vault_count",
    "sessions", "movements", "reversals", "large_cash", "approvals", "previous_hash", "hash",
}  # fmt: skip
ROW_KEYS = {"journal_id", "transaction_id", "account", "amount", "currency", "performed_by",
            "session_id"}  # fmt: skip


def day_after(value: str) -> str:
    """Return the ISO date after `value`."""
    return (date.fromisoformat(value) + timedelta(days=1)).isoformat()


def today_utc() -> str:
    """Return today's UTC date (the test banks keep BANK_TIMEZONE=UTC)."""
    return datetime.now(UTC).date().isoformat()


@pytest.fixture(scope="module")
def customer(make_user: MakeUser) -> tuple[dict[str, Any], Api]:
    """A customer of the branch."""
    return make_user("user")


def test_the_business_day_is_shown_to_staff_only(
    teller: Api, supervisor: Api, admin: Api, customer: tuple[dict[str, Any], Api], anon: Api
) -> None:
    day = expect(teller.get("/business-day"), 200)
    assert set(day) == {"date", "status", "opened_at", "calendar_date"}
    assert day["date"] == day["calendar_date"] == today_utc()
    assert day["status"] == "open"
    assert datetime.fromisoformat(day["opened_at"]) <= datetime.now(UTC)
    assert expect(supervisor.get("/business-day/"), 200)["date"] == day["date"]
    expect(customer[1].get("/business-day"), 403, "forbidden")
    expect(anon.get("/business-day"), 401, "not_authenticated")


def test_audit_events_carry_the_business_date(
    teller: Api, customer: tuple[dict[str, Any], Api], open_account: OpenAccount, mongo: Any
) -> None:
    account = open_account(customer[0]["id"])
    tx = expect(teller.post(f"/accounts/{account['id']}/deposit", json={"amount": "5.00"}), 201)
    event = mongo.audit_events.find_one({"details.transaction_id": tx["id"]})
    assert event["business_date"] == tx["business_date"] == open_date(teller)
    opened = mongo.audit_events.find_one({"action": "account.opened", "target_id": account["id"]})
    assert opened["business_date"] == tx["business_date"]


def test_close_refusals_come_in_the_contracts_order(
    supervisor: Api, teller: Api, admin: Api, mongo: Any
) -> None:
    today = open_date(supervisor)
    expect(teller.post("/business-day/close", json={"date": today}), 403, "forbidden")
    for body in ({}, {"date": "2026-13-01x"}, {"date": today, "extra": 1}, {"date": 20261201}):
        expect(supervisor.post("/business-day/close", json=body), 422, "validation_error")
    later = expect(supervisor.post("/business-day/close", json={"date": day_after(today)}), 409,
                   "day_not_open")  # fmt: skip
    assert later["context"] == {"date": day_after(today), "open_date": today}
    unclosed = sorted(d["_id"] for d in mongo.teller_sessions.find({"status": {"$ne": "closed"}}))
    assert unclosed, "the teller and admin fixtures keep sessions open"
    refused = expect(supervisor.post("/business-day/close", json={"date": today}), 409,
                     "sessions_open")  # fmt: skip
    assert refused["context"]["session_ids"] == unclosed
    assert open_date(supervisor) == today
    event = mongo.audit_events.find_one({"action": "business_day.closed", "outcome": "refused",
                                         "code": "sessions_open"})  # fmt: skip
    assert event is not None
    assert event["details"] == {"date": today}


def test_closing_seals_a_hashed_report_and_opens_the_next_date(
    supervisor: Api,
    admin: Api,
    teller: Api,
    customer: tuple[dict[str, Any], Api],
    open_account: OpenAccount,
    mongo: Any,
) -> None:
    today = open_date(supervisor)
    account = open_account(customer[0]["id"])
    deposit = expect(teller.post(f"/accounts/{account['id']}/deposit",
                                 json={"amount": "250.00"}), 201)  # fmt: skip
    withdrawal = expect(teller.post(f"/accounts/{account['id']}/withdraw",
                                    json={"amount": "40.00"}), 201)  # fmt: skip
    reversal = expect(teller.post(f"/transactions/{withdrawal['id']}/reverse",
                                  json={"reason_code": "teller_error"}), 201)  # fmt: skip
    sessions = close_all_sessions(supervisor, mongo)

    answer = supervisor.post("/business-day/close", json={"date": today})
    report = expect(answer, 200)

    assert set(report) == REPORT_KEYS
    assert report["date"] == today
    assert report["closed_by"] == user_id(supervisor)
    assert report["previous_hash"] is None  # the first closed day
    assert report["hash"] == contract_hash(report)
    assert answer.content == json.dumps(report, ensure_ascii=False, separators=(",", ":")).encode()
    # Its figures: the trial balance as /ledger/trial-balance gives it for that date.
    assert report["trial_balance"] == expect(
        admin.get("/ledger/trial-balance", params={"business_date": today}), 200
    )
    assert all(totals["balanced"] for totals in report["trial_balance"].values())
    journal = list(mongo.journal.find({"business_date": today}))
    for kind, by_currency in report["movements"].items():
        for currency, figures in by_currency.items():
            mine = [e for e in journal if e["kind"] == kind
                    and any(leg["currency"] == currency for leg in e["legs"])]  # fmt: skip
            assert figures["count"] == len(mine), (kind, currency)
            assert dec(figures["sum"]) == sum(
                dec(leg["amount"]) for e in mine for leg in e["legs"]
                if leg["side"] == "debit" and leg["currency"] == currency
            )  # fmt: skip
    assert report["movements"]["reversal"]["USD"]["count"] == 1
    assert [row["transaction_id"] for row in report["reversals"]] == [reversal["id"]]
    assert set(report["reversals"][0]) == ROW_KEYS
    assert report["reversals"][0]["account"] == account["number"]
    assert report["reversals"][0]["amount"] == "40.00"
    assert [s["id"] for s in report["sessions"]] == sorted(
        d["_id"] for d in mongo.teller_sessions.find({"business_date": today})
    )
    assert set(sessions) <= {s["id"] for s in report["sessions"]}
    assert all(s["variance"] and set(s["variance"].values()) == {"0.00"}
               for s in report["sessions"])  # fmt: skip
    assert report["vault_count"] is None
    assert set(report["approvals"]) == {"executed", "rejected", "cancelled", "expired", "failed"}
    assert all(isinstance(count, int) for count in report["approvals"].values())
    # The cash position is what the ledger's vault and tills held at the close.
    for currency, position in report["cash_position"].items():
        vault = mongo.ledger_accounts.find_one({"_id": f"vault:{currency}"})
        assert dec(position["vault"]) == dec(vault["balance"])
        for till in position["tills"]:
            held = mongo.ledger_accounts.find_one({"_id": f"till:{till['till_id']}:{currency}"})
            assert dec(till["cash"]) == dec(held["balance"])
            assert till["session_id"] is None
        assert dec(position["total"]) == dec(position["vault"]) + sum(
            dec(till["cash"]) for till in position["tills"]
        )
    # The day moved on, and the report is stored as answered.
    day = expect(supervisor.get("/business-day"), 200)
    assert day["date"] == max(day_after(today), today_utc())
    assert day["status"] == "open"
    assert expect(supervisor.get(f"/business-days/{today}/report"), 200) == report
    listed = expect(supervisor.get("/business-days"), 200)
    assert listed["items"][0] == {
        "date": today,
        "closed_at": report["closed_at"],
        "closed_by": report["closed_by"],
        "hash": report["hash"],
    }
    stored = mongo.business_days.find_one({"_id": today})
    assert stored["hash"] == report["hash"]
    event = mongo.audit_events.find_one({"action": "business_day.closed", "outcome": "ok"})
    assert event["business_date"] == today
    assert event["details"]["hash"] == report["hash"]
    # The original keeps its date; everything posted now takes the next one.
    assert deposit["business_date"] == today


def test_a_closed_date_answers_day_closed(supervisor: Api, mongo: Any) -> None:
    closed = expect(supervisor.get("/business-days"), 200)["items"][0]["date"]
    now_open = open_date(supervisor)
    for when in (closed, (date.fromisoformat(closed) - timedelta(days=3)).isoformat()):
        refused = expect(supervisor.post("/business-day/close", json={"date": when}), 409,
                         "day_closed")  # fmt: skip
        assert refused["context"] == {"date": when, "open_date": now_open}
    assert mongo.business_days.count_documents({}) == 1


def test_a_close_dates_postings_on_and_resets_the_daily_limit(
    supervisor: Api,
    admin: Api,
    make_user: MakeUser,
    customer: tuple[dict[str, Any], Api],
    open_account: OpenAccount,
    mongo: Any,
) -> None:
    teller = make_user("teller")[1]
    open_till_session(admin, teller)
    before = open_date(teller)
    account = open_account(customer[0]["id"])
    expect(admin.put(f"/accounts/{account['id']}/admin",
                     json={"daily_withdrawal_limit": "50.00"}), 200)  # fmt: skip
    path = f"/accounts/{account['id']}"
    expect(teller.post(f"{path}/deposit", json={"amount": "200.00"}), 201)
    assert expect(teller.post(f"{path}/withdraw", json={"amount": "50.00"}), 201)[
        "business_date"] == before  # fmt: skip
    expect(teller.post(f"{path}/withdraw", json={"amount": "0.05"}), 409, "limit_exceeded")

    report = close_day(supervisor, mongo, before)

    open_till_session(admin, teller)
    after = open_date(teller)
    assert after == max(day_after(before), today_utc())
    tx = expect(teller.post(f"{path}/withdraw", json={"amount": "50.00"}), 201)
    assert tx["business_date"] == after
    assert expect(teller.get("/stats"), 200)["today"]["date"] == after
    # The closed day's figures did not move: its report stays valid.
    assert expect(supervisor.get(f"/business-days/{before}/report"), 200) == report
    assert expect(supervisor.get("/business-days/verify"), 200)["valid"] is True


def test_the_days_pending_approvals_expire_in_the_close(
    supervisor: Api,
    admin: Api,
    teller: Api,
    customer: tuple[dict[str, Any], Api],
    open_account: OpenAccount,
    mongo: Any,
) -> None:
    open_till_session(admin, teller)
    source = open_account(customer[0]["id"])
    target = open_account(customer[0]["id"])
    expect(teller.post(f"/accounts/{source['id']}/deposit", json={"amount": "30.00"}), 201)
    transfer = expect(teller.post("/transfers", json={"from_account_id": source["id"],
                                                      "to_account_id": target["id"],
                                                      "amount": "30.00"}), 201)  # fmt: skip
    out = mongo.journal.find_one({"transfer_id": transfer["id"]})["lines"][0]["id"]
    pending = expect(
        supervisor.post(f"/transactions/{out}/reverse", json={"reason_code": "duplicate"}), 202
    )["approval"]
    assert pending["status"] == "pending"
    assert pending["session_id"] is None  # no cash: the sessions' close leaves it pending
    today = open_date(supervisor)

    report = close_day(supervisor, mongo, today)

    approval = expect(supervisor.get(f"/approvals/{pending['id']}"), 200)
    assert approval["status"] == "expired"
    assert approval["expires_at"] == report["closed_at"]
    assert report["approvals"]["expired"] >= 1
    assert mongo.audit_events.find_one({"action": "approval.expired", "target_id": pending["id"]})
    expect(admin.post(f"/approvals/{pending['id']}/approve", json={}), 409,
           "approval_not_pending")  # fmt: skip
    assert expect(teller.get(f"/accounts/{target['id']}"), 200)["balance"] == "30.00"
    # The chain: this report names the previous day's hash.
    days = expect(supervisor.get("/business-days", params={"order": "asc"}), 200)["items"]
    assert report["previous_hash"] == days[-2]["hash"]
    assert report["hash"] == contract_hash(report) == days[-1]["hash"]


def test_large_cash_lists_an_accounts_cash_at_the_threshold(
    supervisor: Api,
    admin: Api,
    make_user: MakeUser,
    customer: tuple[dict[str, Any], Api],
    open_account: OpenAccount,
    mongo: Any,
) -> None:
    teller = make_user("teller")[1]
    open_till_session(admin, teller)
    big = open_account(customer[0]["id"])
    small = open_account(customer[0]["id"])
    policy = next(p for p in expect(admin.get("/approval-policies"), 200)["items"]
                  if p["action"] == "deposit")  # fmt: skip
    lowered = {**policy["threshold"], "USD": "1000.00"}
    expect(admin.put("/approval-policies/deposit",
                     json={"threshold": lowered, "version": policy["version"]}), 200)  # fmt: skip
    first = expect(teller.post(f"/accounts/{big['id']}/deposit", json={"amount": "600.00"}), 201)
    second = approve_as(
        supervisor, teller.post(f"/accounts/{big['id']}/deposit", json={"amount": "500.00"})
    )["result"]["body"]
    expect(teller.post(f"/accounts/{small['id']}/deposit", json={"amount": "999.00"}), 201)

    report = close_day(supervisor, mongo)

    assert [row["transaction_id"] for row in report["large_cash"]] == [first["id"], second["id"]]
    assert {row["account"] for row in report["large_cash"]} == {big["number"]}
    assert report["large_cash"][1]["performed_by"] == user_id(teller)
    assert report["large_cash"][1]["session_id"] == second["session_id"]
    assert report["approvals"]["executed"] >= 1
    current = next(p for p in expect(admin.get("/approval-policies"), 200)["items"]
                   if p["action"] == "deposit")  # fmt: skip
    restored = {**current["threshold"], "USD": policy["threshold"]["USD"]}
    approve_as(supervisor, admin.put("/approval-policies/deposit",
                                     json={"threshold": restored,
                                           "version": current["version"]}))  # fmt: skip


def test_the_report_files_print_the_hash(supervisor: Api, teller: Api) -> None:
    days = expect(supervisor.get("/business-days"), 200)["items"]
    closed = days[0]
    pdf = supervisor.get(f"/business-days/{closed['date']}/report", params={"format": "pdf"})
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    from tests.e2e.test_history import pdf_text

    text = pdf_text(pdf.content)
    assert closed["hash"] in text
    assert "Branch manager" in text
    assert text.count("\n") > 20
    csv_answer = supervisor.get(f"/business-days/{closed['date']}/report",
                                params={"format": "csv"})  # fmt: skip
    assert csv_answer.headers["content-type"].startswith("text/csv")
    assert f"Hash,{closed['hash']}" in csv_answer.text
    assert "Trial balance" in csv_answer.text
    assert "Movements" in csv_answer.text
    expect(supervisor.get(f"/business-days/{open_date(supervisor)}/report"), 404, "not_found")
    expect(supervisor.get("/business-days/2026-1-1/report"), 422)
    expect(supervisor.get(f"/business-days/{closed['date']}/report", params={"format": "x"}), 422)
    expect(teller.get(f"/business-days/{closed['date']}/report"), 403, "forbidden")
    expect(teller.get("/business-days"), 403, "forbidden")
    expect(teller.get("/business-days/verify"), 403, "forbidden")


def test_two_closes_at_once_close_the_day_once(supervisor: Api, admin: Api, mongo: Any) -> None:
    close_all_sessions(supervisor, mongo)
    today = open_date(supervisor)
    days_before = mongo.business_days.count_documents({})
    answers: list[httpx.Response] = []
    start = threading.Barrier(3)

    def one(api: Api) -> None:
        start.wait()
        answers.append(api.post("/business-day/close", json={"date": today}))

    clients = [Api(api.base_url, api.token) for api in (supervisor, admin, admin)]
    threads = [threading.Thread(target=one, args=(api,)) for api in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    for api in clients:
        api.close()
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [200, 409, 409], [a.text for a in answers]
    assert {a.json()["code"] for a in answers if a.status_code == 409} == {"day_closed"}
    assert mongo.business_days.count_documents({}) == days_before + 1
    assert open_date(supervisor) == max(day_after(today), today_utc())


def test_a_close_is_idempotent_under_its_key(supervisor: Api, mongo: Any) -> None:
    close_all_sessions(supervisor, mongo)
    today = open_date(supervisor)
    headers = {"Idempotency-Key": f"close-{today}"}
    first = supervisor.post("/business-day/close", json={"date": today}, headers=headers)
    again = supervisor.post("/business-day/close", json={"date": today}, headers=headers)
    assert first.status_code == again.status_code == 200
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert first.json() == again.json()
    assert open_date(supervisor) == max(day_after(today), today_utc())


def test_verify_finds_the_chain_valid(supervisor: Api, mongo: Any) -> None:
    result = expect(supervisor.get("/business-days/verify"), 200)
    assert result == {"days": mongo.business_days.count_documents({}), "valid": True,
                      "first_bad_date": None, "reason": None}  # fmt: skip
    assert result["days"] >= 4
    check_ledger(mongo)


def test_a_start_with_another_bank_timezone_is_refused(
    wire_db: EmbeddedDatabase, tmp_path: Path
) -> None:
    first = ServerProcess(
        mongodb_url=wire_db.url,
        database_name="t_timezone_once",
        data_dir=tmp_path / "a",
        env={"BANK_TIMEZONE": "Europe/Paris"},
    )
    with first.start():
        assert expect(Api(first.url).get("/health"), 200)["status"] == "ok"
    second = ServerProcess(
        mongodb_url=wire_db.url,
        database_name="t_timezone_once",
        data_dir=tmp_path / "b",
        env={"BANK_TIMEZONE": "UTC"},
    )
    with pytest.raises(RuntimeError, match="exited early") as refused:
        second.start()
    assert "BANK_TIMEZONE is 'UTC'" in str(refused.value)
    assert "Europe/Paris" in str(refused.value)
