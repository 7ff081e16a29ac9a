"""What one closed day's report holds (API.md "Business day", "Holds").

One day of the module's branch: cash movements and a reversal at a teller's till, a second
teller whose count was 1.00 short (approved by the supervisor), and a hold that expired a
moment before the close with nobody reading its account since. Then the close; the tests
read what it stored: the sessions with their approvers, the hold the close itself expired,
and the PDF whose first page is the totals a manager signs.
"""

from __future__ import annotations

import re
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from tests.day_support import close_day, contract_hash
from tests.ledger_checks import check_ledger
from tests.support import Api, dec, expect, open_till_session, user_id

MakeUser = Callable[..., tuple[dict[str, Any], Api]]
OpenAccount = Callable[..., dict[str, Any]]
HOLD = "40.00"


@dataclass
class Day:
    """The module's closed day and what happened in it."""

    report: dict[str, Any]
    account: dict[str, Any]
    short_session: int  # the session counted 1.00 short
    short_teller: int
    approval: dict[str, Any]  # its till.variance approval, executed
    approver: int
    balanced_session: int  # the teller fixture's session, closed by the close's helper
    hold: dict[str, Any]
    held_before_close: Decimal  # the account's stored `held` just before the close
    expired_events_before_close: int


def expected_cash(manager: Api, session_id: int) -> dict[str, Decimal]:
    """Return a session's expected cash (read by a supervisor: the teller's view is blind)."""
    session = expect(manager.get(f"/sessions/{session_id}"), 200)
    return {currency: Decimal(amount) for currency, amount in session["expected"].items()}


@pytest.fixture(scope="module")
def day(
    admin: Api,
    supervisor: Api,
    teller: Api,
    make_user: MakeUser,
    open_account: OpenAccount,
    mongo: Any,
) -> Day:
    """Run the day and close it."""
    customer = make_user("user")[0]
    account = open_account(customer["id"])
    path = f"/accounts/{account['id']}"
    expect(teller.post(f"{path}/deposit", json={"amount": "300.00"}), 201)
    withdrawal = expect(teller.post(f"{path}/withdraw", json={"amount": "50.00"}), 201)
    expect(teller.post(f"/transactions/{withdrawal['id']}/reverse",
                       json={"reason_code": "teller_error"}), 201)  # fmt: skip
    balanced = expect(teller.get("/sessions/current"), 200)["id"]

    second_user, second = make_user("teller")
    session_id = open_till_session(admin, second)["id"]
    expect(second.post(f"{path}/deposit", json={"amount": "20.00"}), 201)
    counted = expected_cash(supervisor, session_id)
    counted["USD"] -= Decimal("1.00")
    answer = second.post(f"/sessions/{session_id}/close",
                         json={"counted": {c: str(v) for c, v in counted.items()},
                               "note": "one dollar short"})  # fmt: skip
    approval = expect(answer, 202, "approval_required")["approval"]
    assert approval["action"] == "till.variance"
    executed = expect(supervisor.post(f"/approvals/{approval['id']}/approve", json={}), 200)
    assert executed["status"] == "executed", executed
    second.close()

    # A hold due in two seconds; after it nothing reads the account until the close.
    due = datetime.now(UTC) + timedelta(seconds=2)
    hold = expect(supervisor.post(f"{path}/holds", json={
        "amount": HOLD, "reason_code": "dispute", "reference": "chargeback 7",
        "expires_at": due.isoformat(timespec="milliseconds"),
    }), 201)  # fmt: skip
    time.sleep(max(0.0, (due - datetime.now(UTC)).total_seconds()) + 0.5)
    held = dec(mongo.accounts.find_one({"_id": account["id"]})["held"])
    events = mongo.audit_events.count_documents(
        {"action": "hold.expired", "details.hold_id": hold["id"]}
    )
    report = close_day(supervisor, mongo)
    return Day(report=report, account=account, short_session=session_id,
               short_teller=second_user["id"], approval=approval, approver=user_id(supervisor),
               balanced_session=balanced, hold=hold, held_before_close=held,
               expired_events_before_close=events)  # fmt: skip


def session_row(day: Day, session_id: int) -> dict[str, Any]:
    """Return a session's row of the report."""
    return next(row for row in day.report["sessions"] if row["id"] == session_id)


# ---------------------------------------------------------------- sessions and approvers


def test_a_session_closed_with_a_variance_shows_its_count_and_approver(day: Day) -> None:
    row = session_row(day, day.short_session)
    assert row["teller_id"] == day.short_teller
    assert row["variance"] == {"USD": "-1.00", "EUR": "0.00"}
    expected, counted = row["expected"], row["counted"]
    assert Decimal(counted["USD"]) == Decimal(expected["USD"]) - 1
    assert counted["EUR"] == expected["EUR"]
    assert row["approval_id"] == day.approval["id"]
    assert row["approved_by"] == day.approver
    assert set(row) == {"id", "till_id", "teller_id", "opening", "expected", "counted",
                        "variance", "approval_id", "approved_by"}  # fmt: skip


def test_a_balanced_session_has_no_approval_or_approver(day: Day) -> None:
    row = session_row(day, day.balanced_session)
    assert row["approval_id"] is None
    assert row["approved_by"] is None
    assert all(Decimal(value) == 0 for value in row["variance"].values()), row
    assert row["counted"] == row["expected"]


def test_the_stored_report_carries_the_approver_under_its_hash(day: Day, supervisor: Api) -> None:
    stored = expect(supervisor.get(f"/business-days/{day.report['date']}/report"), 200)
    assert stored == day.report
    assert stored["hash"] == contract_hash(stored)
    assert stored["approvals"]["executed"] >= 1
    text = supervisor.get(f"/business-days/{day.report['date']}/report",
                          params={"format": "csv"}).text  # fmt: skip
    row = next(line for line in text.splitlines()
               if line.startswith(f"{day.short_session},"))  # fmt: skip
    assert row.endswith(f",{day.approval['id']},{day.approver}"), row


# ---------------------------------------------------------------- a hold swept by the close


def test_a_hold_due_before_the_close_is_expired_by_the_close_itself(
    day: Day, supervisor: Api, mongo: Any
) -> None:
    # Before the close it still counted in the stored total, and nothing had expired it.
    assert day.held_before_close == Decimal(HOLD)
    assert day.expired_events_before_close == 0
    # The close expired it, at its own time and in its own request.
    stored = mongo.holds.find_one({"_id": day.hold["id"]})
    assert stored["status"] == "expired"
    closed_at = datetime.fromisoformat(day.report["closed_at"])
    assert stored["expired_at"] == closed_at
    closed = mongo.audit_events.find_one({"action": "business_day.closed",
                                          "details.date": day.report["date"]})  # fmt: skip
    assert closed is not None
    assert closed["details"]["holds_expired"] == 1
    [event] = mongo.audit_events.find({"action": "hold.expired",
                                       "details.hold_id": day.hold["id"]})  # fmt: skip
    assert event["request_id"] is not None
    assert event["request_id"] == closed["request_id"]
    assert event["actor_id"] is None  # time expires a hold, not the supervisor who closed
    assert event["target_id"] == day.account["id"]
    # The account's held total was updated in the close, before anyone read it.
    assert dec(mongo.accounts.find_one({"_id": day.account["id"]})["held"]) == 0
    account = expect(supervisor.get(f"/accounts/{day.account['id']}"), 200)
    assert account["held"] == "0.00"
    assert account["available"] == account["balance"]
    holds = expect(supervisor.get(f"/accounts/{day.account['id']}/holds"), 200)["items"]
    assert [(h["id"], h["status"]) for h in holds] == [(day.hold["id"], "expired")]
    # Reading it again expires nothing twice.
    assert (
        mongo.audit_events.count_documents(
            {"action": "hold.expired", "details.hold_id": day.hold["id"]}
        )
        == 1
    )


# ---------------------------------------------------------------- the PDF


def pdf_pages(document: bytes) -> list[str]:
    """Return the text each page of a PDF shows, in page order (fpdf2's plain structure).

    Pages are read from the page tree (`/Kids`), each page's `/Contents` stream inflated
    and its `(...) Tj` strings joined: enough for the server's PDFs, no PDF library needed.
    """
    objects = {int(number): body for number, body in
               re.findall(rb"(\d+) 0 obj(.*?)endobj", document, re.S)}  # fmt: skip
    tree = next(body for body in objects.values() if re.search(rb"/Type\s*/Pages\b", body))
    kids = re.search(rb"/Kids\s*\[([^\]]*)\]", tree)
    assert kids is not None
    pages = []
    for number in re.findall(rb"(\d+) 0 R", kids.group(1)):
        page = objects[int(number)]
        assert re.search(rb"/Type\s*/Page\b", page), page[:200]
        contents = re.search(rb"/Contents\s+(\d+) 0 R", page)
        assert contents is not None
        stream = re.search(rb"stream\r?\n(.*?)\r?\nendstream", objects[int(contents.group(1))],
                           re.S)  # fmt: skip
        assert stream is not None
        raw = stream.group(1)
        with_filter = b"/FlateDecode" in objects[int(contents.group(1))]
        content = zlib.decompress(raw) if with_filter else raw
        strings = re.finditer(rb"\(((?:\\.|[^\\)])*)\)\s*Tj", content, re.S)
        shown = [re.sub(rb"\\([()\\])", rb"\1", found.group(1)).decode("latin-1")
                 for found in strings]  # fmt: skip
        pages.append("\n".join(shown))
    return pages


def money(value: str) -> str:
    """Format money as the report shows it to people: 1,234.50."""
    return f"{Decimal(value):,.2f}"


def test_the_pdfs_first_page_holds_only_the_totals(day: Day, supervisor: Api, admin: Api) -> None:
    report = day.report
    answer = supervisor.get(f"/business-days/{report['date']}/report", params={"format": "pdf"})
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/pdf"
    pages = pdf_pages(answer.content)
    assert len(pages) >= 2, pages
    first, detail = pages[0], "\n".join(pages[1:])
    # The totals a manager signs: per currency, the trial balance and the cash; the day's
    # movements by kind; the hash; the signature line.
    for currency, totals in report["trial_balance"].items():
        assert money(totals["debits"]) in first, currency
        assert money(report["cash_position"][currency]["total"]) in first, currency
    for kind in report["movements"]:
        assert kind.replace("_", " ") in first, kind
    assert report["hash"] in first
    assert "Branch manager" in first
    # Who closed the day, by name: an auditor does not look user numbers up.
    closer = expect(supervisor.get("/me"), 200)["username"]
    assert f"Closed by\n{closer}" in first, first
    assert "user " not in first, first
    # None of the detail: no ledger account line, no session's or reversal's row.
    codes = {line["account"] for totals in report["trial_balance"].values()
             for line in totals["accounts"]}  # fmt: skip
    assert codes, report["trial_balance"]
    assert not [code for code in codes if code in first], first
    assert report["reversals"]
    assert {row["account"] for row in report["reversals"]} == {day.account["number"]}
    assert day.account["number"] not in first
    row_ids = {str(row["journal_id"]) for row in report["reversals"]}
    # ...which the next pages hold.
    assert all(code in detail for code in codes)
    assert day.account["number"] in detail
    assert row_ids <= set(detail.split("\n"))
    assert str(day.approval["id"]) in detail.split("\n")
    # The sessions' tellers and approvers and the reversals' makers are named too.
    short_teller = expect(admin.get(f"/users/{day.short_teller}"), 200)["username"]
    # (a long name wraps inside its cell)
    assert short_teller in detail.replace("\n", ""), detail
    assert closer in detail, detail
    assert "user " not in detail, detail


def test_the_ledger_holds_after_the_day(day: Day, mongo: Any) -> None:
    check_ledger(mongo)
