"""Teller sessions over HTTP: counts at opening and closing, till.variance, lists, journal.

API.md "Tills and teller sessions": opening with a count that differs and closing with a
difference both wait for approval `till.variance`, whose execution posts exactly the
variance to over/short; a rejected close returns the session to `open` with the count in
`counts`; the close checks run in the contract's order; blind balancing hides what the
till should hold from its own teller until the session is closed.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from tests.ledger_checks import check_ledger, legs_of
from tests.support import Api, approve_as, dec, expect, stocked_till, user_id

MakeUser = Callable[..., tuple[dict[str, Any], Api]]
OpenAccount = Callable[..., dict[str, Any]]

SESSION_KEYS = {
    "id", "till_id", "teller_id", "status", "business_date", "opened_at", "closed_at",
    "opening", "expected", "counted", "denominations", "variance", "note", "approval_id",
    "over_limit", "counts",
}  # fmt: skip
LINE_KEYS = {
    "journal_id", "kind", "side", "amount", "currency", "till_balance_after",
    "business_date", "created_at", "description", "transaction_id",
}  # fmt: skip
_names = itertools.count(1)


@pytest.fixture(scope="module")
def customer(make_user: MakeUser, open_account: OpenAccount) -> dict[str, Any]:
    """A customer's USD account with money on it."""
    user = make_user("user")[0]
    return open_account(user["id"], deposit="5000.00")


def new_till(supervisor: Api, stock: dict[str, str] | None = None) -> dict[str, Any]:
    """Create a till holding `stock` (default 1000.00 USD), with no session."""
    return stocked_till(supervisor, f"S-Till {next(_names)}", stock or {"USD": "1000.00"})


def teller_on_till(
    make_user: MakeUser, supervisor: Api, stock: dict[str, str] | None = None
) -> tuple[Api, dict[str, Any], dict[str, Any]]:
    """A new teller with a session (opened without a count) on a new till."""
    api = make_user("teller")[1]
    till = new_till(supervisor, stock)
    session = expect(api.post(f"/tills/{till['id']}/sessions", json={}), 201)
    return api, till, session


def over_short(mongo: Any, currency: str = "USD") -> Decimal:
    """Return the over/short account's balance (debit-normal: shortages minus overages)."""
    raw = mongo.ledger_accounts.find_one({"_id": f"over_short:{currency}"})
    return dec(raw["balance"]) if raw else Decimal("0.00")


def till_cash(mongo: Any, till_id: int, currency: str = "USD") -> Decimal:
    """Return a till's cash as the ledger stores it."""
    raw = mongo.ledger_accounts.find_one({"_id": f"till:{till_id}:{currency}"})
    return dec(raw["balance"]) if raw else Decimal("0.00")


# ---------------------------------------------------------------- opening with a count


def test_opening_with_a_count_equal_to_the_till_opens_at_once(
    make_user: MakeUser, supervisor: Api
) -> None:
    api = make_user("teller")[1]
    till = new_till(supervisor, {"USD": "1000.00", "EUR": "20.00"})
    body = {"counted": {"USD": "1000.00", "EUR": 20}}
    session = expect(api.post(f"/tills/{till['id']}/sessions", json=body), 201)
    assert set(session) == SESSION_KEYS
    assert session["status"] == "open"
    assert session["opening"] == {"USD": "1000.00", "EUR": "20.00"}
    # Blind: the session's own teller sees neither expected nor variance.
    assert session["expected"] is None
    assert session["variance"] is None
    shown = expect(supervisor.get(f"/sessions/{session['id']}"), 200)
    assert shown["expected"] == {"USD": "1000.00", "EUR": "20.00"}


def test_an_opening_count_must_name_every_currency_the_till_holds(
    make_user: MakeUser, supervisor: Api
) -> None:
    api = make_user("teller")[1]
    till = new_till(supervisor, {"USD": "1000.00", "EUR": "20.00"})
    answer = api.post(f"/tills/{till['id']}/sessions", json={"counted": {"USD": "1000.00"}})
    body = expect(answer, 422, "count_incomplete")
    assert body["context"]["missing"] == ["EUR"]
    expect(api.get("/sessions/current"), 404)
    expect(api.post(f"/tills/{till['id']}/sessions", json={"counted": {"XYZ": "1.00"}}), 422,
           "unsupported_currency")  # fmt: skip
    expect(api.post(f"/tills/{till['id']}/sessions",
                    json={"counted": {"USD": "1000.00", "EUR": "20.00", "CHF": "0.03"}}),
           422, "not_cash_amount")  # fmt: skip


def test_an_opening_count_that_differs_waits_and_its_approval_posts_over_short(
    make_user: MakeUser, supervisor: Api, mongo: Any
) -> None:
    api = make_user("teller")[1]
    till = new_till(supervisor, {"USD": "1000.00"})
    before = over_short(mongo)
    answer = api.post(f"/tills/{till['id']}/sessions", json={"counted": {"USD": "990.00"}})
    pending = expect(answer, 202)
    assert pending["code"] == "approval_required"
    assert answer.headers["Location"] == f"/approvals/{pending['approval']['id']}"
    approval = pending["approval"]
    assert approval["action"] == "till.variance"
    # Blind: the teller (its maker) may read the approval; it names no amount.
    assert approval["amount"] is None
    assert "10.00" not in approval["summary"]
    expect(api.get("/sessions/current"), 404)  # nothing opened yet
    assert till_cash(mongo, till["id"]) == Decimal("1000.00")
    # The same request again while it waits: approval_pending.
    again = api.post(f"/tills/{till['id']}/sessions", json={"counted": {"USD": "990.00"}})
    assert expect(again, 409, "approval_pending")["context"]["approval_id"] == approval["id"]

    executed = approve_as(supervisor, answer)
    assert executed["result"]["status"] == 201
    session = executed["result"]["body"]
    assert session["opening"] == {"USD": "990.00"}
    assert till_cash(mongo, till["id"]) == Decimal("990.00")
    assert over_short(mongo) - before == Decimal("10.00")  # a shortage debits over/short
    entry = mongo.journal.find_one({"kind": "over_short", "session_id": session["id"]})
    assert entry["approval_id"] == approval["id"]
    assert sorted((leg["account"], leg["side"], dec(leg["amount"])) for leg in entry["legs"]) == [
        ("over_short:USD", "debit", Decimal("10.00")),
        (f"till:{till['id']}:USD", "credit", Decimal("10.00")),
    ]
    current = expect(api.get("/sessions/current"), 200)
    assert current["id"] == session["id"]
    assert current["status"] == "open"
    # The adjustment is before the session: its journal starts empty.
    assert expect(api.get(f"/sessions/{session['id']}/journal"), 200)["total"] == 0


def test_a_rejected_opening_count_opens_nothing(
    make_user: MakeUser, supervisor: Api, mongo: Any
) -> None:
    api = make_user("teller")[1]
    till = new_till(supervisor, {"USD": "1000.00"})
    answer = api.post(f"/tills/{till['id']}/sessions", json={"counted": {"USD": "1005.00"}})
    approval = expect(answer, 202)["approval"]
    rejected = expect(supervisor.post(f"/approvals/{approval['id']}/reject",
                                      json={"reason": "recount"}), 200)  # fmt: skip
    assert rejected["status"] == "rejected"
    expect(api.get("/sessions/current"), 404)
    assert till_cash(mongo, till["id"]) == Decimal("1000.00")
    assert expect(supervisor.get(f"/tills/{till['id']}"), 200)["session_id"] is None


def test_an_overage_at_opening_credits_over_short(
    make_user: MakeUser, supervisor: Api, mongo: Any
) -> None:
    api = make_user("teller")[1]
    till = new_till(supervisor, {"USD": "1000.00"})
    before = over_short(mongo)
    answer = api.post(f"/tills/{till['id']}/sessions", json={"counted": {"USD": "1002.50"}})
    session = approve_as(supervisor, answer)["result"]["body"]
    assert session["opening"] == {"USD": "1002.50"}
    assert over_short(mongo) - before == Decimal("-2.50")
    assert till_cash(mongo, till["id"]) == Decimal("1002.50")


# ---------------------------------------------------------------- closing


def test_a_balanced_close_closes_at_once_and_frees_the_till(
    make_user: MakeUser, supervisor: Api, customer: dict[str, Any], mongo: Any
) -> None:
    api, till, session = teller_on_till(make_user, supervisor)
    expect(api.post(f"/accounts/{customer['id']}/deposit", json={"amount": "250.00"}), 201)
    expect(api.post(f"/accounts/{customer['id']}/withdraw", json={"amount": "50.00"}), 201)
    body = {
        "counted": {"USD": "1200.00"},
        "denominations": {"USD": {"100.00": 10, "50.00": 3, "20.00": 2, "10.00": 1}},
    }
    closed = expect(api.post(f"/sessions/{session['id']}/close", json=body), 200)
    assert closed["status"] == "closed"
    assert closed["closed_at"] is not None
    # Closed: the teller now sees everything.
    assert closed["expected"] == {"USD": "1200.00"}
    assert closed["variance"] == {"USD": "0.00"}
    assert closed["counted"] == {"USD": "1200.00"}
    assert closed["denominations"] == body["denominations"]
    assert expect(supervisor.get(f"/tills/{till['id']}"), 200)["session_id"] is None
    expect(api.get("/sessions/current"), 404)
    # A movement now has no session; a second close answers session_closed.
    expect(api.post(f"/accounts/{customer['id']}/deposit", json={"amount": "1.00"}), 409,
           "no_open_session")  # fmt: skip
    expect(api.post(f"/sessions/{session['id']}/close", json=body), 409, "session_closed")
    events = list(mongo.audit_events.find({"action": "session.closed",
                                           "target_id": session["id"]}))  # fmt: skip
    assert len(events) == 1


def test_close_checks_run_in_the_contracts_order(make_user: MakeUser, supervisor: Api) -> None:
    api, _till, session = teller_on_till(make_user, supervisor, {"USD": "1000.00", "EUR": "50.00"})
    path = f"/sessions/{session['id']}/close"
    bad_denominations = {"USD": {"100.00": 9}}
    # Incomplete (EUR missing) beats a denomination mismatch and a missing note.
    answer = api.post(path, json={"counted": {"USD": "999.00"}, "denominations": bad_denominations})
    assert expect(answer, 422, "count_incomplete")["context"]["missing"] == ["EUR"]
    # Complete: the mismatch beats the missing note.
    answer = api.post(path, json={"counted": {"USD": "999.00", "EUR": "50.00"},
                                  "denominations": bad_denominations})  # fmt: skip
    expect(answer, 422, "count_mismatch")
    for pieces in ({"USD": {"abc": 1}}, {"USD": {"-5.00": 1}}, {"USD": {"100.00": -1}},
                   {"GBP": {"1.00": 0}}, {"USD": {"0.00": 3, "999.00": 1}}):  # fmt: skip
        body = {"counted": {"USD": "999.00", "EUR": "50.00"}, "denominations": pieces}
        expect(api.post(path, json=body), 422, "count_mismatch")
    # A denomination count that is not an integer is not a count at all.
    expect(api.post(path, json={"counted": {"USD": "999.00", "EUR": "50.00"},
                                "denominations": {"USD": {"999.00": "1"}}}),
           422, "validation_error")  # fmt: skip
    # Denominations that add up: now only the note is missing.
    body = {"counted": {"USD": "999.00", "EUR": "50.00"},
            "denominations": {"USD": {"500.00": 1, "100.00": 4, "50.00": 1, "20.00": 2,
                                      "5.00": 1, "1.00": 4}}}  # fmt: skip
    expect(api.post(path, json=body), 422, "note_required")
    # A currency counted but not expected is an overage (and needs a note too).
    expect(api.post(path, json={"counted": {"USD": "1000.00", "EUR": "50.00", "GBP": "5.00"}}),
           422, "note_required")  # fmt: skip
    assert expect(api.get("/sessions/current"), 200)["status"] == "open"  # nothing changed
    closing = expect(api.post(path, json={**body, "note": "one dollar short"}), 202)
    assert closing["approval"]["action"] == "till.variance"
    # Now the session is closing: state beats every count rule.
    expect(api.post(path, json={"counted": {}}), 409, "session_closing")


def test_a_close_with_a_difference_waits_then_posts_exactly_the_variance(
    make_user: MakeUser, supervisor: Api, admin: Api, customer: dict[str, Any], mongo: Any
) -> None:
    api, till, session = teller_on_till(make_user, supervisor, {"USD": "1000.00", "EUR": "40.00"})
    expect(api.post(f"/accounts/{customer['id']}/deposit", json={"amount": "100.00"}), 201)
    path = f"/sessions/{session['id']}/close"
    body = {"counted": {"USD": "1095.00", "EUR": "41.00"}, "note": "miscount",
            "denominations": {"EUR": {"20.00": 2, "1.00": 1}}}  # fmt: skip
    before = over_short(mongo), over_short(mongo, "EUR")
    answer = api.post(path, json=body)
    approval = expect(answer, 202)["approval"]
    assert approval["session_id"] == session["id"]
    assert approval["amount"] is None
    assert "5.00" not in approval["summary"]
    shown = expect(api.get(f"/sessions/{session['id']}"), 200)
    assert shown["status"] == "closing"
    assert shown["counted"] == {"USD": "1095.00", "EUR": "41.00"}
    assert shown["expected"] is None
    assert shown["variance"] is None
    assert shown["approval_id"] == approval["id"]
    seen = expect(supervisor.get(f"/sessions/{session['id']}"), 200)
    assert seen["expected"] == {"USD": "1100.00", "EUR": "40.00"}
    assert seen["variance"] == {"USD": "-5.00", "EUR": "1.00"}
    audit = expect(admin.get("/audit", params={"action": "session.closing",
                                               "target_id": session["id"]}), 200)  # fmt: skip
    assert audit["total"] == 1
    # Closing: no movement, no second close, no cash move, and no new session elsewhere.
    expect(api.post(f"/accounts/{customer['id']}/deposit", json={"amount": "1.00"}), 409,
           "session_closing")  # fmt: skip
    expect(api.post(f"/accounts/{customer['id']}/withdraw", json={"amount": "1.00"}), 409,
           "session_closing")  # fmt: skip
    expect(api.post(path, json=body), 409, "session_closing")
    move = {"direction": "to_till", "currency": "USD", "amount": "10.00"}
    expect(supervisor.post(f"/tills/{till['id']}/cash", json=move), 409, "session_closing")
    other = new_till(supervisor)
    expect(api.post(f"/tills/{other['id']}/sessions", json={}), 409, "session_open")
    # The maker may not cancel a till count's approval.
    expect(api.post(f"/approvals/{approval['id']}/cancel"), 403, "forbidden")

    executed = approve_as(supervisor, answer)
    assert executed["result"]["status"] == 200
    closed = executed["result"]["body"]
    assert closed["status"] == "closed"
    assert closed["variance"] == {"USD": "-5.00", "EUR": "1.00"}
    assert closed["approval_id"] == approval["id"]
    assert over_short(mongo) - before[0] == Decimal("5.00")
    assert over_short(mongo, "EUR") - before[1] == Decimal("-1.00")
    assert till_cash(mongo, till["id"]) == Decimal("1095.00")
    assert till_cash(mongo, till["id"], "EUR") == Decimal("41.00")
    entry = mongo.journal.find_one({"kind": "over_short", "session_id": session["id"]})
    assert entry["approval_id"] == approval["id"]
    assert entry["performed_by"] == user_id(api)
    assert sorted((leg["account"], leg["side"], leg["amount"].to_decimal())
                  for leg in entry["legs"]) == sorted([
        ("over_short:USD", "debit", Decimal("5.00")),
        (f"till:{till['id']}:USD", "credit", Decimal("5.00")),
        (f"till:{till['id']}:EUR", "debit", Decimal("1.00")),
        ("over_short:EUR", "credit", Decimal("1.00")),
    ])  # fmt: skip
    assert expect(supervisor.get(f"/tills/{till['id']}"), 200)["session_id"] is None
    expect(api.post(path, json=body), 409, "session_closed")
    # The session's journal ends with the over/short legs; the till's balance is the count.
    journal = expect(api.get(f"/sessions/{session['id']}/journal"), 200)
    assert [line["kind"] for line in journal["items"]] == ["deposit", "over_short", "over_short"]
    last_usd = [line for line in journal["items"] if line["currency"] == "USD"][-1]
    assert last_usd["till_balance_after"] == "1095.00"


def test_a_rejected_close_reopens_the_session_with_the_count_in_counts(
    make_user: MakeUser, supervisor: Api, customer: dict[str, Any], mongo: Any
) -> None:
    api, till, session = teller_on_till(make_user, supervisor)
    path = f"/sessions/{session['id']}/close"
    first = {"counted": {"USD": "990.00"}, "note": "short?"}
    approval = expect(api.post(path, json=first), 202)["approval"]
    before = over_short(mongo)
    expect(supervisor.post(f"/approvals/{approval['id']}/reject", json={"reason": "recount"}),
           200)  # fmt: skip
    reopened = expect(api.get(f"/sessions/{session['id']}"), 200)
    assert reopened["status"] == "open"
    assert reopened["counted"] is None
    assert reopened["approval_id"] is None
    assert len(reopened["counts"]) == 1
    count = reopened["counts"][0]
    assert count["counted"] == {"USD": "990.00"}
    assert count["note"] == "short?"
    assert count["approval_id"] == approval["id"]
    assert count["variance"] is None  # blind for its own teller
    seen = expect(supervisor.get(f"/sessions/{session['id']}"), 200)
    assert seen["counts"][0]["variance"] == {"USD": "-10.00"}
    assert over_short(mongo) == before
    assert till_cash(mongo, till["id"]) == Decimal("1000.00")
    # Open again: movements work, and the recount closes balanced.
    expect(api.post(f"/accounts/{customer['id']}/deposit", json={"amount": "5.00"}), 201)
    closed = expect(api.post(path, json={"counted": {"USD": "1005.00"}}), 200)
    assert closed["status"] == "closed"
    assert len(closed["counts"]) == 1


def test_a_supervisor_closes_anyones_session_and_a_teller_only_their_own(
    make_user: MakeUser, supervisor: Api, admin: Api, mongo: Any
) -> None:
    api, _till, session = teller_on_till(make_user, supervisor)
    other = make_user("teller")[1]
    body = {"counted": {"USD": "1000.00"}}
    expect(other.post(f"/sessions/{session['id']}/close", json=body), 404, "not_found")
    expect(other.get(f"/sessions/{session['id']}"), 404, "not_found")
    expect(other.get(f"/sessions/{session['id']}/journal"), 404, "not_found")
    # A supervisor's close with a difference: another checker (the admin) approves it.
    answer = supervisor.post(
        f"/sessions/{session['id']}/close",
        json={"counted": {"USD": "999.00"}, "note": "counted by super"},
    )
    approval = expect(answer, 202)["approval"]
    expect(supervisor.post(f"/approvals/{approval['id']}/approve", json={}), 422, "self_approval")
    closed = approve_as(admin, answer)["result"]["body"]
    assert closed["status"] == "closed"
    assert closed["variance"] == {"USD": "-1.00"}
    # The supervisor closed it: they see everything of another teller's session.
    assert closed["expected"] == {"USD": "1000.00"}
    expect(api.get("/sessions/current"), 404)
    check_ledger(mongo)


def test_closing_cancels_the_sessions_pending_cash_approvals(
    make_user: MakeUser, supervisor: Api, mongo: Any
) -> None:
    api, till, session = teller_on_till(make_user, supervisor)
    move = {"direction": "to_till", "currency": "USD", "amount": "100.00"}
    waiting = expect(api.post(f"/tills/{till['id']}/cash", json=move), 202)["approval"]
    assert waiting["action"] == "vault.transfer"
    assert waiting["session_id"] == session["id"]
    expect(api.post(f"/sessions/{session['id']}/close", json={"counted": {"USD": "1000.00"}}),
           200)  # fmt: skip
    cancelled = expect(supervisor.get(f"/approvals/{waiting['id']}"), 200)
    assert cancelled["status"] == "cancelled"
    assert cancelled["reason"] == "session_closed"
    assert till_cash(mongo, till["id"]) == Decimal("1000.00")


def test_a_close_under_an_idempotency_key_is_replayed_not_repeated(
    make_user: MakeUser, supervisor: Api, mongo: Any
) -> None:
    api, _till, session = teller_on_till(make_user, supervisor)
    headers = {"Idempotency-Key": f"close-{session['id']}"}
    body = {"counted": {"USD": "995.00"}, "note": "short"}
    first = api.post(f"/sessions/{session['id']}/close", json=body, headers=headers)
    approval = expect(first, 202)["approval"]
    again = api.post(f"/sessions/{session['id']}/close", json=body, headers=headers)
    assert again.status_code == 202
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert mongo.approvals.count_documents({"session_id": session["id"],
                                            "action": "till.variance"}) == 1  # fmt: skip
    approve_as(supervisor, first)
    other = api.post(f"/sessions/{session['id']}/close", json={"counted": {"USD": "1.00"}},
                     headers=headers)  # fmt: skip
    expect(other, 422, "idempotency_key_reused")
    assert approval["id"]
    # A refusal (409) under a key is its answer for good: replayed, not left waiting.
    late = {"Idempotency-Key": f"late-close-{session['id']}"}
    refused = api.post(f"/sessions/{session['id']}/close", json=body, headers=late)
    expect(refused, 409, "session_closed")
    replay = api.post(f"/sessions/{session['id']}/close", json=body, headers=late)
    assert replay.headers.get("Idempotent-Replayed") == "true"
    assert (replay.status_code, replay.json()) == (409, refused.json())


# ---------------------------------------------------------------- lists and journal


def test_the_session_list_filters_and_shows_tellers_only_their_own(
    make_user: MakeUser, supervisor: Api
) -> None:
    api, till, session = teller_on_till(make_user, supervisor)
    me = user_id(api)
    everyone = expect(supervisor.get("/sessions", params={"limit": 200}), 200)
    ids = [item["id"] for item in everyone["items"]]
    assert ids == sorted(ids, reverse=True)  # newest first
    assert session["id"] in ids
    assert everyone["total"] >= len(ids)
    mine = expect(api.get("/sessions"), 200)
    assert [item["id"] for item in mine["items"]] == [session["id"]]
    assert mine["items"][0]["expected"] is None  # blind in the list too
    assert expect(api.get("/sessions", params={"teller_id": user_id(supervisor)}), 200) == {
        "items": [], "total": 0, "skip": 0, "limit": 50}  # fmt: skip
    by_till = expect(supervisor.get("/sessions", params={"till_id": till["id"]}), 200)
    assert [item["id"] for item in by_till["items"]] == [session["id"]]
    assert by_till["items"][0]["expected"] == {"USD": "1000.00"}
    by_teller = expect(supervisor.get("/sessions", params={"teller_id": me, "status": "open"}),
                       200)  # fmt: skip
    assert [item["id"] for item in by_teller["items"]] == [session["id"]]
    closed_only = expect(
        supervisor.get("/sessions", params={"teller_id": me, "status": "closed"}), 200
    )
    assert closed_only["total"] == 0
    day = session["business_date"]
    dated = expect(supervisor.get("/sessions", params={"business_date": day, "limit": 200}), 200)
    assert session["id"] in [item["id"] for item in dated["items"]]
    assert expect(supervisor.get("/sessions", params={"business_date": "1999-01-01"}),
                  200)["total"] == 0  # fmt: skip
    oldest = expect(supervisor.get("/sessions", params={"order": "asc", "limit": 1}), 200)
    assert oldest["items"][0]["id"] == min(ids)
    for bad in ({"business_date": "yesterday"}, {"status": "lost"}, {"sort": "teller"},
                {"limit": 0}, {"teller_id": "x"}):  # fmt: skip
        expect(supervisor.get("/sessions", params=bad), 422, "validation_error")
    expect(Api(supervisor.base_url).get("/sessions"), 401)
    customer_api = make_user("user")[1]
    expect(customer_api.get("/sessions"), 403, "forbidden")


def test_the_session_journal_is_the_tills_legs_with_balances_hidden_from_its_teller(
    make_user: MakeUser, supervisor: Api, customer: dict[str, Any]
) -> None:
    api, till, session = teller_on_till(make_user, supervisor, {"USD": "1000.00"})
    amounts = ["10.00", "20.00", "30.00", "40.00", "50.00"]
    for amount in amounts:
        expect(api.post(f"/accounts/{customer['id']}/deposit", json={"amount": amount}), 201)
    expect(api.post(f"/accounts/{customer['id']}/withdraw", json={"amount": "5.00"}), 201)
    # A supervisor's move into the teller's till counts in the session once accepted.
    move = {"direction": "to_till", "currency": "EUR", "amount": "25.00"}
    receive = supervisor.post(f"/tills/{till['id']}/cash", json=move)
    approval = expect(receive, 202)["approval"]
    assert approval["action"] == "till.receive"
    expect(api.post(f"/approvals/{approval['id']}/approve", json={}), 200)

    journal = expect(api.get(f"/sessions/{session['id']}/journal"), 200)
    assert journal["total"] == 7
    items = journal["items"]
    assert all(set(line) == LINE_KEYS for line in items)
    assert [line["kind"] for line in items] == ["deposit"] * 5 + ["withdrawal", "vault_to_till"]
    assert [line["side"] for line in items] == ["debit"] * 5 + ["credit", "debit"]
    assert [line["amount"] for line in items] == [*amounts, "5.00", "25.00"]
    assert [line["currency"] for line in items] == ["USD"] * 6 + ["EUR"]
    assert all(line["till_balance_after"] is None for line in items)  # blind
    assert items[0]["transaction_id"] is not None
    seen = expect(supervisor.get(f"/sessions/{session['id']}/journal"), 200)["items"]
    assert [line["till_balance_after"] for line in seen] == [
        "1010.00", "1030.00", "1060.00", "1100.00", "1150.00", "1145.00", "25.00"]  # fmt: skip
    page = expect(supervisor.get(f"/sessions/{session['id']}/journal",
                                 params={"skip": 2, "limit": 3}), 200)  # fmt: skip
    assert [line["amount"] for line in page["items"]] == ["30.00", "40.00", "50.00"]
    assert page["total"] == 7
    newest = expect(supervisor.get(f"/sessions/{session['id']}/journal",
                                   params={"order": "desc", "limit": 2}), 200)  # fmt: skip
    assert [line["amount"] for line in newest["items"]] == ["25.00", "5.00"]
    # Legs of the till outside the session do not belong to it.
    closed = expect(
        api.post(
            f"/sessions/{session['id']}/close", json={"counted": {"USD": "1145.00", "EUR": "25.00"}}
        ),
        200,
    )
    assert closed["status"] == "closed"
    back = {"direction": "to_vault", "currency": "USD", "amount": "145.00"}
    expect(supervisor.post(f"/tills/{till['id']}/cash", json=back), 201)
    after = expect(api.get(f"/sessions/{session['id']}/journal"), 200)
    assert after["total"] == 7
    # Closed: its teller now sees the balances.
    assert after["items"][-2]["till_balance_after"] == "1145.00"


def test_the_whole_ledger_still_balances(mongo: Any) -> None:
    checked = check_ledger(mongo)
    assert checked["journal"] > 20
    assert legs_of(mongo, "over_short:USD")
