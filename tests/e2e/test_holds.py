"""Holds over HTTP (API.md "Holds", "Available balance"): who places and releases which
holds, what owners see, liens, expiry, closing and deleting, own accounts, idempotency.

The last test checks the ledger invariants over everything this module did.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.ledger_checks import check_ledger
from tests.support import Api, expect, user_id

MakeUser = Callable[..., tuple[dict[str, Any], Api]]
OpenAccount = Callable[..., dict[str, Any]]

HOLD_KEYS = {"id", "account_id", "amount", "reason_code", "reference", "status", "created_by",
             "created_at", "expires_at", "released_by", "released_at"}  # fmt: skip


def customer_account(
    make_user: MakeUser, open_account: OpenAccount, deposit: str | None = "1000.00", **fields: Any
) -> tuple[dict[str, Any], Api]:
    """Open a funded account for a new customer; return it and the customer's client."""
    user, api = make_user("user")
    return open_account(user["id"], deposit=deposit, **fields), api


def place(api: Api, account_id: int, amount: str, reason: str = "cheque_clearing",
          **fields: Any) -> Any:  # fmt: skip
    """POST a hold and return the response."""
    return api.post(f"/accounts/{account_id}/holds",
                    json={"amount": amount, "reason_code": reason, **fields})  # fmt: skip


def account_of(api: Api, account_id: int) -> dict[str, Any]:
    """Return an account as the API shows it."""
    return dict(expect(api.get(f"/accounts/{account_id}"), 200))


def events(mongo: Any, action: str, account_id: int) -> list[dict[str, Any]]:
    """Return the audit events of one action on one account, oldest first."""
    query = {"action": action, "target_type": "account", "target_id": account_id}
    return list(mongo.audit_events.find(query).sort("_id", 1))


# ---------------------------------------------------------------- placing


def test_a_hold_lowers_available_and_blocks_debits_beyond_it(
    make_user: MakeUser, open_account: OpenAccount, teller: Api, mongo: Any
) -> None:
    account, owner = customer_account(make_user, open_account)
    hold = expect(place(teller, account["id"], "300.00", reference="cheque 1001"), 201)
    assert set(hold) == HOLD_KEYS
    assert hold["status"] == "active"
    assert hold["amount"] == "300.00"
    assert hold["created_by"] == user_id(teller)
    assert hold["reference"] == "cheque 1001"
    shown = account_of(owner, account["id"])
    assert (shown["balance"], shown["held"], shown["available"]) == ("1000.00", "300.00", "700.00")
    refused = expect(teller.post(f"/accounts/{account['id']}/withdraw", json={"amount": "700.01"}),
                     409, "insufficient_funds")  # fmt: skip
    assert refused["context"]["available"] == "700.00"
    assert refused["context"]["held"] == "300.00"
    other, _ = customer_account(make_user, open_account, deposit=None)
    expect(owner.post("/transfers", json={"from_account_id": account["id"],
                                          "to_account_id": other["id"], "amount": "700.01"}),
           409, "insufficient_funds")  # fmt: skip
    expect(teller.post(f"/accounts/{account['id']}/withdraw", json={"amount": "700.00"}), 201)
    assert account_of(owner, account["id"])["available"] == "0.00"
    [placed] = events(mongo, "hold.placed", account["id"])
    assert placed["details"]["hold_id"] == hold["id"]
    assert placed["details"]["amount"] == "300.00"
    assert placed["actor_id"] == user_id(teller)


@pytest.mark.parametrize("reason", ["legal", "fraud"])
def test_tellers_place_only_everyday_holds(
    make_user: MakeUser, open_account: OpenAccount, teller: Api, supervisor: Api, admin: Api,
    reason: str,
) -> None:  # fmt: skip
    account, _owner = customer_account(make_user, open_account)
    expect(place(teller, account["id"], "10.00", reason), 403, "forbidden")
    for reason_ok in ("cheque_clearing", "dispute", "other"):
        expect(place(teller, account["id"], "1.00", reason_ok), 201)
    expect(place(supervisor, account["id"], "10.00", reason), 201)
    expect(place(admin, account["id"], "10.00", reason), 201)
    assert account_of(admin, account["id"])["held"] == "23.00"


def test_customers_may_not_place_holds(make_user: MakeUser, open_account: OpenAccount) -> None:
    account, owner = customer_account(make_user, open_account)
    expect(place(owner, account["id"], "10.00"), 403, "forbidden")
    assert account_of(owner, account["id"])["held"] == "0.00"


def test_a_lien_may_exceed_the_available_balance(
    make_user: MakeUser, open_account: OpenAccount, supervisor: Api, teller: Api
) -> None:
    account, owner = customer_account(make_user, open_account, deposit="100.00")
    expect(place(supervisor, account["id"], "250.00", "legal"), 201)
    shown = account_of(owner, account["id"])
    assert (shown["held"], shown["available"]) == ("250.00", "-150.00")
    expect(teller.post(f"/accounts/{account['id']}/withdraw", json={"amount": "0.01"}), 409,
           "insufficient_funds")  # fmt: skip
    # Deposits still come in; the lien blocks debits until it is covered.
    expect(teller.post(f"/accounts/{account['id']}/deposit", json={"amount": "200.00"}), 201)
    assert account_of(owner, account["id"])["available"] == "50.00"
    expect(teller.post(f"/accounts/{account['id']}/withdraw", json={"amount": "50.01"}), 409,
           "insufficient_funds")  # fmt: skip
    expect(teller.post(f"/accounts/{account['id']}/withdraw", json={"amount": "50.00"}), 201)


def test_holds_on_frozen_accounts_but_not_closed_ones(
    make_user: MakeUser, open_account: OpenAccount, admin: Api, teller: Api
) -> None:
    account, _owner = customer_account(make_user, open_account)
    expect(admin.put(f"/accounts/{account['id']}/admin", json={"status": "frozen"}), 200)
    expect(place(teller, account["id"], "5.00"), 201)
    empty, _ = customer_account(make_user, open_account, deposit=None)
    expect(admin.delete(f"/accounts/{empty['id']}"), 204)
    body = expect(place(teller, empty["id"], "5.00"), 409, "account_not_active")
    assert body["context"] == {"account_id": empty["id"], "status": "closed"}
    # A teller's legal hold on a closed account: 403 (rights) comes before 409 (state).
    expect(place(teller, empty["id"], "5.00", "legal"), 403, "forbidden")


@pytest.mark.parametrize(
    "body",
    [
        {"amount": "0.00", "reason_code": "other"},
        {"amount": "-1", "reason_code": "other"},
        {"amount": "1.005", "reason_code": "other"},
        {"amount": "10.00", "reason_code": "salary"},
        {"amount": "10.00"},
        {"amount": "10.00", "reason_code": "other", "expires_at": "2020-01-01T00:00:00Z"},
        {"amount": "10.00", "reason_code": "other", "expires_at": "2099-01-01T00:00:00"},
        {"amount": "10.00", "reason_code": "other", "reference": ""},
        {"amount": "10.00", "reason_code": "other", "status": "released"},
    ],
)
def test_invalid_holds_answer_422_and_change_nothing(
    make_user: MakeUser, open_account: OpenAccount, teller: Api, body: dict[str, Any]
) -> None:
    account, owner = customer_account(make_user, open_account)
    answer = expect(teller.post(f"/accounts/{account['id']}/holds", json=body), 422)
    assert answer["code"] == "validation_error"
    assert account_of(owner, account["id"])["held"] == "0.00"


def test_unknown_and_other_customers_accounts_answer_404(
    make_user: MakeUser, open_account: OpenAccount, teller: Api
) -> None:
    account, _owner = customer_account(make_user, open_account)
    _stranger, stranger = make_user("user")
    expect(place(teller, 10**9, "5.00"), 404, "not_found")
    expect(teller.get(f"/accounts/{10**9}/holds"), 404, "not_found")
    expect(stranger.get(f"/accounts/{account['id']}/holds"), 404, "not_found")


# ---------------------------------------------------------------- listing


def test_owners_never_see_legal_or_fraud_holds_but_held_counts_them(
    make_user: MakeUser, open_account: OpenAccount, teller: Api, supervisor: Api
) -> None:
    account, owner = customer_account(make_user, open_account)
    first = expect(place(teller, account["id"], "10.00", "dispute"), 201)
    expect(place(supervisor, account["id"], "20.00", "fraud"), 201)
    expect(place(supervisor, account["id"], "30.00", "legal"), 201)
    last = expect(place(teller, account["id"], "40.00", "other"), 201)
    mine = expect(owner.get(f"/accounts/{account['id']}/holds"), 200)
    assert [h["id"] for h in mine["items"]] == [first["id"], last["id"]]
    assert mine["total"] == 2
    assert account_of(owner, account["id"])["held"] == "100.00"
    staff = expect(teller.get(f"/accounts/{account['id']}/holds"), 200)
    assert staff["total"] == 4
    ids = [h["id"] for h in staff["items"]]
    assert ids == sorted(ids), "holds list oldest first"
    assert {h["reason_code"] for h in staff["items"]} == {"dispute", "fraud", "legal", "other"}
    newest = expect(teller.get(f"/accounts/{account['id']}/holds",
                               params={"order": "desc", "limit": 1}), 200)  # fmt: skip
    assert [h["id"] for h in newest["items"]] == [last["id"]]


def test_the_list_filters_by_status(
    make_user: MakeUser, open_account: OpenAccount, teller: Api
) -> None:
    account, _owner = customer_account(make_user, open_account)
    kept = expect(place(teller, account["id"], "10.00"), 201)
    gone = expect(place(teller, account["id"], "20.00"), 201)
    expect(teller.post(f"/holds/{gone['id']}/release", json={}), 200)
    active = expect(teller.get(f"/accounts/{account['id']}/holds",
                               params={"status": "active"}), 200)  # fmt: skip
    released = expect(teller.get(f"/accounts/{account['id']}/holds",
                                 params={"status": "released"}), 200)  # fmt: skip
    assert [h["id"] for h in active["items"]] == [kept["id"]]
    assert [h["id"] for h in released["items"]] == [gone["id"]]
    expect(teller.get(f"/accounts/{account['id']}/holds", params={"status": "gone"}), 422)


# ---------------------------------------------------------------- releasing


def test_a_teller_releases_the_holds_they_placed_and_only_those(
    make_user: MakeUser, open_account: OpenAccount, teller: Api, supervisor: Api, mongo: Any
) -> None:
    account, owner = customer_account(make_user, open_account)
    own = expect(place(teller, account["id"], "100.00"), 201)
    others = expect(place(supervisor, account["id"], "50.00"), 201)
    _colleague, colleague = make_user("teller")
    expect(colleague.post(f"/holds/{own['id']}/release", json={}), 403, "forbidden")
    expect(teller.post(f"/holds/{others['id']}/release", json={}), 403, "forbidden")
    released = expect(teller.post(f"/holds/{own['id']}/release", json={"note": "cleared"}), 200)
    assert released["status"] == "released"
    assert released["released_by"] == user_id(teller)
    assert released["released_at"] is not None
    assert account_of(owner, account["id"])["held"] == "50.00"
    body = expect(teller.post(f"/holds/{own['id']}/release", json={}), 409, "hold_not_active")
    assert body["context"] == {"hold_id": own["id"], "status": "released"}
    expect(supervisor.post(f"/holds/{others['id']}/release", json={}), 200)
    assert account_of(owner, account["id"])["held"] == "0.00"
    [event, _] = events(mongo, "hold.released", account["id"])
    assert event["details"]["hold_id"] == own["id"]
    assert event["details"]["note"] == "cleared"
    refused = list(mongo.audit_events.find({"action": "hold.released", "outcome": "refused",
                                             "target_id": own["id"]}))  # fmt: skip
    assert [e["code"] for e in refused] == ["hold_not_active"]


def test_customers_and_strangers_may_not_release(
    make_user: MakeUser, open_account: OpenAccount, teller: Api
) -> None:
    account, owner = customer_account(make_user, open_account)
    hold = expect(place(teller, account["id"], "10.00"), 201)
    expect(owner.post(f"/holds/{hold['id']}/release", json={}), 403, "forbidden")
    expect(teller.post(f"/holds/{10**9}/release", json={}), 404, "not_found")
    assert account_of(owner, account["id"])["held"] == "10.00"


@pytest.mark.parametrize("reason", ["legal", "fraud"])
def test_legal_and_fraud_holds_are_released_only_through_approval(
    make_user: MakeUser, open_account: OpenAccount, supervisor: Api, admin: Api, teller: Api,
    mongo: Any, reason: str,
) -> None:  # fmt: skip
    account, owner = customer_account(make_user, open_account)
    hold = expect(place(supervisor, account["id"], "75.00", reason), 201)
    expect(teller.post(f"/holds/{hold['id']}/release", json={}), 403, "forbidden")
    answer = supervisor.post(f"/holds/{hold['id']}/release", json={"note": "court order lifted"})
    waiting = expect(answer, 202)
    assert answer.headers["Location"] == f"/approvals/{waiting['approval']['id']}"
    approval = waiting["approval"]
    assert (approval["action"], approval["amount"], approval["account_id"]) == (
        "hold.release", "75.00", account["id"])  # fmt: skip
    assert account_of(owner, account["id"])["held"] == "75.00", "nothing changes before approval"
    expect(supervisor.post(f"/approvals/{approval['id']}/approve", json={}), 422, "self_approval")
    done = expect(admin.post(f"/approvals/{approval['id']}/approve", json={}), 200)
    assert done["status"] == "executed"
    assert done["result"]["status"] == 200
    assert done["result"]["body"]["status"] == "released"
    assert done["result"]["body"]["released_by"] == user_id(supervisor)
    assert account_of(owner, account["id"])["held"] == "0.00"
    [event] = events(mongo, "hold.released", account["id"])
    assert event["details"]["approval_id"] == approval["id"]
    assert event["actor_id"] == user_id(supervisor)


def test_a_rejected_release_leaves_the_hold_and_a_second_request_waits(
    make_user: MakeUser, open_account: OpenAccount, supervisor: Api, admin: Api
) -> None:
    account, owner = customer_account(make_user, open_account)
    hold = expect(place(admin, account["id"], "40.00", "fraud"), 201)
    waiting = expect(admin.post(f"/holds/{hold['id']}/release", json={}), 202)
    again = expect(admin.post(f"/holds/{hold['id']}/release", json={}), 409, "approval_pending")
    assert again["context"]["approval_id"] == waiting["approval"]["id"]
    reason = {"reason": "still under investigation"}
    rejected = expect(supervisor.post(f"/approvals/{waiting['approval']['id']}/reject",
                                      json=reason), 200)  # fmt: skip
    assert rejected["status"] == "rejected"
    assert account_of(owner, account["id"])["held"] == "40.00"
    statuses = [h["status"] for h in
                expect(admin.get(f"/accounts/{account['id']}/holds"), 200)["items"]]  # fmt: skip
    assert statuses == ["active"]


def test_an_approved_release_of_a_hold_released_meanwhile_fails(
    make_user: MakeUser, open_account: OpenAccount, supervisor: Api, admin: Api, mongo: Any
) -> None:
    account, _owner = customer_account(make_user, open_account)
    hold = expect(place(admin, account["id"], "40.00", "legal"), 201)
    first = expect(admin.post(f"/holds/{hold['id']}/release", json={"note": "a"}), 202)
    second = expect(supervisor.post(f"/holds/{hold['id']}/release", json={"note": "b"}), 202)
    expect(supervisor.post(f"/approvals/{first['approval']['id']}/approve", json={}), 200)
    failed = expect(admin.post(f"/approvals/{second['approval']['id']}/approve", json={}), 200)
    assert failed["status"] == "failed"
    assert failed["result"]["body"]["code"] == "hold_not_active"
    assert len(events(mongo, "hold.released", account["id"])) == 1


# ---------------------------------------------------------------- expiry


def soon(seconds: float) -> str:
    """Return an ISO timestamp `seconds` from now."""
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()


def wait_past(hold: dict[str, Any]) -> None:
    """Sleep until a hold's expiry has passed."""
    moment = datetime.fromisoformat(hold["expires_at"].replace("Z", "+00:00"))
    time.sleep(max(0.0, (moment - datetime.now(UTC)).total_seconds()) + 0.1)


def test_an_expired_hold_stops_counting_at_once_and_expires_once(
    make_user: MakeUser, open_account: OpenAccount, teller: Api, mongo: Any
) -> None:
    account, owner = customer_account(make_user, open_account)
    hold = expect(place(teller, account["id"], "100.00", expires_at=soon(2)), 201)
    lasting = expect(place(teller, account["id"], "10.00", expires_at=soon(3600)), 201)
    assert account_of(owner, account["id"])["held"] == "110.00"
    stored = mongo.accounts.find_one({"_id": account["id"]})
    assert stored["hold_expires_at"].isoformat()[:23] == hold["expires_at"][:23]
    wait_past(hold)
    shown = account_of(owner, account["id"])
    assert (shown["held"], shown["available"]) == ("10.00", "990.00")
    holds = {h["id"]: h for h in
             expect(teller.get(f"/accounts/{account['id']}/holds"), 200)["items"]}  # fmt: skip
    assert holds[hold["id"]]["status"] == "expired"
    assert holds[lasting["id"]]["status"] == "active"
    account_of(owner, account["id"])
    expect(owner.get("/accounts"), 200)
    [event] = events(mongo, "hold.expired", account["id"])
    assert event["details"]["hold_id"] == hold["id"]
    assert event["actor_id"] is None
    stored = mongo.accounts.find_one({"_id": account["id"]})
    assert stored["hold_expires_at"].isoformat()[:23] == lasting["expires_at"][:23]
    expect(teller.post(f"/holds/{hold['id']}/release", json={}), 409, "hold_not_active")


def test_a_movement_is_the_first_read_that_expires_a_hold(
    make_user: MakeUser, open_account: OpenAccount, teller: Api, mongo: Any
) -> None:
    account, _owner = customer_account(make_user, open_account)
    hold = expect(place(teller, account["id"], "1000.00", expires_at=soon(2)), 201)
    wait_past(hold)
    # No read in between: the withdrawal's own read in its transaction expires the hold.
    expect(teller.post(f"/accounts/{account['id']}/withdraw", json={"amount": "1000.00"}), 201)
    [event] = events(mongo, "hold.expired", account["id"])
    assert event["details"]["hold_id"] == hold["id"]
    assert mongo.holds.find_one({"_id": hold["id"]})["status"] == "expired"
    stored = mongo.accounts.find_one({"_id": account["id"]})
    assert stored["held"].to_decimal() == 0
    assert stored["hold_expires_at"] is None


# ---------------------------------------------------------------- closing and deleting


def test_closing_checks_the_balance_before_the_holds(
    make_user: MakeUser, open_account: OpenAccount, admin: Api, teller: Api
) -> None:
    account, _owner = customer_account(make_user, open_account, deposit="10.00")
    hold = expect(place(teller, account["id"], "5.00"), 201)
    expect(admin.delete(f"/accounts/{account['id']}"), 409, "balance_not_zero")
    expect(teller.post(f"/accounts/{account['id']}/withdraw", json={"amount": "5.00"}), 201)
    # 5.00 is left and 5.00 is held: withdrawing it is refused; a transfer out is too.
    expect(teller.post(f"/accounts/{account['id']}/withdraw", json={"amount": "5.00"}), 409,
           "insufficient_funds")  # fmt: skip
    expect(teller.post(f"/holds/{hold['id']}/release", json={}), 200)
    expect(teller.post(f"/accounts/{account['id']}/withdraw", json={"amount": "5.00"}), 201)
    second = expect(place(teller, account["id"], "1.00"), 201)
    expect(admin.delete(f"/accounts/{account['id']}"), 409, "holds_active")
    expect(teller.post(f"/holds/{second['id']}/release", json={}), 200)
    expect(admin.delete(f"/accounts/{account['id']}"), 204)


def test_deleting_a_user_with_an_active_hold_answers_holds_active(
    make_user: MakeUser, open_account: OpenAccount, admin: Api, teller: Api
) -> None:
    user, _api = make_user("user")
    account = open_account(user["id"])
    hold = expect(place(teller, account["id"], "1.00"), 201)
    expect(admin.delete(f"/users/{user['id']}"), 409, "holds_active")
    assert expect(admin.get(f"/users/{user['id']}"), 200)["is_active"] is True
    expect(teller.post(f"/holds/{hold['id']}/release", json={}), 200)
    expect(admin.delete(f"/users/{user['id']}"), 204)


def test_an_expired_hold_does_not_block_closing(
    make_user: MakeUser, open_account: OpenAccount, admin: Api, teller: Api
) -> None:
    account, _owner = customer_account(make_user, open_account, deposit=None)
    hold = expect(place(teller, account["id"], "1.00", expires_at=soon(1.5)), 201)
    wait_past(hold)
    expect(admin.delete(f"/accounts/{account['id']}"), 204)


# ---------------------------------------------------------------- staff and their own money


def test_staff_own_accounts_and_other_staff_accounts(
    make_user: MakeUser, open_account: OpenAccount, admin: Api, supervisor: Api
) -> None:
    staff_user, staff = make_user("teller")
    own = open_account(staff_user["id"], deposit="100.00")
    expect(place(staff, own["id"], "5.00"), 403, "own_account")
    # own_account comes before the rights check: a teller's legal hold on their own account.
    expect(place(staff, own["id"], "5.00", "legal"), 403, "own_account")
    # Another staff member's account is not there for tellers and supervisors.
    expect(place(supervisor, own["id"], "5.00"), 404, "not_found")
    expect(supervisor.get(f"/accounts/{own['id']}/holds"), 404, "not_found")
    hold = expect(place(admin, own["id"], "5.00"), 201)
    expect(staff.post(f"/holds/{hold['id']}/release", json={}), 403, "own_account")
    expect(supervisor.post(f"/holds/{hold['id']}/release", json={}), 404, "not_found")
    # The owner sees their everyday hold and no legal one.
    expect(place(admin, own["id"], "7.00", "legal"), 201)
    mine = expect(staff.get(f"/accounts/{own['id']}/holds"), 200)
    assert [h["id"] for h in mine["items"]] == [hold["id"]]
    expect(admin.post(f"/holds/{hold['id']}/release", json={}), 200)


# ---------------------------------------------------------------- races


def test_no_debit_takes_available_below_zero_when_a_hold_races_it(
    make_user: MakeUser, open_account: OpenAccount, teller: Api, admin: Api, mongo: Any
) -> None:
    rounds = 3
    for _ in range(rounds):
        account, _owner = customer_account(make_user, open_account, deposit="100.00")
        barrier = threading.Barrier(2)
        answers: dict[str, int] = {}

        def hold(account_id: int = account["id"]) -> None:
            barrier.wait()
            answers["hold"] = place(admin, account_id, "60.00", "other").status_code

        def withdraw(account_id: int = account["id"]) -> None:
            barrier.wait()
            answers["withdraw"] = teller.post(f"/accounts/{account_id}/withdraw",
                                              json={"amount": "60.00"}).status_code  # fmt: skip

        threads = [threading.Thread(target=hold), threading.Thread(target=withdraw)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert answers["hold"] == 201
        [placed] = events(mongo, "hold.placed", account["id"])
        if answers["withdraw"] == 201:
            # The debit came first; the hold after it is a lien on what was left.
            assert placed["details"]["available_after"] == "-20.00", placed["details"]
        else:
            assert answers["withdraw"] == 409
            assert placed["details"]["available_after"] == "40.00", placed["details"]
        shown = account_of(admin, account["id"])
        assert shown["held"] == "60.00"
        assert shown["available"] == ("-20.00" if answers["withdraw"] == 201 else "40.00")


# ---------------------------------------------------------------- idempotency


def test_an_idempotency_key_places_one_hold_and_replays_refusals(
    make_user: MakeUser, open_account: OpenAccount, teller: Api, admin: Api, mongo: Any
) -> None:
    account, _owner = customer_account(make_user, open_account)
    headers = {"Idempotency-Key": f"hold-{account['id']}"}
    body = {"amount": "12.00", "reason_code": "other"}
    first = teller.post(f"/accounts/{account['id']}/holds", json=body, headers=headers)
    again = teller.post(f"/accounts/{account['id']}/holds", json=body, headers=headers)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert mongo.holds.count_documents({"account_id": account["id"]}) == 1
    expect(teller.post(f"/accounts/{account['id']}/holds", json={**body, "amount": "13.00"},
                       headers=headers), 422, "idempotency_key_reused")  # fmt: skip
    hold_id = first.json()["id"]
    release = {"Idempotency-Key": f"release-{hold_id}"}
    expect(teller.post(f"/holds/{hold_id}/release", json={}, headers=release), 200)
    replay = teller.post(f"/holds/{hold_id}/release", json={}, headers=release)
    assert replay.status_code == 200
    assert replay.headers["Idempotent-Replayed"] == "true"
    # A refusal (409) is the key's answer for good.
    late = {"Idempotency-Key": f"late-{hold_id}"}
    expect(teller.post(f"/holds/{hold_id}/release", json={}, headers=late), 409, "hold_not_active")
    replayed = teller.post(f"/holds/{hold_id}/release", json={}, headers=late)
    assert replayed.status_code == 409
    assert replayed.headers["Idempotent-Replayed"] == "true"
    assert account_of(admin, account["id"])["held"] == "0.00"


def test_the_ledger_invariants_hold_after_this_module(mongo: Any) -> None:
    check_ledger(mongo)
    for account in mongo.accounts.find({}):
        active = sum(
            (hold["amount"].to_decimal() for hold in
             mongo.holds.find({"account_id": account["_id"], "status": "active"})),
            start=account["held"].to_decimal() * 0,
        )  # fmt: skip
        assert account["held"].to_decimal() == active, account["_id"]
